//! `wss://` to a server whose certificate comes from a private CA: refused
//! with advice by default, accepted once the CA is trusted.

use std::path::PathBuf;

use tickwire_core::{ConnectRequest, Frame, Transport};
use tickwire_mock::{ExchangeConfig, LoopbackConfig, LoopbackServer, TlsFront};
use tickwire_ws::{TlsTrust, WsConfig, WsTransport};

fn request(url: String) -> ConnectRequest {
    ConnectRequest {
        url,
        headers: vec![],
    }
}

fn transport(trust: TlsTrust) -> WsTransport {
    let mut config = WsConfig::default();
    config.tls_trust = trust;
    WsTransport::new(config)
}

#[tokio::test]
async fn a_private_ca_is_refused_with_advice_until_it_is_trusted() {
    let server = LoopbackServer::start(LoopbackConfig::new(ExchangeConfig::new(3)))
        .await
        .expect("loopback server");
    let front = TlsFront::start(server.local_addr())
        .await
        .expect("TLS front");
    let url = front.url("/v2/test");

    let error = transport(TlsTrust::default())
        .connect(&request(url.clone()))
        .await
        .expect_err("an unknown CA is not trusted");
    let message = error.to_string();
    assert!(message.contains("not signed by a trusted CA"), "{message}");
    assert!(message.contains("SSL_CERT_FILE"), "{message}");

    let ca_file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tls-trust-test-ca.pem");
    front.write_ca_file(&ca_file).expect("write the CA file");
    let mut trusted = transport(TlsTrust::default().with_ca_file(&ca_file));
    trusted
        .connect(&request(url))
        .await
        .expect("connects once the CA is trusted");
    let greeting = trusted.recv().await.expect("the exchange's greeting");
    let Frame::Text(text) = greeting else {
        panic!("a text greeting, got {greeting:?}")
    };
    assert!(
        String::from_utf8_lossy(&text).contains("connected"),
        "{text:?}"
    );

    let missing = transport(TlsTrust::default().with_ca_file("/nonexistent/ca.pem"))
        .connect(&request(front.url("/v2/test")))
        .await
        .expect_err("a missing CA file is an error");
    assert!(
        missing.to_string().contains("/nonexistent/ca.pem"),
        "{missing}"
    );

    front.shutdown();
    server.shutdown().await;
}
