//! A program that knows when its data may be incomplete: it keeps the last
//! quote of each symbol and marks its book stale from a `Gap` until the
//! `Resumed` that follows, which says how long the stream was blind.
//!
//! ```text
//! cargo run -p tickwire --example gaps
//! ```
//!
//! The simulated exchange breaks the connection twice: first it restarts
//! (the socket drops without a close frame), then it closes the connection
//! with code 1011. Each time the stream reconnects and resubscribes by
//! itself; the program only reacts to the events.

#![allow(clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use tickwire::sim::{Exchange, Fault};
use tickwire::{Channel, Event, Feed, MarketData, MarketDataStream};

/// Quotes to read between faults.
const QUOTES_BETWEEN_FAULTS: u32 = 5;

/// How the exchange breaks the connection.
#[derive(Debug, Clone, Copy)]
enum Breakage {
    /// The exchange restarts: every socket drops.
    Restart,
    /// The exchange closes the connection with 1011 ("internal error").
    Close,
}

/// The application: the last ask of each symbol, and whether it can be trusted.
#[derive(Debug, Default)]
struct LastPrices {
    asks: BTreeMap<String, f64>,
    stale: bool,
    quotes_since_resumed: u32,
    resumed: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exchange = Exchange::start().await?;
    let mut stream = MarketDataStream::builder(exchange.feed(&Feed::Iex))
        // The key pair as one value (`Credentials::from_env()` in production).
        .credentials(exchange.credentials())
        // Retry quickly: 100 ms doubling up to 1 s, instead of 500 ms to 60 s.
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .build()?;
    stream.subscribe(Channel::Quotes, ["AAPL", "MSFT"]).await?;

    let mut prices = LastPrices::default();
    let mut breakages = [Breakage::Restart, Breakage::Close].into_iter();
    loop {
        match common::next_event(&mut stream).await? {
            Event::Data(MarketData::Quote(quote)) => {
                prices
                    .asks
                    .insert(quote.symbol.to_string(), quote.ask_price);
                prices.quotes_since_resumed += 1;
            }
            Event::Gap { epoch, .. } => {
                prices.stale = true;
                println!(
                    "GAP: connection {} lost; book stale at {:?}",
                    epoch.get(),
                    prices.asks
                );
            }
            Event::Resumed {
                epoch,
                lost_for,
                lost_at,
                resumed_at,
                last_data_at,
                ..
            } => {
                prices.stale = false;
                prices.resumed += 1;
                prices.quotes_since_resumed = 0;
                // The window to ask a REST API for: from the last message's
                // own time (or the loss) to the resume, on the wall clock.
                let from = last_data_at.or(lost_at).map(|t| t.to_string());
                let to = resumed_at.map(|t| t.to_string());
                println!(
                    "RESUMED: connection {} live after {} ms without data; backfill {} to {}",
                    epoch.get(),
                    lost_for.as_millis(),
                    from.as_deref().unwrap_or("?"),
                    to.as_deref().unwrap_or("?"),
                );
            }
            Event::Error { error, fatal } => {
                println!("error{}: {error}", if fatal { " (fatal)" } else { "" });
                if fatal {
                    return Err(error.into());
                }
            }
            _ => {}
        }
        if prices.stale || prices.quotes_since_resumed < QUOTES_BETWEEN_FAULTS {
            continue;
        }
        println!("live: {:?}", prices.asks);
        let Some(breakage) = breakages.next() else {
            break;
        };
        println!("the exchange breaks the connection: {breakage:?}");
        // Reset the count so that the next fault waits for fresh quotes.
        prices.quotes_since_resumed = 0;
        prices.stale = true;
        match breakage {
            Breakage::Restart => exchange.restart(),
            Breakage::Close => exchange.model().with(|model, now| {
                let sessions: Vec<_> = model.sessions().collect();
                for session in sessions {
                    let reason = "internal error".to_owned();
                    model.inject(now, session, Fault::Close { code: 1011, reason });
                }
            }),
        }
    }

    println!(
        "resumed {} times; last asks {:?}",
        prices.resumed, prices.asks
    );
    stream.shutdown().await?;
    exchange.shutdown().await;
    Ok(())
}
