//! One conformance suite, two backends: every scenario runs against
//! tickwire-mock's exchange through the in-memory `ScriptedTransport` (on
//! paused tokio time) and through the `LoopbackServer` (real WebSockets on
//! 127.0.0.1, real time). The `conformance!` macro at the bottom instantiates
//! each scenario once per backend.
//!
//! Durations are chosen so the loopback runs stay within seconds; on paused
//! time they cost nothing.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use tickwire_core::machine::TimeoutKind;
use tickwire_mock::{
    Account, Endpoint, ExchangeConfig, Fault, FaultPlan, Faults, LoopbackConfig, LoopbackServer,
    ScriptedTransport, SessionId, SharedExchange,
};
use tickwire_ws::{
    Channel, Encoding, Error, Event, EventStream, Feed, MarketData, MarketDataBuilder,
    MarketDataEvent, MarketDataStream, State, StreamError, StreamEvent, StreamProfile,
    SubscriptionOutcome, Symbol, TradingEndpoint, TradingStream,
};

const KEY: &str = "PKCONFORMANCE";
const SECRET: &str = "conformance-secret";

/// Longest any single wait in a scenario may take before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// `ScriptedTransport`, paused time.
    Scripted,
    /// `LoopbackServer`, real time.
    Loopback,
}

/// The exchange a scenario talks to, reached through one backend.
struct Harness {
    backend: Backend,
    exchange: SharedExchange,
    server: Option<LoopbackServer>,
}

fn account() -> Account {
    Account::new(KEY, SECRET).with_symbol_limit(None)
}

fn exchange_config() -> ExchangeConfig {
    ExchangeConfig::new(11).with_account(account())
}

impl Harness {
    async fn start(backend: Backend, config: ExchangeConfig) -> Self {
        match backend {
            Backend::Scripted => Self {
                backend,
                exchange: SharedExchange::new(config),
                server: None,
            },
            Backend::Loopback => {
                let server = LoopbackServer::start(LoopbackConfig::new(config))
                    .await
                    .expect("loopback server");
                Self {
                    backend,
                    exchange: server.exchange().clone(),
                    server: Some(server),
                }
            }
        }
    }

    fn url(&self, path: &str) -> String {
        match &self.server {
            Some(server) => server.url(path),
            // The scripted transport only reads the path.
            None => format!("wss://stream.data.alpaca.markets{path}"),
        }
    }

    /// A default market data stream of `/v2/iex`, subscribed to AAPL's
    /// quotes, once their data (`what`) flows.
    async fn aapl_quotes_flowing(&self, what: &str) -> MarketDataStream {
        let mut stream = self.market("/v2/iex", |b| b);
        stream.subscribe(Channel::Quotes, ["AAPL"]).await.unwrap();
        until(&mut stream, what, data_symbol).await;
        stream
    }

    /// A market data stream of `path` with the suite's defaults, adjusted by `configure`.
    fn market(
        &self,
        path: &str,
        configure: impl FnOnce(MarketDataBuilder) -> MarketDataBuilder,
    ) -> MarketDataStream {
        let builder = configure(
            MarketDataStream::builder(Feed::Custom(self.url(path)))
                .key_pair(KEY, SECRET)
                .encoding(Encoding::Json)
                .seed(5),
        );
        match self.backend {
            Backend::Scripted => {
                builder.build_with_transport(ScriptedTransport::new(self.exchange.clone()))
            }
            Backend::Loopback => builder.build(),
        }
        .expect("build")
    }

    fn trading(&self) -> TradingStream {
        let builder = TradingStream::builder(TradingEndpoint::Custom(self.url("/stream")))
            .key_pair(KEY, SECRET);
        match self.backend {
            // The scripted transport carries no REST: nothing to reconcile with.
            Backend::Scripted => builder
                .reconcile(false)
                .build_with_transport(ScriptedTransport::new(self.exchange.clone())),
            Backend::Loopback => builder.build(),
        }
        .expect("build")
    }

    fn sessions(&self) -> Vec<SessionId> {
        self.exchange.with(|ex, _| ex.sessions().collect())
    }

    /// The only open session.
    fn session(&self) -> SessionId {
        let sessions = self.sessions();
        assert_eq!(sessions.len(), 1, "expected one session: {sessions:?}");
        sessions[0]
    }

    fn inject(&self, fault: Fault) {
        let session = self.session();
        self.exchange.with(|ex, now| ex.inject(now, session, fault));
    }

    fn server_set(&self) -> Vec<(Channel, String)> {
        let session = self.session();
        self.exchange.with(|ex, _| {
            ex.subscriptions(session)
                .map(|set| set.iter().map(|(c, s)| (c, s.to_string())).collect())
                .unwrap_or_default()
        })
    }

    /// "However long you wait": an hour of paused time, a second of real time.
    fn long_wait(&self) -> Duration {
        match self.backend {
            Backend::Scripted => Duration::from_secs(3600),
            Backend::Loopback => Duration::from_secs(1),
        }
    }

    /// Waits until the exchange has `count` open sessions.
    async fn until_sessions(&self, count: usize) {
        within("the exchange's session count", async {
            while self.sessions().len() != count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// Shuts `stream` down (cleanly), then [`finish`](Self::finish)es.
    async fn finish_after<P: StreamProfile>(self, stream: EventStream<P>) {
        stream.shutdown().await.unwrap();
        self.finish().await;
    }

    async fn finish(self) {
        if let Some(server) = self.server {
            server.shutdown().await;
        }
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Reads events until `pick` returns something.
async fn until<T>(
    stream: &mut MarketDataStream,
    what: &str,
    mut pick: impl FnMut(&MarketDataEvent) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            match stream.next().await {
                Some(event) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                None => panic!("the stream ended while waiting for {what}"),
            }
        }
    })
    .await
}

/// Waits for a non-fatal error event with the server's `code`.
async fn until_nonfatal_error(stream: &mut MarketDataStream, code: u16) {
    until(
        stream,
        &format!("the non-fatal {code} error event"),
        |e| match e {
            StreamEvent::Machine(Event::Error {
                error,
                fatal: false,
            }) if error.code() == Some(code) => Some(()),
            _ => None,
        },
    )
    .await;
}

async fn until_state(stream: &MarketDataStream, what: &str, pred: impl Fn(&State) -> bool) {
    let mut watch = stream.state_watch();
    within(what, watch.wait_for(|s| pred(s)))
        .await
        .expect("the stream's task is running");
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).expect("symbol")
}

fn data_symbol(event: &MarketDataEvent) -> Option<String> {
    match event {
        StreamEvent::Machine(Event::Data(MarketData::Quote(q))) => Some(q.symbol.to_string()),
        StreamEvent::Machine(Event::Data(MarketData::Trade(t))) => Some(t.symbol.to_string()),
        _ => None,
    }
}

fn epoch_of(state: &State) -> u64 {
    state.epoch().map_or(0, |e| e.get())
}

/// Reads what is left of a closed stream's events; they must end.
async fn drain_to_end(stream: &mut MarketDataStream) -> Vec<MarketDataEvent> {
    within(
        "the end of the event stream",
        stream.by_ref().collect::<Vec<_>>(),
    )
    .await
}

// ---------------------------------------------------------------- scenarios

async fn lazy_connect(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let stream = h.market("/v2/iex", |b| b);
    tokio::time::sleep(h.long_wait()).await;
    assert_eq!(h.sessions(), vec![], "connected before any subscription");
    assert_eq!(stream.state(), State::Idle);

    let verdict = stream.subscribe(Channel::Quotes, ["AAPL"]).await;
    assert_eq!(verdict, Ok(SubscriptionOutcome::Acknowledged));
    // The very first session the exchange ever saw.
    assert_eq!(h.session().to_string(), "session#1");
    h.finish_after(stream).await;
}

async fn account_stream_connects_at_once(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let stream = h.trading();
    stream
        .wait_live(PATIENCE)
        .await
        .expect("live without any subscribe");
    let session = h.session();
    assert_eq!(
        h.exchange.with(|ex, _| ex.endpoint(session)),
        Some(Endpoint::Trading)
    );
    assert!(matches!(
        stream.handle().subscribe(Channel::Quotes, ["AAPL"]).await,
        Err(Error::Command(_))
    ));
    h.finish_after(stream).await;
}

async fn subscribe_and_unsubscribe_while_live(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let mut stream = h.market("/v2/iex", |b| b);
    assert_eq!(
        stream.subscribe(Channel::Quotes, ["AAPL"]).await,
        Ok(SubscriptionOutcome::Acknowledged)
    );
    stream.wait_live(PATIENCE).await.unwrap();
    assert_eq!(
        stream.subscribe(Channel::Trades, ["MSFT", "AAPL"]).await,
        Ok(SubscriptionOutcome::Acknowledged)
    );
    assert_eq!(
        h.server_set(),
        vec![
            (Channel::Trades, "AAPL".into()),
            (Channel::Trades, "MSFT".into()),
            (Channel::Quotes, "AAPL".into()),
        ]
    );
    assert_eq!(
        stream.unsubscribe(Channel::Trades, ["MSFT"]).await,
        Ok(SubscriptionOutcome::Acknowledged)
    );
    assert_eq!(
        h.server_set(),
        vec![
            (Channel::Trades, "AAPL".into()),
            (Channel::Quotes, "AAPL".into())
        ]
    );
    until(&mut stream, "AAPL data", |e| {
        data_symbol(e).filter(|s| s == "AAPL")
    })
    .await;
    assert_eq!(epoch_of(&stream.state()), 1, "one connection throughout");
    h.finish_after(stream).await;
}

async fn subscribe_and_unsubscribe_while_reconnecting(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let mut stream = h.market("/v2/iex", |b| {
        b.backoff_floor_after_limit(Duration::from_millis(1500))
    });
    stream.subscribe(Channel::Quotes, ["AAPL"]).await.unwrap();
    // Drop the connection and refuse the next attempt with 429: the stream
    // waits out the long floor, reconnecting, while we change the set.
    h.exchange.with(|ex, _| ex.refuse_next(429));
    h.inject(Fault::Close {
        code: 1011,
        reason: "maintenance".into(),
    });
    until(&mut stream, "the 429 refusal", |e| match e {
        StreamEvent::Machine(Event::Error {
            error: StreamError::Refused { status: 429 },
            ..
        }) => Some(()),
        _ => None,
    })
    .await;
    assert!(
        matches!(stream.state(), State::Subscribed { .. }),
        "{:?}",
        stream.state()
    );
    let (subscribed, unsubscribed) = tokio::join!(
        stream.subscribe(Channel::Quotes, ["MSFT"]),
        stream.unsubscribe(Channel::Quotes, ["AAPL"]),
    );
    assert_eq!(subscribed, Ok(SubscriptionOutcome::Acknowledged));
    assert_eq!(unsubscribed, Ok(SubscriptionOutcome::Acknowledged));
    assert!(stream.state().is_live());
    assert_eq!(h.server_set(), vec![(Channel::Quotes, "MSFT".into())]);
    h.finish_after(stream).await;
}

async fn resubscribes_after_a_drop(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let mut stream = h.market("/v2/iex", |b| b);
    stream
        .subscribe(Channel::Quotes, ["AAPL", "MSFT"])
        .await
        .unwrap();
    stream.subscribe(Channel::Trades, ["AAPL"]).await.unwrap();
    let before = h.server_set();
    let first = h.session();
    h.inject(Fault::Close {
        code: 1001,
        reason: "going away".into(),
    });
    until(&mut stream, "the resumed stream", |e| {
        matches!(e, StreamEvent::Machine(Event::Resumed { .. })).then_some(())
    })
    .await;
    assert_ne!(h.session(), first);
    assert_eq!(
        h.server_set(),
        before,
        "the new connection carries the whole set"
    );
    assert_eq!(epoch_of(&stream.state()), 2);
    h.finish_after(stream).await;
}

async fn gap_and_resumed_events(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let mut stream = h.market("/v2/iex", |b| b);
    stream.subscribe(Channel::Quotes, ["AAPL"]).await.unwrap();
    let first_data_at = until(&mut stream, "data before the drop", |e| match e {
        StreamEvent::Machine(Event::Data(data)) => Some(data.timestamp()),
        _ => None,
    })
    .await;
    h.inject(Fault::Close {
        code: 1011,
        reason: "internal error".into(),
    });
    // The gap names the own time of the last data message before it.
    let mut last_data_at = Some(first_data_at);
    let (lost, since, lost_at, gap_last_data_at) = until(&mut stream, "the gap", |e| match e {
        StreamEvent::Machine(Event::Data(data)) => {
            last_data_at = Some(data.timestamp());
            None
        }
        StreamEvent::Machine(Event::Gap {
            epoch,
            since,
            lost_at,
            last_data_at,
        }) => Some((*epoch, *since, *lost_at, *last_data_at)),
        _ => None,
    })
    .await;
    assert_eq!(lost.get(), 1);
    assert_eq!(gap_last_data_at, last_data_at);
    let lost_at = lost_at.expect("the stream gives its machine a wall clock");
    let resumed = until(&mut stream, "the resume", |e| match e {
        StreamEvent::Machine(resumed @ Event::Resumed { .. }) => Some(resumed.clone()),
        StreamEvent::Machine(Event::Data(_)) => panic!("data during the gap"),
        _ => None,
    })
    .await;
    let Event::Resumed {
        epoch,
        gap_since,
        lost_for,
        lost_at: resumed_lost_at,
        resumed_at,
        last_data_at: resumed_last_data_at,
    } = resumed
    else {
        unreachable!("picked a resume")
    };
    assert!(epoch > lost);
    assert_eq!(gap_since, since);
    assert_eq!(
        (resumed_lost_at, resumed_last_data_at),
        (Some(lost_at), gap_last_data_at)
    );
    // Wall time and the monotonic clock agree on how long the gap lasted.
    let resumed_at = resumed_at.expect("a wall-clock resume time");
    let lost_nanos = resumed_at.unix_nanos() - lost_at.unix_nanos();
    assert_eq!(lost_nanos, lost_for.as_nanos() as i128);
    until(&mut stream, "data after the resume", data_symbol).await;
    h.finish_after(stream).await;
}

async fn rejection_405_leaves_other_symbols_live(backend: Backend) {
    let config =
        ExchangeConfig::new(3).with_account(Account::new(KEY, SECRET).with_symbol_limit(Some(2)));
    let h = Harness::start(backend, config).await;
    let mut stream = h.market("/v2/iex", |b| b);
    stream
        .subscribe(Channel::Quotes, ["AAPL", "MSFT"])
        .await
        .unwrap();
    let verdict = stream.subscribe(Channel::Quotes, ["TSLA"]).await;
    assert!(
        matches!(&verdict, Ok(SubscriptionOutcome::Rejected { code: Some(405), symbols, .. }) if symbols == &[sym("TSLA")]),
        "{verdict:?}"
    );
    assert!(stream.state().is_live());
    assert_eq!(epoch_of(&stream.state()), 1);
    assert_eq!(
        h.server_set(),
        vec![
            (Channel::Quotes, "AAPL".into()),
            (Channel::Quotes, "MSFT".into())
        ]
    );
    // Skip what was queued before the rejection, then see data go on.
    until_nonfatal_error(&mut stream, 405).await;
    until(&mut stream, "data after the rejection", data_symbol).await;
    h.finish_after(stream).await;
}

async fn fatal_error_stops_retrying(h: Harness, path: &str, key_secret: (&str, &str), code: u16) {
    let mut stream = h.market(path, |b| b.key_pair(key_secret.0, key_secret.1));
    let verdict = stream.subscribe(Channel::Quotes, ["AAPL"]).await;
    assert!(
        matches!(&verdict, Err(Error::Failed(StreamError::Server { code: Some(c), .. })) if *c == code),
        "{verdict:?}"
    );
    assert!(matches!(stream.state(), State::Failed { .. }));
    tokio::time::sleep(h.long_wait()).await;
    assert_eq!(
        h.sessions(),
        vec![],
        "still connected or reconnecting after {code}"
    );
    assert!(stream.handle().is_stopped());
    let events = drain_to_end(&mut stream).await;
    let fatal: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Machine(Event::Error { fatal: true, .. })))
        .collect();
    assert_eq!(fatal.len(), 1, "{events:?}");
    assert!(matches!(
        stream.subscribe(Channel::Quotes, ["AAPL"]).await,
        Err(Error::Failed(e)) if e.code() == Some(code)
    ));
    h.finish().await;
}

async fn fatal_402_stops_retrying(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    fatal_error_stops_retrying(h, "/v2/iex", (KEY, "wrong-secret"), 402).await;
}

async fn fatal_409_stops_retrying(backend: Backend) {
    let config = ExchangeConfig::new(4).with_account(account().with_endpoints([Endpoint::Iex]));
    let h = Harness::start(backend, config).await;
    fatal_error_stops_retrying(h, "/v2/sip", (KEY, SECRET), 409).await;
}

async fn connection_limit_406_backs_off_long(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let floor = Duration::from_millis(1500);
    let first = h.market("/v2/iex", |b| b);
    first.subscribe(Channel::Quotes, ["AAPL"]).await.unwrap();
    let mut second = h.market("/v2/iex", |b| {
        b.backoff(Duration::from_millis(10), Duration::from_millis(50))
            .backoff_floor_after_limit(floor)
    });
    let handle = second.handle();
    let subscribed = tokio::spawn(async move { handle.subscribe(Channel::Quotes, ["MSFT"]).await });
    until_nonfatal_error(&mut second, 406).await;
    let reconnect_at = until(&mut second, "the backoff", |e| match e {
        StreamEvent::Machine(Event::StateChanged(State::Subscribed { reconnect_at })) => {
            Some(*reconnect_at)
        }
        _ => None,
    })
    .await;
    let now = tokio::time::Instant::now().into_std();
    assert!(
        reconnect_at >= now + floor - Duration::from_millis(100),
        "backed off only {:?} after 406",
        reconnect_at.saturating_duration_since(now)
    );
    // The first stream lets its slot go; the second gets in, not before its deadline.
    first.shutdown().await.unwrap();
    assert_eq!(
        within("the second stream's subscribe", subscribed)
            .await
            .unwrap(),
        Ok(SubscriptionOutcome::Acknowledged)
    );
    let State::Live { since, .. } = second.state() else {
        panic!("not live: {:?}", second.state())
    };
    assert!(
        since >= reconnect_at,
        "reconnected before the backoff deadline"
    );
    h.finish_after(second).await;
}

async fn silent_server_detected_with_data_silence(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let mut stream = h.market("/v2/iex", |b| {
        b.data_silence_timeout(Some(Duration::from_millis(800)))
    });
    stream
        .subscribe(Channel::Quotes, ["AAPL", "MSFT"])
        .await
        .unwrap();
    until(&mut stream, "data", data_symbol).await;
    h.inject(Fault::Silence);
    until(&mut stream, "the data-silence timeout", |e| match e {
        StreamEvent::Machine(Event::Error {
            error: StreamError::Timeout(TimeoutKind::DataSilence),
            fatal: false,
        }) => Some(()),
        _ => None,
    })
    .await;
    until(&mut stream, "the resume on a new connection", |e| {
        matches!(e, StreamEvent::Machine(Event::Resumed { .. })).then_some(())
    })
    .await;
    until(&mut stream, "data again", data_symbol).await;
    h.finish_after(stream).await;
}

async fn silence_is_tolerated_without_data_silence(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let stream = h.market("/v2/iex", |b| b);
    stream
        .subscribe(Channel::DailyBars, ["AAPL"])
        .await
        .unwrap();
    h.inject(Fault::Silence);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(stream.state().is_live(), "{:?}", stream.state());
    assert_eq!(epoch_of(&stream.state()), 1);
    h.finish_after(stream).await;
}

async fn garbage_frame_reported_and_the_stream_continues(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let mut stream = h.aapl_quotes_flowing("data").await;
    h.inject(Fault::Garbage);
    until(&mut stream, "the malformed-frame error", |e| match e {
        StreamEvent::Machine(Event::Error {
            error: StreamError::Malformed(_),
            fatal,
        }) => {
            assert!(!fatal);
            Some(())
        }
        StreamEvent::Machine(Event::Gap { .. }) => panic!("garbage dropped the connection"),
        _ => None,
    })
    .await;
    until(&mut stream, "data after the garbage", data_symbol).await;
    assert!(stream.state().is_live());
    assert_eq!(epoch_of(&stream.state()), 1);
    h.finish_after(stream).await;
}

async fn a_frame_of_10000_malformed_messages_is_one_error(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let mut stream = h.aapl_quotes_flowing("data").await;
    // 10,000 MessagePack `nil`s in one array: one byte each, none a message.
    let mut hostile = vec![0xdc, 0x27, 0x10];
    hostile.extend(std::iter::repeat_n(0xc0, 10_000));
    h.inject(Fault::Frame(tickwire_core::Frame::binary(hostile)));
    let malformed = until(&mut stream, "the malformed-frame error", |e| match e {
        StreamEvent::Machine(Event::Error {
            error: StreamError::Malformed(frame),
            fatal: false,
        }) => Some(frame.clone()),
        StreamEvent::Machine(Event::Gap { .. }) => panic!("the frame dropped the connection"),
        _ => None,
    })
    .await;
    assert_eq!((malformed.malformed, malformed.skipped), (10_000, 0));
    until(&mut stream, "data after the frame", |e| match e {
        StreamEvent::Machine(Event::Error { error, .. }) => panic!("a second error: {error}"),
        _ => data_symbol(e),
    })
    .await;
    assert!(stream.state().is_live());
    assert_eq!(epoch_of(&stream.state()), 1);
    stream.shutdown().await.unwrap();
    h.finish().await;
}

async fn idle_close_after_the_last_unsubscribe_and_reconnect_on_subscribe(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let stream = h.market("/v2/iex", |b| b.idle_linger(Duration::from_millis(300)));
    stream.subscribe(Channel::Quotes, ["AAPL"]).await.unwrap();
    let first = h.session();
    assert_eq!(
        stream.unsubscribe(Channel::Quotes, ["AAPL"]).await,
        Ok(SubscriptionOutcome::Acknowledged)
    );
    until_state(&stream, "idle", |s| *s == State::Idle).await;
    h.until_sessions(0).await;
    tokio::time::sleep(h.long_wait()).await;
    assert_eq!(h.sessions(), vec![], "reconnected with nothing wanted");

    assert_eq!(
        stream.subscribe(Channel::Quotes, ["MSFT"]).await,
        Ok(SubscriptionOutcome::Acknowledged)
    );
    assert_ne!(h.session(), first);
    assert_eq!(h.server_set(), vec![(Channel::Quotes, "MSFT".into())]);
    h.finish_after(stream).await;
}

/// Shuts `stream` down and checks it ended cleanly: bounded, closed (or
/// still failed), its events ended, no connection left at the exchange.
async fn shut_down_cleanly(h: &Harness, mut stream: MarketDataStream, label: &str) {
    within(label, stream.shutdown())
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    match stream.state() {
        State::Closed | State::Failed { .. } => {}
        other => panic!("{label}: {other:?} after shutdown"),
    }
    drain_to_end(&mut stream).await;
    h.until_sessions(0).await;
    assert_eq!(
        stream
            .subscribe(Channel::Quotes, ["AAPL"])
            .await
            .err()
            .map(|e| matches!(e, Error::Closed | Error::Failed(_))),
        Some(true),
        "{label}: commands after shutdown"
    );
}

async fn clean_shutdown_in_every_state(backend: Backend) {
    let mut plan = FaultPlan::default();
    // The SIP endpoint greets, then never answers: a stream there stays connecting.
    plan.endpoints.insert(
        Endpoint::Sip,
        Faults {
            silence: 1.0,
            ..Faults::NONE
        },
    );
    let h = Harness::start(backend, exchange_config().with_faults(plan)).await;

    let idle = h.market("/v2/iex", |b| b);
    shut_down_cleanly(&h, idle, "idle").await;

    h.exchange.with(|ex, _| ex.refuse_next(429));
    let mut backing_off = h.market("/v2/iex", |b| b);
    let handle = backing_off.handle();
    let pending = tokio::spawn(async move { handle.subscribe(Channel::Quotes, ["AAPL"]).await });
    // The first subscribe goes `Subscribed` (connecting now) then `Connecting`
    // before any attempt is made: that `Subscribed` is not the backoff. Wait
    // for the refusal itself, then the backoff it causes. Shutting down
    // earlier may abandon the attempt before its upgrade reaches the server,
    // leaving the queued 429 to refuse the next stream's connection.
    until(&mut backing_off, "the 429 refusal", |e| match e {
        StreamEvent::Machine(Event::Error {
            error: StreamError::Refused { status: 429 },
            fatal: false,
        }) => Some(()),
        _ => None,
    })
    .await;
    until(&mut backing_off, "backoff after 429", |e| {
        matches!(
            e,
            StreamEvent::Machine(Event::StateChanged(State::Subscribed { .. }))
        )
        .then_some(())
    })
    .await;
    let now = tokio::time::Instant::now().into_std();
    assert!(
        matches!(backing_off.state(), State::Subscribed { reconnect_at } if reconnect_at > now),
        "not backing off: {:?}",
        backing_off.state()
    );
    shut_down_cleanly(&h, backing_off, "backing off").await;
    assert_eq!(pending.await.unwrap(), Err(Error::Closed));

    let connecting = h.market("/v2/sip", |b| b);
    let handle = connecting.handle();
    let pending = tokio::spawn(async move { handle.subscribe(Channel::Quotes, ["AAPL"]).await });
    until_state(&connecting, "connecting", |s| {
        matches!(s, State::Connecting { .. })
    })
    .await;
    h.until_sessions(1).await;
    shut_down_cleanly(&h, connecting, "connecting").await;
    assert_eq!(pending.await.unwrap(), Err(Error::Closed));

    let live = h.market("/v2/iex", |b| b);
    live.subscribe(Channel::Quotes, ["AAPL"]).await.unwrap();
    assert!(live.state().is_live());
    shut_down_cleanly(&h, live, "live").await;

    let failed = h.market("/v2/iex", |b| b.key_pair(KEY, "wrong"));
    assert!(failed.subscribe(Channel::Quotes, ["AAPL"]).await.is_err());
    shut_down_cleanly(&h, failed, "failed").await;
    h.finish().await;
}

async fn msgpack_stream_goes_live_and_delivers(backend: Backend) {
    let h = Harness::start(backend, exchange_config()).await;
    let mut stream = h.market("/v2/iex", |b| b.encoding(Encoding::MsgPack));
    stream.subscribe(Channel::Quotes, ["AAPL"]).await.unwrap();
    let session = h.session();
    assert_eq!(
        h.exchange.with(|ex, _| ex.encoding(session)),
        Some(Encoding::MsgPack)
    );
    until(&mut stream, "MessagePack data", data_symbol).await;
    h.finish_after(stream).await;
}

// ---------------------------------------------------------------- both backends

macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod scripted {
            $(
                #[tokio::test(start_paused = true)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Scripted).await;
                }
            )*
        }
        mod loopback {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Loopback).await;
                }
            )*
        }
    };
}

conformance!(
    lazy_connect,
    account_stream_connects_at_once,
    subscribe_and_unsubscribe_while_live,
    subscribe_and_unsubscribe_while_reconnecting,
    resubscribes_after_a_drop,
    gap_and_resumed_events,
    rejection_405_leaves_other_symbols_live,
    fatal_402_stops_retrying,
    fatal_409_stops_retrying,
    connection_limit_406_backs_off_long,
    silent_server_detected_with_data_silence,
    silence_is_tolerated_without_data_silence,
    garbage_frame_reported_and_the_stream_continues,
    a_frame_of_10000_malformed_messages_is_one_error,
    idle_close_after_the_last_unsubscribe_and_reconnect_on_subscribe,
    clean_shutdown_in_every_state,
    msgpack_stream_goes_live_and_delivers,
);
