//! `watch` over `wss://` to an exchange whose certificate comes from a
//! private CA: refused with advice, accepted with `--ca-file` or with
//! `SSL_CERT_FILE`.

mod support;

use std::path::PathBuf;

use support::{exits_with, is_data, json_lines, succeeds, tickwire};
use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer, TlsFront};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_by_flag_or_environment_and_refused_otherwise() {
    let exchange = ExchangeConfig::new(8).with_account(Account::new("PKTLS", "tls-secret"));
    let server = LoopbackServer::start(LoopbackConfig::new(exchange))
        .await
        .expect("loopback server");
    let front = TlsFront::start(server.local_addr())
        .await
        .expect("TLS front");
    let ca_file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-tls-trust-ca.pem");
    front.write_ca_file(&ca_file).expect("write the CA file");
    let url = front.url("/v2/iex");

    let watch = move |extra: &[&str], ssl_cert_file: Option<&PathBuf>| {
        let mut command = tickwire();
        command
            .args(["watch", "--json", "--count", "3", "--url", &url])
            .args(["--key", "PKTLS", "--secret", "tls-secret"])
            .args(extra)
            .arg("SPY")
            .env_remove("SSL_CERT_FILE");
        if let Some(file) = ssl_cert_file {
            command.env("SSL_CERT_FILE", file);
        }
        command
    };
    let ca = ca_file.to_str().expect("a UTF-8 path").to_owned();
    let outcome = tokio::task::spawn_blocking(move || {
        let refused = exits_with(&mut watch(&[], None), 1);
        let by_flag = succeeds(&mut watch(&["--ca-file", &ca], None));
        let by_env = succeeds(&mut watch(&[], Some(&ca_file)));
        (refused, by_flag, by_env)
    })
    .await
    .expect("the commands ran");
    let (refused, by_flag, by_env) = outcome;

    assert!(refused.contains("not signed by a trusted CA"), "{refused}");
    assert!(refused.contains("--ca-file"), "{refused}");
    for output in [by_flag, by_env] {
        let data = json_lines(&output.stdout)
            .into_iter()
            .filter(is_data)
            .count();
        assert_eq!(data, 3, "{}", String::from_utf8_lossy(&output.stderr));
    }
    front.shutdown();
    server.shutdown().await;
}
