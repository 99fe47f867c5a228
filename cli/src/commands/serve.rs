//! `tickwire serve`.

use crate::args::ServeArgs;
use crate::error::CliError;

pub(crate) async fn run(args: ServeArgs) -> Result<(), CliError> {
    let _ = args;
    Err(CliError::runtime("not yet"))
}
