//! What one endpoint's subscribers want: a [`Plan`], kept by the routing
//! index and walked by the generator each tick.

use tickwire_alpaca::Channel;
use tickwire_core::Symbol;

use super::Endpoint;

/// An instrument's index in the generator's list; stable once registered.
pub(crate) type InstrumentId = usize;

/// What one endpoint's subscribers want, as the generator walks it each tick.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(super) endpoint: Endpoint,
    /// Every symbol wanted, in symbol order.
    pub(super) symbols: Vec<PlanSymbol>,
    /// The bit of each channel, as [`PlanSymbol::channels`] uses them.
    pub(super) bits: ChannelBits,
}

impl Plan {
    /// A plan that wants nothing yet.
    pub(super) fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            symbols: Vec::new(),
            bits: ChannelBits::of(endpoint),
        }
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// Every symbol wanted, in symbol order; the generator's routes index it.
    pub(crate) fn symbols(&self) -> &[PlanSymbol] {
        &self.symbols
    }

    /// The bit of each channel, as [`PlanSymbol::channels`] uses them.
    pub(crate) fn channel_bits(&self) -> ChannelBits {
        self.bits
    }
}

/// One symbol a [`Plan`] wants.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PlanSymbol {
    pub(super) symbol: Symbol,
    /// The channels it is wanted on: bit `i` stands for
    /// `endpoint.channels()[i]` (on news endpoints, bit 0: news is wanted
    /// for it).
    pub(super) channels: u32,
    /// The generator's instrument of it; none on news endpoints.
    pub(super) instrument: Option<InstrumentId>,
}

impl PlanSymbol {
    pub(crate) fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    /// The channel bits it is wanted on (see [`Plan::channel_bits`]).
    pub(crate) fn channels(&self) -> u32 {
        self.channels
    }

    /// The generator's instrument of it; none on news endpoints.
    pub(crate) fn instrument(&self) -> Option<InstrumentId> {
        self.instrument
    }
}

/// The plan bit of each channel an instrument can be wanted on: bit `i`
/// for `endpoint.channels()[i]`, none where the endpoint lacks the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChannelBits {
    pub(super) trades: u32,
    pub(super) quotes: u32,
    pub(super) bars: u32,
    pub(super) updated_bars: u32,
    pub(super) daily_bars: u32,
    pub(super) statuses: u32,
    pub(super) lulds: u32,
    pub(super) imbalances: u32,
    pub(super) orderbooks: u32,
}

impl ChannelBits {
    pub(crate) fn of(endpoint: Endpoint) -> Self {
        let channels = endpoint.channels();
        let bit = |channel: Channel| {
            channels
                .iter()
                .position(|c| *c == channel)
                .map_or(0, |index| 1 << index)
        };
        Self {
            trades: bit(Channel::Trades),
            quotes: bit(Channel::Quotes),
            bars: bit(Channel::Bars),
            updated_bars: bit(Channel::UpdatedBars),
            daily_bars: bit(Channel::DailyBars),
            statuses: bit(Channel::Statuses),
            lulds: bit(Channel::Lulds),
            imbalances: bit(Channel::Imbalances),
            orderbooks: bit(Channel::Orderbooks),
        }
    }
}
