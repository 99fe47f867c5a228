//! `tickwire serve --admin ADDR`: the simulated exchange's side door, for
//! tests and demonstrations of clients, proxies and relays.
//!
//! - `GET /metrics`: Prometheus text: sessions open per endpoint, their
//!   peak, sessions opened, coded errors sent (406: connection limit) and
//!   restarts. A proxy or relay that keeps one upstream per feed shows a
//!   peak of 1.
//! - `GET /subscriptions`: JSON lines, one per open session, its endpoint
//!   and its symbols per channel.
//! - `GET /journal/orders`: JSON lines, every order state change made since
//!   the admin endpoint started (`key_id`, `order_id`, `status`,
//!   `filled_qty`), for checking what reached a client.
//! - `POST /faults/NAME[?endpoint=PATH]`: applies a fault to every open
//!   session (of one endpoint, e.g. `/v2/iex`): `reset` (TCP reset, no close
//!   frame; the slot stays busy for `--reap-after`), `close` (close frame
//!   1011), `silence`, `resume`, `garbage`, `oversized`, `stop-reading`; and
//!   `restart` (every connection reset, every slot freed).
//!
//! It has no authentication, so it listens on loopback only.

use std::fmt::Write as _;
use std::net::SocketAddr;

use tickwire_mock::{Endpoint, Exchange, Fault, SharedExchange};

use crate::commands::metrics_endpoint::PROMETHEUS_TEXT;
use crate::commands::serve_inspect;
use crate::commands::serve_journal::OrderJournal;
use crate::error::CliError;
use crate::http::{self, Reply, RequestLine};

/// The fault names `POST /faults/NAME` takes.
const FAULT_NAMES: &str =
    "reset, close, silence, resume, garbage, oversized, stop-reading, restart";

/// Serves the admin endpoint on `addr` (loopback only); returns the bound address.
///
/// # Errors
/// [`CliError::Usage`] for a non-loopback address, [`CliError::Runtime`]
/// when it cannot be bound.
pub(crate) async fn start(
    addr: SocketAddr,
    exchange: SharedExchange,
) -> Result<SocketAddr, CliError> {
    if !addr.ip().is_loopback() {
        return Err(CliError::usage(format!(
            "--admin {addr} is not a loopback address: the admin endpoint injects faults \
             and has no authentication; use 127.0.0.1:PORT"
        )));
    }
    let journal = OrderJournal::start(&exchange);
    http::start(addr, "the admin endpoint", move |request| {
        handle(request, &exchange, &journal)
    })
    .await
}

/// Routes one request.
fn handle(request: &RequestLine, exchange: &SharedExchange, journal: &OrderJournal) -> Reply {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/subscriptions") => {
            json_lines(exchange.with(|ex, _| serve_inspect::subscriptions(ex)))
        }
        ("GET", "/journal/orders") => json_lines(journal.render(exchange)),
        ("GET", "/metrics") => Reply {
            status: "200 OK",
            content_type: PROMETHEUS_TEXT,
            body: exchange.with(|ex, _| render_metrics(ex)),
        },
        ("POST", path) if path.starts_with("/faults/") => {
            let name = &path["/faults/".len()..];
            match request.param("endpoint").map(Endpoint::from_path) {
                Some(None) => Reply::text(
                    "400 Bad Request",
                    format!(
                        "unknown endpoint {:?}: give a path such as /v2/iex or /stream\n",
                        request.param("endpoint").unwrap_or_default()
                    ),
                ),
                Some(Some(endpoint)) => apply(exchange, name, Some(endpoint)),
                None => apply(exchange, name, None),
            }
        }
        _ => Reply::text(
            "404 Not Found",
            "served here: GET /metrics, GET /subscriptions, GET /journal/orders, \
             POST /faults/NAME[?endpoint=PATH]\n"
                .into(),
        ),
    }
}

/// `200 OK` with JSON lines.
fn json_lines(body: String) -> Reply {
    Reply {
        status: "200 OK",
        content_type: "application/jsonl",
        body,
    }
}

/// Applies the fault `name` to every open session (of `endpoint`).
fn apply(exchange: &SharedExchange, name: &str, endpoint: Option<Endpoint>) -> Reply {
    if name == "restart" {
        exchange.with(|ex, now| ex.restart(now));
        return Reply::ok("restarted: every connection reset\n".into());
    }
    let Some(fault) = fault_named(name) else {
        return Reply::text(
            "404 Not Found",
            format!("unknown fault {name:?}; the faults are: {FAULT_NAMES}\n"),
        );
    };
    let hit = exchange.with(|ex, now| {
        let sessions: Vec<_> = ex
            .sessions()
            .filter(|id| endpoint.is_none() || ex.endpoint(*id) == endpoint)
            .collect();
        for id in &sessions {
            ex.inject(now, *id, fault.clone());
        }
        sessions.len()
    });
    tracing::info!(fault = name, sessions = hit, "fault injected");
    Reply::ok(format!("{name}: applied to {hit} sessions\n"))
}

fn fault_named(name: &str) -> Option<Fault> {
    Some(match name {
        "reset" => Fault::Reset,
        "close" => Fault::Close {
            code: 1011,
            reason: "fault injected by the admin endpoint".into(),
        },
        "silence" => Fault::Silence,
        "resume" => Fault::Resume,
        "garbage" => Fault::Garbage,
        "oversized" => Fault::Oversized,
        "stop-reading" => Fault::StopReading,
        _ => return None,
    })
}

/// The exchange's counters in Prometheus' text format.
fn render_metrics(ex: &Exchange) -> String {
    let stats = ex.stats();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let per_endpoint = |value: &dyn Fn(Endpoint) -> String| {
        stats
            .opened
            .keys()
            .map(|e| (format!("endpoint=\"{e}\""), value(*e)))
            .collect::<Vec<_>>()
    };
    family(
        "tickwire_exchange_sessions",
        "gauge",
        "Sessions open now, per endpoint.",
        per_endpoint(&|e| ex.open_sessions(e).to_string()),
    );
    family(
        "tickwire_exchange_sessions_peak",
        "gauge",
        "The most sessions open at once, per endpoint.",
        per_endpoint(&|e| stats.open_peak.get(&e).copied().unwrap_or(0).to_string()),
    );
    family(
        "tickwire_exchange_sessions_opened_total",
        "counter",
        "Sessions opened, per endpoint.",
        per_endpoint(&|e| stats.opened[&e].to_string()),
    );
    family(
        "tickwire_exchange_errors_sent_total",
        "counter",
        "Coded error messages sent, per code (406: connection limit).",
        stats
            .errors_sent
            .iter()
            .map(|(code, n)| (format!("code=\"{code}\""), n.to_string()))
            .collect(),
    );
    let _ = writeln!(
        out,
        "# HELP tickwire_exchange_restarts_total Exchange restarts.\n\
         # TYPE tickwire_exchange_restarts_total counter\n\
         tickwire_exchange_restarts_total {}",
        ex.restarts()
    );
    out
}

#[cfg(test)]
mod tests {
    use tickwire_core::Frame;
    use tickwire_mock::{Account, ExchangeConfig};

    use super::*;

    fn exchange() -> SharedExchange {
        SharedExchange::new(ExchangeConfig::new(1).with_account(Account::new("K", "S")))
    }

    fn request(line: &str) -> RequestLine {
        RequestLine::parse(format!("{line} HTTP/1.1\r\n\r\n").as_bytes()).expect("a request line")
    }

    /// The answer to `line`, with a journal started now.
    fn answer(line: &str, exchange: &SharedExchange) -> Reply {
        handle(&request(line), exchange, &OrderJournal::default())
    }

    #[tokio::test]
    async fn metrics_count_sessions_peaks_and_406() {
        let exchange = exchange();
        let auth = Frame::text(r#"{"action":"auth","key":"K","secret":"S"}"#);
        exchange.with(|ex, now| {
            for _ in 0..2 {
                let id = ex.open(now, "/v2/iex", &[]).expect("open");
                ex.handle_frame(now, id, auth.clone());
            }
        });
        let reply = answer("GET /metrics", &exchange);
        assert_eq!(reply.status, "200 OK");
        for line in [
            "tickwire_exchange_sessions{endpoint=\"/v2/iex\"} 1",
            "tickwire_exchange_sessions_peak{endpoint=\"/v2/iex\"} 2",
            "tickwire_exchange_sessions_opened_total{endpoint=\"/v2/iex\"} 2",
            "tickwire_exchange_errors_sent_total{code=\"406\"} 1",
            "tickwire_exchange_restarts_total 0",
        ] {
            assert!(
                reply.body.lines().any(|l| l == line),
                "no {line:?} in\n{}",
                reply.body
            );
        }
    }

    #[tokio::test]
    async fn faults_reach_the_sessions_of_the_endpoint_named() {
        let exchange = exchange();
        exchange.with(|ex, now| {
            ex.open(now, "/v2/iex", &[]).expect("open");
            ex.open(now, "/stream", &[]).expect("open");
        });
        let reply = answer("POST /faults/reset?endpoint=/v2/iex", &exchange);
        assert_eq!(reply, Reply::ok("reset: applied to 1 sessions\n".into()));
        let open = exchange.with(|ex, _| {
            (
                ex.open_sessions(Endpoint::Iex),
                ex.open_sessions(Endpoint::Trading),
            )
        });
        assert_eq!(open, (0, 1));

        let reply = answer("POST /faults/close", &exchange);
        assert_eq!(reply.body, "close: applied to 1 sessions\n");
        let reply = answer("POST /faults/restart", &exchange);
        assert_eq!(reply.status, "200 OK");
        assert_eq!(exchange.with(|ex, _| ex.restarts()), 1);
    }

    #[tokio::test]
    async fn unknown_faults_endpoints_and_routes_are_named_in_the_answer() {
        let exchange = exchange();
        let reply = answer("POST /faults/explode", &exchange);
        assert_eq!(reply.status, "404 Not Found");
        assert!(reply.body.contains("\"explode\"") && reply.body.contains("reset, close"));
        let reply = answer("POST /faults/reset?endpoint=/v9/nope", &exchange);
        assert_eq!(reply.status, "400 Bad Request");
        assert!(reply.body.contains("/v9/nope"), "{}", reply.body);
        let reply = answer("GET /faults/reset", &exchange);
        assert_eq!(reply.status, "404 Not Found");
    }

    #[tokio::test]
    async fn subscriptions_and_order_changes_are_shown_as_json_lines() {
        let exchange = exchange();
        let journal = OrderJournal::start(&exchange);
        exchange.with(|ex, now| {
            let id = ex.open(now, "/v2/iex", &[]).expect("open");
            ex.handle_frame(
                now,
                id,
                Frame::text(r#"{"action":"auth","key":"K","secret":"S"}"#),
            );
            ex.handle_frame(
                now,
                id,
                Frame::text(r#"{"action":"subscribe","quotes":["AAPL","MSFT"],"trades":["SPY"]}"#),
            );
            ex.open_trading_listener(now, "K", "S").expect("listens");
            ex.handle_timeout(now + std::time::Duration::from_secs(30));
        });
        let reply = handle(&request("GET /subscriptions"), &exchange, &journal);
        assert_eq!(reply.content_type, "application/jsonl");
        let sessions: Vec<serde_json::Value> = reply
            .body
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        let iex = sessions
            .iter()
            .find(|s| s["endpoint"] == "/v2/iex")
            .unwrap_or_else(|| panic!("no iex session in {sessions:?}"));
        assert_eq!(iex["quotes"], serde_json::json!(["AAPL", "MSFT"]));
        assert_eq!(iex["trades"], serde_json::json!(["SPY"]));

        let first = handle(&request("GET /journal/orders"), &exchange, &journal).body;
        let changes: Vec<serde_json::Value> = first
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert!(!changes.is_empty(), "no order changed in 30 s");
        assert!(
            changes.iter().all(|c| c["key_id"] == "K"
                && c["order_id"].is_string()
                && c["status"].is_string()),
            "{changes:?}"
        );
        // Asked again, it shows the same changes (and any made since).
        let again = handle(&request("GET /journal/orders"), &exchange, &journal).body;
        assert!(
            again.starts_with(&first),
            "the journal forgot what it showed"
        );
    }

    #[tokio::test]
    async fn a_remote_address_is_refused() {
        let addr: SocketAddr = "0.0.0.0:0".parse().expect("an address");
        let error = start(addr, exchange()).await.expect_err("refused");
        assert!(error.to_string().contains("loopback"), "{error}");
    }
}
