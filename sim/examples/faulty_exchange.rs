//! Your own code against the simulated exchange, with faults, in virtual time.
//!
//! The application here is a tiny "last price" book: it keeps the last quote
//! per symbol and must know when its view may be stale (between a `Gap` and
//! the `Resumed` that follows). It runs on the real async API
//! (`MarketDataStream`) over tickwire-mock's in-memory `ScriptedTransport`,
//! against the exchange model with fault knobs turned up, on paused tokio
//! time: ten simulated minutes take a fraction of a second, and the same
//! seed gives the same run.
//!
//! ```text
//! cargo run -p tickwire-sim --example faulty_exchange [seed]
//! ```
//!
//! To test your own code, replace `LastPrice` with it and keep the rest.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use tickwire_mock::{
    Account, ExchangeConfig, Fault, FaultPlan, Faults, ScriptedTransport, SharedExchange,
};
use tickwire_ws::{
    Channel, Encoding, Event, Feed, MarketData, MarketDataEvent, MarketDataStream, StreamEvent,
};

const KEY: &str = "PKEXAMPLE";
const SECRET: &str = "example-secret";

/// The application under test.
#[derive(Debug, Default)]
struct LastPrice {
    asks: BTreeMap<String, f64>,
    quotes: u64,
    quotes_before_resumed: u64,
    gaps: u32,
    resumed: u32,
    errors: u32,
    stale: bool,
}

impl LastPrice {
    fn on_event(&mut self, event: &MarketDataEvent) {
        match event {
            StreamEvent::Machine(Event::Data(MarketData::Quote(quote))) => {
                // Data can arrive before `Resumed`: after a reconnect the
                // exchange may stream quotes before its (delayed) ack that
                // makes the stream live again. The book counts them apart.
                if self.stale {
                    self.quotes_before_resumed += 1;
                }
                self.quotes += 1;
                self.asks.insert(quote.symbol.to_string(), quote.ask_price);
            }
            StreamEvent::Machine(Event::Gap { .. }) => {
                self.gaps += 1;
                self.stale = true; // a real application would stop trading on this book
            }
            StreamEvent::Machine(Event::Resumed { lost_for, .. }) => {
                self.resumed += 1;
                self.stale = false; // …and backfill `lost_for` from the REST API here
                let _ = lost_for;
            }
            StreamEvent::Machine(Event::Error { .. }) => self.errors += 1,
            _ => {}
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    runtime.block_on(run(seed))
}

async fn run(seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    // The exchange, with its fault knobs: dropped connections, acks delayed,
    // duplicated and reordered, garbage frames. `Faults::draw(seed, 1.0)`
    // gives a seed-dependent mix instead.
    let faults = Faults {
        drop: 0.01,
        ack_delay: 0.3,
        ack_duplicate: 0.2,
        ack_reorder: 0.2,
        garbage: 0.01,
        ..Faults::NONE
    };
    let config = ExchangeConfig::new(seed)
        .with_account(Account::new(KEY, SECRET).with_symbol_limit(None))
        .with_faults(FaultPlan::uniform(faults));
    let exchange = SharedExchange::new(config);

    // The stream, exactly as in production but over the in-memory transport.
    // The scripted transport reads only the URL's path.
    let stream = MarketDataStream::builder(Feed::Custom("wss://sim.invalid/v2/iex".into()))
        .key_pair(KEY, SECRET)
        .encoding(Encoding::Json)
        .seed(seed)
        .build_with_transport(ScriptedTransport::new(exchange.clone()))?;
    let (handle, mut events) = stream.into_parts();

    let mut app = LastPrice::default();
    let consume = async {
        let until = tokio::time::Instant::now() + Duration::from_secs(600);
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(event) => app.on_event(&event),
                    None => break,
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
    };
    let drive = async {
        let outcome = handle
            .subscribe(Channel::Quotes, ["AAPL", "MSFT", "SPY"])
            .await;
        println!("subscribe: {outcome:?}");
        // A one-shot fault in the middle of the run: the exchange restarts.
        tokio::time::sleep(Duration::from_secs(200)).await;
        exchange.with(|ex, now| ex.restart(now));
        tokio::time::sleep(Duration::from_secs(100)).await;
        let sessions: Vec<_> = exchange.with(|ex, _| ex.sessions().collect());
        if let Some(session) = sessions.first() {
            exchange.with(|ex, now| ex.inject(now, *session, Fault::Silence));
        }
    };
    tokio::join!(consume, drive);

    println!(
        "after 600 simulated seconds: {} quotes ({} between a gap and its resume), {} gaps, {} resumed, {} errors, stale: {}",
        app.quotes, app.quotes_before_resumed, app.gaps, app.resumed, app.errors, app.stale
    );
    println!("last asks: {:?}", app.asks);
    handle.shutdown().await?;
    assert!(app.quotes > 0, "no data reached the application");
    Ok(())
}
