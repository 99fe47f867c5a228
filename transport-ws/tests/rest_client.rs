//! The REST client against the loopback exchange's REST answer and against
//! scripted HTTP servers that rate-limit, fail or stay silent. Time is
//! paused: retry delays and timeouts pass at once.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tickwire_core::Credentials;
use tickwire_core::machine::MachineConfig;
use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer};
use tickwire_ws::{RestClient, TlsTrust};

const KEY: &str = "PKREST";
const SECRET: &str = "rest-secret";

fn config(secret: &str) -> MachineConfig {
    let mut config = MachineConfig::new("ws://127.0.0.1:1/stream", Credentials::new(KEY, secret));
    config.backoff_base = Duration::from_millis(100);
    config.backoff_max = Duration::from_secs(1);
    config
}

/// A server answering each request with the next of `answers` (the last
/// one repeated; `None`: read the request and never answer); counts requests.
async fn scripted(answers: Vec<Option<&'static str>>) -> (String, Arc<AtomicUsize>) {
    support::serve(move |n, _| answers[n.min(answers.len() - 1)].map(str::to_owned)).await
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]";
const LIMITED: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const UNAVAILABLE: &str =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn lists_orders_from_the_loopback_exchange_and_names_refused_credentials() {
    let exchange = ExchangeConfig::new(3).with_account(Account::new(KEY, SECRET));
    let server = LoopbackServer::start(LoopbackConfig::new(exchange))
        .await
        .expect("loopback exchange");
    let base = format!("http://{}", server.local_addr());
    let rest = RestClient::new(&base, &config(SECRET), &TlsTrust::default()).expect("client");
    let body = rest
        .get("/v2/orders?status=all&direction=asc")
        .await
        .expect("listed");
    assert_eq!(&body[..], b"[]");

    let wrong = RestClient::new(&base, &config("wrong"), &TlsTrust::default()).expect("client");
    let error = wrong.get("/v2/orders").await.expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains("401") && text.contains("credentials refused"),
        "{text}"
    );
    assert!(
        text.contains("not authorized"),
        "the server's message: {text}"
    );
    assert!(
        !text.contains("wrong") && !format!("{wrong:?}").contains("wrong"),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rate_limits_and_server_errors_are_retried_until_an_answer() {
    let (base, requests) = scripted(vec![Some(LIMITED), Some(UNAVAILABLE), Some(OK)]).await;
    let rest = RestClient::new(&base, &config(SECRET), &TlsTrust::default()).expect("client");
    let started = tokio::time::Instant::now();
    let body = rest
        .get("/v2/orders")
        .await
        .expect("answered on the third attempt");
    assert_eq!(&body[..], b"[]");
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "Retry-After: 3 was honoured"
    );
}

#[tokio::test(start_paused = true)]
async fn repeated_failures_give_up_after_the_attempt_limit_naming_the_last() {
    let (base, requests) = scripted(vec![Some(UNAVAILABLE)]).await;
    let rest = RestClient::new(&base, &config(SECRET), &TlsTrust::default())
        .expect("client")
        .with_attempts_max(4);
    let error = rest.get("/v2/orders").await.expect_err("gives up");
    assert_eq!(requests.load(Ordering::SeqCst), 4);
    assert!(
        error
            .to_string()
            .contains("4 attempts failed; the last: status 503"),
        "{error}"
    );

    let (base, requests) = scripted(vec![None]).await;
    let rest = RestClient::new(&base, &config(SECRET), &TlsTrust::default())
        .expect("client")
        .with_attempts_max(2);
    let error = rest.get("/v2/orders").await.expect_err("times out");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert!(error.to_string().contains("no answer in time"), "{error}");
}

#[test]
fn plain_http_to_another_host_is_refused() {
    let error = RestClient::new("http://example.com", &config(SECRET), &TlsTrust::default())
        .expect_err("refused");
    assert!(error.to_string().contains("use https://"), "{error}");
    let error = RestClient::new("ftp://127.0.0.1", &config(SECRET), &TlsTrust::default())
        .expect_err("refused");
    assert!(error.to_string().contains("scheme"), "{error}");
}
