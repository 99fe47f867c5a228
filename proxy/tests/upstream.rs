//! A feed's upstream stream that fails before the server answered a
//! subscribe settles no request: the stream's end closes every client, and
//! no client is told it holds symbols no upstream confirmed.

mod support;

use std::time::Duration;

use support::{PATIENCE, UPSTREAM_KEY, exchange};
use tickwire_alpaca::{Channel, Feed};
use tickwire_core::{Credentials, Symbol};
use tickwire_fanout::{ClientId, FanoutHub};
use tickwire_proxy::upstream::{FeedUpstream, UpstreamNews, UpstreamSettings};

/// How long verdicts are still looked for after the stream ended: far
/// longer than the commander task needs to pass one on.
const AFTER_THE_END: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_refused_by_the_server_settles_no_request() {
    let server = exchange().await;
    let settings = UpstreamSettings::new(
        Feed::Iex,
        server.url("/v2/iex"),
        Credentials::new(UPSTREAM_KEY, "wrong-secret"),
    );
    let mut upstream = FeedUpstream::new(settings);
    let mut hub = FanoutHub::new();
    let client = ClientId(1);
    hub.handle_join(client);
    hub.handle_subscribe(
        client,
        Channel::Quotes,
        [Symbol::new("AAPL").expect("valid")],
    )
    .expect("a member");
    upstream.perform(&mut hub).expect("the stream is built");

    let mut verdicts = Vec::new();
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match upstream.next().await {
                UpstreamNews::Outcome(token, outcome) => verdicts.push((token, outcome)),
                UpstreamNews::Event(None) => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the refused stream never ended");
    // A verdict the commander passes on after the end still counts.
    let deadline = tokio::time::Instant::now() + AFTER_THE_END;
    // (An ended stream's `next` is ready at once: the deadline is checked
    // here, not by a timeout around it.)
    while tokio::time::Instant::now() < deadline {
        if let Ok(UpstreamNews::Outcome(token, outcome)) =
            tokio::time::timeout_at(deadline, upstream.next()).await
        {
            verdicts.push((token, outcome));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(
        verdicts.is_empty(),
        "a stream that failed before answering settled requests: {verdicts:?}"
    );
}
