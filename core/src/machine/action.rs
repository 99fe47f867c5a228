//! What the machine asks its transport to do.

use crate::{ConnectRequest, Frame};

use super::ConnectionEpoch;

/// An instruction for the transport, drained with [`Machine::poll_action`](super::Machine::poll_action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a connection; report the outcome tagged with `epoch`.
    Connect {
        /// The attempt this connection belongs to.
        epoch: ConnectionEpoch,
        /// Where and how to connect.
        request: ConnectRequest,
    },
    /// Send a frame on the connection of `epoch`.
    Send {
        /// The connection to send on; drop the frame if it is not the current one.
        epoch: ConnectionEpoch,
        /// The frame.
        frame: Frame,
    },
    /// Close the connection of `epoch` (harmless if it is already gone).
    Close {
        /// The connection to close.
        epoch: ConnectionEpoch,
    },
}
