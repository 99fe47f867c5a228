//! What a handle asks of a stream's task.

use tokio::sync::oneshot;

use tickwire_core::Symbol;
use tickwire_core::machine::{CommandError, SubscriptionOutcome};
use tickwire_core::protocol::SubscriptionOp;

/// The answer to a subscription command: the server's verdict, or why the
/// machine refused the command.
pub(crate) type Reply = Result<SubscriptionOutcome, CommandError>;

/// A command for the driver; `C` is the dialect's channel.
#[derive(Debug)]
pub(crate) enum Command<C> {
    /// Subscribe or unsubscribe; `reply` receives the verdict once settled.
    Subscription {
        op: SubscriptionOp,
        channel: C,
        symbols: Vec<Symbol>,
        reply: oneshot::Sender<Reply>,
    },
    /// Close the stream.
    Shutdown,
}
