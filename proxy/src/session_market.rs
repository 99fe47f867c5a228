//! A market data client's session: greeting, authentication, then its
//! subscribe and unsubscribe requests, checked and handed to the feed's task.

use std::sync::Arc;

use tickwire_alpaca::{
    ClientMessage, Encoding, Feed, ServerMessage, decode_client_message, encode_market_frame,
};
use tickwire_core::Frame;
use tickwire_fanout::ClientId;

use crate::downstream::{Incoming, WsSource, market_error, read};
use crate::feed::FeedCommand;
use crate::metrics as names;
use crate::outbox::{Farewell, Outbox};
use crate::request_check::{check, requestable};
use crate::server::Shared;

/// Runs the session until the client leaves or the proxy ends it.
pub(crate) async fn run(
    shared: &Arc<Shared>,
    client: ClientId,
    feed: Feed,
    outbox: &Outbox,
    source: &mut WsSource,
) {
    let encoding = outbox.encoding();
    let reply = |frame: Frame| {
        let _ = outbox.push(frame);
    };
    reply(encode_market_frame(encoding, &[ServerMessage::Connected]));
    if !authenticate(shared, outbox, source).await {
        return;
    }
    reply(encode_market_frame(
        encoding,
        &[ServerMessage::Authenticated],
    ));

    let commands = shared.feed(feed);
    let joined = commands
        .send(FeedCommand::Join {
            client,
            outbox: outbox.clone(),
        })
        .await;
    if joined.is_err() {
        return;
    }
    let bytes_max = shared.config.limits.message_bytes_max;
    loop {
        let frame = match read(source, outbox, bytes_max).await {
            Incoming::Frame(frame) => frame,
            Incoming::Oversized(len) => {
                tracing::debug!(len, "oversized message refused");
                client_error(outbox, 400, "invalid syntax");
                continue;
            }
            Incoming::End => break,
        };
        let command = match decode_client_message(&frame) {
            Ok(ClientMessage::Subscribe(set)) => match check(feed, &set) {
                Ok(()) => FeedCommand::Subscribe {
                    client,
                    set: requestable(set),
                },
                Err((code, message)) => {
                    client_error(outbox, code, message);
                    continue;
                }
            },
            Ok(ClientMessage::Unsubscribe(set)) => FeedCommand::Unsubscribe {
                client,
                set: requestable(set),
            },
            Ok(ClientMessage::Auth { .. }) => {
                client_error(outbox, 403, "already authenticated");
                continue;
            }
            Ok(_) | Err(_) => {
                client_error(outbox, 400, "invalid syntax");
                continue;
            }
        };
        if commands.send(command).await.is_err() {
            break;
        }
    }
    let _ = commands.send(FeedCommand::Leave { client }).await;
}

/// Waits for valid credentials within the auth timeout. On success `true`;
/// otherwise the client was told why (402, 404) and is being disconnected.
async fn authenticate(shared: &Shared, outbox: &Outbox, source: &mut WsSource) -> bool {
    let encoding = outbox.encoding();
    let limits = &shared.config.limits;
    let waited = tokio::time::timeout(limits.auth_timeout, async {
        loop {
            let frame = match read(source, outbox, limits.message_bytes_max).await {
                Incoming::Frame(frame) => frame,
                Incoming::Oversized(_) => {
                    client_error(outbox, 400, "invalid syntax");
                    continue;
                }
                Incoming::End => return false,
            };
            match decode_client_message(&frame) {
                Ok(ClientMessage::Auth { credentials }) if shared.config.accepts(&credentials) => {
                    return true;
                }
                Ok(ClientMessage::Auth { .. }) => {
                    tracing::info!("client credentials refused");
                    goodbye(outbox, encoding, 402, "auth failed", "auth_failed");
                    return false;
                }
                Ok(_) => client_error(outbox, 401, "not authenticated"),
                Err(_) => client_error(outbox, 400, "invalid syntax"),
            }
        }
    })
    .await;
    waited.unwrap_or_else(|_| {
        tracing::info!("client sent no credentials in time");
        goodbye(outbox, encoding, 404, "auth timeout", "auth_timeout");
        false
    })
}

/// Refuses one client message with Alpaca's error; the connection stays.
fn client_error(outbox: &Outbox, code: u16, message: &str) {
    metrics::counter!(names::CLIENT_ERRORS, "code" => code.to_string()).increment(1);
    let _ = outbox.push(market_error(outbox.encoding(), code, message));
}

/// Ends the connection with Alpaca's error.
fn goodbye(outbox: &Outbox, encoding: Encoding, code: u16, message: &str, reason: &'static str) {
    outbox.close(Farewell {
        frame: Some(market_error(encoding, code, message)),
        reason,
    });
}
