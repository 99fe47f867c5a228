//! Sending to a client, with the fault knobs applied on the way out.

use std::time::Instant;

use bytes::Bytes;
use rand_core::RngCore;
use tickwire_core::Frame;

use super::rng::RngExt;
use super::session::HeldAck;
use super::{Encoding, Exchange, Output, SessionId, wire};

/// What a frame is, for the faults that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Greeting, auth results, errors: sent as is.
    Control,
    /// Subscription and `listening` acks: may be delayed, duplicated, reordered.
    Ack,
    /// Market data and trade updates: may pile up, be preceded by garbage.
    Data,
}

impl Exchange {
    /// Sends `frame` to `session` (if it is open and not silent), applying its faults.
    pub(crate) fn emit(&mut self, now: Instant, id: SessionId, frame: Frame, kind: Kind) {
        let slow_max = self.config.slow_client_frames_max;
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if s.silent {
            return;
        }
        let faults = s.faults;
        match kind {
            Kind::Control => self.outputs.push_back((id, Output::Frame(frame))),
            Kind::Data => {
                if faults.not_reading {
                    s.unread_frames += 1;
                    if s.unread_frames > slow_max {
                        self.slow_client(now, id);
                    }
                    return;
                }
                if self.fault_rng.chance(faults.garbage) {
                    self.send_garbage(id);
                }
                if self.fault_rng.chance(faults.oversized) {
                    self.send_oversized(id);
                }
                self.outputs.push_back((id, Output::Frame(frame)));
            }
            Kind::Ack => {
                if let Some(held) = s.held_ack.take() {
                    self.outputs.push_back((id, Output::Frame(frame)));
                    self.outputs.push_back((id, Output::Frame(held.frame)));
                } else if self.fault_rng.chance(faults.ack_reorder) {
                    s.held_ack = Some(HeldAck {
                        frame,
                        release_at: now + faults.ack_delay_max,
                    });
                    return;
                } else if self.fault_rng.chance(faults.ack_delay) {
                    let delay = faults.ack_delay_max.mul_f64(self.fault_rng.unit());
                    self.delayed_seq += 1;
                    self.delayed
                        .insert((now + delay, self.delayed_seq), (id, frame));
                    return;
                } else {
                    let twice = self.fault_rng.chance(faults.ack_duplicate);
                    if twice {
                        self.outputs.push_back((id, Output::Frame(frame.clone())));
                    }
                    self.outputs.push_back((id, Output::Frame(frame)));
                }
            }
        }
        self.after_send(now, id);
    }

    /// The per-frame faults: drop the connection, or go silent.
    fn after_send(&mut self, now: Instant, id: SessionId) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let faults = s.faults;
        if self.fault_rng.chance(faults.drop) {
            if self.fault_rng.chance(faults.drop_reset_share) {
                self.reset(now, id);
            } else {
                self.close(now, id, 1001, "going away");
            }
        } else if self.fault_rng.chance(faults.silence) {
            s.silent = true;
            tracing::debug!(%id, "session goes silent");
        }
    }

    /// Sends frames whose delay is over, and reordered acks nobody overtook.
    pub(crate) fn release_delayed(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (id, frame) = entry.remove();
            if self.sessions.get(&id).is_some_and(|s| !s.silent) {
                self.outputs.push_back((id, Output::Frame(frame)));
            }
        }
        for (id, s) in &mut self.sessions {
            if s.held_ack.as_ref().is_some_and(|h| h.release_at <= now) {
                let held = s.held_ack.take().map(|h| h.frame);
                if let (Some(frame), false) = (held, s.silent) {
                    self.outputs.push_back((*id, Output::Frame(frame)));
                }
            }
        }
    }

    /// Ends a session with a close frame; its slot is free at once.
    pub(crate) fn close(&mut self, _now: Instant, id: SessionId, code: u16, reason: &str) {
        if self.sessions.remove(&id).is_some() {
            self.routing.session_removed(id, &self.sessions);
            tracing::debug!(%id, code, reason, "closing");
            self.slots.release(id);
            self.outputs.push_back((
                id,
                Output::Close {
                    code,
                    reason: reason.to_owned(),
                },
            ));
        }
    }

    /// Ends a session without a close frame, as a broken network would: the
    /// exchange does not notice, so the slot stays busy until reaped.
    pub(crate) fn reset(&mut self, now: Instant, id: SessionId) {
        if self.sessions.remove(&id).is_some() {
            self.routing.session_removed(id, &self.sessions);
            tracing::debug!(%id, "resetting");
            self.slots.orphan(id, now, self.config.reap_after);
            self.outputs.push_back((id, Output::Reset));
        }
    }

    /// 407, then close.
    pub(crate) fn slow_client(&mut self, now: Instant, id: SessionId) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        tracing::debug!(%id, "slow client");
        self.stats.error_sent(407);
        let frame = if s.endpoint.is_trading() {
            wire::trading_error(s.encoding, "slow client")
        } else {
            wire::encode_control(s.encoding, &wire::Control::error(407))
        };
        self.outputs.push_back((id, Output::Frame(frame)));
        self.close(now, id, 1008, "slow client");
    }

    /// One frame no decoder accepts.
    pub(crate) fn send_garbage(&mut self, id: SessionId) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let mut noise = [0u8; 8];
        self.fault_rng.fill_bytes(&mut noise);
        let frame = match (s.encoding, s.endpoint.is_trading()) {
            (Encoding::MsgPack, _) => {
                // 0xc1 is never used by MessagePack.
                let mut bytes = vec![0xc1];
                bytes.extend_from_slice(&noise);
                Frame::Binary(Bytes::from(bytes))
            }
            (Encoding::Json, trading) => {
                let text: String = noise.iter().map(|b| format!("{b:02x}")).collect();
                let garbage = format!("}}{{garbage {text}");
                if trading {
                    Frame::binary(garbage.into_bytes())
                } else {
                    Frame::text(garbage)
                }
            }
        };
        self.outputs.push_back((id, Output::Frame(frame)));
    }

    /// One frame of [`ExchangeConfig::oversized_frame_bytes`](super::ExchangeConfig::oversized_frame_bytes).
    pub(crate) fn send_oversized(&mut self, id: SessionId) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let n = self.config.oversized_frame_bytes;
        let frame = match (s.encoding, s.endpoint.is_trading()) {
            (Encoding::Json, false) => Frame::text(" ".repeat(n)),
            _ => Frame::Binary(Bytes::from(vec![b' '; n])),
        };
        self.outputs.push_back((id, Output::Frame(frame)));
    }
}
