//! `tickwire sim`.

use crate::args::SimArgs;
use crate::error::CliError;

pub(crate) fn run(args: SimArgs) -> Result<(), CliError> {
    let _ = args;
    Err(CliError::runtime("not yet"))
}
