//! `GET /v2/orders`: the account's orders from the desk's history, paged,
//! as a sans-I/O answer (query in, status and JSON body out).

use tickwire_alpaca::{Order, OrderStatus};
use tickwire_core::Timestamp;

use super::Exchange;
use super::order_history::OrderCursor;

/// Most orders one page may hold.
pub const ORDERS_PAGE_MAX: usize = 500;
/// Orders per page when the request names no `limit`.
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
    fn error(status: u16, code: u32, message: &str) -> Self {
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
    ascending: bool,
    limit: usize,
    page_token: Option<OrderCursor>,
}

impl Exchange {
    /// Answers `GET /v2/orders?{query}` for the account with these
    /// credentials, from the orders its trade updates reported.
    ///
    /// Parameters: `status` (`open`, the default; `closed`; `all`), `after`
    /// (RFC 3339: orders changed strictly after it), `direction` (`asc` by
    /// change time, or `desc`, the default), `limit` (1 to 500, default 50),
    /// `page_token` (from the previous page). The body is
    /// `{"orders": [...], "next_page_token": "…" | null}`. Bad credentials
    /// are 401; a bad parameter 422 naming it. The
    /// 10,000 most recently changed orders of each account are kept.
    ///
    /// ```
    /// use std::time::Instant;
    /// use tickwire_mock::{Account, Exchange, ExchangeConfig};
    /// let config = ExchangeConfig::new(7).with_account(Account::new("key", "secret"));
    /// let exchange = Exchange::new(config, Instant::now());
    /// let answer = exchange.rest_orders("key", "secret", "status=all&direction=asc&limit=10");
    /// assert_eq!(answer.status, 200);
    /// assert_eq!(answer.body, r#"{"next_page_token":null,"orders":[]}"#);
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
        let mut orders: Vec<&Order> = self
            .order_history
            .changed(
                account,
                request.ascending,
                request.page_token.as_ref(),
                |order| request.wants(order),
            )
            .take(request.limit + 1)
            .collect();
        let more = orders.len() > request.limit;
        orders.truncate(request.limit);
        let next_page_token = orders
            .last()
            .filter(|_| more)
            .map(|last| format!("{}_{}", last.updated_at.unix_nanos(), last.id));
        let body = serde_json::json!({ "orders": orders, "next_page_token": next_page_token });
        RestResponse {
            status: 200,
            body: body.to_string(),
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
            ascending: false,
            limit: ORDERS_PAGE_DEFAULT,
            page_token: None,
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
                "page_token" => request.page_token = Some(cursor(&value).ok_or_else(invalid)?),
                _ => {}
            }
        }
        Ok(request)
    }

    fn wants(&self, order: &Order) -> bool {
        let closed = matches!(
            order.status,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Expired
                | OrderStatus::Replaced
                | OrderStatus::Rejected
        );
        let status = match self.status {
            StatusFilter::Open => !closed,
            StatusFilter::Closed => closed,
            StatusFilter::All => true,
        };
        status && self.after.is_none_or(|after| order.updated_at > after)
    }
}

/// A page token back into the cursor it was written from.
fn cursor(token: &str) -> Option<OrderCursor> {
    let (nanos, id) = token.split_once('_')?;
    let nanos: i64 = nanos.parse().ok()?;
    Some((Timestamp::from_unix_nanos(nanos), id.to_owned()))
}

/// `%XX` escapes decoded (a `+` stays a `+`: RFC 3339 offsets use it).
fn percent_decoded(raw: &str) -> Option<String> {
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
    use tickwire_core::Frame;

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
        let id = ex.open(now, "/stream", &[]).expect("opens");
        for message in [
            json!({"action": "auth", "key": KEY, "secret": SECRET}),
            json!({"action": "listen", "data": {"streams": ["trade_updates"]}}),
        ] {
            ex.handle_frame(now, id, Frame::text(message.to_string()));
        }
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

    /// Every page of `query`, following the tokens; the orders in order.
    fn all_pages(ex: &Exchange, query: &str) -> (Vec<Value>, usize) {
        let (mut orders, mut pages, mut token) = (Vec::new(), 0, None::<String>);
        loop {
            let paged = match &token {
                Some(t) => format!("{query}&page_token={t}"),
                None => query.to_owned(),
            };
            let (status, body) = get(ex, &paged);
            assert_eq!(status, 200, "{body}");
            pages += 1;
            orders.extend(body["orders"].as_array().expect("orders").iter().cloned());
            match body["next_page_token"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => return (orders, pages),
            }
            assert!(pages < 1_000, "the pages end");
        }
    }

    #[test]
    fn every_order_of_the_stream_is_listed_in_its_last_state_once_ascending() {
        let (ex, streamed) = traded_for(Duration::from_secs(120));
        assert!(streamed.len() > 10, "{}", streamed.len());
        let (listed, pages) = all_pages(&ex, "status=all&direction=asc&limit=7");
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
        let times: Vec<Timestamp> = listed
            .iter()
            .map(|o| o["updated_at"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "ascending");

        let (descending, _) = all_pages(&ex, "status=all&limit=500");
        let reversed: Vec<Value> = listed.iter().rev().cloned().collect();
        assert_eq!(descending, reversed);
    }

    #[test]
    fn after_and_status_filter_the_list() {
        let (ex, streamed) = traded_for(Duration::from_secs(120));
        let (all, _) = all_pages(&ex, "status=all&direction=asc&limit=500");
        let middle = all[all.len() / 2]["updated_at"]
            .as_str()
            .unwrap()
            .to_owned();
        let after: Timestamp = middle.parse().unwrap();
        let escaped = middle.replace(':', "%3A");
        let (later, _) = all_pages(&ex, &format!("status=all&after={escaped}&direction=asc"));
        let expected: Vec<Value> = all
            .iter()
            .filter(|o| {
                o["updated_at"]
                    .as_str()
                    .unwrap()
                    .parse::<Timestamp>()
                    .unwrap()
                    > after
            })
            .cloned()
            .collect();
        assert_eq!(later, expected);
        assert!(!later.is_empty() && later.len() < all.len());

        let (open, _) = all_pages(&ex, "status=open&limit=500");
        let (closed, _) = all_pages(&ex, "status=closed&limit=500");
        assert_eq!(open.len() + closed.len(), streamed.len());
        assert!(closed.iter().all(|o| o["status"] != "new"));
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let (ex, _) = traded_for(Duration::from_secs(10));
        assert_eq!(ex.rest_orders(KEY, "wrong", "status=all").status, 401);
        for query in [
            "status=some",
            "after=yesterday",
            "direction=up",
            "limit=0",
            "limit=501",
            "page_token=nonsense",
            "after=%zz",
        ] {
            let (status, body) = get(&ex, query);
            assert_eq!(status, 422, "{query}: {body}");
            assert!(body["message"].is_string(), "{body}");
        }
        let (status, _) = get(&ex, &"x=1&".repeat(2_000));
        assert_eq!(status, 422, "an overlong query");
    }
}
