//! What `tickwire serve --admin` shows of each open session: its
//! subscriptions, for tests of clients, proxies and relays run as separate
//! processes.

use tickwire_alpaca::Channel;
use tickwire_mock::Exchange;

/// JSON lines, one per open session: `{"endpoint":"/v2/iex","quotes":["AAPL"],…}`
/// (channels by their wire names; channels without symbols left out).
pub(crate) fn subscriptions(ex: &Exchange) -> String {
    let mut out = String::new();
    let sessions: Vec<_> = ex.sessions().collect();
    for id in sessions {
        let mut line = serde_json::Map::new();
        let endpoint = ex.endpoint(id).map_or("?", |e| e.path());
        line.insert("endpoint".into(), endpoint.into());
        if let Some(set) = ex.subscriptions(id) {
            for channel in Channel::ALL {
                let symbols: Vec<serde_json::Value> =
                    set.symbols(channel).map(|s| s.as_str().into()).collect();
                if !symbols.is_empty() {
                    line.insert(channel.wire_name().into(), symbols.into());
                }
            }
        }
        out.push_str(&serde_json::Value::Object(line).to_string());
        out.push('\n');
    }
    out
}
