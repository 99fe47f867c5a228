//! Serves the simulated exchange on 127.0.0.1 until Ctrl-C (or stdin closes).
//!
//! ```text
//! cargo run -p tickwire-mock --example loopback -- --port 0 --seed 7 --key PKTEST --secret secret
//! ```
//!
//! Prints one line, `ws://127.0.0.1:<port>`, once listening; paths are
//! Alpaca's (`/v2/iex`, `/v2/test`, `/stream`…).

use std::io::Write;

use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer, TradingConfig};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port", "0").parse()?;
    let seed: u64 = arg(&args, "--seed", "7").parse()?;
    let key = arg(&args, "--key", "PKTEST");
    let secret = arg(&args, "--secret", "secret");
    let mut trading = TradingConfig::default();
    trading.order_interval = std::time::Duration::from_millis(500);
    let exchange = ExchangeConfig::new(seed)
        .with_account(Account::new(key, secret))
        .with_trading(trading);
    let server = LoopbackServer::start(LoopbackConfig::new(exchange).with_port(port)).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ws://{}", server.local_addr())?;
    stdout.flush()?;
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
