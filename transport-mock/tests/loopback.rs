//! The loopback server with a real WebSocket client (tokio-tungstenite).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tickwire_alpaca::Quote;
use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer, ServerLimits};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const LIMIT: Duration = Duration::from_secs(10);

async fn server() -> LoopbackServer {
    server_with(ServerLimits::default()).await
}

async fn server_with(limits: ServerLimits) -> LoopbackServer {
    let exchange = ExchangeConfig::new(5)
        .with_account(Account::new("K", "S"))
        .with_account(Account::new("K2", "S2"));
    LoopbackServer::start(LoopbackConfig::new(exchange).with_limits(limits))
        .await
        .unwrap()
}

async fn next(ws: &mut Ws) -> Message {
    loop {
        let message = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("a message in time");
        match message.expect("stream open").expect("no error") {
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return other,
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    match next(ws).await {
        Message::Text(t) => serde_json::from_str(&t).unwrap(),
        Message::Binary(b) => serde_json::from_slice(&b).unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// Connects to `path`, checks the greeting, sends the credentials by message
/// and returns the socket with the server's answer to them.
async fn try_auth(server: &LoopbackServer, path: &str, key: &str, secret: &str) -> (Ws, Value) {
    let (mut ws, _) = connect_async(server.url(path)).await.unwrap();
    assert_eq!(next_json(&mut ws).await[0]["msg"], "connected");
    send(
        &mut ws,
        json!({"action": "auth", "key": key, "secret": secret}),
    )
    .await;
    let answer = next_json(&mut ws).await;
    (ws, answer)
}

async fn authed(server: &LoopbackServer, path: &str, key: &str, secret: &str) -> Ws {
    let (ws, answer) = try_auth(server, path, key, secret).await;
    assert_eq!(answer[0]["msg"], "authenticated");
    ws
}

#[tokio::test]
async fn json_market_data_over_websockets() {
    let server = server().await;
    assert_ne!(server.local_addr().port(), 0);
    let mut ws = authed(&server, "/v2/iex", "K", "S").await;
    send(
        &mut ws,
        json!({"action": "subscribe", "quotes": ["AAPL"], "trades": ["AAPL"]}),
    )
    .await;
    let ack = next_json(&mut ws).await;
    assert_eq!(ack[0]["T"], "subscription");
    assert_eq!(ack[0]["corrections"], json!(["AAPL"]));
    let mut quotes = 0;
    while quotes < 5 {
        let Message::Text(text) = next(&mut ws).await else {
            panic!("market data is text")
        };
        let batch: Vec<Value> = serde_json::from_str(&text).unwrap();
        quotes += batch
            .iter()
            .filter(|m| m["T"] == "q" && m["S"] == "AAPL")
            .count();
    }
    ws.close(None).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn msgpack_and_header_auth() {
    let server = server().await;
    let mut request = server.url("/v2/sip").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("Content-Type", "application/msgpack".parse().unwrap());
    headers.insert("APCA-API-KEY-ID", "K".parse().unwrap());
    headers.insert("APCA-API-SECRET-KEY", "S".parse().unwrap());
    let (mut ws, _) = connect_async(request).await.unwrap();
    let decode = |m: Message| -> Vec<Value> {
        let Message::Binary(b) = m else {
            panic!("MessagePack is binary: {m:?}")
        };
        rmp_serde::from_slice(&b).unwrap()
    };
    assert_eq!(decode(next(&mut ws).await)[0]["msg"], "connected");
    assert_eq!(decode(next(&mut ws).await)[0]["msg"], "authenticated");
    let sub = rmp_serde::to_vec_named(&json!({"action": "subscribe", "quotes": ["MSFT"]})).unwrap();
    ws.send(Message::binary(sub)).await.unwrap();
    assert_eq!(decode(next(&mut ws).await)[0]["T"], "subscription");
    let Message::Binary(data) = next(&mut ws).await else {
        panic!()
    };
    let quotes: Vec<Quote> = rmp_serde::from_slice(&data).unwrap();
    assert_eq!(quotes[0].symbol.as_str(), "MSFT");
    server.shutdown().await;
}

#[tokio::test]
async fn refusals_carry_http_status() {
    let server = server().await;
    let status = |e: WsError| match e {
        WsError::Http(response) => response.status().as_u16(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        status(connect_async(server.url("/nope")).await.unwrap_err()),
        404
    );
    server.exchange().with(|ex, _| ex.refuse_next(429));
    assert_eq!(
        status(connect_async(server.url("/v2/iex")).await.unwrap_err()),
        429
    );
    server.exchange().with(|ex, _| ex.refuse_next(401));
    assert_eq!(
        status(connect_async(server.url("/stream")).await.unwrap_err()),
        401
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connection_limit_and_close_over_websockets() {
    let server = server().await;
    let mut first = authed(&server, "/v2/iex", "K", "S").await;
    let (mut second, answer) = try_auth(&server, "/v2/iex", "K", "S").await;
    assert_eq!(answer[0]["code"], 406);
    match next(&mut second).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1008),
        other => panic!("{other:?}"),
    }
    first.close(None).await.unwrap();
    // Wait for the server to see the close (the slot frees then).
    while let Some(Ok(_)) = first.next().await {}
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (_ws, answer) = try_auth(&server, "/v2/iex", "K", "S").await;
        if answer[0]["msg"] == "authenticated" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn trading_stream_json_in_binary_frames() {
    let server = server().await;
    let (mut ws, _) = connect_async(server.url("/stream")).await.unwrap();
    send(
        &mut ws,
        json!({"action": "authenticate", "data": {"key_id": "K", "secret_key": "S"}}),
    )
    .await;
    let Message::Binary(auth) = next(&mut ws).await else {
        panic!("binary frames")
    };
    let auth: Value = serde_json::from_slice(&auth).unwrap();
    assert_eq!(auth["data"]["status"], "authorized");
    send(
        &mut ws,
        json!({"action": "listen", "data": {"streams": ["trade_updates"]}}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["stream"], "listening");
    let update = next_json(&mut ws).await;
    assert_eq!(update["stream"], "trade_updates");
    assert!(update["data"]["order"]["id"].is_string());
    server.shutdown().await;
}

#[tokio::test]
async fn many_connections_and_a_clean_shutdown() {
    let server = server().await;
    let mut clients = Vec::new();
    for (i, path) in [
        "/v2/iex",
        "/v2/sip",
        "/v2/test",
        "/v1beta3/crypto/us",
        "/v1beta1/news",
        "/v2/delayed_sip",
    ]
    .iter()
    .enumerate()
    {
        let (key, secret) = if i % 2 == 0 { ("K", "S") } else { ("K2", "S2") };
        clients.push(authed(&server, path, key, secret).await);
    }
    assert_eq!(server.exchange().with(|ex, _| ex.session_count()), 6);
    server.shutdown().await;
    for mut ws in clients {
        match tokio::time::timeout(LIMIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
            other => panic!("{other:?}"),
        }
    }
}

/// Reads a raw TCP socket until the server closes it; what it sent.
async fn read_until_closed(socket: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(LIMIT, socket.read_to_end(&mut received))
        .await
        .expect("the server closes the socket in time")
        .expect("reading the socket");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_is_closed() {
    let server = server_with(ServerLimits {
        handshake_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    })
    .await;
    let mut silent = TcpStream::connect(server.local_addr()).await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await, "");
    server.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_with_503() {
    let server = server_with(ServerLimits {
        connections_max: 2,
        ..ServerLimits::default()
    })
    .await;
    let _held = [
        TcpStream::connect(server.local_addr()).await.unwrap(),
        TcpStream::connect(server.local_addr()).await.unwrap(),
    ];
    let mut third = TcpStream::connect(server.local_addr()).await.unwrap();
    let answer = read_until_closed(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("accepts 2 connections at once"), "{answer}");
    drop(_held);
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_closes_with_1009_before_it_is_read_whole() {
    // Below the exchange's own 64 KiB rule, so only the socket's limit can
    // close the connection.
    let server = server_with(ServerLimits {
        message_bytes_max: 8 * 1024,
        ..ServerLimits::default()
    })
    .await;
    let mut ws = authed(&server, "/v2/iex", "K", "S").await;
    let oversized = format!(
        "{{\"action\":\"subscribe\",\"quotes\":[\"{}\"]}}",
        "A".repeat(16 * 1024)
    );
    // The server may close while the message is still being written.
    let _ = ws.send(Message::text(oversized)).await;
    let close = loop {
        match tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("an answer in time")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let frame = close.expect("a close code");
    assert_eq!(u16::from(frame.code), 1009, "{frame:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_and_its_slot_freed() {
    let server = server_with(ServerLimits {
        ping_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    })
    .await;
    // Authenticated, then never read again: no pong answers the pings.
    let silent = authed(&server, "/v2/iex", "K", "S").await;
    // The account's one slot is taken (406) until the server closes the
    // silent connection; then the next client gets it.
    let started = std::time::Instant::now();
    loop {
        let (_ws, answer) = try_auth(&server, "/v2/iex", "K", "S").await;
        if answer[0]["msg"] == "authenticated" {
            break;
        }
        assert_eq!(answer[0]["code"], 406, "{answer}");
        assert!(
            started.elapsed() < LIMIT,
            "the silent client still holds the slot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(silent);
    server.shutdown().await;
}
