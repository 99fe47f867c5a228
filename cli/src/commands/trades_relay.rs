//! `tickwire trades --relay URL`: an account's order and fill updates read
//! from the JetStream stream a `tickwire relay --trade-updates` publishes.

use tickwire_alpaca::TradeUpdate;
use tickwire_relay::{TradeUpdates, TradeUpdatesStart};

use crate::error::CliError;
use crate::follow::{Sink, SinkError};
use crate::notice;
use crate::output::{Printer, Style};
use crate::target::RelayTradesPlan;

/// Prints the updates until a limit, Ctrl-C or SIGTERM; then says the last
/// sequence read, to go on after it with `--after`.
///
/// # Errors
/// [`CliError::Runtime`] when NATS or the stream cannot be reached, or the
/// NATS connection ends; a failed write to stdout.
pub(crate) async fn run(plan: RelayTradesPlan) -> Result<(), CliError> {
    let mut updates = TradeUpdates::subscribe(&plan.nats, &plan.account, plan.start)
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    notice(&format!(
        "trade updates of account {:?} from the relay at {} ({})",
        plan.account,
        plan.nats,
        match plan.start {
            TradeUpdatesStart::After(sequence) => format!("after sequence {sequence}"),
            TradeUpdatesStart::All => "everything kept".to_owned(),
            TradeUpdatesStart::New => "new ones".to_owned(),
        }
    ));
    let style = if plan.json { Style::Json } else { Style::Human };
    let mut printer = Printer::stdout(style);
    let deadline = plan
        .limits
        .duration
        .map(|d| tokio::time::Instant::now() + d);
    let mut last = None;
    let mut printed = 0u64;
    let outcome = loop {
        let next = tokio::select! {
            interrupted = tokio::signal::ctrl_c() => {
                break interrupted.map_err(|e| CliError::runtime(format!("cannot wait for Ctrl-C: {e}")));
            }
            () = crate::follow::terminated() => break Ok(()),
            () = sleep_until(deadline) => break Ok(()),
            next = updates.next() => next,
        };
        let Some(relayed) = next else {
            break Err(CliError::runtime(format!(
                "the connection to NATS at {} ended",
                plan.nats
            )));
        };
        if relayed.sequence > 0 {
            last = Some(relayed.sequence);
        }
        let data = relayed.event.is_data();
        if let Err(error) = printer
            .event(&relayed.event)
            .and_then(|()| Sink::<TradeUpdate>::flush(&mut printer))
        {
            break match error {
                SinkError::Closed => Ok(()),
                SinkError::Failed(message) => Err(CliError::runtime(message)),
            };
        }
        printed += u64::from(data);
        if plan.limits.count.is_some_and(|count| printed >= count) {
            break Ok(());
        }
    };
    let _ = Sink::<TradeUpdate>::flush(&mut printer);
    match last {
        Some(sequence) => notice(&format!(
            "last sequence read: {sequence} (go on with --after {sequence})"
        )),
        None => notice("no update read"),
    }
    outcome
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
