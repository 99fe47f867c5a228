//! Alpaca's market data v2 and trading (`trade_updates`) streams.
