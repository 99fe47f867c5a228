//! The Prometheus `/metrics` endpoint of `tickwire proxy`: the exporter
//! lives in the binary; the libraries only use the `metrics` facade.

use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::CliError;

/// Bytes of a request read before answering; the path is all that matters.
const REQUEST_BYTES_MAX: usize = 4096;

/// Time allowed for a scrape's request and response.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder and serves `GET /metrics` on `addr`;
/// returns the bound address.
///
/// # Errors
/// [`CliError::Runtime`] when the recorder cannot be installed or the
/// address bound.
pub(crate) async fn start(addr: SocketAddr) -> Result<SocketAddr, CliError> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| CliError::runtime(format!("cannot install the metrics recorder: {e}")))?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::runtime(format!("cannot listen for /metrics on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::runtime(format!("cannot read the /metrics address: {e}")))?;
    tokio::spawn(serve(listener, handle));
    Ok(bound)
}

async fn serve(listener: TcpListener, handle: PrometheusHandle) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(SCRAPE_TIMEOUT, answer(stream, &handle)).await;
                });
            }
            Err(error) => {
                tracing::warn!(%error, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One HTTP/1.1 exchange: `GET /metrics` gets the text format, anything else 404.
async fn answer(mut stream: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    let mut request = vec![0; REQUEST_BYTES_MAX];
    let mut len = 0;
    while len < request.len() && !request[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut request[len..]).await?;
        if read == 0 {
            break;
        }
        len += read;
    }
    let line = request[..len]
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default();
    let (status, body) = if line.starts_with(b"GET /metrics ") {
        ("200 OK", handle.render())
    } else {
        ("404 Not Found", "only /metrics is served here\n".to_owned())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
