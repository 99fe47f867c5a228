//! The market data protocol, server side: auth, subscriptions, errors.

use std::time::Instant;

use tickwire_alpaca::MarketData;
use tickwire_alpaca::{Channel, SubscriptionSet};

use super::emit::Kind;
use super::generator::Event;
use super::routing::{Index, PairChange};
use super::session::Phase;
use super::wire::{self, ClientRequest, Control, error_message};
use super::{Encoding, Endpoint, Exchange, SessionId};

/// Why a subscription request is refused.
struct Rejected(u16);

impl Exchange {
    /// A decoded (or undecodable) request on a market data session.
    pub(crate) fn market_request(
        &mut self,
        now: Instant,
        id: SessionId,
        request: Result<ClientRequest, wire::Undecodable>,
    ) {
        let Ok(request) = request else {
            self.send_error(now, id, 400);
            return;
        };
        match request {
            ClientRequest::Auth { key_id, secret } => self.market_auth(now, id, &key_id, &secret),
            ClientRequest::Subscribe(set) => self.change_subscriptions(now, id, set, true),
            ClientRequest::Unsubscribe(set) => self.change_subscriptions(now, id, set, false),
            ClientRequest::Listen(_) => self.send_error(now, id, 400),
        }
    }

    /// Checks credentials, plan and limits, in Alpaca's order: 402, 409, 412, 406.
    pub(crate) fn market_auth(&mut self, now: Instant, id: SessionId, key_id: &str, secret: &str) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        if !matches!(s.phase, Phase::AwaitingAuth { .. }) {
            self.send_error(now, id, 403);
            return;
        }
        let (endpoint, encoding) = (s.endpoint, s.encoding);
        let Ok(account_id) = self.accounts.authenticate(key_id, secret) else {
            tracing::debug!(%id, "auth failed");
            self.send_error(now, id, 402);
            return;
        };
        let account = self.accounts.get(account_id);
        if !account.is_entitled(endpoint) {
            self.send_error(now, id, 409);
            if let Some(s) = self.sessions.get_mut(&id) {
                s.phase = Phase::Unentitled;
                self.routing.invalidate();
            }
            return;
        }
        if endpoint.msgpack_only() && encoding == Encoding::Json {
            self.send_error(now, id, 412);
            self.close(now, id, 1003, error_message(412));
            return;
        }
        let max = account.connections_max;
        if !self.slots.try_take(account_id, endpoint, max, id) {
            self.send_error(now, id, 406);
            self.close(now, id, 1008, error_message(406));
            return;
        }
        if let Some(s) = self.sessions.get_mut(&id) {
            s.phase = Phase::Authenticated {
                account: account_id,
            };
            self.routing.session_authenticated(id, s);
        }
        tracing::debug!(%id, %endpoint, "authenticated");
        self.send_control(now, id, Control::Authenticated);
    }

    fn change_subscriptions(
        &mut self,
        now: Instant,
        id: SessionId,
        request: SubscriptionSet,
        add: bool,
    ) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let Phase::Authenticated { account } = s.phase else {
            self.send_error(now, id, 401);
            return;
        };
        if let Err(Rejected(code)) = validate(s.endpoint, &request, add) {
            self.send_error(now, id, code);
            return;
        }
        let limit = if add {
            self.accounts.get(account).symbol_limit
        } else {
            None
        };
        if let Some(limit) = limit {
            let endpoint = s.endpoint;
            let others: usize = self
                .slots
                .holders(account, endpoint)
                .filter(|other| *other != id)
                .filter_map(|other| self.sessions.get(&other))
                .map(|o| limited_pairs(&o.subscriptions))
                .sum();
            let added = request
                .iter()
                .filter(|(channel, symbol)| {
                    is_limited(*channel) && !s.subscriptions.contains(*channel, symbol)
                })
                .count();
            if others + limited_pairs(&s.subscriptions) + added > limit {
                self.send_error(now, id, 405);
                return;
            }
        }
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        for (channel, symbol) in request.iter() {
            if channel.is_server_managed() {
                continue; // follows `trades`; clients have no say
            }
            let changed = if add {
                s.subscriptions.insert(channel, symbol.clone())
            } else {
                s.subscriptions.remove(channel, symbol)
            };
            if changed {
                let change = PairChange {
                    id,
                    channel,
                    symbol,
                    added: add,
                };
                self.routing.pair_changed(change, &mut self.generator);
            }
        }
        self.routing.recount_demand(&self.sessions);
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let frame = wire::subscription_ack(
            s.encoding,
            &s.subscriptions,
            s.endpoint.has_trade_followers(),
        );
        self.emit(now, id, frame, Kind::Ack);
        self.generator.wake(now);
    }

    /// Sends a control message (greeting, auth result) to a market data session.
    pub(crate) fn send_control(&mut self, now: Instant, id: SessionId, control: Control) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let frame = wire::encode_control(s.encoding, &control);
        self.emit(now, id, frame, Kind::Control);
    }

    /// Sends an error in the session's protocol (market data code, or trading error).
    pub(crate) fn send_error(&mut self, now: Instant, id: SessionId, code: u16) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        self.stats.error_sent(code);
        let frame = if s.endpoint.is_trading() {
            wire::trading_error(s.encoding, error_message(code))
        } else {
            wire::encode_control(s.encoding, &Control::error(code))
        };
        self.emit(now, id, frame, Kind::Control);
    }
}

/// Checks every pair of a request, in order: the first refused one gives the code.
fn validate(endpoint: Endpoint, request: &SubscriptionSet, add: bool) -> Result<(), Rejected> {
    let allowed = endpoint.channels();
    for (channel, symbol) in request.iter() {
        if channel.is_server_managed() {
            continue; // follows `trades`; clients have no say
        }
        if !allowed.contains(&channel) {
            return Err(Rejected(410));
        }
        // The client decoder validates symbols too; the model does not rely
        // on its callers for that.
        if symbol.validate().is_err() {
            return Err(Rejected(400));
        }
        if add && endpoint.msgpack_only() && channel == Channel::Quotes && symbol.is_wildcard() {
            return Err(Rejected(413));
        }
    }
    Ok(())
}

/// Whether pairs of this channel count towards the symbol limit.
fn is_limited(channel: Channel) -> bool {
    matches!(channel, Channel::Trades | Channel::Quotes)
}

/// Pairs that count towards the symbol limit: `trades` and `quotes`.
fn limited_pairs(set: &SubscriptionSet) -> usize {
    set.symbols(Channel::Trades).count() + set.symbols(Channel::Quotes).count()
}

impl Exchange {
    /// One market tick: generate what subscribers want and send each session
    /// its share, batched.
    pub(crate) fn market_tick(&mut self, now: Instant) {
        self.routing.refresh(&self.sessions, &mut self.generator);
        let mut events = std::mem::take(&mut self.tick_events);
        events.clear();
        let index = self.routing.index();
        self.generator
            .tick(now, index.plans(), index.any_demand(), &mut events);
        if !events.is_empty() {
            // Sending may drop sessions (faults) and so invalidate the index,
            // which stays valid for this tick: it is set aside meanwhile.
            let index = self.routing.set_aside();
            self.send_tick(now, &index, &events);
            self.routing.put_back(index);
        }
        self.tick_events = events;
    }

    /// Sends each target session the events it asked for, in frames of at
    /// most `batch_messages_max` messages.
    fn send_tick(&mut self, now: Instant, index: &Index, events: &[Event]) {
        let batch_max = self.generator.batch_messages_max();
        let mut messages: Vec<&MarketData> = Vec::new();
        for target in index.targets() {
            let Some(s) = self.sessions.get(&target.id()) else {
                continue; // dropped by a fault while sending to an earlier one
            };
            let encoding = s.encoding;
            messages.clear();
            messages.extend(
                events
                    .iter()
                    .filter(|e| e.plan == target.plan() && target.wants(e))
                    .map(|e| &e.message),
            );
            for batch in messages.chunks(batch_max) {
                self.emit(
                    now,
                    target.id(),
                    wire::encode_data(encoding, batch),
                    Kind::Data,
                );
            }
        }
    }
}
