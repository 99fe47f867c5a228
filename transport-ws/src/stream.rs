//! [`EventStream`]: one stream type for every [`StreamProfile`], and how the
//! builder creates it.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::watch;

use tickwire_core::Transport;
use tickwire_core::machine::State;

use crate::endpoint::check_endpoint;
use crate::profile::{ChannelOf, DataOf, EventsOf, HandleOf, StreamProfile};
use crate::spawn::spawn;
use crate::{Error, StreamBuilder, StreamEvent, WsTransport};

#[cfg(doc)]
use crate::{Events, StreamHandle};

/// A running stream of kind `P`: a command [`StreamHandle`] and its
/// [`Events`], which it yields as a [`futures::Stream`], in order.
///
/// Users meet it under its two faces, [`MarketDataStream`](crate::MarketDataStream)
/// and [`TradingStream`](crate::TradingStream); everything here applies to
/// both. Commands may be called from any task at any time — use
/// [`handle`](Self::handle) for a cloneable handle.
pub struct EventStream<P: StreamProfile> {
    handle: HandleOf<P>,
    events: EventsOf<P>,
    profile: PhantomData<fn() -> P>,
}

impl<P: StreamProfile> fmt::Debug for EventStream<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("handle", &self.handle)
            .field("events", &self.events)
            .finish()
    }
}

impl<P: StreamProfile> EventStream<P> {
    /// A builder for a stream of `endpoint`, with the defaults listed on [`StreamBuilder`].
    pub fn builder(endpoint: P::Endpoint) -> StreamBuilder<P> {
        StreamBuilder::with_endpoint(endpoint)
    }

    /// A stream of `endpoint` with default settings and credentials from the environment.
    ///
    /// # Errors
    /// As for [`StreamBuilder::build`].
    pub fn new(endpoint: P::Endpoint) -> Result<Self, Error> {
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

    /// Waits until the stream is live: authenticated, and subscriptions (or,
    /// on an account stream, the listening request) acknowledged. See
    /// [`StreamHandle::wait_live`].
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

    /// A cloneable handle for commanding the stream from other tasks (on an
    /// account stream its subscribe and unsubscribe are refused).
    pub fn handle(&self) -> HandleOf<P> {
        self.handle.clone()
    }

    /// The event stream, for reading without moving the stream.
    pub fn events(&mut self) -> &mut EventsOf<P> {
        &mut self.events
    }

    /// Splits the stream into its command handle and its events.
    pub fn into_parts(self) -> (HandleOf<P>, EventsOf<P>) {
        (self.handle, self.events)
    }
}

impl<P: StreamProfile> Stream for EventStream<P> {
    type Item = StreamEvent<DataOf<P>, ChannelOf<P>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().events).poll_next(cx)
    }
}

impl<P: StreamProfile> StreamBuilder<P> {
    /// Creates the stream over WebSockets. A market-data stream connects on
    /// its first subscribe; a trading stream starts connecting at once.
    ///
    /// # Errors
    /// [`Error::Credentials`] when none were given and the environment has
    /// none; [`Error::InsecureEndpoint`] for plain `ws://` to another machine
    /// (unless allowed); [`Error::InvalidUrl`]; [`Error::NoRuntime`] outside tokio.
    pub fn build(self) -> Result<EventStream<P>, Error> {
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
    ) -> Result<EventStream<P>, Error> {
        let url = P::url(&self.endpoint);
        check_endpoint(&url, self.options.ws.allow_insecure)?;
        let encoding = self.options.encoding.unwrap_or(P::ENCODING_DEFAULT);
        let config = self.options.machine_config(&url)?;
        let (handle, events) = spawn::<P, T>(
            &self.endpoint,
            P::dialect(encoding),
            config,
            transport,
            &self.options,
        )?;
        Ok(EventStream {
            handle,
            events,
            profile: PhantomData,
        })
    }
}
