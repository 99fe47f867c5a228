//! [`TradingStream`]: order and fill updates of an account.

use tickwire_alpaca::TradeUpdate;

use crate::{EventStream, StreamBuilder, StreamEvent, TradingProfile};

/// An event of a [`TradingStream`].
pub type TradingEvent = StreamEvent<TradeUpdate>;

/// Builds a [`TradingStream`].
pub type TradingBuilder = StreamBuilder<TradingProfile>;

/// The `trade_updates` stream of an account: connects as soon as it is
/// created, listens to the account's order updates, and reconnects by itself
/// with backoff, reporting gaps.
///
/// The trading face of [`EventStream`]: every method listed there. There is
/// nothing to subscribe to: the account is the subscription.
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// use tickwire_ws::{Event, StreamEvent, TradingEndpoint, TradingStream};
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // A simulated exchange on 127.0.0.1 stands in for Alpaca here.
/// # let mut trading = tickwire_mock::TradingConfig::default();
/// # trading.order_interval = Duration::from_millis(50);
/// # let exchange = tickwire_mock::ExchangeConfig::new(1)
/// #     .with_account(tickwire_mock::Account::new("PKTEST", "secret"))
/// #     .with_trading(trading);
/// # let server = tickwire_mock::LoopbackServer::start(tickwire_mock::LoopbackConfig::new(exchange)).await?;
/// # let endpoint = TradingEndpoint::Custom(server.url("/stream"));
/// // `endpoint` is e.g. `TradingEndpoint::Paper`.
/// let mut stream = TradingStream::builder(endpoint)
///     .key_pair("PKTEST", "secret")
///     .build()?; // connecting already
/// stream.wait_live(Duration::from_secs(10)).await?;
///
/// while let Some(event) = stream.next().await {
///     match event {
///         StreamEvent::Machine(Event::Data(update)) => {
///             println!("{:?} {:?}", update.event, update.order.symbol);
///             break;
///         }
///         StreamEvent::Machine(Event::Error { error, fatal: true }) => return Err(error.into()),
///         _ => {}
///     }
/// }
/// stream.shutdown().await?;
/// # server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub type TradingStream = EventStream<TradingProfile>;
