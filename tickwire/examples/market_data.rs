//! The lazy market-data stream: nothing connects until the first subscribe;
//! two tasks subscribe at once; one unsubscribes; after the last unsubscribe
//! the connection is let go.
//!
//! ```text
//! cargo run -p tickwire --example market_data
//! ```
//!
//! It runs offline against a simulated exchange on 127.0.0.1. Against
//! Alpaca, build the stream of `Feed::Iex` instead and drop `.key_pair(..)`:
//! the credentials then come from `APCA_API_KEY_ID` / `APCA_API_SECRET_KEY`.

#![allow(clippy::print_stdout)]

use std::time::Duration;

use futures::StreamExt;
use tickwire::sim::Exchange;
use tickwire::{Channel, Event, Feed, MarketData, MarketDataStream, State, StreamEvent};

/// Data messages to print before unsubscribing, and again after.
const MESSAGES_PER_PHASE: usize = 8;

/// The most this program waits for anything.
const PATIENCE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exchange = Exchange::start().await?;
    let (key_id, secret) = exchange.key_pair();

    let mut stream = MarketDataStream::builder(exchange.feed(&Feed::Iex))
        .key_pair(key_id, secret)
        // Let the connection go soon after the last unsubscribe (default 5 s).
        .idle_linger(Duration::from_millis(200))
        .build()?;
    println!("created; state {}", stream.state().name());

    // Two tasks subscribe at the same time: the first command connects, both
    // resolve with the server's verdict on their own symbols.
    let quotes = stream.handle();
    let trades = stream.handle();
    let quoting =
        tokio::spawn(async move { quotes.subscribe(Channel::Quotes, ["AAPL", "MSFT"]).await });
    let trading = tokio::spawn(async move { trades.subscribe(Channel::Trades, ["SPY"]).await });
    println!("quotes AAPL MSFT: {:?}", quoting.await??);
    println!("trades SPY: {:?}", trading.await??);
    println!("state {}", stream.state().name());

    print_data(&mut stream, MESSAGES_PER_PHASE).await?;

    let verdict = stream.unsubscribe(Channel::Quotes, ["MSFT"]).await?;
    println!("unsubscribed quotes MSFT: {verdict:?}");
    print_data(&mut stream, MESSAGES_PER_PHASE).await?;

    // The last unsubscribe: the stream lets its connection go and idles.
    stream.unsubscribe(Channel::Quotes, ["AAPL"]).await?;
    stream.unsubscribe(Channel::Trades, ["SPY"]).await?;
    let mut state = stream.state_watch();
    tokio::time::timeout(PATIENCE, state.wait_for(|s| *s == State::Idle)).await??;
    println!("everything unsubscribed; state {}", stream.state().name());

    stream.shutdown().await?;
    exchange.shutdown().await;
    Ok(())
}

/// Prints events until `count` data messages have arrived.
async fn print_data(
    stream: &mut MarketDataStream,
    count: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut seen = 0;
    while seen < count {
        let Some(event) = tokio::time::timeout(PATIENCE, stream.next()).await? else {
            return Err("the stream ended".into());
        };
        let event = match event {
            StreamEvent::Machine(event) => event,
            // Data fetched again after a gap (with `.backfill(..)`: trades, bars).
            StreamEvent::Recovered(data) => Event::Data(data),
            // The latest quote when a subscription began (over a relay).
            StreamEvent::Snapshot(data) => Event::Data(data),
            StreamEvent::Dropped { count, .. } => {
                println!("{count} messages dropped: this consumer fell behind");
                continue;
            }
            StreamEvent::RecoveryFailed { reason } => {
                println!("{reason}");
                continue;
            }
        };
        match event {
            Event::Data(MarketData::Quote(q)) => {
                println!(
                    "  quote {:<5} bid {:>8.2} x {:<4} ask {:>8.2} x {}",
                    q.symbol, q.bid_price, q.bid_size, q.ask_price, q.ask_size
                );
                seen += 1;
            }
            Event::Data(MarketData::Trade(t)) => {
                println!("  trade {:<5} {:>8.2} x {}", t.symbol, t.price, t.size);
                seen += 1;
            }
            Event::Data(other) => println!("  other {other:?}"),
            Event::StateChanged(State::Connecting { phase, .. }) => {
                println!("  state connecting ({phase:?})");
            }
            Event::StateChanged(state) => println!("  state {}", state.name()),
            Event::Confirmed(set) => println!("  confirmed {set:?}"),
            Event::Error { error, fatal } => {
                println!("  error{}: {error}", if fatal { " (fatal)" } else { "" });
                if fatal {
                    return Err(error.into());
                }
            }
            _ => {}
        }
    }
    Ok(())
}
