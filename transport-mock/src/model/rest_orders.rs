//! `GET /v2/orders`: the account's orders from the desk's history, as a
//! sans-I/O answer (query in, status and JSON body out), with the REST
//! API's parameters and paging: a list by submission time, no page tokens.

use tickwire_alpaca::{Order, OrderSide};
use tickwire_core::Timestamp;

use super::Exchange;

/// Most orders one answer may hold (`limit`'s maximum).
pub const ORDERS_PAGE_MAX: usize = 500;
/// Orders per answer when the request names no `limit`.
const ORDERS_PAGE_DEFAULT: usize = 50;
/// Longest query accepted, in bytes.
const QUERY_BYTES_MAX: usize = 4096;

/// The simulated REST API's answer: an HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestResponse {
    /// The HTTP status, e.g. 200 or 422.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

impl RestResponse {
    /// An error answer in the REST API's shape: `{"code": …, "message": …}`.
    pub fn error(status: u16, code: u32, message: &str) -> Self {
        let body = serde_json::json!({ "code": code, "message": message }).to_string();
        Self { status, body }
    }
}

/// Which orders a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusFilter {
    Open,
    Closed,
    All,
}

/// A parsed `GET /v2/orders` query.
#[derive(Debug)]
struct OrdersQuery {
    status: StatusFilter,
    after: Option<Timestamp>,
    until: Option<Timestamp>,
    ascending: bool,
    limit: usize,
    symbols: Option<Vec<String>>,
    side: Option<OrderSide>,
}

impl Exchange {
    /// Answers `GET /v2/orders?{query}` for the account with these
    /// credentials, from the orders its trade updates reported, each in its
    /// latest state.
    ///
    /// Parameters, as the REST API takes them: `status` (`open`, the
    /// default; `closed`; `all`), `after` and `until` (RFC 3339, exclusive:
    /// orders *submitted* strictly between them), `direction` (`desc`, the
    /// default, or `asc`, by submission time), `limit` (1 to 500, default
    /// 50), `symbols` (comma-separated), `side` (`buy`, `sell`); `nested` is
    /// accepted (there are no multi-leg orders). The body is a JSON array; a
    /// client pages by moving `after` (or `until`) past the last order it
    /// got. An order changed recently but submitted long ago is found only
    /// by a window reaching back to its submission. Bad credentials are 401;
    /// a bad parameter 422 naming it. The 10,000 most recently submitted
    /// orders of each account are kept.
    ///
    /// ```
    /// use std::time::Instant;
    /// use tickwire_mock::{Account, Exchange, ExchangeConfig};
    /// let config = ExchangeConfig::new(7).with_account(Account::new("key", "secret"));
    /// let exchange = Exchange::new(config, Instant::now());
    /// let answer = exchange.rest_orders("key", "secret", "status=all&direction=asc&limit=10");
    /// assert_eq!((answer.status, answer.body.as_str()), (200, "[]"));
    /// assert_eq!(exchange.rest_orders("key", "wrong", "").status, 401);
    /// ```
    pub fn rest_orders(&self, key_id: &str, secret: &str, query: &str) -> RestResponse {
        let Ok(account) = self.accounts.authenticate(key_id, secret) else {
            return RestResponse::error(401, 40_110_000, "request is not authorized");
        };
        let request = match OrdersQuery::parse(query) {
            Ok(request) => request,
            Err(message) => return RestResponse::error(422, 42_210_000, &message),
        };
        let orders: Vec<&Order> = self
            .order_history
            .submitted(
                account,
                request.after,
                request.until,
                request.ascending,
                |order| request.wants(order),
            )
            .take(request.limit)
            .collect();
        RestResponse {
            status: 200,
            body: serde_json::to_string(&orders).unwrap_or_else(|_| "[]".to_owned()),
        }
    }
}

impl OrdersQuery {
    fn parse(query: &str) -> Result<Self, String> {
        if query.len() > QUERY_BYTES_MAX {
            return Err(format!("the query is longer than {QUERY_BYTES_MAX} bytes"));
        }
        let mut request = Self {
            status: StatusFilter::Open,
            after: None,
            until: None,
            ascending: false,
            limit: ORDERS_PAGE_DEFAULT,
            symbols: None,
            side: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decoded(raw).ok_or_else(|| format!("{name}: bad escape"))?;
            let invalid = || format!("invalid {name}: {value:?}");
            match name {
                "status" => {
                    request.status = match value.as_str() {
                        "open" => StatusFilter::Open,
                        "closed" => StatusFilter::Closed,
                        "all" => StatusFilter::All,
                        _ => return Err(invalid()),
                    }
                }
                "after" => request.after = Some(value.parse().map_err(|_| invalid())?),
                "until" => request.until = Some(value.parse().map_err(|_| invalid())?),
                "direction" => {
                    request.ascending = match value.as_str() {
                        "asc" => true,
                        "desc" => false,
                        _ => return Err(invalid()),
                    }
                }
                "limit" => {
                    request.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=ORDERS_PAGE_MAX).contains(n))
                        .ok_or_else(invalid)?
                }
                "symbols" => {
                    request.symbols = Some(value.split(',').map(str::to_owned).collect());
                }
                "side" => {
                    request.side = Some(match value.as_str() {
                        "buy" => OrderSide::Buy,
                        "sell" => OrderSide::Sell,
                        _ => return Err(invalid()),
                    })
                }
                "nested" if matches!(value.as_str(), "true" | "false") => {}
                "nested" => return Err(invalid()),
                _ => {}
            }
        }
        Ok(request)
    }

    fn wants(&self, order: &Order) -> bool {
        let closed = order.status.is_closed();
        let status = match self.status {
            StatusFilter::Open => !closed,
            StatusFilter::Closed => closed,
            StatusFilter::All => true,
        };
        let symbol = self.symbols.as_ref().is_none_or(|symbols| {
            order
                .symbol
                .as_ref()
                .is_some_and(|s| symbols.iter().any(|wanted| wanted == s.as_str()))
        });
        let side = self
            .side
            .as_ref()
            .is_none_or(|side| order.side.as_ref() == Some(side));
        status && symbol && side
    }
}

/// `%XX` escapes decoded (a `+` stays a `+`: RFC 3339 offsets use it).
pub(super) fn percent_decoded(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use serde_json::{Value, json};

    use super::super::{Account, ExchangeConfig, Output};
    use super::*;

    const KEY: &str = "PKORDERS";
    const SECRET: &str = "orders-secret";

    /// An exchange whose account listened to its trade updates for `span`;
    /// the last update of each order, by id.
    fn traded_for(span: Duration) -> (Exchange, BTreeMap<String, Value>) {
        let now = Instant::now();
        let config = ExchangeConfig::new(5).with_account(Account::new(KEY, SECRET));
        let mut ex = Exchange::new(config, now);
        ex.open_trading_listener(now, KEY, SECRET).expect("listens");
        let end = now + span;
        while let Some(t) = ex.poll_timeout().filter(|t| *t <= end) {
            ex.handle_timeout(t);
        }
        let mut last = BTreeMap::new();
        while let Some((_, output)) = ex.poll_output() {
            let Output::Frame(frame) = output else {
                continue;
            };
            let message: Value = serde_json::from_slice(frame.payload()).expect("JSON");
            if message["stream"] == "trade_updates" {
                let order = message["data"]["order"].clone();
                last.insert(order["id"].as_str().expect("id").to_owned(), order);
            }
        }
        (ex, last)
    }

    fn get(ex: &Exchange, query: &str) -> (u16, Value) {
        let answer = ex.rest_orders(KEY, SECRET, query);
        (
            answer.status,
            serde_json::from_str(&answer.body).expect("JSON body"),
        )
    }

    fn time(order: &Value, key: &str) -> Timestamp {
        order[key]
            .as_str()
            .expect("a time")
            .parse()
            .expect("RFC 3339")
    }

    /// Every order `query` lists, earliest submitted first, paging as a
    /// client must: `after` moved to just before the last order's
    /// submission (orders may share it), repeats dropped by id.
    fn all_pages(ex: &Exchange, query: &str, limit: usize) -> (Vec<Value>, usize) {
        let (mut orders, mut pages) = (Vec::<Value>::new(), 0);
        let mut after: Option<Timestamp> = None;
        loop {
            let mut paged = format!("{query}&direction=asc&limit={limit}");
            if let Some(after) = after {
                paged.push_str(&format!("&after={after}"));
            }
            let (status, body) = get(ex, &paged);
            assert_eq!(status, 200, "{body}");
            pages += 1;
            let page = body.as_array().expect("an array").clone();
            let mut added = 0;
            for order in &page {
                if !orders.iter().any(|o| o["id"] == order["id"]) {
                    orders.push(order.clone());
                    added += 1;
                }
            }
            if page.len() < limit || added == 0 {
                return (orders, pages);
            }
            let last = page.last().expect("a full page");
            after = Some(time(last, "submitted_at").saturating_add_nanos(-1));
            assert!(pages < 1_000, "the pages end");
        }
    }

    #[test]
    fn every_order_of_the_stream_is_listed_in_its_last_state_once() {
        let (ex, streamed) = traded_for(Duration::from_secs(120));
        assert!(streamed.len() > 10, "{}", streamed.len());
        let (listed, pages) = all_pages(&ex, "status=all", 7);
        assert!(pages > 1);
        let state = |o: &Value| json!([o["status"], o["updated_at"], o["filled_qty"]]);
        let by_id: BTreeMap<String, Value> = listed
            .iter()
            .map(|o| (o["id"].as_str().unwrap().to_owned(), state(o)))
            .collect();
        assert_eq!(by_id.len(), listed.len(), "each order once");
        let streamed: BTreeMap<String, Value> = streamed
            .iter()
            .map(|(id, o)| (id.clone(), state(o)))
            .collect();
        assert_eq!(by_id, streamed, "the REST state is the stream's last");
        let submitted: Vec<Timestamp> = listed.iter().map(|o| time(o, "submitted_at")).collect();
        assert!(submitted.windows(2).all(|w| w[0] <= w[1]), "ascending");

        let (status, descending) = get(&ex, "status=all&limit=500");
        assert_eq!(status, 200);
        let reversed: Vec<Value> = listed.iter().rev().cloned().collect();
        assert_eq!(descending, Value::Array(reversed), "desc is the default");
    }

    #[test]
    fn after_until_status_symbols_and_side_filter_the_list() {
        let (ex, streamed) = traded_for(Duration::from_secs(120));
        let (all, _) = all_pages(&ex, "status=all", 500);
        let middle = all[all.len() / 2].clone();
        let at = time(&middle, "submitted_at");
        let escaped = at.to_string().replace(':', "%3A");
        let only = |keep: &dyn Fn(&Value) -> bool| -> Vec<Value> {
            all.iter().filter(|o| keep(o)).cloned().collect()
        };
        let (later, _) = all_pages(&ex, &format!("status=all&after={escaped}"), 500);
        assert_eq!(
            later,
            only(&|o| time(o, "submitted_at") > at),
            "after: exclusive"
        );
        assert!(!later.is_empty() && later.len() < all.len());
        let (earlier, _) = all_pages(&ex, &format!("status=all&until={escaped}"), 500);
        assert_eq!(
            earlier,
            only(&|o| time(o, "submitted_at") < at),
            "until: exclusive"
        );

        let (open, _) = all_pages(&ex, "status=open", 500);
        let (closed, _) = all_pages(&ex, "status=closed", 500);
        assert_eq!(open.len() + closed.len(), streamed.len());
        assert!(closed.iter().all(|o| o["status"] != "new"));

        let symbol = middle["symbol"].as_str().expect("a symbol").to_owned();
        let (same, _) = all_pages(&ex, &format!("status=all&symbols={symbol},NONE"), 500);
        assert_eq!(same, only(&|o| o["symbol"] == symbol.as_str()));
        let (sells, _) = all_pages(&ex, "status=all&side=sell&nested=true", 500);
        assert_eq!(sells, only(&|o| o["side"] == "sell"));
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let (ex, _) = traded_for(Duration::from_secs(10));
        assert_eq!(ex.rest_orders(KEY, "wrong", "status=all").status, 401);
        for query in [
            "status=some",
            "after=yesterday",
            "until=tomorrow",
            "direction=up",
            "limit=0",
            "limit=501",
            "side=short",
            "nested=maybe",
            "after=%zz",
        ] {
            let (status, body) = get(&ex, query);
            assert_eq!(status, 422, "{query}: {body}");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{body}"
            );
        }
        let (status, _) = get(&ex, &"x=1&".repeat(2_000));
        assert_eq!(status, 422, "an overlong query");
    }
}
