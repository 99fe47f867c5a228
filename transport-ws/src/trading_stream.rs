//! [`TradingStream`]: order and fill updates of an account.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::watch;

use tickwire_alpaca::{AlpacaTrading, Encoding, TradeUpdate};
use tickwire_core::Transport;
use tickwire_core::machine::{State, StreamKind};

use crate::endpoint::check_endpoint;
use crate::spawn::spawn;
use crate::{
    Error, Events, StreamBuilder, StreamEvent, StreamHandle, TradingEndpoint, WsTransport,
};

/// An event of a [`TradingStream`].
pub type TradingEvent = StreamEvent<TradeUpdate>;

/// The `trade_updates` stream of an account: connects as soon as it is
/// created, listens to the account's order updates, and reconnects by itself
/// with backoff, reporting gaps.
///
/// There is nothing to subscribe to: the account is the subscription.
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// use tickwire_ws::{StreamEvent, TradingEndpoint, TradingStream};
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
///         StreamEvent::Data(update) => {
///             println!("{:?} {:?}", update.event, update.order.symbol);
///             break;
///         }
///         StreamEvent::Error { error, fatal: true } => return Err(error.into()),
///         _ => {}
///     }
/// }
/// stream.shutdown().await?;
/// # server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TradingStream {
    handle: StreamHandle,
    events: Events<TradeUpdate>,
}

/// Builds a [`TradingStream`].
pub type TradingBuilder = StreamBuilder<TradingEndpoint>;

impl TradingStream {
    /// A builder for a stream of `endpoint`, with the defaults listed on [`StreamBuilder`].
    pub fn builder(endpoint: TradingEndpoint) -> TradingBuilder {
        StreamBuilder::with_endpoint(endpoint)
    }

    /// A stream of `endpoint` with default settings and credentials from the environment.
    ///
    /// # Errors
    /// As for [`StreamBuilder::build`](StreamBuilder#method.build-1).
    pub fn new(endpoint: TradingEndpoint) -> Result<Self, Error> {
        Self::builder(endpoint).build()
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.handle.state()
    }

    /// A watch of the state.
    pub fn state_watch(&self) -> watch::Receiver<State> {
        self.handle.state_watch()
    }

    /// Waits until the stream is live (authorized and listening).
    ///
    /// # Errors
    /// As for [`StreamHandle::wait_live`].
    pub async fn wait_live(&self, timeout: Duration) -> Result<(), Error> {
        self.handle.wait_live(timeout).await
    }

    /// Closes the stream within the shutdown bound. See [`StreamHandle::shutdown`].
    ///
    /// # Errors
    /// As for [`StreamHandle::shutdown`].
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.handle.shutdown().await
    }

    /// Data events dropped by the slow-consumer policy so far.
    pub fn dropped_events(&self) -> u64 {
        self.handle.dropped_events()
    }

    /// A cloneable handle (its subscribe and unsubscribe are refused on an
    /// account stream).
    pub fn handle(&self) -> StreamHandle {
        self.handle.clone()
    }

    /// The event stream, for reading without moving the stream.
    pub fn events(&mut self) -> &mut Events<TradeUpdate> {
        &mut self.events
    }

    /// Splits the stream into its command handle and its events.
    pub fn into_parts(self) -> (StreamHandle, Events<TradeUpdate>) {
        (self.handle, self.events)
    }
}

impl Stream for TradingStream {
    type Item = TradingEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().events).poll_next(cx)
    }
}

impl StreamBuilder<TradingEndpoint> {
    /// Creates the stream over WebSockets and starts connecting at once.
    ///
    /// # Errors
    /// [`Error::Credentials`] when none were given and the environment has
    /// none; [`Error::InsecureEndpoint`] for plain `ws://` to another machine
    /// (unless allowed); [`Error::InvalidUrl`]; [`Error::NoRuntime`] outside tokio.
    pub fn build(self) -> Result<TradingStream, Error> {
        let transport = WsTransport::new(self.options.ws.clone());
        self.build_with_transport(transport)
    }

    /// Creates the stream over another transport. The endpoint checks still apply.
    ///
    /// # Errors
    /// As for [`build`](Self::build).
    pub fn build_with_transport<T: Transport + 'static>(
        self,
        transport: T,
    ) -> Result<TradingStream, Error> {
        let url = self.endpoint.url();
        check_endpoint(&url, self.options.ws.allow_insecure)?;
        let encoding = self.options.encoding.unwrap_or(Encoding::Json);
        let config = self.options.machine_config(&url)?;
        let dialect = AlpacaTrading::new(encoding);
        let (handle, events) = spawn(
            StreamKind::Account,
            dialect,
            config,
            transport,
            &self.options,
        )?;
        Ok(TradingStream { handle, events })
    }
}
