//! One test per transition of the connection machine, driven through virtual time.

#[path = "machine_support/mod.rs"]
mod support;

use std::time::Duration;

use support::*;
use tickwire_alpaca::Channel;
use tickwire_core::machine::{
    Action, CommandError, ConnectionEpoch, Event, MachineConfig, MalformedFrame, State,
    StreamError, SubscriptionOutcome, TimeoutKind,
};
use tickwire_core::{Credentials, Symbol, TransportError};

#[test]
fn a_symbol_stream_never_subscribed_never_connects() {
    let mut f = Fixture::market();
    for _ in 0..1000 {
        f.advance(Duration::from_secs(3600));
    }
    assert_eq!(f.machine.poll_timeout(), None, "no timer while idle");
    assert!(f.actions.is_empty(), "{:?}", f.actions);
    assert_eq!(f.state(), &State::Idle);
}

#[test]
fn an_account_stream_connects_at_creation() {
    let f = Fixture::account();
    assert!(
        matches!(f.actions.as_slice(), [Action::Connect { request, .. }] if request.url.ends_with("/stream"))
    );
    assert!(matches!(f.state(), State::Connecting { .. }));
}

#[test]
fn an_account_stream_authenticates_without_greeting_and_listens() {
    let mut f = Fixture::account();
    let epoch = f.last_connect().unwrap();
    f.machine.handle_connected(f.now, epoch);
    f.drain();
    let sent = f.sent_texts();
    assert_eq!(
        sent.len(),
        1,
        "credentials right after the upgrade: {sent:?}"
    );
    assert!(sent[0].contains(r#""action":"auth""#));
    f.server(
        epoch,
        r#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#,
    );
    let sent = f.sent_texts();
    assert!(
        sent[1].contains(r#""listen""#) && sent[1].contains("trade_updates"),
        "{sent:?}"
    );
    assert!(!f.state().is_live(), "live only after the listening ack");
    f.server(
        epoch,
        r#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#,
    );
    assert!(f.state().is_live(), "{:?}", f.state());
}

#[test]
fn first_subscribe_connects_and_live_comes_after_auth_and_ack() {
    let mut f = Fixture::market();
    f.subscribe(Channel::Quotes, &["AAPL"]);
    assert_eq!(f.states(), ["subscribed", "connecting"]);
    let epoch = f.last_connect().unwrap();
    f.machine.handle_connected(f.now, epoch);
    f.drain();
    assert!(
        f.sent_texts().is_empty(),
        "credentials wait for the greeting"
    );
    f.server(epoch, r#"[{"T":"success","msg":"connected"}]"#);
    assert_eq!(f.sent_texts().len(), 1);
    assert!(f.sent_texts()[0].contains(KEY));
    assert!(!f.state().is_live());
    f.server(epoch, r#"[{"T":"success","msg":"authenticated"}]"#);
    assert!(!f.state().is_live(), "live waits for the subscription ack");
    let request = f
        .take_subscription_request()
        .expect("subscribe sent after auth");
    assert!(request.subscribe);
    f.server(
        epoch,
        r#"[{"T":"subscription","quotes":["AAPL"],"trades":[]}]"#,
    );
    assert!(f.state().is_live());
    assert!(f.events.iter().any(|e| matches!(
        e,
        Event::Subscription {
            outcome: SubscriptionOutcome::Acknowledged,
            ..
        }
    )));
}

#[test]
fn credentials_go_out_once_per_connection() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    f.server(epoch, r#"[{"T":"success","msg":"connected"}]"#);
    f.server(epoch, r#"[{"T":"success","msg":"authenticated"}]"#);
    let auths = f.sent_texts().iter().filter(|t| t.contains(SECRET)).count();
    assert_eq!(auths, 1);
}

#[test]
fn data_is_delivered_in_order_and_frames_of_old_connections_are_ignored() {
    let mut f = Fixture::market();
    let first = f.live_with(Channel::Trades, &["AAPL"]);
    f.server(first, &trades_frame("AAPL", 1, 3));
    f.transport_error(first, &TransportError::Io("reset".into()));
    f.server(first, &trades_frame("AAPL", 100, 3));
    f.advance_stepwise(Duration::from_secs(2));
    let second = f.complete_connection();
    assert_ne!(first, second);
    f.server(second, &trades_frame("AAPL", 4, 2));
    assert_eq!(trade_ids(&f.events), [1, 2, 3, 4, 5]);
}

#[test]
fn a_lost_live_connection_reports_a_gap_then_resumes_resubscribed() {
    let mut f = Fixture::market();
    let first = f.live_with(Channel::Quotes, &["AAPL", "MSFT"]);
    let lost_at = f.now;
    f.machine.handle_transport_error(
        f.now,
        first,
        &TransportError::Closed {
            code: Some(1006),
            reason: String::new(),
        },
    );
    f.drain();
    assert!(matches!(f.actions.last(), Some(Action::Close { epoch }) if *epoch == first));
    assert!(f.events.iter().any(
        |e| matches!(e, Event::Gap { epoch, since, .. } if *epoch == first && *since == lost_at)
    ));
    assert!(matches!(f.state(), State::Subscribed { .. }));
    f.advance_stepwise(Duration::from_secs(1));
    let request_count_before = f.sent_texts().len();
    let second = f.complete_connection();
    assert!(f.sent_texts().len() > request_count_before);
    assert_eq!(
        f.machine.confirmed(),
        f.machine.desired(),
        "resubscribed after reconnect"
    );
    assert!(
        f.events
            .iter()
            .any(|e| matches!(e, Event::Resumed { epoch, .. } if *epoch == second))
    );
}

#[test]
fn a_405_rejects_the_request_and_leaves_other_symbols_live() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    let id = f.subscribe(Channel::Trades, &["MSFT"]);
    assert!(f.take_subscription_request().is_some());
    f.server(epoch, &error_frame(405, "symbol limit exceeded"));
    assert!(f.state().is_live());
    assert!(f.desired().contains(Channel::Trades, &sym("AAPL")));
    assert!(!f.desired().contains(Channel::Trades, &sym("MSFT")));
    assert!(f.events.iter().any(|e| matches!(e,
        Event::Subscription { request, outcome: SubscriptionOutcome::Rejected { code: Some(405), symbols, .. }, .. }
            if *request == id && symbols == &[sym("MSFT")])));
    assert_eq!(f.connects(), 1);
}

trait Desired {
    fn desired(&self) -> &tickwire_alpaca::SubscriptionSet;
}
impl Desired for Fixture<tickwire_alpaca::AlpacaMarketData> {
    fn desired(&self) -> &tickwire_alpaca::SubscriptionSet {
        self.machine.desired()
    }
}

#[test]
fn fatal_errors_stop_retrying() {
    for code in [402, 409, 411, 412] {
        let mut f = Fixture::market();
        f.subscribe(Channel::Trades, &["AAPL"]);
        let epoch = f.last_connect().unwrap();
        f.machine.handle_connected(f.now, epoch);
        f.server(epoch, r#"[{"T":"success","msg":"connected"}]"#);
        f.server(epoch, &error_frame(code, "nope"));
        assert!(
            matches!(f.state(), State::Failed { error: StreamError::Server { code: Some(c), .. } } if *c == code)
        );
        assert!(f.events.iter().any(
            |e| matches!(e, Event::Error { fatal: true, error } if error.code() == Some(code))
        ));
        f.advance_stepwise(Duration::from_secs(3600));
        assert_eq!(f.connects(), 1, "code {code}: no retry after a fatal error");
        assert!(matches!(
            f.machine.subscribe(f.now, Channel::Trades, [sym("MSFT")]),
            Err(CommandError::Failed(_))
        ));
    }
}

#[test]
fn connection_limit_and_http_429_back_off_past_the_floor() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    f.server(epoch, &error_frame(406, "connection limit exceeded"));
    let State::Subscribed { reconnect_at } = *f.state() else {
        panic!("{:?}", f.state())
    };
    let floor = f.machine.config().backoff_floor_after_limit;
    assert!(reconnect_at - f.now >= floor);
    f.advance_stepwise(floor - Duration::from_millis(1));
    assert_eq!(f.connects(), 1, "no reconnect before the floor");
    f.advance_stepwise(reconnect_at - f.now);
    assert_eq!(f.connects(), 2);
    let epoch = f.last_connect().unwrap();
    f.transport_error(epoch, &TransportError::Refused { status: 429 });
    let State::Subscribed { reconnect_at } = *f.state() else {
        panic!("{:?}", f.state())
    };
    assert!(reconnect_at - f.now >= floor);
}

#[test]
fn http_401_at_the_upgrade_is_fatal() {
    let mut f = Fixture::market();
    f.subscribe(Channel::Trades, &["AAPL"]);
    let epoch = f.last_connect().unwrap();
    f.transport_error(epoch, &TransportError::Refused { status: 401 });
    assert!(matches!(
        f.state(),
        State::Failed {
            error: StreamError::Refused { status: 401 }
        }
    ));
}

#[test]
fn backoff_grows_while_flapping_and_resets_only_after_stable_live() {
    let mut f = Fixture::market();
    f.machine
        .subscribe(f.now, Channel::Trades, [sym("AAPL")])
        .unwrap();
    for _ in 0..6 {
        let epoch = f.complete_connection();
        f.advance(Duration::from_secs(1)); // live briefly
        f.transport_error(epoch, &TransportError::Io("reset".into()));
        let State::Subscribed { reconnect_at } = *f.state() else {
            panic!("{:?}", f.state())
        };
        f.advance_stepwise(reconnect_at - f.now);
    }
    assert_eq!(
        f.machine.reconnect_attempts(),
        6,
        "flapping keeps the backoff growing"
    );
    let epoch = f.complete_connection();
    f.advance_stepwise(f.machine.config().backoff_reset_after);
    f.transport_error(epoch, &TransportError::Io("reset".into()));
    assert_eq!(
        f.machine.reconnect_attempts(),
        1,
        "stable live resets the backoff"
    );
}

#[test]
fn every_handshake_wait_times_out_into_a_reconnect() {
    for (stage, kind) in [
        (0, TimeoutKind::Connect),
        (1, TimeoutKind::Greeting),
        (2, TimeoutKind::Auth),
        (3, TimeoutKind::SubscriptionAck),
    ] {
        let mut f = Fixture::market();
        f.subscribe(Channel::Trades, &["AAPL"]);
        let epoch = f.last_connect().unwrap();
        if stage >= 1 {
            f.machine.handle_connected(f.now, epoch);
        }
        if stage >= 2 {
            f.server(epoch, r#"[{"T":"success","msg":"connected"}]"#);
        }
        if stage >= 3 {
            f.server(epoch, r#"[{"T":"success","msg":"authenticated"}]"#);
        }
        f.advance(Duration::from_secs(11));
        assert!(
            f.events.iter().any(|e| matches!(e, Event::Error { error: StreamError::Timeout(k), fatal: false } if *k == kind)),
            "{kind:?}: {:?}",
            f.events
        );
        assert!(
            f.actions
                .iter()
                .any(|a| matches!(a, Action::Close { epoch: e } if *e == epoch))
        );
    }
}

#[test]
fn a_silent_live_connection_is_dropped_only_when_data_silence_is_configured() {
    let mut config = config();
    config.ping_interval = None;
    let mut quiet = Fixture::market_with(config.clone());
    quiet.live_with(Channel::DailyBars, &["AAPL"]);
    quiet.advance_stepwise(Duration::from_secs(24 * 3600));
    assert!(
        quiet.state().is_live(),
        "sparse channels must not trip a timeout by default"
    );

    config.data_silence_timeout = Some(Duration::from_secs(30));
    let mut f = Fixture::market_with(config);
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    f.advance_stepwise(Duration::from_secs(20));
    f.server(epoch, &trades_frame("AAPL", 1, 1));
    f.advance_stepwise(Duration::from_secs(20));
    assert!(f.state().is_live(), "data resets the silence timer");
    // Control frames and pings do not count as data.
    f.machine.handle_frame(
        f.now,
        epoch,
        &tickwire_core::Frame::Pong(Default::default()),
    );
    f.server(epoch, r#"[{"T":"subscription","trades":["AAPL"]}]"#);
    f.advance_stepwise(Duration::from_secs(11));
    assert!(f.events.iter().any(|e| matches!(
        e,
        Event::Error {
            error: StreamError::Timeout(TimeoutKind::DataSilence),
            ..
        }
    )));
    assert!(f.events.iter().any(|e| matches!(e, Event::Gap { .. })));
}

#[test]
fn an_unanswered_ping_drops_the_connection() {
    let mut f = Fixture::market();
    f.answer_pings = false;
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    let interval = f.machine.config().ping_interval.unwrap();
    f.advance_stepwise(interval);
    assert!(f.actions.iter().any(|a| matches!(
        a,
        Action::Send {
            frame: tickwire_core::Frame::Ping(_),
            ..
        }
    )));
    f.machine.handle_frame(
        f.now,
        epoch,
        &tickwire_core::Frame::Pong(Default::default()),
    );
    f.advance_stepwise(interval);
    assert!(f.state().is_live(), "answered pings keep the connection");
    f.advance_stepwise(f.machine.config().pong_timeout);
    assert!(f.events.iter().any(|e| matches!(
        e,
        Event::Error {
            error: StreamError::Timeout(TimeoutKind::Pong),
            ..
        }
    )));
}

#[test]
fn the_last_unsubscribe_closes_after_the_linger_and_the_next_subscribe_reconnects() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    f.unsubscribe_acked(epoch, Channel::Trades, &["AAPL"]);
    assert!(f.machine.confirmed().is_empty());
    f.advance(f.machine.config().idle_linger - Duration::from_millis(1));
    assert!(f.state().is_live(), "still lingering");
    f.advance(Duration::from_millis(1));
    assert_eq!(f.state(), &State::Idle);
    assert!(matches!(f.actions.last(), Some(Action::Close { epoch: e }) if *e == epoch));
    assert!(
        !f.events.iter().any(|e| matches!(e, Event::Gap { .. })),
        "an idle close is no gap"
    );
    f.advance_stepwise(Duration::from_secs(3600));
    assert_eq!(f.connects(), 1);
    f.live_with(Channel::Trades, &["MSFT"]);
    assert_eq!(f.connects(), 2);
}

#[test]
fn a_subscribe_during_the_linger_keeps_the_connection() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    f.unsubscribe_acked(epoch, Channel::Trades, &["AAPL"]);
    f.advance(Duration::from_secs(1));
    f.machine
        .subscribe(f.now, Channel::Trades, [sym("MSFT")])
        .unwrap();
    f.ack_everything(epoch);
    f.advance_stepwise(Duration::from_secs(60));
    assert!(f.state().is_live());
    assert_eq!(f.connects(), 1);
}

#[test]
fn unsubscribing_everything_while_connecting_aborts_the_attempt() {
    let mut f = Fixture::market();
    f.subscribe(Channel::Trades, &["AAPL"]);
    let epoch = f.last_connect().unwrap();
    f.machine
        .unsubscribe(f.now, Channel::Trades, [sym("AAPL")])
        .unwrap();
    f.drain();
    assert_eq!(f.state(), &State::Idle);
    assert!(matches!(f.actions.last(), Some(Action::Close { epoch: e }) if *e == epoch));
}

#[test]
fn commands_while_reconnecting_are_kept_and_sent_after_reconnect() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    f.machine
        .handle_transport_error(f.now, epoch, &TransportError::Io("reset".into()));
    let id = f.subscribe(Channel::Quotes, &["MSFT"]);
    assert!(
        !f.events
            .iter()
            .any(|e| matches!(e, Event::Subscription { request, .. } if *request == id))
    );
    f.advance_stepwise(Duration::from_secs(1));
    f.complete_connection();
    assert!(
        f.machine
            .confirmed()
            .contains(Channel::Quotes, &sym("MSFT"))
    );
    assert!(f.events.iter().any(|e| matches!(e,
        Event::Subscription { request, outcome: SubscriptionOutcome::Acknowledged, .. } if *request == id)));
}

/// A market stream with frames of at most `frame_bytes_max` bytes, asked
/// for trades of `names`, connected and authenticated: its first
/// subscription request is next.
fn authenticated_with_trades(
    frame_bytes_max: usize,
    names: &[String],
) -> (Fixture<tickwire_alpaca::AlpacaMarketData>, ConnectionEpoch) {
    let mut config = config();
    config.frame_bytes_max = frame_bytes_max;
    let mut f = Fixture::market_with(config);
    f.machine
        .subscribe(f.now, Channel::Trades, names.iter().map(|s| sym(s)))
        .unwrap();
    f.drain();
    let epoch = f.last_connect().unwrap();
    f.machine.handle_connected(f.now, epoch);
    f.server(epoch, r#"[{"T":"success","msg":"connected"}]"#);
    f.server(epoch, r#"[{"T":"success","msg":"authenticated"}]"#);
    (f, epoch)
}

#[test]
fn large_sets_are_split_under_the_frame_size_one_request_at_a_time() {
    let names: Vec<String> = (0..300).map(|i| format!("S{i:04}")).collect();
    let (mut f, epoch) = authenticated_with_trades(512, &names);
    let mut server_set = tickwire_alpaca::SubscriptionSet::new();
    let mut requests = 0;
    while !f.state().is_live() {
        f.drain();
        assert!(f.actions.iter().all(|a| match a {
            Action::Send { frame, .. } => frame.len() <= 512,
            _ => true,
        }));
        let request = f
            .take_subscription_request()
            .expect("a request while not live");
        assert!(
            f.take_subscription_request().is_none(),
            "one request in flight at a time"
        );
        requests += 1;
        request.apply_to(&mut server_set);
        f.server(epoch, &ack_frame(&server_set));
    }
    assert!(requests > 3, "split into {requests} requests");
    assert_eq!(server_set.len(), 300);
}

/// Requests are cut where the frame is full, not at a guess of how many
/// items fit: each frame but the last has no room for the item that opens
/// the next request (`,"X"` in JSON), whatever the symbols' lengths.
#[test]
fn split_requests_fill_their_frames() {
    const FRAME_BYTES_MAX: usize = 512;
    // Stocks, crypto pairs and option contracts: 2 to 19 bytes.
    let names: Vec<String> = (0..600)
        .map(|i| match i % 3 {
            0 => format!("S{i}"),
            1 => format!("C{i}/USD"),
            _ => format!("AAPL240119C{i:08}"),
        })
        .collect();
    let (mut f, epoch) = authenticated_with_trades(FRAME_BYTES_MAX, &names);
    let mut server_set = tickwire_alpaca::SubscriptionSet::new();
    let mut sent: Vec<(usize, Symbol)> = Vec::new();
    while !f.state().is_live() {
        f.drain();
        let frame = f
            .actions
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Send { frame, .. } if SentRequest::parse(frame).is_some() => Some(frame),
                _ => None,
            })
            .expect("a request while not live");
        let request = SentRequest::parse(frame).unwrap();
        let (_, first) = request.items.iter().next().expect("an item");
        sent.push((frame.len(), first.clone()));
        f.actions.clear();
        request.apply_to(&mut server_set);
        f.server(epoch, &ack_frame(&server_set));
    }
    assert_eq!(server_set.len(), names.len());
    assert!(sent.len() > 10, "split into {} requests", sent.len());
    for pair in sent.windows(2) {
        let ((len, _), (_, next)) = (&pair[0], &pair[1]);
        assert!(*len <= FRAME_BYTES_MAX);
        assert!(
            len + next.as_str().len() + 3 > FRAME_BYTES_MAX,
            "a frame of {len} bytes had room for {next}"
        );
    }
}

#[test]
fn shutdown_closes_and_nothing_follows() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    let pending = f.subscribe(Channel::Trades, &["MSFT"]);
    let before = f.actions.len();
    f.machine.shutdown(f.now);
    f.drain();
    assert_eq!(&f.actions[before..], &[Action::Close { epoch }]);
    assert!(f.events.iter().any(|e| matches!(e,
        Event::Subscription { request, outcome: SubscriptionOutcome::Abandoned, .. } if *request == pending)));
    f.server(epoch, &trades_frame("AAPL", 1, 1));
    f.machine
        .handle_transport_error(f.now, epoch, &TransportError::Io("x".into()));
    f.advance_stepwise(Duration::from_secs(3600));
    assert_eq!(f.actions.len(), before + 1);
    assert_eq!(f.state(), &State::Closed);
    assert_eq!(f.machine.poll_timeout(), None);
    assert!(matches!(
        f.machine.subscribe(f.now, Channel::Trades, [sym("X")]),
        Err(CommandError::Closed)
    ));
}

#[test]
fn garbage_is_reported_and_the_stream_continues() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    f.server(epoch, "{{{{ not json");
    f.machine.handle_frame(
        f.now,
        epoch,
        &tickwire_core::Frame::binary(vec![0xc1, 0xff, 0x00]),
    );
    f.drain();
    f.server(epoch, &trades_frame("AAPL", 7, 1));
    assert!(f.state().is_live());
    let malformed = f
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Error {
                    error: StreamError::Malformed(_),
                    fatal: false
                }
            )
        })
        .count();
    assert_eq!(malformed, 2);
    assert_eq!(trade_ids(&f.events), [7]);
}

#[test]
fn a_frame_of_malformed_messages_is_one_error_with_their_count() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    let events_before = f.events.len();
    // 10,000 MessagePack `nil`s: one byte each, none a message.
    let mut frame = vec![0xdc, 0x27, 0x10];
    frame.extend(std::iter::repeat_n(0xc0, 10_000));
    f.machine
        .handle_frame(f.now, epoch, &tickwire_core::Frame::binary(frame));
    f.drain();
    let errors = malformed_errors(&f.events[events_before..]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].malformed, errors[0].skipped), (10_000, 0));
    assert!(
        errors[0].to_string().starts_with("10000 messages"),
        "{}",
        errors[0]
    );
    assert_eq!(f.events.len(), events_before + 1);
    f.server(epoch, &trades_frame("AAPL", 7, 1));
    assert!(f.state().is_live());
    assert_eq!(trade_ids(&f.events), [7]);
}

#[test]
fn messages_past_the_cap_per_frame_are_counted_not_delivered() {
    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    let events_before = f.events.len();
    let max = tickwire_core::protocol::MESSAGES_PER_FRAME_MAX;
    f.server(epoch, &trades_frame("AAPL", 1, max as u64 + 3));
    let delivered = trade_ids(&f.events);
    assert_eq!(delivered.len(), max);
    assert_eq!(delivered.first(), Some(&1));
    assert_eq!(delivered.last(), Some(&(max as u64)));
    let errors = malformed_errors(&f.events[events_before + max..]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].malformed, errors[0].skipped), (0, 3));
    assert_eq!(f.events.len(), events_before + max + 1);
    assert!(f.state().is_live());
}

/// The non-fatal malformed-frame errors among `events`.
fn malformed_errors<D, C>(events: &[Event<D, C>]) -> Vec<&MalformedFrame> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Error {
                error: StreamError::Malformed(frame),
                fatal: false,
            } => Some(frame),
            _ => None,
        })
        .collect()
}

#[test]
fn commands_are_validated() {
    let mut f = Fixture::market();
    assert_eq!(
        f.machine.subscribe(f.now, Channel::Trades, []),
        Err(CommandError::NoSymbols)
    );
    assert_eq!(
        f.machine.subscribe(f.now, Channel::Corrections, [sym("A")]),
        Err(CommandError::NotRequestable("corrections".into()))
    );
    assert_eq!(
        f.machine
            .subscribe(f.now, Channel::TradeUpdates, [sym("A")]),
        Err(CommandError::NotRequestable("trade_updates".into()))
    );
    let mut account = Fixture::account();
    assert_eq!(
        account
            .machine
            .subscribe(account.now, Channel::Trades, [sym("A")]),
        Err(CommandError::AccountStream)
    );
    account.drain();
}

/// A stream whose host refuses every connection, with the default limit.
fn unreachable_after(
    attempts_max: Option<u32>,
    failures: u32,
) -> Fixture<tickwire_alpaca::AlpacaMarketData> {
    let mut config = config();
    config.connect_attempts_max = attempts_max;
    let mut f = Fixture::market_with(config);
    f.subscribe(Channel::Trades, &["AAPL"]);
    for _ in 0..failures {
        refuse_and_wait_for_the_next_attempt(&mut f);
    }
    f
}

/// Refuses the current connection attempt, then lets virtual time run
/// until the machine dials again (or 10 minutes pass).
fn refuse_and_wait_for_the_next_attempt(f: &mut Fixture<tickwire_alpaca::AlpacaMarketData>) {
    let Some(epoch) = f.last_connect() else {
        return;
    };
    f.transport_error(epoch, &TransportError::Io("connection refused".into()));
    let attempts = f.connects();
    for _ in 0..2_400 {
        if f.connects() > attempts {
            return;
        }
        f.advance(Duration::from_millis(250));
    }
}

#[test]
fn a_stream_that_never_connects_gives_up_after_its_attempts_naming_the_last_cause() {
    let default = MachineConfig::new("wss://example.test", Credentials::new("k", "s"));
    let f = unreachable_after(default.connect_attempts_max, 20);
    assert_eq!(f.connects(), 5, "the default limit is 5 attempts");
    let State::Failed { error } = f.state() else {
        panic!("failed after its attempts: {:?}", f.state())
    };
    assert!(
        matches!(error, StreamError::GaveUp { attempts: 5, last } if matches!(**last, StreamError::Transport(TransportError::Io(ref m)) if m == "connection refused")),
        "{error:?}"
    );
    assert!(error.to_string().contains("connection refused"), "{error}");
    // The pending subscription is settled: the stream failed before an answer.
    assert!(
        f.events.iter().any(|e| matches!(
            e,
            Event::Subscription {
                outcome: SubscriptionOutcome::Abandoned,
                ..
            }
        )),
        "{:?}",
        f.events
    );
    assert!(f.events.iter().any(|e| matches!(
        e,
        Event::Error {
            fatal: true,
            error: StreamError::GaveUp { .. }
        }
    )));
}

#[test]
fn without_a_limit_or_once_live_a_stream_keeps_trying() {
    let f = unreachable_after(None, 20);
    assert_eq!(f.connects(), 21);
    assert!(
        matches!(f.state(), State::Connecting { .. }),
        "{:?}",
        f.state()
    );

    let mut config = config();
    config.connect_attempts_max = Some(2);
    let mut f = Fixture::market_with(config);
    f.live_with(Channel::Trades, &["AAPL"]);
    for _ in 0..10 {
        refuse_and_wait_for_the_next_attempt(&mut f);
    }
    assert_eq!(
        f.connects(),
        11,
        "a stream once live reconnects for as long as it runs"
    );
    assert!(
        !matches!(f.state(), State::Failed { .. }),
        "{:?}",
        f.state()
    );
}
