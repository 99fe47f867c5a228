//! The real server: installed, started with JetStream, greeting clients,
//! gone after drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use tickwire_nats_server::{NatsServer, VERSION_MIN};

fn start() -> NatsServer {
    NatsServer::start(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap_or_else(|error| panic!("no nats-server for the test: {error}"))
}

#[test]
fn a_started_server_speaks_nats_with_jetstream_and_stops_on_drop() {
    let server = start();
    let mut parts = server
        .version()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    assert!(version >= VERSION_MIN, "version {}", server.version());

    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut info = [0_u8; 4096];
    let read = stream.read(&mut info).expect("INFO");
    let info = String::from_utf8_lossy(&info[..read]).into_owned();
    assert!(info.starts_with("INFO "), "{info}");
    assert!(
        info.contains("\"jetstream\":true"),
        "JetStream is off: {info}"
    );
    stream.write_all(b"CONNECT {}\r\nPING\r\n").expect("write");
    let mut pong = Vec::new();
    let mut byte = [0_u8; 64];
    while !String::from_utf8_lossy(&pong).contains("PONG") {
        let read = stream.read(&mut byte).expect("PONG");
        assert!(
            read > 0,
            "the server closed: {}",
            String::from_utf8_lossy(&pong)
        );
        pong.extend_from_slice(&byte[..read]);
    }

    let port = server.port();
    let log = server.log();
    assert!(log.contains("JetStream"), "{log}");
    drop(server);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens after drop"
    );
}

#[test]
fn two_servers_run_side_by_side() {
    let (a, b) = (start(), start());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.url(), b.url());
}
