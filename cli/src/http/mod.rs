//! A small HTTP/1.1 endpoint for the daemons' side doors (`/metrics`,
//! `serve`'s fault injection): one request per connection, the request
//! line decides, bodies are not read. Not a web server: bounded request
//! size and time, loopback by default.

mod request_line;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::CliError;
pub(crate) use request_line::RequestLine;

/// Bytes of a request read before answering; the request line is all that matters.
const REQUEST_BYTES_MAX: usize = 4096;

/// Time allowed for one request and its response.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause after a failed accept (e.g. out of file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// An answer: status line text, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl Reply {
    /// `200 OK` with a plain-text body.
    pub(crate) fn ok(body: String) -> Self {
        Self::text("200 OK", body)
    }

    /// A plain-text answer with this status, e.g. `"404 Not Found"`.
    pub(crate) fn text(status: &'static str, body: String) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

/// Binds `addr` and answers each request with `handler`; returns the bound
/// address. `what` names the endpoint in errors and logs.
///
/// # Errors
/// [`CliError::Runtime`] when the address cannot be bound.
pub(crate) async fn start(
    addr: SocketAddr,
    what: &'static str,
    handler: impl Fn(&RequestLine) -> Reply + Send + Sync + 'static,
) -> Result<SocketAddr, CliError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::runtime(format!("cannot listen for {what} on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::runtime(format!("cannot read the {what} address: {e}")))?;
    tokio::spawn(serve(listener, what, Arc::new(handler)));
    Ok(bound)
}

async fn serve(
    listener: TcpListener,
    what: &'static str,
    handler: Arc<dyn Fn(&RequestLine) -> Reply + Send + Sync>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(EXCHANGE_TIMEOUT, answer(stream, &*handler)).await;
                });
            }
            Err(error) => {
                tracing::warn!(%error, what, "accept failed; trying again after a pause");
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
}

/// One request, one response, then the connection closes.
async fn answer(
    mut stream: TcpStream,
    handler: &(dyn Fn(&RequestLine) -> Reply + Send + Sync),
) -> std::io::Result<()> {
    let mut request = vec![0; REQUEST_BYTES_MAX];
    let mut len = 0;
    while len < request.len() && !request[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut request[len..]).await?;
        if read == 0 {
            break;
        }
        len += read;
    }
    let reply = match RequestLine::parse(&request[..len]) {
        Some(line) => handler(&line),
        None => Reply::text(
            "400 Bad Request",
            "expected an HTTP/1.1 request line\n".into(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(reply.body.as_bytes()).await?;
    stream.shutdown().await
}
