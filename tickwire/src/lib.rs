//! tickwire: Alpaca market data and account streams that stay connected
//! correctly.
//!
//! This is the crate to add. It gathers the stream API, Alpaca's message
//! types and the machine's vocabulary from the crates that implement them,
//! and, with the feature `sim`, a simulated exchange to run programs and
//! tests against offline.
//!
//! - [`MarketDataStream`]: a feed's quotes, trades, bars, news… Creating one
//!   connects nothing; the first subscribe connects, the last unsubscribe
//!   lets the connection go.
//! - [`TradingStream`]: an account's order updates; connects at once.
//!
//! Both reconnect by themselves, resubscribe, and report what they missed as
//! [`Event::Gap`] and [`Event::Resumed`], inside [`StreamEvent::Machine`].
//! Besides monotonic `Instant`s these carry wall-clock [`Timestamp`]s: when
//! the connection was lost (`lost_at`), when it was live again
//! (`resumed_at`) and the own timestamp of the last data message before the
//! loss (`last_data_at`), so that Alpaca's REST API can be asked for exactly
//! the window that was missed. A [`TradingStream`] does that itself: after
//! each gap it lists the account's orders over REST and delivers each order
//! state the gap hid, once, as [`StreamEvent::Recovered`] (turn it off with
//! `reconcile(false)` on its builder).
//!
//! ```
//! use futures::StreamExt;
//! use tickwire::{Channel, Event, Feed, MarketData, MarketDataStream, StreamEvent};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let exchange = tickwire::sim::Exchange::start().await?;
//! # let feed = exchange.feed(&Feed::Iex);
//! # let (key_id, secret) = exchange.key_pair();
//! // `feed` is e.g. `Feed::Iex`; without `.key_pair(..)`, credentials come
//! // from APCA_API_KEY_ID / APCA_API_SECRET_KEY.
//! let mut stream = MarketDataStream::builder(feed).key_pair(key_id, secret).build()?;
//! stream.subscribe(Channel::Quotes, ["AAPL"]).await?;
//! while let Some(event) = stream.next().await {
//!     if let StreamEvent::Machine(Event::Data(MarketData::Quote(quote))) = event {
//!         println!("{} {} x {}", quote.symbol, quote.bid_price, quote.ask_price);
//!         break;
//!     }
//! }
//! stream.shutdown().await?;
//! # exchange.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//!
//! - [`stream`]: the async API (builders, handles, events, settings).
//! - [`alpaca`]: Alpaca's messages, channels and credentials.
//! - [`machine`]: the connection machine's states, events, errors and
//!   identities, and the vocabulary every vendor shares.
//! - `sim` (feature `sim`): `tickwire::sim::Exchange::start().await` serves
//!   a simulated Alpaca exchange on `127.0.0.1` and hands back its URLs and
//!   the key pair it accepts.
//!
//! # Crate map
//!
//! tickwire is a workspace; this crate only re-exports. To read or change
//! the code, open:
//!
//! | crate | folder | open it for |
//! |---|---|---|
//! | `tickwire` | `tickwire/` | this facade, the examples |
//! | `tickwire-ws` | `transport-ws/` | the streams: the tokio driver, WebSocket transport, builders, event queue |
//! | `tickwire-alpaca` | `protocol-alpaca/` | Alpaca's wire: message types, decoders, request encoders, the exchange's side |
//! | `tickwire-core` | `core/` | the sans-I/O machine (states, rules, timers, backoff, subscriptions) and the `Dialect` a vendor implements |
//! | `tickwire-mock` | `transport-mock/` | the simulated exchange: model, fault knobs, scripted transport, loopback server |
//! | `tickwire-sim` | `sim/` | the deterministic simulation that checks the machine's rules over thousands of seeds |
//! | `tickwire-tests` | `tests/` | cross-crate suites: the machine's rules as model-based property tests (not published) |
//! | `tickwire-cli` | `cli/` | the `tickwire` command: `watch`, `trades`, `serve`, `sim` (not published) |
//!
//! The dependencies point one way: `tickwire-core` ← `tickwire-alpaca` ←
//! `tickwire-ws` ← `tickwire`; the mock and the simulation sit beside the
//! streams. `docs/ARCHITECTURE.md` in the repository describes the layout,
//! the drive loop, the states and the machine's rules 1–13.

#![warn(missing_docs)]

pub mod alpaca;
pub mod machine;
#[cfg(feature = "sim")]
pub mod sim;
pub mod stream;

pub use tickwire_alpaca::{Channel, MarketData, TradeUpdate};
pub use tickwire_core::machine::{Event, State, SubscriptionOutcome};
pub use tickwire_core::{Credentials, Symbol, Timestamp};
pub use tickwire_ws::{Error, Feed, MarketDataStream, StreamEvent, TradingEndpoint, TradingStream};
