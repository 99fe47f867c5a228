//! What the examples share: waiting for a stream's next event.

use std::error::Error;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tickwire::{Event, StreamEvent};

/// The most an example waits for anything.
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);

/// The stream's next machine event, waiting at most [`PATIENCE`] for it.
///
/// Events dropped by the slow-consumer policy are reported and skipped; an
/// ended stream is an error.
pub(crate) async fn next_event<D, C>(
    stream: &mut (impl Stream<Item = StreamEvent<D, C>> + Unpin),
) -> Result<Event<D, C>, Box<dyn Error>> {
    loop {
        let Some(event) = tokio::time::timeout(PATIENCE, stream.next()).await? else {
            return Err("the stream ended".into());
        };
        match event {
            StreamEvent::Machine(event) => return Ok(event),
            // What a gap hid, fetched again and delivered once.
            StreamEvent::Recovered(data) => return Ok(Event::Data(data)),
            // The latest value when a subscription began (over a relay).
            StreamEvent::Snapshot(data) => return Ok(Event::Data(data)),
            StreamEvent::Dropped { count, .. } => {
                println!("{count} messages dropped: this consumer fell behind");
            }
            StreamEvent::RecoveryFailed { reason } => println!("{reason}"),
        }
    }
}
