//! The proxy between tickwire's own clients and the simulated exchange, over
//! real sockets on 127.0.0.1: one upstream per feed and account, each
//! client's own symbols, upstream faults kept upstream, downstream faults
//! kept downstream.

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use support::*;
use tickwire_mock::Fault;
use tickwire_ws::{Channel, Encoding, Error, SubscriptionOutcome};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_share_one_upstream_and_each_receives_its_own_symbols() {
    let (server, proxy) = exchange_and_proxy(|_| {}).await;
    assert!(
        sessions(&server).is_empty(),
        "no client, no upstream connection"
    );

    let mut a = market_client(&proxy, Encoding::Json);
    let mut b = market_client(&proxy, Encoding::MsgPack);
    let verdict = a
        .subscribe(Channel::Quotes, ["AAPL", "MSFT"])
        .await
        .expect("a subscribes");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    let verdict = b
        .subscribe(Channel::Quotes, ["MSFT", "SPY"])
        .await
        .expect("b subscribes");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);

    let (mut seen_a, mut seen_b) = (Seen::default(), Seen::default());
    let both =
        |s: &Seen, x: &str, y: &str| s.quotes.get(x) >= Some(&3) && s.quotes.get(y) >= Some(&3);
    read_until(&mut a, &mut seen_a, "a's AAPL and MSFT", |s| {
        both(s, "AAPL", "MSFT")
    })
    .await;
    read_until(&mut b, &mut seen_b, "b's MSFT and SPY", |s| {
        both(s, "MSFT", "SPY")
    })
    .await;
    let open = sessions(&server);
    assert_eq!(
        open.get("Iex").map(Vec::len),
        Some(1),
        "one upstream market data connection: {open:?}"
    );
    assert_eq!(open.len(), 1, "nothing else upstream: {open:?}");
    assert_eq!(
        proxy.status().endpoints[0].symbols,
        3,
        "AAPL, MSFT, SPY ref-counted once each"
    );

    // a lets MSFT go; b still holds it and keeps receiving it.
    a.unsubscribe(Channel::Quotes, ["MSFT"])
        .await
        .expect("a unsubscribes");
    read_for(&mut a, &mut seen_a, Duration::from_millis(100)).await;
    let msft_at_unsubscribe = seen_b.quotes.get("MSFT").copied().unwrap_or(0);
    let a_msft = seen_a.quotes.get("MSFT").copied();
    read_until(&mut b, &mut seen_b, "b's MSFT after a let it go", |s| {
        s.quotes.get("MSFT").copied().unwrap_or(0) >= msft_at_unsubscribe + 5
    })
    .await;
    read_for(&mut a, &mut seen_a, Duration::from_millis(200)).await;
    assert_eq!(
        seen_a.quotes.get("MSFT").copied(),
        a_msft,
        "a received MSFT after unsubscribing"
    );
    for symbol in seen_a.quotes.keys() {
        assert!(
            ["AAPL", "MSFT"].contains(&symbol.as_str()),
            "a received {symbol}"
        );
    }
    for symbol in seen_b.quotes.keys() {
        assert!(
            ["MSFT", "SPY"].contains(&symbol.as_str()),
            "b received {symbol}"
        );
    }
    assert_eq!(
        proxy.status().endpoints[0].symbols,
        3,
        "MSFT stays upstream for b"
    );

    // The last client leaving lets the upstream connection go.
    a.shutdown().await.expect("a shuts down");
    b.shutdown().await.expect("b shuts down");
    let idle = tokio::time::timeout(PATIENCE, async {
        while !sessions(&server).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        idle.is_ok(),
        "the upstream stayed connected: {:?}",
        sessions(&server)
    );
    shut_down(proxy, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_drop_stays_upstream() {
    let (server, proxy) = exchange_and_proxy(|_| {}).await;
    let mut a = market_client(&proxy, Encoding::MsgPack);
    a.subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("a subscribes");
    let mut seen = Seen::default();
    read_until(&mut a, &mut seen, "AAPL", |s| {
        s.quotes.get("AAPL") >= Some(&3)
    })
    .await;

    let before = sessions(&server)["Iex"].clone();
    // A clean close by the exchange: its slot is free at once (after a
    // reset, Alpaca and the model hold it until reaped, and answer 406).
    let fault = Fault::Close {
        code: 1011,
        reason: "injected".into(),
    };
    server
        .exchange()
        .with(|ex, now| ex.inject(now, before[0], fault));
    let count = seen.quotes["AAPL"];
    read_until(&mut a, &mut seen, "AAPL after the upstream drop", |s| {
        s.quotes["AAPL"] >= count + 10
    })
    .await;
    let after = sessions(&server)["Iex"].clone();
    assert_ne!(after, before, "the upstream reconnected");
    assert_eq!(seen.gaps, 0, "the client saw its own connection drop");
    assert!(
        seen.errors.is_empty(),
        "the client saw errors: {:?}",
        seen.errors
    );
    a.shutdown().await.expect("shutdown");
    shut_down(proxy, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_fatal_verdict_reaches_every_client_and_closes_it() {
    let server = exchange().await;
    let proxy = proxy_as(&server, quick_limits(), UPSTREAM_KEY, "wrong-secret").await;
    let a = market_client(&proxy, Encoding::Json);
    let b = market_client(&proxy, Encoding::MsgPack);
    let (ra, rb) = tokio::join!(
        a.subscribe(Channel::Quotes, ["AAPL"]),
        b.subscribe(Channel::Trades, ["SPY"])
    );
    for result in [ra, rb] {
        match result {
            Err(Error::Failed(error)) => assert_eq!(error.code(), Some(402), "{error}"),
            other => panic!("expected the upstream's 402, got {other:?}"),
        }
    }
    shut_down(proxy, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_account_client_receives_every_trade_update_in_order() {
    let (server, proxy) = exchange_and_proxy(|_| {}).await;
    let mut a = trading_client(&proxy, Encoding::Json);
    let mut b = trading_client(&proxy, Encoding::MsgPack);
    a.wait_live(PATIENCE).await.expect("a live");
    b.wait_live(PATIENCE).await.expect("b live");
    let from_a = trade_updates(&mut a, 12).await;
    let from_b = trade_updates(&mut b, 12).await;
    // Both joined before the first update they compare: find b's first in a's.
    let start = from_a
        .iter()
        .position(|u| *u == from_b[0])
        .expect("b's first update reached a too");
    let overlap = from_a.len() - start;
    assert!(overlap >= 6, "too little overlap to compare ({overlap})");
    assert_eq!(
        from_a[start..],
        from_b[..overlap],
        "a and b saw different updates or orders"
    );
    assert_eq!(
        sessions(&server).get("Trading").map(Vec::len),
        Some(1),
        "one upstream trading connection"
    );
    a.shutdown().await.expect("a");
    b.shutdown().await.expect("b");
    shut_down(proxy, server).await;
}

type RawClient = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A raw WebSocket client of the proxy, authenticated.
async fn raw_client(proxy: &tickwire_proxy::Proxy) -> RawClient {
    raw_client_with(proxy, None).await
}

/// A raw client whose socket receive buffer is tiny, so that the proxy's
/// writes block as soon as it stops reading.
async fn raw_client_small_window(proxy: &tickwire_proxy::Proxy) -> RawClient {
    raw_client_with(proxy, Some(4096)).await
}

async fn raw_client_with(proxy: &tickwire_proxy::Proxy, recv_buffer: Option<u32>) -> RawClient {
    let mut ws = raw_greeted(proxy, recv_buffer).await;
    let auth = format!(r#"{{"action":"auth","key":"{CLIENT_KEY}","secret":"{CLIENT_SECRET}"}}"#);
    ws.send(Message::text(auth)).await.expect("send auth");
    expect_reply(&mut ws, r#"[{"T":"success","msg":"authenticated"}]"#).await;
    ws
}

/// A raw client of the proxy's `/v2/iex` (with `recv_buffer` bytes of
/// socket receive buffer, if given) that received the greeting.
async fn raw_greeted(proxy: &tickwire_proxy::Proxy, recv_buffer: Option<u32>) -> RawClient {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    if let Some(bytes) = recv_buffer {
        socket
            .set_recv_buffer_size(bytes)
            .expect("set the receive buffer");
    }
    let tcp = socket.connect(proxy.local_addr()).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(proxy.url("/v2/iex"), tcp)
        .await
        .expect("upgrade");
    expect_reply(&mut ws, r#"[{"T":"success","msg":"connected"}]"#).await;
    ws
}

/// Reads the next message and checks it is the text `expected`.
async fn expect_reply(ws: &mut RawClient, expected: &str) {
    let reply = ws.next().await.expect("a reply").expect("a reply");
    assert_eq!(reply.to_text().expect("text"), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_messages_get_alpacas_errors_and_the_connection_stays() {
    let (server, proxy) = exchange_and_proxy(|limits| limits.message_bytes_max = 1024).await;
    let mut ws = raw_client(&proxy).await;
    for (request, answer) in [
        (
            "not json".to_owned(),
            r#"[{"T":"error","code":400,"msg":"invalid syntax"}]"#,
        ),
        (
            format!(
                r#"{{"action":"subscribe","quotes":["{}"]}}"#,
                "A".repeat(2000)
            ),
            r#"[{"T":"error","code":400,"msg":"invalid syntax"}]"#,
        ),
        (
            r#"{"action":"subscribe","orderbooks":["AAPL"]}"#.to_owned(),
            r#"[{"T":"error","code":410,"msg":"invalid subscribe action for this feed"}]"#,
        ),
        (
            format!(r#"{{"action":"auth","key":"{CLIENT_KEY}","secret":"{CLIENT_SECRET}"}}"#),
            r#"[{"T":"error","code":403,"msg":"already authenticated"}]"#,
        ),
    ] {
        ws.send(Message::text(request)).await.expect("send");
        let reply = ws.next().await.expect("a reply").expect("a reply");
        assert_eq!(reply.to_text().expect("text"), answer);
    }
    ws.send(Message::text(r#"{"action":"subscribe","quotes":["AAPL"]}"#))
        .await
        .expect("send");
    let ack = ws.next().await.expect("ack").expect("ack");
    assert!(
        ack.to_text()
            .expect("text")
            .contains(r#""quotes":["AAPL"]"#),
        "{ack:?}"
    );
    shut_down(proxy, server).await;
}

/// A raw client that received the greeting and sent nothing yet.
async fn raw_unauthenticated(proxy: &tickwire_proxy::Proxy) -> RawClient {
    raw_greeted(proxy, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_credentials_end_the_connection() {
    let (server, proxy) =
        exchange_and_proxy(|limits| limits.auth_timeout = Duration::from_millis(200)).await;

    let mut ws = raw_unauthenticated(&proxy).await;
    ws.send(Message::text(format!(
        r#"{{"action":"auth","key":"{CLIENT_KEY}","secret":"{UPSTREAM_SECRET}"}}"#
    )))
    .await
    .expect("send");
    expect_reply(&mut ws, r#"[{"T":"error","code":402,"msg":"auth failed"}]"#).await;
    assert!(
        matches!(ws.next().await, Some(Ok(Message::Close(_))) | None),
        "closed after 402"
    );

    let mut ws = raw_unauthenticated(&proxy).await;
    expect_reply(
        &mut ws,
        r#"[{"T":"error","code":404,"msg":"auth timeout"}]"#,
    )
    .await;
    assert!(sessions(&server).is_empty(), "nothing went upstream");
    shut_down(proxy, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_cut_off_alone_with_407() {
    let server = exchange_ticking(Duration::from_millis(2)).await;
    let mut limits = quick_limits();
    limits.client_queue_frames = 8;
    limits.socket_send_buffer_bytes = Some(16 * 1024);
    let proxy = proxy(&server, limits).await;
    let mut healthy = market_client(&proxy, Encoding::MsgPack);
    healthy
        .subscribe(Channel::Quotes, ["AAPL", "MSFT", "SPY"])
        .await
        .expect("subscribe");

    // The stalled client subscribes to everything, then never reads.
    let mut stalled = raw_client_small_window(&proxy).await;
    stalled
        .send(Message::text(r#"{"action":"subscribe","quotes":["*"]}"#))
        .await
        .expect("send");
    let mut seen = Seen::default();
    read_until(&mut healthy, &mut seen, "the slow client's cut-off", |_| {
        proxy.status().slow_clients_dropped >= 1
    })
    .await;
    let count = seen.quotes.values().sum::<usize>();
    read_until(&mut healthy, &mut seen, "quotes after the cut-off", |s| {
        s.quotes.values().sum::<usize>() >= count + 30
    })
    .await;
    assert_eq!(seen.gaps, 0, "the healthy client was disturbed");

    // What the stalled client finds when it reads at last: data, then 407, then the close.
    let mut last_text = String::new();
    let drained = tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(message)) = stalled.next().await {
            match message {
                Message::Text(text) => last_text = text.to_string(),
                Message::Close(_) => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "the stalled client's connection stayed open"
    );
    assert_eq!(
        last_text,
        r#"[{"T":"error","code":407,"msg":"slow client"}]"#
    );
    healthy.shutdown().await.expect("shutdown");
    shut_down(proxy, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_further_clients_until_one_leaves() {
    let (server, proxy) = exchange_and_proxy(|limits| limits.connections_max = 1).await;
    let first = raw_client(&proxy).await;

    // The second is accepted by the kernel but not served while the first holds the only permit.
    let waiting = tokio::spawn({
        let url = proxy.url("/v2/iex");
        let addr = proxy.local_addr();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            tokio_tungstenite::client_async(url, tcp).await.map(|_| ())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a second client was served past the cap of 1"
    );
    drop(first);
    let served = tokio::time::timeout(PATIENCE, waiting).await;
    assert!(
        matches!(served, Ok(Ok(Ok(())))),
        "the second client was not served after the first left: {served:?}"
    );
    shut_down(proxy, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_is_closed_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;

    let (server, proxy) =
        exchange_and_proxy(|limits| limits.handshake_timeout = Duration::from_millis(200)).await;
    let mut silent = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .expect("connect");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the proxy kept a silent socket open: {read:?}"
    );
    assert_eq!(proxy.status().connections, 0);
    shut_down(proxy, server).await;
}
