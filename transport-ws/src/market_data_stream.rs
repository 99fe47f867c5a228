//! [`MarketDataStream`]: quotes, trades, bars and news of a feed.

use tickwire_alpaca::{Channel, MarketData};
use tickwire_core::machine::SubscriptionOutcome;

#[cfg(doc)]
use tickwire_core::machine::Event;

use crate::{Error, EventStream, IntoSymbol, MarketDataProfile, StreamBuilder, StreamEvent};

/// An event of a [`MarketDataStream`].
pub type MarketDataEvent = StreamEvent<MarketData>;

/// Builds a [`MarketDataStream`].
pub type MarketDataBuilder = StreamBuilder<MarketDataProfile>;

/// A market data stream of one feed: connects on the first subscribe, lets the
/// connection go after the last unsubscribe, reconnects and resubscribes by
/// itself, and reports what it missed as [`Event::Gap`] / [`Event::Resumed`].
///
/// The market-data face of [`EventStream`]: every method listed there, plus
/// [`subscribe`](EventStream::subscribe) and
/// [`unsubscribe`](EventStream::unsubscribe). Creating one connects nothing.
/// Commands may be called from any task at any time — use
/// [`handle`](EventStream::handle) for a cloneable handle. Events arrive
/// through [`futures::Stream`], in order.
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// use tickwire_ws::{Channel, Event, Feed, MarketData, MarketDataStream, StreamEvent, SubscriptionOutcome};
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
///         StreamEvent::Machine(Event::Data(MarketData::Quote(q))) => {
///             println!("{} {} x {}", q.symbol, q.bid_price, q.ask_price);
///             quotes += 1;
///             if quotes == 3 {
///                 break;
///             }
///         }
///         StreamEvent::Machine(Event::Gap { since, .. }) => println!("lost the stream at {since:?}; backfill later"),
///         StreamEvent::Machine(Event::Error { error, fatal: true }) => return Err(error.into()),
///         _ => {}
///     }
/// }
/// stream.shutdown().await?;
/// # server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub type MarketDataStream = EventStream<MarketDataProfile>;

/// Methods that pass a channel's symbols on to the stream's
/// [`StreamHandle`](crate::StreamHandle) method of the same name.
macro_rules! handle_subscription_methods {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub async fn $name<I>(
            &self,
            channel: Channel,
            symbols: I,
        ) -> Result<SubscriptionOutcome, Error>
        where
            I: IntoIterator,
            I::Item: IntoSymbol,
        {
            self.handle().$name(channel, symbols).await
        }
    )*};
}

impl EventStream<MarketDataProfile> {
    handle_subscription_methods! {
        /// Adds symbols to a channel; resolves with the server's verdict. See
        /// [`StreamHandle::subscribe`](crate::StreamHandle::subscribe).
        ///
        /// # Errors
        /// As for [`StreamHandle::subscribe`](crate::StreamHandle::subscribe).
        subscribe;
        /// Removes symbols from a channel; resolves with the server's verdict. See
        /// [`StreamHandle::unsubscribe`](crate::StreamHandle::unsubscribe).
        ///
        /// # Errors
        /// As for [`StreamHandle::subscribe`](crate::StreamHandle::subscribe).
        unsubscribe;
    }
}
