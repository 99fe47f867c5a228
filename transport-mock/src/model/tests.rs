//! Unit tests of the exchange model: every error code, limits, encodings,
//! auth forms, faults and determinism.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tickwire_alpaca::Channel;
use tickwire_alpaca::Quote;
use tickwire_core::Frame;

use super::*;

/// What the exchange answered, by session.
type Outputs = Vec<(SessionId, Output)>;

const KEY: &str = "PKTEST";
const SECRET: &str = "s3cret";

fn config(seed: u64) -> ExchangeConfig {
    ExchangeConfig::new(seed)
        .with_account(Account::new(KEY, SECRET).with_symbol_limit(Some(3)))
        .with_account(Account::new("FREE", "free").with_endpoints([Endpoint::Iex]))
}

fn exchange() -> (Exchange, Instant) {
    let now = Instant::now();
    (Exchange::new(config(1), now), now)
}

/// [`exchange`] with one session on `path`, opened by `open` ([`authed`],
/// [`greeted`]).
fn exchange_with(
    open: fn(&mut Exchange, Instant, &str) -> SessionId,
    path: &str,
) -> (Exchange, Instant, SessionId) {
    let (mut ex, now) = exchange();
    let id = open(&mut ex, now, path);
    (ex, now, id)
}

fn drain(ex: &mut Exchange) -> Outputs {
    std::iter::from_fn(|| ex.poll_output()).collect()
}

/// Every message of every JSON frame, flattened (arrays are unpacked).
fn messages(outputs: &[(SessionId, Output)]) -> Vec<Value> {
    let mut all = Vec::new();
    for (_, output) in outputs {
        if let Output::Frame(frame) = output {
            let value: Value = serde_json::from_slice(frame.payload()).expect("JSON frame");
            match value {
                Value::Array(items) => all.extend(items),
                other => all.push(other),
            }
        }
    }
    all
}

fn error_codes(outputs: &[(SessionId, Output)]) -> Vec<u64> {
    messages(outputs)
        .iter()
        .filter(|m| m["T"] == "error")
        .filter_map(|m| m["code"].as_u64())
        .collect()
}

fn closes(outputs: &[(SessionId, Output)]) -> Vec<u16> {
    outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Close { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}

/// What a test client sends the exchange on session `id` at `now`; each
/// returns everything the exchange answers.
trait ClientSide {
    /// `message` as a JSON text frame.
    fn send_json(&mut self, now: Instant, id: SessionId, message: Value) -> Outputs;

    /// `{"action": action, ...channels}`, `channels` as `{"trades": [...], ...}`.
    fn request(&mut self, now: Instant, id: SessionId, action: &str, channels: Value) -> Outputs {
        let mut message = json!({"action": action});
        message
            .as_object_mut()
            .expect("an object")
            .extend(channels.as_object().expect("channels as an object").clone());
        self.send_json(now, id, message)
    }

    /// A subscribe [`request`](Self::request).
    fn subscribe_to(&mut self, now: Instant, id: SessionId, channels: Value) -> Outputs {
        self.request(now, id, "subscribe", channels)
    }

    /// An unsubscribe [`request`](Self::request).
    fn unsubscribe_from(&mut self, now: Instant, id: SessionId, channels: Value) -> Outputs {
        self.request(now, id, "unsubscribe", channels)
    }
}

impl ClientSide for Exchange {
    fn send_json(&mut self, now: Instant, id: SessionId, message: Value) -> Outputs {
        self.handle_frame(now, id, Frame::text(message.to_string()));
        drain(self)
    }
}

/// Opens a JSON session on `path` and reads its greeting.
fn greeted(ex: &mut Exchange, now: Instant, path: &str) -> SessionId {
    let id = ex.open(now, path, &[]).unwrap();
    drain(ex);
    id
}

fn auth_message() -> Value {
    auth_message_of(KEY, SECRET)
}

/// The auth message with another key pair.
fn auth_message_of(key: &str, secret: &str) -> Value {
    json!({"action": "auth", "key": key, "secret": secret})
}

/// Opens a JSON session on `path` and authenticates it by message.
fn authed(ex: &mut Exchange, now: Instant, path: &str) -> SessionId {
    let id = ex.open(now, path, &[]).unwrap();
    let out = ex.send_json(now, id, auth_message());
    assert_eq!(
        messages(&out).last().unwrap()["msg"],
        "authenticated",
        "{out:?}"
    );
    id
}

/// The key pair as headers of these names (any case is accepted).
fn key_headers(key_name: &str, secret_name: &str) -> Vec<(String, String)> {
    vec![
        (key_name.to_owned(), KEY.to_owned()),
        (secret_name.to_owned(), SECRET.to_owned()),
    ]
}

fn msgpack_headers() -> Vec<(String, String)> {
    vec![("Content-Type".into(), "application/msgpack".into())]
}

#[test]
fn greets_then_authenticates_by_message() {
    let (mut ex, now) = exchange();
    let id = ex.open(now, "/v2/iex", &[]).unwrap();
    let out = drain(&mut ex);
    assert_eq!(
        messages(&out),
        vec![json!({"T": "success", "msg": "connected"})]
    );
    assert!(matches!(out[0].1, Output::Frame(Frame::Text(_))));
    let out = ex.send_json(now, id, auth_message());
    assert_eq!(
        messages(&out),
        vec![json!({"T": "success", "msg": "authenticated"})]
    );
    assert!(ex.is_authenticated(id));
}

#[test]
fn authenticates_by_headers() {
    let (mut ex, now) = exchange();
    let headers = key_headers("APCA-API-KEY-ID", "apca-api-secret-key");
    let id = ex.open(now, "/v2/sip", &headers).unwrap();
    let out = drain(&mut ex);
    let msgs: Vec<_> = messages(&out).iter().map(|m| m["msg"].clone()).collect();
    assert_eq!(msgs, ["connected", "authenticated"]);
    assert!(ex.is_authenticated(id));
    // A second auth is answered with 403.
    assert_eq!(error_codes(&ex.send_json(now, id, auth_message())), [403]);
}

#[test]
fn unknown_path_is_404_at_the_upgrade() {
    let (mut ex, now) = exchange();
    assert_eq!(ex.open(now, "/v2/nope", &[]), Err(Refusal { status: 404 }));
}

#[test]
fn bad_syntax_is_400() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/iex");
    ex.handle_frame(now, id, Frame::text("not json"));
    assert_eq!(error_codes(&drain(&mut ex)), [400]);
    assert_eq!(
        error_codes(&ex.send_json(now, id, json!({"action": "dance"}))),
        [400]
    );
    let bad_symbol = json!({"action": "subscribe", "trades": ["AA PL"]});
    assert_eq!(error_codes(&ex.send_json(now, id, bad_symbol)), [400]);
    let not_a_list = json!({"action": "subscribe", "trades": "AAPL"});
    assert_eq!(error_codes(&ex.send_json(now, id, not_a_list)), [400]);
    ex.handle_frame(now, id, Frame::binary(vec![0xc1, 0x00]));
    assert_eq!(error_codes(&drain(&mut ex)), [400]);
    assert!(
        ex.is_authenticated(id),
        "syntax errors do not end the session"
    );
}

#[test]
fn subscribe_before_auth_is_401() {
    let (mut ex, now, id) = exchange_with(greeted, "/v2/iex");
    let out = ex.subscribe_to(now, id, json!({"trades": ["AAPL"]}));
    assert_eq!(error_codes(&out), [401]);
}

#[test]
fn bad_credentials_are_402() {
    let (mut ex, now, id) = exchange_with(greeted, "/v2/iex");
    let out = ex.send_json(now, id, auth_message_of(KEY, "wrong"));
    assert_eq!(error_codes(&out), [402]);
    assert!(!ex.is_authenticated(id));
}

#[test]
fn auth_timeout_is_404_then_close() {
    let (mut ex, now) = exchange();
    ex.open(now, "/v2/iex", &[]).unwrap();
    drain(&mut ex);
    let deadline = now + Duration::from_secs(10);
    assert_eq!(ex.poll_timeout(), Some(deadline));
    ex.handle_timeout(deadline - Duration::from_millis(1));
    assert!(drain(&mut ex).is_empty(), "early timeouts are harmless");
    ex.handle_timeout(deadline);
    let out = drain(&mut ex);
    assert_eq!(error_codes(&out), [404]);
    assert_eq!(closes(&out), [1008]);
    assert_eq!(ex.session_count(), 0);
    ex.handle_timeout(deadline);
    assert!(drain(&mut ex).is_empty(), "repeated timeouts are harmless");
}

#[test]
fn symbol_limit_is_405_and_leaves_the_set_unchanged() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/iex");
    let out = ex.subscribe_to(now, id, json!({"trades": ["AAPL", "AMD"], "bars": ["*"]}));
    assert_eq!(messages(&out)[0]["T"], "subscription");
    let before = ex.subscriptions(id).cloned();
    let out = ex.subscribe_to(now, id, json!({"quotes": ["MSFT", "TSLA"]}));
    assert_eq!(error_codes(&out), [405]);
    assert_eq!(ex.subscriptions(id).cloned(), before);
    // Bars are not limited; one more quote fits exactly.
    let out = ex.subscribe_to(now, id, json!({"quotes": ["MSFT"], "bars": ["NVDA"]}));
    assert_eq!(messages(&out)[0]["T"], "subscription");
}

#[test]
fn connection_limit_is_406_until_the_old_session_closes() {
    let (mut ex, now) = exchange();
    let first = authed(&mut ex, now, "/v2/iex");
    let second = ex.open(now, "/v2/iex", &[]).unwrap();
    let out = ex.send_json(now, second, auth_message());
    assert_eq!(error_codes(&out), [406]);
    assert_eq!(closes(&out), [1008]);
    // Another endpoint has its own slot.
    authed(&mut ex, now, "/v2/sip");
    ex.handle_close(now, first);
    authed(&mut ex, now, "/v2/iex");
}

#[test]
fn a_lost_connection_holds_its_slot_until_reaped() {
    let (mut ex, now) = exchange();
    let first = authed(&mut ex, now, "/v2/iex");
    ex.handle_lost(now, first);
    let again = ex.open(now, "/v2/iex", &[]).unwrap();
    assert_eq!(
        error_codes(&ex.send_json(now, again, auth_message())),
        [406]
    );
    let reaped = now + Duration::from_secs(90);
    assert_eq!(ex.poll_timeout(), Some(reaped));
    ex.handle_timeout(reaped);
    drain(&mut ex);
    authed(&mut ex, reaped, "/v2/iex");
}

#[test]
fn a_client_that_does_not_read_gets_407() {
    let now = Instant::now();
    let mut cfg = config(1);
    cfg.slow_client_frames_max = 3;
    let mut ex = Exchange::new(cfg, now);
    let id = authed(&mut ex, now, "/v2/iex");
    ex.subscribe_to(now, id, json!({"quotes": ["AAPL"], "trades": ["AAPL"]}));
    ex.inject(now, id, Fault::StopReading);
    let mut t = now;
    let mut out = Vec::new();
    for _ in 0..100 {
        let Some(next) = ex.poll_timeout() else { break };
        t = next.max(t);
        ex.handle_timeout(t);
        out.extend(drain(&mut ex));
        if ex.session_count() == 0 {
            break;
        }
    }
    assert_eq!(error_codes(&out), [407]);
    assert_eq!(closes(&out), [1008]);
    // The driver's own backlog report works too.
    let id = authed(&mut ex, t, "/v2/iex");
    ex.handle_backlog(t, id, 4);
    assert_eq!(error_codes(&drain(&mut ex)), [407]);
}

#[test]
fn a_plan_without_the_feed_is_409_and_stays_open() {
    let (mut ex, now, id) = exchange_with(greeted, "/v2/sip");
    let out = ex.send_json(now, id, auth_message_of("FREE", "free"));
    assert_eq!(error_codes(&out), [409]);
    assert!(closes(&out).is_empty());
    assert_eq!(ex.session_count(), 1);
    // The free plan has IEX and the always-on test stream.
    let id = greeted(&mut ex, now, "/v2/test");
    let out = ex.send_json(now, id, auth_message_of("FREE", "free"));
    assert_eq!(messages(&out)[0]["msg"], "authenticated");
}

#[test]
fn options_reject_bars_410_json_412_and_star_quotes_413() {
    let (mut ex, now, id) = exchange_with(greeted, "/v1beta1/opra");
    let out = ex.send_json(now, id, auth_message());
    assert_eq!(error_codes(&out), [412]);
    assert_eq!(closes(&out).len(), 1);

    let id = ex.open(now, "/v1beta1/opra", &msgpack_headers()).unwrap();
    let auth = rmp_serde::to_vec_named(&auth_message()).unwrap();
    ex.handle_frame(now, id, Frame::binary(auth));
    let out = drain(&mut ex);
    assert!(
        out.iter()
            .all(|(_, o)| matches!(o, Output::Frame(Frame::Binary(_))))
    );
    assert!(ex.is_authenticated(id));
    let request = |v: Value| Frame::binary(rmp_serde::to_vec_named(&v).unwrap());
    let msgpack_codes = |out: &[(SessionId, Output)]| -> Vec<u64> {
        out.iter()
            .filter_map(|(_, o)| match o {
                Output::Frame(f) => rmp_serde::from_slice::<Vec<Value>>(f.payload()).ok(),
                _ => None,
            })
            .flatten()
            .filter_map(|m| m["code"].as_u64())
            .collect()
    };
    ex.handle_frame(
        now,
        id,
        request(json!({"action": "subscribe", "bars": ["AAPL250620C00200000"]})),
    );
    assert_eq!(msgpack_codes(&drain(&mut ex)), [410]);
    ex.handle_frame(
        now,
        id,
        request(json!({"action": "subscribe", "quotes": ["*"]})),
    );
    assert_eq!(msgpack_codes(&drain(&mut ex)), [413]);
    ex.handle_frame(
        now,
        id,
        request(json!({"action": "subscribe", "trades": ["*"]})),
    );
    let out = drain(&mut ex);
    assert!(msgpack_codes(&out).is_empty());
    assert!(
        ex.subscriptions(id)
            .unwrap()
            .contains(Channel::Trades, &tickwire_core::Symbol::WILDCARD)
    );
}

#[test]
fn crypto_and_news_refuse_foreign_channels_with_410() {
    let (mut ex, now, id) = exchange_with(authed, "/v1beta3/crypto/us");
    let out = ex.subscribe_to(now, id, json!({"statuses": ["BTC/USD"]}));
    assert_eq!(error_codes(&out), [410]);
    let id = authed(&mut ex, now, "/v1beta1/news");
    let out = ex.subscribe_to(now, id, json!({"quotes": ["AAPL"]}));
    assert_eq!(error_codes(&out), [410]);
}

#[test]
fn acks_carry_the_whole_set_with_followers() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/iex");
    ex.subscribe_to(now, id, json!({"trades": ["AAPL"], "quotes": ["AMD"]}));
    let out = ex.subscribe_to(now, id, json!({"bars": ["*"], "corrections": ["MSFT"]}));
    let ack = &messages(&out)[0];
    assert_eq!(ack["T"], "subscription");
    assert_eq!(ack["trades"], json!(["AAPL"]));
    assert_eq!(ack["quotes"], json!(["AMD"]));
    assert_eq!(ack["bars"], json!(["*"]));
    assert_eq!(ack["corrections"], json!(["AAPL"]));
    assert_eq!(ack["cancelErrors"], json!(["AAPL"]));
    assert_eq!(ack["statuses"], json!([]));
    let out = ex.unsubscribe_from(now, id, json!({"trades": ["AAPL"], "bars": ["*"]}));
    let ack = &messages(&out)[0];
    assert_eq!(ack["trades"], json!([]));
    assert_eq!(ack["corrections"], json!([]));
    assert_eq!(ack["quotes"], json!(["AMD"]));
}

/// Runs the exchange's timers for `span`, collecting outputs.
fn run_for(ex: &mut Exchange, from: Instant, span: Duration) -> Outputs {
    let end = from + span;
    let mut out = drain(ex);
    while let Some(t) = ex.poll_timeout().filter(|t| *t <= end) {
        ex.handle_timeout(t);
        out.extend(drain(ex));
    }
    out
}

#[test]
fn the_generator_streams_batches_for_subscribed_symbols_only() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/iex");
    assert_eq!(
        ex.poll_timeout(),
        Some(now + Duration::from_secs(10))
            .filter(|_| false)
            .or(ex.poll_timeout())
    );
    ex.subscribe_to(
        now,
        id,
        json!({"quotes": ["AAPL"], "trades": ["AMD"], "bars": ["AAPL"]}),
    );
    let out = run_for(&mut ex, now, Duration::from_secs(61));
    let msgs = messages(&out);
    let count = |t: &str, s: &str| msgs.iter().filter(|m| m["T"] == t && m["S"] == s).count();
    assert!(count("q", "AAPL") > 100, "quotes: {}", count("q", "AAPL"));
    assert!(count("t", "AMD") > 50);
    assert_eq!(count("b", "AAPL"), 1);
    assert_eq!(count("q", "AMD") + count("t", "AAPL"), 0);
    let batched = out.iter().any(|(_, o)| match o {
        Output::Frame(f) => {
            serde_json::from_slice::<Vec<Value>>(f.payload()).is_ok_and(|v| v.len() > 1)
        }
        _ => false,
    });
    assert!(batched, "several messages share a frame");
    let quote = msgs.iter().find(|m| m["T"] == "q").unwrap();
    assert!(
        quote["t"]
            .as_str()
            .unwrap()
            .starts_with("2024-01-02T14:30:"),
        "{quote}"
    );
    assert!(quote["bp"].as_f64() < quote["ap"].as_f64());
    // Unsubscribing everything stops the ticks.
    ex.unsubscribe_from(
        now,
        id,
        json!({"quotes": ["AAPL"], "trades": ["AMD"], "bars": ["AAPL"]}),
    );
    run_for(
        &mut ex,
        now + Duration::from_secs(61),
        Duration::from_secs(1),
    );
    assert_eq!(ex.poll_timeout(), None);
}

#[test]
fn the_test_stream_serves_fakepaca() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/test");
    ex.subscribe_to(now, id, json!({"quotes": ["*"], "trades": ["AAPL"]}));
    let msgs = messages(&run_for(&mut ex, now, Duration::from_secs(5)));
    assert!(msgs.iter().any(|m| m["T"] == "q"));
    assert!(
        msgs.iter()
            .filter(|m| m["T"] != "subscription")
            .all(|m| m["S"] == TEST_SYMBOL)
    );
    assert!(
        !msgs.iter().any(|m| m["T"] == "t"),
        "AAPL trades do not exist on the test stream"
    );
}

#[test]
fn wildcards_serve_the_universe() {
    let (mut ex, now, id) = exchange_with(authed, "/v1beta3/crypto/us");
    ex.subscribe_to(now, id, json!({"trades": ["*"], "orderbooks": ["BTC/USD"]}));
    let msgs = messages(&run_for(&mut ex, now, Duration::from_secs(5)));
    for pair in ["BTC/USD", "ETH/USD", "SOL/USD"] {
        assert!(
            msgs.iter().any(|m| m["T"] == "t" && m["S"] == pair),
            "{pair}"
        );
    }
    let trade = msgs.iter().find(|m| m["T"] == "t").unwrap();
    assert!(
        trade.get("x").is_none() && trade["tks"].is_string(),
        "{trade}"
    );
    assert!(msgs.iter().any(|m| m["T"] == "o" && m["r"] == true));
}

#[test]
fn msgpack_sessions_get_binary_frames_with_timestamp_extensions() {
    let (mut ex, now) = exchange();
    let id = ex.open(now, "/v2/iex", &msgpack_headers()).unwrap();
    assert_eq!(ex.encoding(id), Some(Encoding::MsgPack));
    ex.handle_frame(
        now,
        id,
        Frame::binary(rmp_serde::to_vec_named(&auth_message()).unwrap()),
    );
    let sub = json!({"action": "subscribe", "quotes": ["AAPL"]});
    ex.handle_frame(
        now,
        id,
        Frame::binary(rmp_serde::to_vec_named(&sub).unwrap()),
    );
    let out = run_for(&mut ex, now, Duration::from_secs(1));
    let frames: Vec<&Frame> = out
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Frame(f) => Some(f),
            _ => None,
        })
        .collect();
    assert!(frames.iter().all(|f| matches!(f, Frame::Binary(_))));
    let control: Vec<Vec<Value>> = frames[..3]
        .iter()
        .map(|f| rmp_serde::from_slice(f.payload()).unwrap())
        .collect();
    assert_eq!(control[0][0]["msg"], "connected");
    assert_eq!(control[1][0]["msg"], "authenticated");
    assert_eq!(control[2][0]["T"], "subscription");
    let quotes: Vec<Quote> =
        rmp_serde::from_slice(frames[3].payload()).expect("quotes with ext timestamps");
    assert_eq!(quotes[0].symbol.as_str(), "AAPL");
    assert!(quotes[0].timestamp.seconds >= 1_704_205_800);
    // The timestamp is a MessagePack extension of type -1, not a string.
    let raw = frames[3].payload();
    let ext = raw.windows(2).any(|w| w == [0xd7, 0xff])
        || raw.windows(3).any(|w| w == [0xc7, 0x0c, 0xff]);
    assert!(ext, "timestamp extension present");
}

fn trading_messages(outputs: &[(SessionId, Output)]) -> Vec<Value> {
    outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Frame(f) => {
                assert!(
                    matches!(f, Frame::Binary(_)),
                    "trading frames are binary: {f:?}"
                );
                Some(serde_json::from_slice(f.payload()).unwrap())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn trading_stream_legacy_auth_listen_and_updates() {
    let (mut ex, now) = exchange();
    let id = ex.open(now, "/stream", &[]).unwrap();
    assert!(
        drain(&mut ex).is_empty(),
        "no greeting on the trading stream"
    );
    let legacy = json!({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}});
    let out = ex.send_json(now, id, legacy);
    assert_eq!(
        trading_messages(&out),
        [
            json!({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}})
        ]
    );
    let out = ex.send_json(
        now,
        id,
        json!({"action": "listen", "data": {"streams": ["trade_updates"]}}),
    );
    assert_eq!(
        trading_messages(&out),
        [json!({"stream": "listening", "data": {"streams": ["trade_updates"]}})]
    );
    let updates = trading_messages(&run_for(&mut ex, now, Duration::from_secs(120)));
    assert!(updates.len() > 20, "{}", updates.len());
    let events: std::collections::BTreeSet<&str> = updates
        .iter()
        .filter_map(|u| u["data"]["event"].as_str())
        .collect();
    for e in ["new", "fill", "canceled"] {
        assert!(events.contains(e), "{e} in {events:?}");
    }
    for u in &updates {
        assert_eq!(u["stream"], "trade_updates");
        let order = &u["data"]["order"];
        for field in [
            "id",
            "client_order_id",
            "created_at",
            "updated_at",
            "submitted_at",
            "order_class",
            "time_in_force",
            "status",
        ] {
            assert!(order[field].is_string(), "{field} in {order}");
        }
        assert!(order["extended_hours"].is_boolean());
        assert!(u["data"]["timestamp"].is_string());
    }
    let fill = updates
        .iter()
        .find(|u| u["data"]["event"] == "fill")
        .unwrap();
    assert_eq!(fill["data"]["order"]["status"], "filled");
    assert!(fill["data"]["execution_id"].as_str().unwrap().len() == 36);
    assert_eq!(
        fill["data"]["order"]["filled_qty"],
        fill["data"]["order"]["qty"]
    );
    // An empty listen stops updates.
    let t = now + Duration::from_secs(120);
    ex.send_json(t, id, json!({"action": "listen", "data": {"streams": []}}));
    let later = run_for(&mut ex, t, Duration::from_secs(60));
    assert!(
        trading_messages(&later)
            .iter()
            .all(|u| u["stream"] != "trade_updates" || later.len() < 10)
    );
}

#[test]
fn trading_stream_header_auth_and_failures() {
    let (mut ex, now) = exchange();
    let headers = key_headers("APCA-API-KEY-ID", "APCA-API-SECRET-KEY");
    let id = ex.open(now, "/stream", &headers).unwrap();
    assert_eq!(
        trading_messages(&drain(&mut ex))[0]["data"]["status"],
        "authorized"
    );
    assert!(ex.is_authenticated(id));
    // One connection per account.
    let second = ex.open(now, "/stream", &[]).unwrap();
    let out = ex.send_json(now, second, auth_message_of(KEY, SECRET));
    assert_eq!(
        trading_messages(&out)[0]["data"]["error_message"],
        "connection limit exceeded"
    );
    assert_eq!(closes(&out).len(), 1);
    // Bad credentials: unauthorized, then close.
    let third = ex.open(now, "/stream", &[]).unwrap();
    let out = ex.send_json(now, third, auth_message_of(KEY, "no"));
    assert_eq!(trading_messages(&out)[0]["data"]["status"], "unauthorized");
    assert_eq!(closes(&out).len(), 1);
    // Listen before auth.
    let fourth = ex.open(now, "/stream", &[]).unwrap();
    let out = ex.send_json(
        now,
        fourth,
        json!({"action": "listen", "data": {"streams": ["trade_updates"]}}),
    );
    assert_eq!(trading_messages(&out)[0]["action"], "error");
}

#[test]
fn refusals_from_faults_and_commands() {
    let (mut ex, now) = exchange();
    ex.refuse_next(429);
    assert_eq!(ex.open(now, "/v2/iex", &[]), Err(Refusal { status: 429 }));
    assert!(ex.open(now, "/v2/iex", &[]).is_ok());
    let mut plan = FaultPlan::default();
    plan.endpoints.insert(
        Endpoint::Sip,
        Faults {
            refuse_401: 1.0,
            ..Faults::NONE
        },
    );
    ex.set_fault_plan(plan);
    assert_eq!(ex.open(now, "/v2/sip", &[]), Err(Refusal { status: 401 }));
    assert!(ex.open(now, "/v2/iex", &[]).is_ok());
    ex.set_fault_plan(FaultPlan::uniform(Faults {
        refuse_429: 1.0,
        ..Faults::NONE
    }));
    assert_eq!(ex.open(now, "/stream", &[]), Err(Refusal { status: 429 }));
}

#[test]
fn injected_faults() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/iex");
    ex.inject(now, id, Fault::Garbage);
    let out = drain(&mut ex);
    let Output::Frame(garbage) = &out[0].1 else {
        panic!("{out:?}")
    };
    assert!(serde_json::from_slice::<Value>(garbage.payload()).is_err());
    ex.inject(now, id, Fault::Oversized);
    let Some((_, Output::Frame(big))) = ex.poll_output() else {
        panic!()
    };
    assert_eq!(big.len(), ex.config().oversized_frame_bytes);
    ex.inject(now, id, Fault::Silence);
    let out = ex.subscribe_to(now, id, json!({"quotes": ["AAPL"]}));
    assert!(
        out.is_empty(),
        "silent sessions send nothing, acks included"
    );
    assert!(run_for(&mut ex, now, Duration::from_secs(2)).is_empty());
    ex.inject(now, id, Fault::Resume);
    assert!(
        !run_for(
            &mut ex,
            now + Duration::from_secs(2),
            Duration::from_secs(1)
        )
        .is_empty()
    );
    ex.inject(now, id, Fault::Reset);
    assert_eq!(
        drain(&mut ex).last().map(|(_, o)| o.clone()),
        Some(Output::Reset)
    );
    // A reset keeps the slot (the server did not notice).
    let again = ex.open(now, "/v2/iex", &[]).unwrap();
    assert_eq!(
        error_codes(&ex.send_json(now, again, auth_message())),
        [406]
    );
}

#[test]
fn restart_resets_everyone_and_frees_slots() {
    let (mut ex, now) = exchange();
    let a = authed(&mut ex, now, "/v2/iex");
    let b = ex.open(now, "/stream", &[]).unwrap();
    ex.send_json(now, b, auth_message());
    assert!(ex.is_authenticated(b));
    ex.restart(now);
    let out = drain(&mut ex);
    assert_eq!(out, vec![(a, Output::Reset), (b, Output::Reset)]);
    assert_eq!(ex.session_count(), 0);
    assert_eq!(ex.restarts(), 1);
    authed(&mut ex, now, "/v2/iex");
}

#[test]
fn ack_faults_delay_duplicate_and_reorder() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/iex");
    let sub = |s: &str| json!({"action": "subscribe", "bars": [s]});

    ex.set_session_faults(
        id,
        Faults {
            ack_duplicate: 1.0,
            ..Faults::NONE
        },
    );
    assert_eq!(messages(&ex.send_json(now, id, sub("A"))).len(), 2);

    ex.set_session_faults(
        id,
        Faults {
            ack_delay: 1.0,
            ack_delay_max: Duration::from_secs(1),
            ..Faults::NONE
        },
    );
    assert!(ex.send_json(now, id, sub("B")).is_empty());
    let out = run_for(&mut ex, now, Duration::from_millis(1_000));
    let acks: Vec<_> = messages(&out)
        .into_iter()
        .filter(|m| m["T"] == "subscription")
        .collect();
    assert_eq!(acks.len(), 1);

    let t = now + Duration::from_secs(1);
    ex.set_session_faults(
        id,
        Faults {
            ack_reorder: 1.0,
            ..Faults::NONE
        },
    );
    assert!(ex.send_json(t, id, sub("C")).is_empty(), "held back");
    ex.set_session_faults(id, Faults::NONE);
    let out = messages(&ex.send_json(t, id, sub("D")));
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0]["bars"].as_array().unwrap().len(),
        4,
        "the later ack first"
    );
    assert_eq!(out[1]["bars"].as_array().unwrap().len(), 3);
}

#[test]
fn drop_faults_end_sessions() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/iex");
    ex.set_session_faults(
        id,
        Faults {
            drop: 1.0,
            drop_reset_share: 0.0,
            ..Faults::NONE
        },
    );
    let out = ex.subscribe_to(now, id, json!({"quotes": ["AAPL"]}));
    assert_eq!(closes(&out), [1001]);
    assert_eq!(ex.session_count(), 0);
}

#[test]
fn client_frames_over_the_limit_are_closed_with_1009() {
    let (mut ex, now, id) = exchange_with(authed, "/v2/iex");
    let symbols: Vec<String> = (0..20_000).map(|i| format!("S{i}")).collect();
    let out = ex.subscribe_to(now, id, json!({"bars": symbols}));
    assert_eq!(closes(&out), [1009]);
}

/// A scenario touching every part of the model, with faults, as a hash of
/// everything the exchange output.
fn scenario_hash(seed: u64, faults: Faults) -> u64 {
    let now = Instant::now();
    let mut ex = Exchange::new(config(seed).with_faults(FaultPlan::uniform(faults)), now);
    let mut hasher = DefaultHasher::new();
    let mut frames = 0;
    let mut record = |out: Outputs| {
        for (id, o) in out {
            frames += 1;
            id.hash(&mut hasher);
            format!("{o:?}").hash(&mut hasher);
        }
    };
    let mut t = now;
    for round in 0..6u64 {
        let path = [
            "/v2/iex",
            "/v2/sip",
            "/stream",
            "/v1beta3/crypto/us",
            "/v1beta1/news",
            "/v2/test",
        ][round as usize];
        let Ok(id) = ex.open(t, path, &[]) else {
            continue;
        };
        ex.handle_frame(t, id, Frame::text(auth_message().to_string()));
        let request = match Endpoint::from_path(path) {
            Some(Endpoint::Trading) => {
                json!({"action": "listen", "data": {"streams": ["trade_updates"]}})
            }
            Some(Endpoint::News) => json!({"action": "subscribe", "news": ["*"]}),
            Some(Endpoint::Crypto) => {
                json!({"action": "subscribe", "trades": ["*"], "orderbooks": ["BTC/USD"]})
            }
            _ => {
                json!({"action": "subscribe", "trades": ["*"], "quotes": ["AAPL"], "bars": ["*"], "statuses": ["*"]})
            }
        };
        ex.handle_frame(t, id, Frame::text(request.to_string()));
        record(drain(&mut ex));
        let end = t + Duration::from_secs(20);
        while let Some(next) = ex.poll_timeout().filter(|n| *n <= end) {
            t = next;
            ex.handle_timeout(t);
            record(drain(&mut ex));
        }
        t = end;
    }
    assert!(
        frames > 500,
        "the scenario exercises the exchange: {frames} frames"
    );
    hasher.finish()
}

#[test]
fn same_seed_same_outputs() {
    let faults = Faults::draw(11, 1.0);
    assert_eq!(scenario_hash(5, faults), scenario_hash(5, faults));
    assert_eq!(
        scenario_hash(5, Faults::NONE),
        scenario_hash(5, Faults::NONE)
    );
    assert_ne!(
        scenario_hash(5, Faults::NONE),
        scenario_hash(6, Faults::NONE)
    );
}

#[test]
fn no_client_input_panics() {
    let (mut ex, now) = exchange();
    let md = authed(&mut ex, now, "/v2/iex");
    let tr = ex.open(now, "/stream", &[]).unwrap();
    let inputs: Vec<Frame> = vec![
        Frame::text(""),
        Frame::text("[]"),
        Frame::text("{}"),
        Frame::text(r#"{"action":null}"#),
        Frame::text(r#"{"action":"subscribe","trades":[1,2]}"#),
        Frame::text(r#"{"action":"subscribe","trades":null}"#),
        Frame::text(r#"{"action":"authenticate","data":7}"#),
        Frame::text(r#"{"action":"listen","data":{"streams":"x"}}"#),
        Frame::binary(vec![0xff; 64]),
        Frame::binary(Vec::new()),
        Frame::Ping(bytes::Bytes::from_static(b"x")),
        Frame::Pong(bytes::Bytes::new()),
    ];
    for frame in inputs {
        ex.handle_frame(now, md, frame.clone());
        ex.handle_frame(now, tr, frame);
        drain(&mut ex);
    }
    ex.handle_frame(now, SessionId(999), Frame::text("{}"));
    ex.handle_close(now, SessionId(999));
    ex.handle_lost(now, SessionId(999));
    ex.inject(now, SessionId(999), Fault::Reset);
}
