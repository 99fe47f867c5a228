//! Shared helpers for the machine's tests: a fixture that drives one machine
//! through virtual time and records what it asked for and reported.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use tickwire_alpaca::{AlpacaMarketData, AlpacaTrading, Encoding, MarketData, TradeUpdate};
use tickwire_alpaca::{Channel, Feed, SubscriptionSet};
use tickwire_core::machine::{
    Action, ConnectionEpoch, Event, Machine, MachineConfig, RequestId, State,
};
use tickwire_core::{Credentials, Frame, Symbol, Timestamp, TransportError};

pub const KEY: &str = "PKFIXTUREKEY";
pub const SECRET: &str = "fixture-secret-value";

pub fn config() -> MachineConfig {
    let mut config =
        MachineConfig::new("wss://example.test/v2/test", Credentials::new(KEY, SECRET));
    config.seed = 42;
    // The model retries for ever; the attempt limit has its own tests.
    config.connect_attempts_max = None;
    config
}

pub fn sym(s: &str) -> Symbol {
    Symbol::new(s).expect("test symbol")
}

/// A machine, the virtual clock, and everything it emitted.
pub struct Fixture<D: tickwire_core::protocol::Dialect<Channel = Channel>> {
    pub machine: Machine<D>,
    pub now: Instant,
    pub actions: Vec<Action>,
    pub events: Vec<Event<D::Data, Channel>>,
    /// Whether [`Fixture::advance_stepwise`] answers the machine's pings.
    pub answer_pings: bool,
}

impl Fixture<AlpacaMarketData> {
    pub fn market() -> Self {
        Self::market_with(config())
    }

    pub fn market_with(config: MachineConfig) -> Self {
        let now = Instant::now();
        let machine = Machine::symbol_stream(config, AlpacaMarketData::new(Encoding::Json));
        Self::new(machine, now)
    }

    /// Subscribes, opens the connection, greets, authenticates and acknowledges.
    pub fn live_with(&mut self, channel: Channel, symbols: &[&str]) -> ConnectionEpoch {
        self.machine
            .subscribe(self.now, channel, symbols.iter().map(|s| sym(s)))
            .expect("subscribe");
        self.complete_connection()
    }

    /// Completes whatever connection the machine asked for, up to `Live`.
    pub fn complete_connection(&mut self) -> ConnectionEpoch {
        self.drain();
        let epoch = self
            .last_connect()
            .expect("the machine asked for a connection");
        self.machine.handle_connected(self.now, epoch);
        self.server(epoch, r#"[{"T":"success","msg":"connected"}]"#);
        self.server(epoch, r#"[{"T":"success","msg":"authenticated"}]"#);
        self.ack_everything(epoch);
        assert!(
            self.machine.state().is_live(),
            "not live: {:?}",
            self.machine.state()
        );
        epoch
    }

    /// Acknowledges requests as a faithful server would, until none is in flight.
    pub fn ack_everything(&mut self, epoch: ConnectionEpoch) {
        let mut server_set = self.machine.confirmed().clone();
        for _ in 0..100 {
            let Some(request) = self.take_subscription_request() else {
                return;
            };
            request.apply_to(&mut server_set);
            self.server(epoch, &ack_frame(&server_set));
        }
        panic!("requests never stopped");
    }

    /// Unsubscribes `symbols` from `channel` and acknowledges as a faithful
    /// server on `epoch` would.
    pub fn unsubscribe_acked(
        &mut self,
        epoch: ConnectionEpoch,
        channel: Channel,
        symbols: &[&str],
    ) {
        self.machine
            .unsubscribe(self.now, channel, symbols.iter().map(|s| sym(s)))
            .expect("unsubscribe");
        self.ack_everything(epoch);
    }

    /// The last subscription request sent, if any, removed from the record.
    pub fn take_subscription_request(&mut self) -> Option<SentRequest> {
        self.drain();
        let index = self.actions.iter().rposition(
            |a| matches!(a, Action::Send { frame, .. } if SentRequest::parse(frame).is_some()),
        )?;
        let Action::Send { frame, .. } = self.actions.remove(index) else {
            unreachable!()
        };
        SentRequest::parse(&frame)
    }
}

impl Fixture<AlpacaTrading> {
    pub fn account() -> Self {
        let now = Instant::now();
        let mut config = config();
        config.url = "wss://example.test/stream".into();
        let machine = Machine::account_stream(config, AlpacaTrading::new(Encoding::Json), now);
        Self::new(machine, now)
    }
}

impl<D: tickwire_core::protocol::Dialect<Channel = Channel>> Fixture<D> {
    /// A fixture around `machine`, with what it did at creation drained.
    pub fn new(machine: Machine<D>, now: Instant) -> Self {
        let mut fixture = Self {
            machine,
            now,
            actions: Vec::new(),
            events: Vec::new(),
            answer_pings: true,
        };
        fixture.drain();
        fixture
    }

    /// Subscribes to `symbols` on `channel` and drains what follows.
    pub fn subscribe(&mut self, channel: Channel, symbols: &[&str]) -> RequestId {
        let id = self
            .machine
            .subscribe(self.now, channel, symbols.iter().map(|s| sym(s)))
            .expect("subscribe");
        self.drain();
        id
    }

    /// Reports a transport error on `epoch` and drains what follows.
    pub fn transport_error(&mut self, epoch: ConnectionEpoch, error: &TransportError) {
        self.machine.handle_transport_error(self.now, epoch, error);
        self.drain();
    }

    pub fn drain(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            self.actions.push(action);
        }
        while let Some(event) = self.machine.poll_event() {
            self.events.push(event);
        }
    }

    pub fn server(&mut self, epoch: ConnectionEpoch, text: &str) {
        self.machine
            .handle_frame(self.now, epoch, &Frame::text(text));
        self.drain();
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.machine.handle_timeout(self.now);
        self.drain();
    }

    /// Jumps to each deadline in turn until `by` has passed.
    pub fn advance_stepwise(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(at) = self.machine.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.machine.handle_timeout(self.now);
            let seen = self.actions.len();
            self.drain();
            let ping = self.actions[seen..].iter().find_map(|a| match a {
                Action::Send {
                    epoch,
                    frame: Frame::Ping(_),
                } => Some(*epoch),
                _ => None,
            });
            if let (Some(epoch), true) = (ping, self.answer_pings) {
                self.machine
                    .handle_frame(self.now, epoch, &Frame::Pong(Default::default()));
                self.drain();
            }
        }
        self.now = end;
        self.machine.handle_timeout(self.now);
        self.drain();
    }

    pub fn last_connect(&self) -> Option<ConnectionEpoch> {
        self.actions.iter().rev().find_map(|a| match a {
            Action::Connect { epoch, .. } => Some(*epoch),
            _ => None,
        })
    }

    pub fn connects(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::Connect { .. }))
            .count()
    }

    pub fn sent_texts(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { frame, .. } if frame.is_message() => {
                    Some(String::from_utf8_lossy(frame.payload()).into_owned())
                }
                _ => None,
            })
            .collect()
    }

    pub fn states(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::StateChanged(s) => Some(s.name()),
                _ => None,
            })
            .collect()
    }

    pub fn state(&self) -> &State {
        self.machine.state()
    }
}

/// A subscription request the machine sent, as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    pub subscribe: bool,
    pub items: SubscriptionSet,
}

impl SentRequest {
    pub fn parse(frame: &Frame) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_slice(frame.payload()).ok()?;
        let object = value.as_object()?;
        let subscribe = match object.get("action")?.as_str()? {
            "subscribe" => true,
            "unsubscribe" => false,
            _ => return None,
        };
        let mut items = SubscriptionSet::new();
        for (key, symbols) in object {
            let Some(channel) = Channel::from_wire_name(key) else {
                continue;
            };
            for symbol in symbols.as_array()? {
                items.insert(channel, Symbol::new(symbol.as_str()?).ok()?);
            }
        }
        Some(Self { subscribe, items })
    }

    pub fn apply_to(&self, set: &mut SubscriptionSet) {
        for (channel, symbol) in self.items.iter() {
            if self.subscribe {
                set.insert(channel, symbol.clone());
            } else {
                set.remove(channel, symbol);
            }
        }
    }
}

/// The server's acknowledgement of a whole set, as Alpaca sends it.
pub fn ack_frame(set: &SubscriptionSet) -> String {
    let mut object = serde_json::Map::new();
    object.insert("T".into(), "subscription".into());
    // The stock feeds' channels but imbalances, as Alpaca's documented ack.
    let channels = Feed::Iex.channels().iter().copied();
    for channel in channels.filter(|c| *c != Channel::Imbalances) {
        let symbols: Vec<serde_json::Value> =
            set.symbols(channel).map(|s| s.as_str().into()).collect();
        object.insert(channel.wire_name().into(), symbols.clone().into());
        if channel == Channel::Trades {
            object.insert("corrections".into(), symbols.clone().into());
            object.insert("cancelErrors".into(), symbols.into());
        }
    }
    serde_json::Value::Array(vec![object.into()]).to_string()
}

/// A frame of trades numbered `first..first+count` (the number is the trade
/// id; trade `i` is stamped [`trade_time`]`(i)`).
pub fn trades_frame(symbol: &str, first: u64, count: u64) -> String {
    let items: Vec<String> = (first..first + count)
        .map(|i| trade_json(symbol, i, trade_time(i)))
        .collect();
    format!("[{}]", items.join(","))
}

/// The own timestamp of the trade numbered `id` in [`trades_frame`]:
/// 2024-01-02T15:04:05.123456789Z plus `id` milliseconds.
pub fn trade_time(id: u64) -> Timestamp {
    let start = Timestamp::from_unix_nanos(1_704_207_845_123_456_789);
    Timestamp::from_unix_nanos(start.unix_nanos() as i64 + id as i64 * 1_000_000)
}

/// One trade message with this id and own timestamp.
pub fn trade_json(symbol: &str, id: u64, at: Timestamp) -> String {
    format!(
        r#"{{"T":"t","S":"{symbol}","i":{id},"x":"V","p":100.5,"s":10,"c":["@"],"z":"C","t":"{at}"}}"#
    )
}

pub fn error_frame(code: u16, msg: &str) -> String {
    format!(r#"[{{"T":"error","code":{code},"msg":"{msg}"}}]"#)
}

/// Trade ids of the data events, in order.
pub fn trade_ids(events: &[Event<MarketData, Channel>]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Data(MarketData::Trade(t)) => t.id,
            _ => None,
        })
        .collect()
}

pub fn _unused(_: TradeUpdate) {}
