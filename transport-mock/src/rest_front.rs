//! Plain HTTP on the loopback server's port: the REST API beside the
//! WebSocket upgrades, as on the trading host (`GET /v2/orders` next to
//! `/stream`), and the historical market-data API (`GET /v2/stocks/trades`,
//! `GET /v2/stocks/bars`, on Alpaca's own data host) from the same tape the
//! feeds stream.
//!
//! A connection's request head is read first. An upgrade goes on to the
//! WebSocket handshake with the head replayed in front of the socket
//! ([`Rewound`]); any other request is answered here and the connection
//! closed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tickwire_core::Credentials;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::SharedExchange;
use crate::model::RestResponse;

/// Longest request head read, in bytes; a longer one is answered 431.
pub(crate) const HEAD_BYTES_MAX: usize = 16 * 1024;

/// What a connection opened with.
#[derive(Debug)]
pub(crate) enum Opening {
    /// A WebSocket upgrade: hand the rewound stream to the handshake.
    Upgrade,
    /// A REST request: answered and closed.
    Rest(RestRequest),
    /// The head never ended within [`HEAD_BYTES_MAX`], or was not HTTP.
    Malformed(&'static str),
    /// The client closed before its head ended.
    Closed,
}

/// A parsed REST request: method, path, query, credentials (whose `Debug`
/// leaves the secret out).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RestRequest {
    method: String,
    path: String,
    query: String,
    credentials: Credentials,
}

/// Reads the request head from `stream`; returns what it is and every byte
/// read (the head and anything after it), to replay.
pub(crate) async fn read_opening<S: AsyncRead + Unpin>(stream: &mut S) -> (Opening, Bytes) {
    let mut read = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = head_end(&read) {
            let opening = parse_head(&read[..end]);
            return (opening, Bytes::from(read));
        }
        if read.len() >= HEAD_BYTES_MAX {
            return (Opening::Malformed("request head too long"), Bytes::new());
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return (Opening::Closed, Bytes::new()),
            Ok(n) => read.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Answers a REST request from the exchange and closes the connection.
pub(crate) async fn answer<S: AsyncWrite + Unpin>(
    stream: &mut S,
    request: &RestRequest,
    exchange: &SharedExchange,
) {
    let response = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v2/orders") => {
            let (key_id, secret) = (request.credentials.key_id(), request.credentials.secret());
            exchange.with(|ex, _| ex.rest_orders(key_id, secret, &request.query))
        }
        ("GET", "/v2/stocks/trades") => {
            let (key_id, secret) = (request.credentials.key_id(), request.credentials.secret());
            exchange.with(|ex, now| ex.rest_trades(key_id, secret, &request.query, now))
        }
        ("GET", "/v2/stocks/bars") => {
            let (key_id, secret) = (request.credentials.key_id(), request.credentials.secret());
            exchange.with(|ex, now| ex.rest_bars(key_id, secret, &request.query, now))
        }
        (_, "/v2/orders" | "/v2/stocks/trades" | "/v2/stocks/bars") => {
            RestResponse::error(405, 40_510_000, "method not allowed")
        }
        _ => RestResponse::error(404, 40_410_000, "endpoint not found"),
    };
    tracing::debug!(
        method = request.method,
        path = request.path,
        status = response.status,
        "REST request answered"
    );
    write_response(stream, &response).await;
}

/// Answers a head that cannot be served with 400 (431 when too long).
pub(crate) async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, why: &'static str) {
    let status = if why.contains("too long") { 431 } else { 400 };
    write_response(stream, &RestResponse::error(status, 40_010_000, why)).await;
}

async fn write_response<S: AsyncWrite + Unpin>(stream: &mut S, response: &RestResponse) {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(response.body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// Where the head ends (after its blank line), if it has.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

fn parse_head(head: &[u8]) -> Opening {
    let Ok(head) = std::str::from_utf8(head) else {
        return Opening::Malformed("request head is not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version)) = (start.next(), start.next(), start.next())
    else {
        return Opening::Malformed("request line is not `METHOD TARGET VERSION`");
    };
    if !version.starts_with("HTTP/1.") {
        return Opening::Malformed("not an HTTP/1 request");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (mut key_id, mut secret) = ("", "");
    let mut upgrade = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Opening::Malformed("a header line without `:`");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("upgrade") && value.eq_ignore_ascii_case("websocket") {
            upgrade = true;
        } else if name.eq_ignore_ascii_case("apca-api-key-id") {
            key_id = value;
        } else if name.eq_ignore_ascii_case("apca-api-secret-key") {
            secret = value;
        }
    }
    if upgrade {
        return Opening::Upgrade;
    }
    Opening::Rest(RestRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        credentials: Credentials::new(key_id, secret),
    })
}

/// A stream whose first bytes are ones already read from it.
#[derive(Debug)]
pub(crate) struct Rewound<S> {
    read: Bytes,
    inner: S,
}

impl<S> Rewound<S> {
    /// `inner`, with `read` in front of what it has yet to give.
    pub(crate) fn new(read: Bytes, inner: S) -> Self {
        Self { read, inner }
    }

    /// The stream underneath.
    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewound<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.read.len().min(buf.remaining());
        buf.put_slice(&self.read[..n]);
        self.read.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewound<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn opening(bytes: &[u8]) -> (Opening, Bytes) {
        let mut stream = bytes;
        read_opening(&mut stream).await
    }

    #[tokio::test]
    async fn upgrades_are_told_from_rest_requests_and_replayed_whole() {
        let upgrade = b"GET /stream HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n\r\nrest";
        let (kind, read) = opening(upgrade).await;
        assert!(matches!(kind, Opening::Upgrade), "{kind:?}");
        let mut replayed = Vec::new();
        let mut rewound = Rewound::new(read, &b" and more"[..]);
        rewound.read_to_end(&mut replayed).await.expect("reads");
        assert_eq!(replayed, [&upgrade[..], b" and more"].concat());

        let rest = b"GET /v2/orders?status=all HTTP/1.1\r\napca-api-key-id: K\r\n\
                     APCA-API-SECRET-KEY:  S \r\n\r\n";
        let (kind, _) = opening(rest).await;
        let Opening::Rest(request) = kind else {
            panic!("{kind:?}")
        };
        let expected = RestRequest {
            method: "GET".into(),
            path: "/v2/orders".into(),
            query: "status=all".into(),
            credentials: Credentials::new("K", "S"),
        };
        assert_eq!(request, expected, "headers are case-blind, values trimmed");
        assert!(!format!("{request:?}").contains("\"S\""), "{request:?}");
    }

    #[tokio::test]
    async fn bad_heads_are_named() {
        let (kind, _) = opening(b"HELLO\r\n\r\n").await;
        assert!(matches!(kind, Opening::Malformed(_)), "{kind:?}");
        let (kind, _) = opening(b"GET / SPDY/3\r\n\r\n").await;
        assert!(matches!(kind, Opening::Malformed(_)), "{kind:?}");
        let (kind, _) = opening(b"GET / HTTP/1.1\r\nno colon\r\n\r\n").await;
        assert!(matches!(kind, Opening::Malformed(_)), "{kind:?}");
        let (kind, _) = opening(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        assert!(matches!(kind, Opening::Closed), "{kind:?}");
        let long = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; HEAD_BYTES_MAX]].concat();
        let (kind, _) = opening(&long).await;
        assert!(
            matches!(kind, Opening::Malformed("request head too long")),
            "{kind:?}"
        );
    }
}
