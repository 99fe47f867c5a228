//! The market data protocol, server side: auth, subscriptions, errors.

use std::collections::BTreeMap;
use std::time::Instant;

use tickwire_core::protocol::alpaca::MarketData;
use tickwire_core::{Channel, SubscriptionSet, Symbol};

use super::emit::Kind;
use super::generator::{Demand, Event};
use super::session::Phase;
use super::wire::{self, ClientRequest, Control};
use super::{Encoding, Endpoint, Exchange, SessionId};

/// The message Alpaca sends with an error code.
pub(crate) fn error_message(code: u16) -> &'static str {
    match code {
        400 => "invalid syntax",
        401 => "not authenticated",
        402 => "auth failed",
        403 => "already authenticated",
        404 => "auth timeout",
        405 => "symbol limit exceeded",
        406 => "connection limit exceeded",
        407 => "slow client",
        409 => "insufficient subscription",
        410 => "invalid subscribe action for this feed",
        411 => "insufficient scope",
        412 => "option messages are only available in MsgPack format",
        413 => "star subscription is not allowed for option quotes",
        _ => "internal error",
    }
}

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
        let candidate = match self.validate(id, &request, add) {
            Ok(candidate) => candidate,
            Err(Rejected(code)) => {
                self.send_error(now, id, code);
                return;
            }
        };
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
            if others + limited_pairs(&candidate) > limit {
                self.send_error(now, id, 405);
                return;
            }
        }
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.subscriptions = candidate;
        let ack = with_followers(&s.subscriptions, s.endpoint.has_trade_followers());
        let frame = wire::encode_control(s.encoding, &Control::Subscription(ack));
        self.emit(now, id, frame, Kind::Ack);
        self.generator.wake(now);
    }

    /// The session's set after the request, or the error code refusing it.
    fn validate(
        &self,
        id: SessionId,
        request: &SubscriptionSet,
        add: bool,
    ) -> Result<SubscriptionSet, Rejected> {
        let Some(s) = self.sessions.get(&id) else {
            return Err(Rejected(500));
        };
        let allowed = s.endpoint.channels();
        let mut candidate = s.subscriptions.clone();
        for (channel, symbol) in request.iter() {
            if channel.is_server_managed() {
                continue; // follows `trades`; clients have no say
            }
            if !allowed.contains(&channel) {
                return Err(Rejected(410));
            }
            if Symbol::new(symbol.as_str()).is_err() {
                return Err(Rejected(400));
            }
            if add
                && s.endpoint.msgpack_only()
                && channel == Channel::Quotes
                && symbol.is_wildcard()
            {
                return Err(Rejected(413));
            }
            if add {
                candidate.insert(channel, symbol.clone());
            } else {
                candidate.remove(channel, symbol);
            }
        }
        Ok(candidate)
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
        let frame = if s.endpoint.is_trading() {
            wire::trading_error(s.encoding, error_message(code))
        } else {
            wire::encode_control(s.encoding, &Control::error(code))
        };
        self.emit(now, id, frame, Kind::Control);
    }
}

/// Pairs that count towards the symbol limit: `trades` and `quotes`.
fn limited_pairs(set: &SubscriptionSet) -> usize {
    set.symbols(Channel::Trades).count() + set.symbols(Channel::Quotes).count()
}

/// The set as acknowledged: `corrections` and `cancelErrors` follow `trades` on stocks.
pub(crate) fn with_followers(set: &SubscriptionSet, followers: bool) -> SubscriptionSet {
    let mut ack = set.clone();
    if followers {
        for symbol in set.symbols(Channel::Trades) {
            ack.insert(Channel::Corrections, symbol.clone());
            ack.insert(Channel::CancelErrors, symbol.clone());
        }
    }
    ack
}

impl Exchange {
    /// One market tick: generate what subscribers want and send each session
    /// its share, batched.
    pub(crate) fn market_tick(&mut self, now: Instant) {
        let mut demand: BTreeMap<Endpoint, Demand> = BTreeMap::new();
        for s in self
            .sessions
            .values()
            .filter(|s| s.is_authenticated() && !s.endpoint.is_trading())
        {
            let d = demand.entry(s.endpoint).or_default();
            for (channel, symbol) in s.subscriptions.iter() {
                d.add(channel, symbol);
            }
        }
        let wall = self.wall_clock(now);
        let events = self.generator.tick(now, wall, &demand);
        if events.is_empty() {
            return;
        }
        let batch_max = self.generator.batch_messages_max();
        let targets: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.is_authenticated() && !s.endpoint.is_trading())
            .map(|(id, _)| *id)
            .collect();
        for id in targets {
            let Some(s) = self.sessions.get(&id) else {
                continue; // dropped by a fault while sending to an earlier one
            };
            let messages: Vec<MarketData> = events
                .iter()
                .filter(|(endpoint, event)| {
                    *endpoint == s.endpoint && routes_to(&s.subscriptions, event)
                })
                .map(|(_, event)| event.message.clone())
                .collect();
            let encoding = s.encoding;
            for batch in messages.chunks(batch_max) {
                self.emit(now, id, wire::encode_data(encoding, batch), Kind::Data);
            }
        }
    }
}

/// Whether a session's set asks for an event (`corrections` and
/// `cancelErrors` follow `trades`).
fn routes_to(set: &SubscriptionSet, event: &Event) -> bool {
    let channel = if event.channel.is_server_managed() {
        Channel::Trades
    } else {
        event.channel
    };
    set.contains(channel, &Symbol::WILDCARD)
        || event.symbols.iter().any(|s| set.contains(channel, s))
}
