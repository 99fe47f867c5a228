//! What sets one kind of stream apart from another: the
//! [`StreamProfile`]s of a market-data and of a trading stream.

use std::fmt;

use tickwire_alpaca::{
    AlpacaMarketData, AlpacaTrading, Channel, Encoding, MarketData, TradeUpdate,
};
use tickwire_core::machine::StreamKind;
use tickwire_core::protocol::Dialect;

use crate::backfill_stage::backfill_stage;
use crate::event_stage::{EventStage, StageSetup};
use crate::reconcile_stage::reconcile_stage;
use crate::{Error, Events, Feed, StreamHandle, TradingEndpoint};

/// The kind of an [`EventStream`](crate::EventStream): where it connects, which
/// dialect it speaks, and whether it starts idle or connecting.
///
/// Everything else (the builder, the task, the handle, the events) is shared
/// by every kind. [`MarketDataProfile`] and [`TradingProfile`] are the two
/// kinds Alpaca has.
pub trait StreamProfile: 'static {
    /// The protocol spoken on the connection.
    type Dialect: Dialect;
    /// Where the stream connects (a feed, a trading endpoint).
    type Endpoint: fmt::Debug + Clone + Send;
    /// A symbol stream (connects on the first subscribe) or an account
    /// stream (connects at once).
    const KIND: StreamKind;
    /// The encoding used when the builder names none.
    const ENCODING_DEFAULT: Encoding;

    /// The URL of `endpoint`.
    fn url(endpoint: &Self::Endpoint) -> String;

    /// The dialect for `encoding`.
    fn dialect(encoding: Encoding) -> Self::Dialect;

    /// A step between the stream's queue and its application, if this kind
    /// has one (an account stream's reconciliation, a market-data stream's
    /// backfill). Default: none.
    ///
    /// # Errors
    /// When the settings ask for a step the endpoint cannot have (e.g.
    /// [`Error::BackfillUnsupported`]); the stream is then not built.
    fn event_stage(
        endpoint: &Self::Endpoint,
        setup: &StageSetup<'_>,
    ) -> Result<Option<StageOf<Self>>, Error> {
        let _ = (endpoint, setup);
        Ok(None)
    }
}

/// The data messages of a stream of profile `P`.
pub type DataOf<P> = <<P as StreamProfile>::Dialect as Dialect>::Data;

/// The channels of a stream of profile `P`.
pub type ChannelOf<P> = <<P as StreamProfile>::Dialect as Dialect>::Channel;

/// The [`EventStage`] of a stream of profile `P`.
pub type StageOf<P> = EventStage<DataOf<P>, ChannelOf<P>>;

/// The command handle of a stream of profile `P`.
pub type HandleOf<P> = StreamHandle<ChannelOf<P>>;

/// The events of a stream of profile `P`.
pub type EventsOf<P> = Events<DataOf<P>, ChannelOf<P>>;

/// Declares a profile of Alpaca's: an uninhabited type whose
/// [`StreamProfile`] speaks `$dialect` (made by its `new(encoding)`) to
/// `$endpoint` (whose `url()` it is).
macro_rules! alpaca_profile {
    (
        $(#[$doc:meta])*
        $profile:ident: $dialect:ident to $endpoint:ident, $kind:ident, $encoding:ident
        $(, stage $stage:path)?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $profile {}

        impl StreamProfile for $profile {
            type Dialect = $dialect;
            type Endpoint = $endpoint;
            const KIND: StreamKind = StreamKind::$kind;
            const ENCODING_DEFAULT: Encoding = Encoding::$encoding;

            fn url(endpoint: &$endpoint) -> String {
                endpoint.url()
            }

            fn dialect(encoding: Encoding) -> $dialect {
                $dialect::new(encoding)
            }

            $(
                fn event_stage(
                    endpoint: &$endpoint,
                    setup: &StageSetup<'_>,
                ) -> Result<Option<StageOf<Self>>, Error> {
                    $stage(endpoint, setup)
                }
            )?
        }
    };
}

alpaca_profile! {
    /// A market-data stream: a [`Feed`]'s quotes, trades, bars, news…; idle
    /// until the first subscribe; MessagePack by default (the options feeds
    /// require it).
    MarketDataProfile: AlpacaMarketData to Feed, Symbols, MsgPack,
    stage market_data_stage
}

alpaca_profile! {
    /// A trading stream: an account's order updates from a
    /// [`TradingEndpoint`]; connects at once; JSON by default.
    TradingProfile: AlpacaTrading to TradingEndpoint, Account, Json,
    stage trading_stage
}

/// A market-data stream's backfill, when asked for; refused on a feed
/// that is not stocks (it would ask the stocks API for its symbols).
fn market_data_stage(
    feed: &Feed,
    setup: &StageSetup<'_>,
) -> Result<Option<EventStage<MarketData, Channel>>, Error> {
    if !setup.options.backfill.kinds.is_none()
        && let Some(market) = feed.market_without_backfill()
    {
        return Err(Error::BackfillUnsupported {
            url: feed.url(),
            market,
        });
    }
    let rest_url = setup
        .options
        .backfill
        .rest_url
        .clone()
        .unwrap_or_else(|| feed.data_rest_url());
    Ok(backfill_stage(setup, &rest_url, &feed.rest_feed()))
}

/// An account stream's reconciliation, unless turned off.
fn trading_stage(
    endpoint: &TradingEndpoint,
    setup: &StageSetup<'_>,
) -> Result<Option<EventStage<TradeUpdate, Channel>>, Error> {
    let rest_url = setup
        .options
        .reconcile
        .rest_url
        .clone()
        .unwrap_or_else(|| endpoint.rest_url());
    Ok(reconcile_stage(setup, &rest_url))
}
