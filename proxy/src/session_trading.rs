//! An account client's session: authentication (either form), then `listen`
//! requests that join or leave the account's fan-out.

use std::sync::Arc;

use tickwire_alpaca::{
    ClientMessage, TradingServerMessage, decode_client_message, encode_trading_frame,
};
use tickwire_fanout::ClientId;

use crate::account::AccountCommand;
use crate::downstream::{Incoming, WsSource, read};
use crate::outbox::{Farewell, Outbox};
use crate::server::Shared;

/// The only stream of the account endpoint.
const TRADE_UPDATES: &str = "trade_updates";

/// Runs the session until the client leaves or the proxy ends it.
pub(crate) async fn run(
    shared: &Arc<Shared>,
    client: ClientId,
    outbox: &Outbox,
    source: &mut WsSource,
) {
    let encoding = outbox.encoding();
    let reply = |message: &TradingServerMessage| {
        let _ = outbox.push(encode_trading_frame(encoding, message));
    };
    let limits = &shared.config.limits;
    let authenticated = tokio::time::timeout(limits.auth_timeout, async {
        loop {
            let frame = match read(source, outbox, limits.message_bytes_max).await {
                Incoming::Frame(frame) => frame,
                Incoming::Oversized(_) => continue,
                Incoming::End => return false,
            };
            if let Ok(ClientMessage::Auth { credentials }) = decode_client_message(&frame) {
                if shared.config.accepts(&credentials) {
                    reply(&TradingServerMessage::Authorized);
                    return true;
                }
                tracing::info!("client credentials refused");
                outbox.close(Farewell {
                    frame: Some(encode_trading_frame(
                        encoding,
                        &TradingServerMessage::Unauthorized { message: None },
                    )),
                    reason: "auth_failed",
                });
                return false;
            }
            reply(&error("not authenticated"));
        }
    })
    .await
    .unwrap_or_else(|_| {
        outbox.close(Farewell {
            frame: Some(encode_trading_frame(encoding, &error("auth timeout"))),
            reason: "auth_timeout",
        });
        false
    });
    if !authenticated {
        return;
    }

    let mut account = None;
    loop {
        let frame = match read(source, outbox, limits.message_bytes_max).await {
            Incoming::Frame(frame) => frame,
            Incoming::Oversized(_) => {
                reply(&error("invalid syntax"));
                continue;
            }
            Incoming::End => break,
        };
        match decode_client_message(&frame) {
            Ok(ClientMessage::Listen(streams)) => {
                let wanted = streams.iter().any(|s| s == TRADE_UPDATES);
                let listening = if wanted {
                    vec![TRADE_UPDATES.to_owned()]
                } else {
                    Vec::new()
                };
                // The ack first, then updates, as Alpaca orders them.
                reply(&TradingServerMessage::Listening(listening));
                match (wanted, &account) {
                    (true, None) => {
                        let commands = shared.account();
                        let join = AccountCommand::Join {
                            client,
                            outbox: outbox.clone(),
                        };
                        if commands.send(join).await.is_err() {
                            break;
                        }
                        account = Some(commands);
                    }
                    (false, Some(commands)) => {
                        let _ = commands.send(AccountCommand::Leave { client }).await;
                        account = None;
                    }
                    _ => {}
                }
            }
            Ok(ClientMessage::Auth { .. }) => reply(&TradingServerMessage::Authorized),
            Ok(_) | Err(_) => reply(&error("invalid syntax")),
        }
    }
    if let Some(commands) = account {
        let _ = commands.send(AccountCommand::Leave { client }).await;
    }
}

fn error(message: &str) -> TradingServerMessage {
    TradingServerMessage::Error {
        message: message.to_owned(),
    }
}
