//! Unit tests of the driver against tickwire-mock's `MockTransport` (mockall): what
//! it calls, in which order, and what it never calls.
//!
//! The mock answers `recv` from a script; when the script is exhausted it
//! answers `NotConnected`, which the small `Quiet` adapter turns into a
//! `recv` that never completes (a silent server), so the driver waits on
//! commands and timers as it would in production. Time is paused.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tickwire_core::{ConnectRequest, Frame, Transport, TransportError};
use tickwire_mock::MockTransport;
use tickwire_ws::{
    Channel, Error, Event, Feed, MarketDataStream, SlowConsumerPolicy, State, StreamEvent,
    SubscriptionOutcome,
};

/// Turns the mock's `NotConnected` into "nothing arrives" (recv) or "the
/// dial hangs" (connect), which a synchronous mock cannot express.
struct Quiet(MockTransport);

#[async_trait]
impl Transport for Quiet {
    async fn connect(&mut self, request: &ConnectRequest) -> Result<(), TransportError> {
        match self.0.connect(request).await {
            Err(TransportError::NotConnected) => futures::future::pending().await,
            other => other,
        }
    }
    async fn send(&mut self, frame: Frame) -> Result<(), TransportError> {
        self.0.send(frame).await
    }
    async fn flush(&mut self) -> Result<(), TransportError> {
        self.0.flush().await
    }
    async fn recv(&mut self) -> Result<Frame, TransportError> {
        match self.0.recv().await {
            Err(TransportError::NotConnected) => futures::future::pending().await,
            other => other,
        }
    }
    async fn close(&mut self) -> Result<(), TransportError> {
        self.0.close().await
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Connect,
    Send(String),
    Flush,
    Close,
}

type Log = Arc<Mutex<Vec<Call>>>;

/// Frames the mock's `recv` still has to give.
type Script = Arc<Mutex<VecDeque<Result<Frame, TransportError>>>>;

/// A mock that logs every call, answers `connect` from `connects` (then
/// hangs) and `recv` from `frames` (then stays silent).
fn mock(
    connects: Vec<Result<(), TransportError>>,
    frames: Vec<Result<Frame, TransportError>>,
) -> (Quiet, Log, Script) {
    let log: Log = Arc::default();
    let script = Arc::new(Mutex::new(VecDeque::from(frames)));
    let mut connects = VecDeque::from(connects);
    let mut wire = MockTransport::new();
    let l = Arc::clone(&log);
    wire.expect_connect().returning(move |_| {
        l.lock().unwrap().push(Call::Connect);
        connects
            .pop_front()
            .unwrap_or(Err(TransportError::NotConnected))
    });
    let l = Arc::clone(&log);
    wire.expect_send().returning(move |frame| {
        let text = String::from_utf8_lossy(frame.payload()).into_owned();
        l.lock().unwrap().push(Call::Send(text));
        Ok(())
    });
    let l = Arc::clone(&log);
    wire.expect_flush().returning(move || {
        l.lock().unwrap().push(Call::Flush);
        Ok(())
    });
    let l = Arc::clone(&log);
    wire.expect_close().returning(move || {
        l.lock().unwrap().push(Call::Close);
        Ok(())
    });
    let s = Arc::clone(&script);
    wire.expect_recv().returning(move || {
        s.lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Err(TransportError::NotConnected))
    });
    (Quiet(wire), log, script)
}

fn text(json: &str) -> Result<Frame, TransportError> {
    Ok(Frame::text(json))
}

const CONNECTED: &str = r#"[{"T":"success","msg":"connected"}]"#;
const AUTHENTICATED: &str = r#"[{"T":"success","msg":"authenticated"}]"#;
const ACK_FAKEPACA: &str = r#"[{"T":"subscription","quotes":["FAKEPACA"]}]"#;

fn quote(n: usize) -> Result<Frame, TransportError> {
    text(&format!(
        r#"[{{"T":"q","S":"FAKEPACA","bx":"U","bp":{n}.5,"bs":1,"ax":"Q","ap":190.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}}]"#
    ))
}

fn builder() -> tickwire_ws::MarketDataBuilder {
    MarketDataStream::builder(Feed::Test)
        .key_pair("KEY", "SECRET")
        .encoding(tickwire_ws::Encoding::Json)
        .ping_interval(None)
        .seed(1)
}

/// The frames of one connection that authenticates and acknowledges FAKEPACA quotes.
fn acknowledging() -> Vec<Result<Frame, TransportError>> {
    vec![text(CONNECTED), text(AUTHENTICATED), text(ACK_FAKEPACA)]
}

/// A stream over one such connection, with its call log, once its
/// subscribe to FAKEPACA quotes has a verdict (returned too).
async fn subscribed() -> (MarketDataStream, Log, Result<SubscriptionOutcome, Error>) {
    let (wire, log, _) = mock(vec![Ok(())], acknowledging());
    let stream = builder().build_with_transport(wire).unwrap();
    let verdict = stream.subscribe(Channel::Quotes, ["FAKEPACA"]).await;
    (stream, log, verdict)
}

fn calls(log: &Log) -> Vec<Call> {
    log.lock().unwrap().clone()
}

fn is_send(call: &Call) -> bool {
    matches!(call, Call::Send(_))
}

#[tokio::test(start_paused = true)]
async fn the_old_connection_is_closed_before_a_new_one_is_requested() {
    let (wire, log, _) = mock(
        vec![Ok(()), Err(TransportError::Refused { status: 401 })],
        vec![
            text(CONNECTED),
            Err(TransportError::Closed {
                code: Some(1006),
                reason: String::new(),
            }),
        ],
    );
    let stream = builder().build_with_transport(wire).unwrap();
    let verdict = stream.subscribe(Channel::Quotes, ["FAKEPACA"]).await;
    // 401 at the second upgrade is fatal: the subscribe fails with it.
    assert!(
        matches!(verdict, Err(Error::Failed(ref e)) if e.code() == Some(401)),
        "{verdict:?}"
    );
    let calls = calls(&log);
    let connects: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i] == Call::Connect)
        .collect();
    assert_eq!(connects.len(), 2, "{calls:?}");
    assert!(
        calls[connects[0]..connects[1]].contains(&Call::Close),
        "no close between the two connects: {calls:?}"
    );
    assert!(matches!(stream.state(), State::Failed { .. }));
}

#[tokio::test(start_paused = true)]
async fn nothing_is_sent_after_shutdown() {
    let (wire, log, _) = mock(vec![Ok(())], vec![text(CONNECTED)]);
    let stream = builder().build_with_transport(wire).unwrap();
    let handle = stream.handle();
    let pending =
        tokio::spawn(async move { handle.subscribe(Channel::Quotes, ["FAKEPACA"]).await });
    // The credentials go out after the greeting; the server then says nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        calls(&log).iter().filter(|c| is_send(c)).count(),
        1,
        "{:?}",
        calls(&log)
    );
    stream.shutdown().await.unwrap();
    assert_eq!(pending.await.unwrap(), Err(Error::Closed));
    // Later attempts are refused without reaching the transport.
    assert_eq!(
        stream.subscribe(Channel::Quotes, ["AAPL"]).await,
        Err(Error::Closed)
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    let calls = calls(&log);
    let close = calls
        .iter()
        .position(|c| *c == Call::Close)
        .expect("closed");
    assert!(
        !calls[close..].iter().any(is_send),
        "sent after close: {calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|c| **c == Call::Connect).count(),
        1,
        "{calls:?}"
    );
    assert_eq!(stream.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_dial_is_ended_by_the_connect_timeout_and_retried() {
    // Every connect hangs forever.
    let (wire, log, _) = mock(vec![], vec![]);
    let stream = builder()
        .connect_timeout(Duration::from_secs(3))
        .backoff(Duration::from_millis(100), Duration::from_millis(200))
        .build_with_transport(wire)
        .unwrap();
    let handle = stream.handle();
    tokio::spawn(async move { handle.subscribe(Channel::Quotes, ["FAKEPACA"]).await });
    tokio::time::sleep(Duration::from_secs(10)).await;
    let calls = calls(&log);
    let connects = calls.iter().filter(|c| **c == Call::Connect).count();
    assert!(
        (2..=4).contains(&connects),
        "{connects} connects in 10 s with a 3 s timeout: {calls:?}"
    );
    for pair in calls.windows(2) {
        assert!(
            pair != [Call::Connect, Call::Connect],
            "connect without close: {calls:?}"
        );
    }
    stream.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn commands_are_served_while_a_dial_hangs() {
    let (wire, log, _) = mock(vec![], vec![]);
    let stream = builder().build_with_transport(wire).unwrap();
    let handle = stream.handle();
    let subscribed =
        tokio::spawn(async move { handle.subscribe(Channel::Quotes, ["FAKEPACA"]).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(matches!(stream.state(), State::Connecting { .. }));
    // Unsubscribing everything while dialing abandons the attempt at once.
    let unsubscribed = stream.unsubscribe(Channel::Quotes, ["FAKEPACA"]).await;
    assert_eq!(unsubscribed, Ok(SubscriptionOutcome::Acknowledged));
    assert_eq!(
        subscribed.await.unwrap(),
        Ok(SubscriptionOutcome::Superseded)
    );
    assert_eq!(stream.state(), State::Idle);
    assert_eq!(calls(&log), vec![Call::Connect, Call::Close]);
}

#[tokio::test(start_paused = true)]
async fn sends_are_fed_then_flushed_once() {
    let (stream, log, verdict) = subscribed().await;
    assert_eq!(verdict, Ok(SubscriptionOutcome::Acknowledged));
    let calls = calls(&log);
    assert!(
        matches!(&calls[..], [Call::Connect, Call::Send(auth), Call::Flush, Call::Send(sub), Call::Flush]
        if auth.contains("\"auth\"") && sub.contains("subscribe")),
        "{calls:?}"
    );
    assert!(stream.state().is_live());
    stream.shutdown().await.unwrap();
}

/// A live stream whose server has `quotes` quote frames ready to send.
async fn live_with_quotes(
    policy: SlowConsumerPolicy,
    capacity: usize,
    quotes: usize,
) -> (MarketDataStream, Script) {
    live_with(policy, capacity, (0..quotes).map(quote)).await
}

/// A live stream (subscribed to FAKEPACA quotes) whose server has `frames`
/// ready to send after the acknowledgement.
async fn live_with(
    policy: SlowConsumerPolicy,
    capacity: usize,
    frames: impl IntoIterator<Item = Result<Frame, TransportError>>,
) -> (MarketDataStream, Script) {
    let mut script = acknowledging();
    script.extend(frames);
    let (wire, _, script) = mock(vec![Ok(())], script);
    let stream = builder()
        .queue_capacity(capacity)
        .slow_consumer(policy)
        .build_with_transport(wire)
        .unwrap();
    stream
        .subscribe(Channel::Quotes, ["FAKEPACA"])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    (stream, script)
}

#[tokio::test(start_paused = true)]
async fn backpressure_stops_reading_until_the_consumer_catches_up() {
    let (mut stream, script) = live_with_quotes(SlowConsumerPolicy::Backpressure, 16, 500).await;
    let unread = script.lock().unwrap().len();
    assert!(
        unread > 300,
        "the driver kept reading a full queue: {unread} frames left"
    );
    let mut quotes = 0;
    while quotes < 500 {
        match tokio::time::timeout(Duration::from_secs(1), stream.next()).await {
            Ok(Some(StreamEvent::Machine(Event::Data(_)))) => quotes += 1,
            Ok(Some(StreamEvent::Dropped { .. })) => panic!("dropped under backpressure"),
            Ok(Some(_)) => {}
            other => panic!("stream stalled after {quotes} quotes: {other:?}"),
        }
    }
    assert_eq!(stream.dropped_events(), 0);
    stream.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn drop_newest_counts_and_reports_what_it_dropped() {
    let (mut stream, script) = live_with_quotes(SlowConsumerPolicy::DropNewest, 16, 100).await;
    assert!(
        script.lock().unwrap().is_empty(),
        "drop policies keep reading"
    );
    let mut quotes = 0;
    let mut reported = 0;
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(100), stream.next()).await
    {
        match event {
            StreamEvent::Machine(Event::Data(_)) => quotes += 1,
            StreamEvent::Dropped { count, total } => {
                reported += count;
                assert_eq!(total, stream.dropped_events());
            }
            _ => {}
        }
    }
    assert_eq!(quotes + reported, 100);
    assert!(reported > 0);
    assert_eq!(reported, stream.dropped_events());
    stream.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn every_frame_is_delivered_once_and_in_order() {
    // Far more frames than one read burst, all ready at once.
    let (mut stream, script) =
        live_with_quotes(SlowConsumerPolicy::Backpressure, 1 << 16, 1000).await;
    assert!(script.lock().unwrap().is_empty());
    let mut next = 0usize;
    while next < 1000 {
        match tokio::time::timeout(Duration::from_secs(1), stream.next()).await {
            Ok(Some(StreamEvent::Machine(Event::Data(tickwire_ws::MarketData::Quote(q))))) => {
                assert_eq!(
                    q.bid_price,
                    next as f64 + 0.5,
                    "quote {next} out of order or lost"
                );
                next += 1;
            }
            Ok(Some(_)) => {}
            other => panic!("stream stalled after {next} quotes: {other:?}"),
        }
    }
    stream.shutdown().await.unwrap();
    let rest: Vec<_> = stream.collect().await;
    assert!(
        !rest.iter().any(StreamEvent::is_data),
        "more data than was sent: {rest:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_consumer_awaiting_its_own_subscribe_cannot_deadlock_a_full_queue() {
    // The queue fills with quotes nobody reads; the consumer's task then
    // awaits a subscribe whose acknowledgement sits behind more quotes.
    let mut frames: Vec<_> = (0..200).map(quote).collect();
    frames.push(text(
        r#"[{"T":"subscription","quotes":["FAKEPACA"],"trades":["AAPL"]}]"#,
    ));
    frames.extend((200..210).map(quote));
    let (mut stream, _) = live_with(SlowConsumerPolicy::Backpressure, 8, frames).await;
    let verdict = tokio::time::timeout(
        Duration::from_secs(5),
        stream.subscribe(Channel::Trades, ["AAPL"]),
    )
    .await;
    assert_eq!(
        verdict.expect("deadlocked"),
        Ok(SubscriptionOutcome::Acknowledged)
    );
    // What could not be queued meanwhile was dropped and is reported, not hoarded.
    let mut dropped = 0;
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(100), stream.next()).await
    {
        if let StreamEvent::Dropped { count, .. } = event {
            dropped += count;
        }
    }
    assert!(dropped > 0);
    assert_eq!(dropped, stream.dropped_events());
    stream.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_closes_the_connection() {
    let (stream, log, verdict) = subscribed().await;
    verdict.unwrap();
    let watch = stream.state_watch();
    drop(stream);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(*watch.borrow(), State::Closed);
    assert_eq!(calls(&log).last(), Some(&Call::Close), "{:?}", calls(&log));
}
