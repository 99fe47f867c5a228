//! `tickwire record`: market data to Parquet (or CSV) files.

use std::future::pending;
use std::io::{self, Write};

use crate::commands::connection::{Connection, simulated_market_notice};
use crate::error::CliError;
use crate::record::Recorder;
use crate::target::RecordPlan;

/// Records the plan's channels and symbols until a limit, Ctrl-C, SIGTERM
/// or a fatal verdict, then closes every file and prints what was written.
///
/// # Errors
/// As for [`follow`](crate::follow::follow); also [`CliError::Runtime`] when
/// the folder cannot be written or the embedded exchange cannot start.
pub(crate) async fn run(plan: RecordPlan) -> Result<(), CliError> {
    let mut recorder = Recorder::create(&plan.out, plan.format).map_err(CliError::runtime)?;
    let source = plan.source;
    let connection = Connection::open(
        source.stream.target.clone(),
        simulated_market_notice("recording"),
    )
    .await?;

    let (handle, mut events) = connection.market_stream(&source, "record")?;

    let stopped = connection
        .follow(
            &handle,
            &mut events,
            &mut recorder,
            source.stream.limits,
            pending(),
        )
        .await;
    // Close the files whatever stopped the recording.
    let finished = recorder.finish().map_err(CliError::runtime);
    let stop = stopped?;
    let summary = finished?;
    tracing::debug!(?stop, "record done");
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{summary}")
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::runtime(format!("cannot write to stdout: {e}")))
}
