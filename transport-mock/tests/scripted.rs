//! The scripted transport against the exchange model, on paused tokio time.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use serde_json::Value;
use tickwire_core::{ConnectRequest, Frame, Transport, TransportError};
use tickwire_mock::{Account, ExchangeConfig, Fault, ScriptedTransport, SharedExchange};

const AUTH: &str = r#"{"action":"auth","key":"K","secret":"S"}"#;

fn exchange(seed: u64) -> SharedExchange {
    SharedExchange::new(ExchangeConfig::new(seed).with_account(Account::new("K", "S")))
}

fn request(path: &str) -> ConnectRequest {
    ConnectRequest {
        url: format!("wss://stream.data.alpaca.markets{path}"),
        headers: vec![],
    }
}

async fn send(t: &mut ScriptedTransport, text: &str) {
    t.send(Frame::text(text)).await.unwrap();
    t.flush().await.unwrap();
}

fn json(frame: &Frame) -> Vec<Value> {
    serde_json::from_slice(frame.payload()).unwrap()
}

async fn authed(exchange: &SharedExchange, path: &str) -> ScriptedTransport {
    let mut t = ScriptedTransport::new(exchange.clone());
    t.connect(&request(path)).await.unwrap();
    assert_eq!(json(&t.recv().await.unwrap())[0]["msg"], "connected");
    send(&mut t, AUTH).await;
    assert_eq!(json(&t.recv().await.unwrap())[0]["msg"], "authenticated");
    t
}

/// Subscribes to quotes and hashes the first `n` frames.
async fn quote_trace(seed: u64, n: usize) -> (u64, usize) {
    let exchange = exchange(seed);
    let mut t = authed(&exchange, "/v2/iex").await;
    send(
        &mut t,
        r#"{"action":"subscribe","quotes":["AAPL","AMD"],"trades":["AAPL"]}"#,
    )
    .await;
    let ack = json(&t.recv().await.unwrap());
    assert_eq!(ack[0]["T"], "subscription");
    let mut hasher = DefaultHasher::new();
    let mut quotes = 0;
    for _ in 0..n {
        let frame = t.recv().await.unwrap();
        quotes += json(&frame).iter().filter(|m| m["T"] == "q").count();
        frame.payload().hash(&mut hasher);
    }
    (hasher.finish(), quotes)
}

#[tokio::test(start_paused = true)]
async fn streams_quotes_deterministically() {
    let start = tokio::time::Instant::now();
    let (a, quotes) = quote_trace(3, 50).await;
    assert!(quotes >= 50, "{quotes}");
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "ticks ran on virtual time"
    );
    let (b, _) = quote_trace(3, 50).await;
    let (c, _) = quote_trace(4, 50).await;
    assert_eq!(a, b, "same seed, same frames");
    assert_ne!(a, c, "another seed, another market");
}

#[tokio::test(start_paused = true)]
async fn clean_close_frees_the_slot_and_a_drop_holds_it() {
    let exchange = exchange(1);
    let mut first = authed(&exchange, "/v2/iex").await;
    first.close().await.unwrap();
    let second = authed(&exchange, "/v2/iex").await;
    drop(second); // unclean: the exchange keeps the slot

    let mut third = ScriptedTransport::new(exchange.clone());
    third.connect(&request("/v2/iex")).await.unwrap();
    third.recv().await.unwrap();
    send(&mut third, AUTH).await;
    assert_eq!(json(&third.recv().await.unwrap())[0]["code"], 406);
    assert!(matches!(
        third.recv().await,
        Err(TransportError::Closed {
            code: Some(1008),
            ..
        })
    ));

    tokio::time::sleep(Duration::from_secs(90)).await;
    authed(&exchange, "/v2/iex").await;
}

#[tokio::test(start_paused = true)]
async fn auth_timeout_refusals_pings_and_resets() {
    let exchange = exchange(1);
    let mut t = ScriptedTransport::new(exchange.clone());

    exchange.with(|ex, _| ex.refuse_next(429));
    assert_eq!(
        t.connect(&request("/v2/iex")).await,
        Err(TransportError::Refused { status: 429 })
    );
    assert_eq!(
        t.connect(&request("/v9/none")).await,
        Err(TransportError::Refused { status: 404 })
    );

    t.connect(&request("/v2/iex")).await.unwrap();
    t.recv().await.unwrap();
    let start = tokio::time::Instant::now();
    assert_eq!(json(&t.recv().await.unwrap())[0]["code"], 404);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert!(matches!(t.recv().await, Err(TransportError::Closed { .. })));
    assert_eq!(t.recv().await, Err(TransportError::NotConnected));

    let mut t = authed(&exchange, "/v2/iex").await;
    let session = t.session().unwrap();
    exchange.with(|ex, now| ex.inject(now, session, Fault::Silence));
    t.send(Frame::Ping("hi".into())).await.unwrap();
    t.flush().await.unwrap();
    assert_eq!(
        t.recv().await,
        Ok(Frame::Pong("hi".into())),
        "a silent server still answers pings"
    );
    exchange.with(|ex, now| ex.inject(now, session, Fault::Reset));
    assert!(matches!(t.recv().await, Err(TransportError::Io(_))));
}

#[tokio::test(start_paused = true)]
async fn header_auth_and_the_trading_stream() {
    let exchange = exchange(9);
    let mut t = ScriptedTransport::new(exchange.clone()).with_headers([
        ("APCA-API-KEY-ID".into(), "K".into()),
        ("APCA-API-SECRET-KEY".into(), "S".into()),
    ]);
    t.connect(&request("/stream")).await.unwrap();
    let auth: Value = serde_json::from_slice(t.recv().await.unwrap().payload()).unwrap();
    assert_eq!(auth["data"]["status"], "authorized");
    send(
        &mut t,
        r#"{"action":"listen","data":{"streams":["trade_updates"]}}"#,
    )
    .await;
    let mut events = Vec::new();
    while events.len() < 10 {
        let frame = t.recv().await.unwrap();
        assert!(matches!(frame, Frame::Binary(_)));
        let msg: Value = serde_json::from_slice(frame.payload()).unwrap();
        if msg["stream"] == "trade_updates" {
            events.push(msg["data"]["event"].as_str().unwrap().to_owned());
        }
    }
    assert!(events.iter().any(|e| e == "new"), "{events:?}");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_reads_gets_407() {
    let exchange = SharedExchange::new(
        ExchangeConfig::new(2)
            .with_account(Account::new("K", "S"))
            .tap_slow(),
    );
    let mut reader = authed(&exchange, "/v2/sip").await;
    let mut idle = authed(&exchange, "/v2/iex").await;
    send(&mut idle, r#"{"action":"subscribe","quotes":["*"]}"#).await;
    send(&mut reader, r#"{"action":"subscribe","quotes":["AAPL"]}"#).await;
    // Only `reader` reads; its recv drives the clock; `idle`'s mailbox fills up.
    for _ in 0..40 {
        reader.recv().await.unwrap();
    }
    let mut last = None;
    loop {
        match idle.recv().await {
            Ok(frame) => last = Some(frame),
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        TransportError::Closed {
                            code: Some(1008),
                            ..
                        }
                    ),
                    "{e:?}"
                );
                break;
            }
        }
    }
    assert_eq!(json(&last.unwrap())[0]["code"], 407);
}

trait TapSlow {
    fn tap_slow(self) -> Self;
}

impl TapSlow for ExchangeConfig {
    fn tap_slow(mut self) -> Self {
        self.slow_client_frames_max = 10;
        self
    }
}
