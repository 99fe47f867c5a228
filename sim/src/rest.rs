//! The simulated REST API in front of the exchange model: `GET /v2/orders`
//! answered by [`Exchange::rest_orders`] and the data API's
//! `GET /v2/stocks/trades` by [`Exchange::rest_trades`] (from the tape the
//! streams read), after a link delay, with the faults a real API has, drawn
//! per seed: 429 with (or without) `Retry-After`, 5xx, slow answers (past
//! the client's deadline too), malformed bodies, and a page that repeats
//! (the server ignores `after` or `page_token` and lists the first page
//! again).
//!
//! Its draws come from a generator of its own, so adding REST to a seed
//! leaves every draw of the link, the faults and the workload as it was.

use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use tickwire_mock::{Exchange, RestResponse};

use super::link::LinkConfig;
use super::scenario::{KEY_ID, SECRET};
use super::workload::RngExt;

/// How long a client waits for one answer before it gives the attempt up
/// (the production client's default).
pub const REST_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The REST faults of one seed: a probability per request for each.
#[derive(Debug, Clone, PartialEq)]
pub struct RestFaults {
    /// 429; `Retry-After` is sent with most of them.
    pub rate_limited: f64,
    /// 500, 502 or 503.
    pub server_error: f64,
    /// An answer up to twice the client's deadline late.
    pub slow: f64,
    /// A body that is not a page of what was asked for.
    pub malformed: f64,
    /// A page asked for with `after` answered as if without it.
    pub repeated_page: f64,
}

impl RestFaults {
    /// No faults.
    pub const NONE: Self = Self {
        rate_limited: 0.0,
        server_error: 0.0,
        slow: 0.0,
        malformed: 0.0,
        repeated_page: 0.0,
    };

    /// A mix drawn from the REST generator: each fault off or up to its
    /// ceiling times `intensity`. Malformed bodies and repeated pages give
    /// a window up, so they stay rare.
    pub fn draw(rng: &mut ChaCha8Rng, intensity: f64) -> Self {
        let k = intensity.clamp(0.0, 1.0);
        let mut rate = |ceiling: f64| {
            if rng.chance(0.5) {
                rng.unit() * ceiling * k
            } else {
                0.0
            }
        };
        Self {
            rate_limited: rate(0.3),
            server_error: rate(0.2),
            slow: rate(0.2),
            malformed: rate(0.02),
            repeated_page: rate(0.05),
        }
    }
}

/// One answer as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestAnswer {
    /// The HTTP status.
    pub status: u16,
    /// `Retry-After`, if sent.
    pub retry_after: Option<Duration>,
    /// The body.
    pub body: String,
    /// How long after the request reached the server the answer leaves it.
    pub server_time: Duration,
}

/// Answers `GET {path_and_query}` at the exchange's present state (`now`
/// on its tape), with the faults of `faults` (none when `faults_on` is false).
pub fn answer(
    exchange: &Exchange,
    now: Instant,
    path_and_query: &str,
    faults: &RestFaults,
    faults_on: bool,
    rng: &mut ChaCha8Rng,
) -> RestAnswer {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let trades = path == "/v2/stocks/trades";
    let serve = |query: &str| {
        if trades {
            exchange.rest_trades(KEY_ID, SECRET, query, now)
        } else {
            exchange.rest_orders(KEY_ID, SECRET, query)
        }
    };
    let faults = if faults_on { faults } else { &RestFaults::NONE };
    let server_time = if rng.chance(faults.slow) {
        rng.duration_up_to(REST_ATTEMPT_TIMEOUT * 2)
    } else {
        Duration::from_millis(rng.below(50))
    };
    let plain = |response: RestResponse| RestAnswer {
        status: response.status,
        retry_after: None,
        body: response.body,
        server_time,
    };
    if rng.chance(faults.rate_limited) {
        let retry_after = rng
            .chance(0.8)
            .then(|| Duration::from_secs(1 + rng.below(5)));
        return RestAnswer {
            retry_after,
            ..plain(RestResponse::error(429, 42_900_000, "rate limit exceeded"))
        };
    }
    if rng.chance(faults.server_error) {
        let status = [500, 502, 503][rng.below(3) as usize];
        return plain(RestResponse::error(status, 50_000_000, "internal error"));
    }
    if rng.chance(faults.malformed) {
        let body = if trades {
            [
                "<html>bad gateway</html>",
                r#"{"trades":{"#,
                r#"{"trades":[]}"#,
            ]
        } else {
            ["<html>bad gateway</html>", r#"[{"id":"#, r#"{"orders":[]}"#]
        };
        return plain(RestResponse {
            status: 200,
            body: body[rng.below(3) as usize].to_owned(),
        });
    }
    // What moves a page on: orders page by `after`, trades by a token.
    let paging = if trades { "page_token=" } else { "after=" };
    if query.contains(paging) && rng.chance(faults.repeated_page) {
        let first: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.starts_with(paging))
            .collect();
        return plain(serve(&first.join("&")));
    }
    plain(serve(query))
}

/// The one-way delay of a REST message on `link`.
pub fn delay(link: &LinkConfig, rng: &mut ChaCha8Rng) -> Duration {
    link.delay(rng)
}
