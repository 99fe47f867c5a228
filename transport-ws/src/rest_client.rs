//! A kept HTTP client for the vendor's REST API, for what a stream fetches
//! again after a gap: the stream's credentials, TLS trust and backoff
//! policy, retries decided by [`FetchRetry`].

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use tickwire_core::machine::MachineConfig;
use tickwire_recovery::{Attempt, FETCH_ATTEMPTS_MAX_DEFAULT, FetchRetry, Retry};

use crate::endpoint::is_loopback_host;
use crate::tls_roots::{self, TlsTrust};

/// How long one attempt may take, by default.
pub const REST_ATTEMPT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// Largest answer body read, in bytes; a larger one fails the attempt.
const BODY_BYTES_MAX: usize = 64 << 20;

/// Header names of the key pair, as the REST API takes them.
const KEY_ID_HEADER: &str = "apca-api-key-id";
const SECRET_HEADER: &str = "apca-api-secret-key";

/// A REST request that did not succeed, naming the request and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GET {request}: {reason}")]
pub struct RestError {
    /// The path and query asked for (never credentials: they travel in headers).
    pub request: String,
    /// Why it failed, after any retries.
    pub reason: String,
}

/// A kept REST client: one connection pool, the credentials in headers
/// marked sensitive (never logged), every request retried by the stream's
/// backoff policy.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tickwire_alpaca::credentials_from_env;
/// use tickwire_core::machine::MachineConfig;
/// use tickwire_ws::{RestClient, TlsTrust};
///
/// let config = MachineConfig::new("wss://paper-api.alpaca.markets/stream", credentials_from_env()?);
/// let rest = RestClient::new("https://paper-api.alpaca.markets", &config, &TlsTrust::default())?;
/// let orders = rest.get("/v2/orders?status=all&direction=asc&limit=500").await?;
/// # drop(orders); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    config: MachineConfig,
    attempts_max: u32,
}

impl RestClient {
    /// A client for the API at `base_url` (`https://…`; `http://` only on a
    /// loopback address), with `config`'s credentials and backoff policy.
    pub fn new(base_url: &str, config: &MachineConfig, tls: &TlsTrust) -> Result<Self, RestError> {
        Self::build(base_url, config, tls, false)
    }

    /// As [`new`](Self::new); `allow_insecure` also accepts `http://` to
    /// another machine (a stream built with `allow_insecure(true)`).
    pub(crate) fn build(
        base_url: &str,
        config: &MachineConfig,
        tls: &TlsTrust,
        allow_insecure: bool,
    ) -> Result<Self, RestError> {
        let refused = |reason: String| RestError {
            request: base_url.to_owned(),
            reason,
        };
        let base = base_url.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| refused(format!("invalid URL: {e}")))?;
        let host = url.host_str().unwrap_or_default();
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure || is_loopback_host(host) => {}
            "http" => {
                return Err(refused(format!(
                    "refusing to send credentials over plain http:// to {host}: use https://"
                )));
            }
            other => {
                return Err(refused(format!(
                    "the scheme must be https://, not {other}://"
                )));
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (KEY_ID_HEADER, config.credentials.key_id()),
            (SECRET_HEADER, config.credentials.secret()),
        ] {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| refused("the credentials are not valid header text".to_owned()))?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), value);
        }
        let tls = tls_roots::client_config(tls).map_err(|e| refused(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .default_headers(headers)
            .timeout(REST_ATTEMPT_TIMEOUT_DEFAULT)
            .build()
            .map_err(|e| refused(format!("HTTP client setup: {e}")))?;
        Ok(Self {
            http,
            base,
            config: config.clone(),
            attempts_max: FETCH_ATTEMPTS_MAX_DEFAULT,
        })
    }

    /// At most `attempts` attempts per request (default 5).
    #[must_use]
    pub fn with_attempts_max(mut self, attempts: u32) -> Self {
        self.attempts_max = attempts.max(1);
        self
    }

    /// `GET base + path_and_query`; the body of the first 2xx answer, after
    /// as many retries as [`FetchRetry`] allows.
    pub async fn get(&self, path_and_query: &str) -> Result<Bytes, RestError> {
        let failed = |reason: String| RestError {
            request: path_and_query.to_owned(),
            reason,
        };
        let url = format!("{}{path_and_query}", self.base);
        let mut retry = FetchRetry::new(&self.config, self.attempts_max);
        loop {
            let (attempt, body) = match self.http.get(&url).send().await {
                Ok(response) => {
                    let code = response.status().as_u16();
                    let retry_after = retry_after(response.headers());
                    let body = read_body(response).await;
                    match body {
                        Ok(body) => (Attempt::Status { code, retry_after }, body),
                        Err(error) => (Attempt::Unreachable(error), Bytes::new()),
                    }
                }
                Err(error) if error.is_timeout() => (Attempt::TimedOut, Bytes::new()),
                Err(error) => (Attempt::Unreachable(describe(&error)), Bytes::new()),
            };
            match retry.next(&attempt) {
                Retry::Done => return Ok(body),
                Retry::After(delay) => {
                    tracing::debug!(
                        request = path_and_query,
                        ?attempt,
                        ?delay,
                        "REST: trying again"
                    );
                    tokio::time::sleep(delay).await;
                }
                Retry::GiveUp(reason) => return Err(failed(with_body(reason, &body))),
            }
        }
    }
}

/// The body, up to [`BODY_BYTES_MAX`].
async fn read_body(mut response: reqwest::Response) -> Result<Bytes, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > BODY_BYTES_MAX {
            return Err(format!("the answer is larger than {BODY_BYTES_MAX} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// `Retry-After` in seconds (the date form is not used by REST APIs that
/// rate-limit per minute, and is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}

/// A reqwest error with its causes (the TLS one named as the stream names it).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    tls_roots::describe_tls_error(&text)
}

/// The reason, with the server's own message when its body has one.
fn with_body(reason: String, body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned));
    match message {
        Some(message) => format!("{reason}: {message}"),
        None => reason,
    }
}
