//! [`MarketDataStream`]: quotes, trades, bars and news of a feed.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::watch;

use tickwire_alpaca::Channel;
use tickwire_alpaca::{AlpacaMarketData, Encoding, MarketData};
use tickwire_core::Transport;
use tickwire_core::machine::{State, StreamKind, SubscriptionOutcome};

use crate::endpoint::check_endpoint;
use crate::spawn::spawn;
use crate::{
    Error, Events, Feed, IntoSymbol, StreamBuilder, StreamEvent, StreamHandle, WsTransport,
};

/// An event of a [`MarketDataStream`].
pub type MarketDataEvent = StreamEvent<MarketData>;

/// A market data stream of one feed: connects on the first subscribe, lets the
/// connection go after the last unsubscribe, reconnects and resubscribes by
/// itself, and reports what it missed as [`StreamEvent::Gap`] /
/// [`StreamEvent::Resumed`].
///
/// Creating one connects nothing. Commands ([`subscribe`](Self::subscribe),
/// [`unsubscribe`](Self::unsubscribe), [`shutdown`](Self::shutdown)) may be
/// called from any task at any time — use [`handle`](Self::handle) for a
/// cloneable handle. Events arrive through [`futures::Stream`], in order.
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// use tickwire_ws::{Channel, Feed, MarketData, MarketDataStream, StreamEvent, SubscriptionOutcome};
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // A simulated exchange on 127.0.0.1 stands in for Alpaca here.
/// # let exchange = tickwire_mock::ExchangeConfig::new(1).with_account(tickwire_mock::Account::new("PKTEST", "secret"));
/// # let server = tickwire_mock::LoopbackServer::start(tickwire_mock::LoopbackConfig::new(exchange)).await?;
/// # let feed = Feed::Custom(server.url("/v2/iex"));
/// // `feed` is e.g. `Feed::Iex`. Without `.key_pair(..)`, credentials come
/// // from APCA_API_KEY_ID / APCA_API_SECRET_KEY.
/// let mut stream = MarketDataStream::builder(feed)
///     .key_pair("PKTEST", "secret")
///     .data_silence_timeout(Some(Duration::from_secs(30)))
///     .build()?;
///
/// // Connects, authenticates, subscribes; resolves with the server's verdict.
/// let verdict = stream.subscribe(Channel::Quotes, ["AAPL", "MSFT"]).await?;
/// assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
///
/// let mut quotes = 0;
/// while let Some(event) = stream.next().await {
///     match event {
///         StreamEvent::Data(MarketData::Quote(q)) => {
///             println!("{} {} x {}", q.symbol, q.bid_price, q.ask_price);
///             quotes += 1;
///             if quotes == 3 {
///                 break;
///             }
///         }
///         StreamEvent::Gap { since, .. } => println!("lost the stream at {since:?}; backfill later"),
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
pub struct MarketDataStream {
    handle: StreamHandle,
    events: Events<MarketData>,
}

/// Builds a [`MarketDataStream`].
pub type MarketDataBuilder = StreamBuilder<Feed>;

impl MarketDataStream {
    /// A builder for a stream of `feed`, with the defaults listed on [`StreamBuilder`].
    pub fn builder(feed: Feed) -> MarketDataBuilder {
        StreamBuilder::with_endpoint(feed)
    }

    /// A stream of `feed` with default settings and credentials from the environment.
    ///
    /// # Errors
    /// As for [`StreamBuilder::build`](StreamBuilder#method.build).
    pub fn new(feed: Feed) -> Result<Self, Error> {
        Self::builder(feed).build()
    }

    /// Adds symbols to a channel; resolves with the server's verdict. See
    /// [`StreamHandle::subscribe`].
    ///
    /// # Errors
    /// As for [`StreamHandle::subscribe`].
    pub async fn subscribe<I>(
        &self,
        channel: Channel,
        symbols: I,
    ) -> Result<SubscriptionOutcome, Error>
    where
        I: IntoIterator,
        I::Item: IntoSymbol,
    {
        self.handle.subscribe(channel, symbols).await
    }

    /// Removes symbols from a channel; resolves with the server's verdict. See
    /// [`StreamHandle::unsubscribe`].
    ///
    /// # Errors
    /// As for [`StreamHandle::subscribe`].
    pub async fn unsubscribe<I>(
        &self,
        channel: Channel,
        symbols: I,
    ) -> Result<SubscriptionOutcome, Error>
    where
        I: IntoIterator,
        I::Item: IntoSymbol,
    {
        self.handle.unsubscribe(channel, symbols).await
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.handle.state()
    }

    /// A watch of the state.
    pub fn state_watch(&self) -> watch::Receiver<State> {
        self.handle.state_watch()
    }

    /// Waits until the stream is live. See [`StreamHandle::wait_live`].
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

    /// A cloneable handle for commanding the stream from other tasks.
    pub fn handle(&self) -> StreamHandle {
        self.handle.clone()
    }

    /// The event stream, for reading without moving the stream.
    pub fn events(&mut self) -> &mut Events<MarketData> {
        &mut self.events
    }

    /// Splits the stream into its command handle and its events.
    pub fn into_parts(self) -> (StreamHandle, Events<MarketData>) {
        (self.handle, self.events)
    }
}

impl Stream for MarketDataStream {
    type Item = MarketDataEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().events).poll_next(cx)
    }
}

impl StreamBuilder<Feed> {
    /// Creates the stream over WebSockets. It connects on the first subscribe.
    ///
    /// # Errors
    /// [`Error::Credentials`] when none were given and the environment has
    /// none; [`Error::InsecureEndpoint`] for plain `ws://` to another machine
    /// (unless allowed); [`Error::InvalidUrl`]; [`Error::NoRuntime`] outside tokio.
    pub fn build(self) -> Result<MarketDataStream, Error> {
        let transport = WsTransport::new(self.options.ws.clone());
        self.build_with_transport(transport)
    }

    /// Creates the stream over another transport (an in-memory peer in tests,
    /// a proxy…). The endpoint checks still apply.
    ///
    /// # Errors
    /// As for [`build`](Self::build).
    pub fn build_with_transport<T: Transport + 'static>(
        self,
        transport: T,
    ) -> Result<MarketDataStream, Error> {
        let url = self.endpoint.url();
        check_endpoint(&url, self.options.ws.allow_insecure)?;
        let encoding = self.options.encoding.unwrap_or(Encoding::MsgPack);
        let config = self.options.machine_config(&url)?;
        let dialect = AlpacaMarketData::new(encoding);
        let (handle, events) = spawn(
            StreamKind::Symbols,
            dialect,
            config,
            transport,
            &self.options,
        )?;
        Ok(MarketDataStream { handle, events })
    }
}
