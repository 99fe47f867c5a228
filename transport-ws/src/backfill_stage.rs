//! A market-data stream's backfill, as a [`RecoveryStage`](crate::recovery_stage::RecoveryStage):
//! live trades and bars pass through the [`MarketBackfill`] (deduplicated),
//! each `Resumed` starts fetching the gap's trades and minute bars.

use std::time::SystemTime;

use tickwire_alpaca::{Channel, MarketData};
use tickwire_core::Timestamp;
use tickwire_core::machine::{Event, State};
use tickwire_recovery::RecoveryConfig;

use crate::event_stage::{EventStage, StageSetup};
use crate::market_backfill::{BackfillOutput, DataFetch, MarketBackfill};
use crate::recovery_stage::{Recoverer, StageOutput, recovery_stage};

/// The step for a market-data stream whose settings ask for backfill, from
/// the data API at `rest_url` and its `feed`.
pub(crate) fn backfill_stage(
    setup: &StageSetup<'_>,
    rest_url: &str,
    feed: &str,
) -> Option<EventStage<MarketData, Channel>> {
    let kinds = setup.options.backfill.kinds;
    if kinds.is_none() {
        return None;
    }
    let backfill = MarketBackfill::new(kinds, feed, RecoveryConfig::default());
    Some(recovery_stage(setup, rest_url, "backfill", backfill))
}

impl Recoverer for MarketBackfill {
    type Data = MarketData;
    type Fetch = DataFetch;

    fn handle_event(&mut self, event: &Event<MarketData, Channel>) {
        if matches!(event, Event::StateChanged(State::Live { .. })) {
            self.handle_went_live(Timestamp::from(SystemTime::now()));
        }
        Self::handle_event(self, event);
    }

    fn handle_live(&mut self, data: MarketData) {
        Self::handle_live(self, data);
    }

    fn handle_page(&mut self, fetch: &DataFetch, body: &[u8]) {
        Self::handle_page(self, fetch, body);
    }

    fn handle_fetch_failed(&mut self, fetch: &DataFetch, reason: &str) {
        Self::handle_fetch_failed(self, fetch, reason);
    }

    fn poll_output(&mut self) -> Option<StageOutput<MarketData, DataFetch>> {
        Some(match Self::poll_output(self)? {
            BackfillOutput::Deliver { data, backfilled } => StageOutput::Deliver {
                data,
                recovered: backfilled,
            },
            BackfillOutput::Fetch(fetch) => StageOutput::Fetch(fetch),
            BackfillOutput::Abandoned(reason) => StageOutput::Abandoned(reason),
        })
    }

    fn path_and_query(fetch: &DataFetch) -> &str {
        &fetch.path_and_query
    }
}
