//! `MockTransport`: a mockall mock of tickwire-core's `Transport`.

use async_trait::async_trait;
use mockall::mock;
use tickwire_core::{ConnectRequest, Frame, Transport, TransportError};

mock! {
    /// A mockall mock of [`Transport`], for unit tests of drivers: set
    /// expectations with `expect_connect`, `expect_send`, `expect_flush`,
    /// `expect_recv` and `expect_close`.
    ///
    /// ```
    /// use tickwire_core::{Frame, Transport, TransportError};
    /// use tickwire_mock::MockTransport;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut transport = MockTransport::new();
    /// transport.expect_recv().times(1).returning(|| Ok(Frame::text("[]")));
    /// transport.expect_recv().returning(|| Err(TransportError::NotConnected));
    /// assert_eq!(transport.recv().await, Ok(Frame::text("[]")));
    /// assert_eq!(transport.recv().await, Err(TransportError::NotConnected));
    /// # }
    /// ```
    pub Transport {}

    #[async_trait]
    impl Transport for Transport {
        async fn connect(&mut self, request: &ConnectRequest) -> Result<(), TransportError>;
        async fn send(&mut self, frame: Frame) -> Result<(), TransportError>;
        async fn flush(&mut self) -> Result<(), TransportError>;
        async fn recv(&mut self) -> Result<Frame, TransportError>;
        async fn close(&mut self) -> Result<(), TransportError>;
    }
}
