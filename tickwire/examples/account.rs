//! The account stream: every order update of an account, from the moment
//! the stream is built.
//!
//! ```text
//! cargo run -p tickwire --example account
//! ```
//!
//! It runs offline against a simulated exchange on 127.0.0.1 whose account
//! places an order every 300 ms. After a disconnection the stream also
//! delivers, once, the order states it missed (`StreamEvent::Recovered`,
//! fetched from the REST order list); `common::next_event` hands them on as
//! data. Against Alpaca, build the stream of
//! `TradingEndpoint::Paper` instead and drop `.key_pair(..)`: the
//! credentials then come from `APCA_API_KEY_ID` / `APCA_API_SECRET_KEY`.

#![allow(clippy::print_stdout)]

mod common;

use tickwire::sim::Exchange;
use tickwire::{Event, State, TradingStream};

/// Trade updates to print before stopping.
const UPDATES: usize = 10;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exchange = Exchange::start().await?;
    let (key_id, secret) = exchange.key_pair();

    // There is nothing to subscribe to: the account is the subscription, and
    // the stream connects as soon as it is built.
    let mut stream = TradingStream::builder(exchange.trading_endpoint())
        .key_pair(key_id, secret)
        .build()?;

    let mut updates = 0;
    while updates < UPDATES {
        match common::next_event(&mut stream).await? {
            Event::Data(update) => {
                let order = &update.order;
                let symbol = order
                    .symbol
                    .as_ref()
                    .map_or("?".into(), ToString::to_string);
                let qty = order.qty.as_ref().map_or("?".into(), ToString::to_string);
                let fill = match (&update.qty, &update.price) {
                    (Some(qty), Some(price)) => format!(" filled {qty} @ {price}"),
                    _ => String::new(),
                };
                let side = order
                    .side
                    .as_ref()
                    .map_or("?".into(), |side| format!("{side:?}"));
                println!(
                    "{:<12} {side:<4} {qty:>4} {symbol:<8} now {:?}{fill}",
                    format!("{:?}", update.event),
                    order.status,
                );
                updates += 1;
            }
            Event::StateChanged(State::Connecting { phase, .. }) => {
                println!("state connecting ({phase:?})");
            }
            Event::StateChanged(state) => println!("state {}", state.name()),
            Event::Error { error, fatal: true } => return Err(error.into()),
            _ => {}
        }
    }

    stream.shutdown().await?;
    exchange.shutdown().await;
    Ok(())
}
