//! Which stream a downstream upgrade asks for, and in which encoding.

use tickwire_alpaca::{Encoding, Feed, TRADING_PATH};

/// A downstream endpoint: a market data feed or the account stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Endpoint {
    /// A feed's path, e.g. `/v2/iex`.
    Market(Feed),
    /// `/stream`.
    Trading,
}

impl Endpoint {
    /// The endpoint served at `path` (query and trailing slash ignored).
    pub(crate) fn from_path(path: &str) -> Option<Self> {
        let bare = path.split(['?', '#']).next().unwrap_or_default();
        if bare.trim_end_matches('/') == TRADING_PATH {
            return Some(Self::Trading);
        }
        Feed::from_path(path).map(Self::Market)
    }

    /// The path, for logs and metrics labels.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Market(feed) => feed.path(),
            Self::Trading => TRADING_PATH,
        }
    }
}

/// The encoding a client asked for: MessagePack with
/// `Content-Type: application/msgpack`, JSON otherwise.
pub(crate) fn encoding_from_headers<'a>(
    mut headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Encoding {
    let msgpack = headers.any(|(name, value)| {
        name.eq_ignore_ascii_case("content-type")
            && value
                .split(|b| *b == b';')
                .next()
                .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"application/msgpack"))
    });
    if msgpack {
        Encoding::MsgPack
    } else {
        Encoding::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_feeds_and_the_account() {
        assert_eq!(
            Endpoint::from_path("/v2/iex"),
            Some(Endpoint::Market(Feed::Iex))
        );
        assert_eq!(
            Endpoint::from_path("/v1beta3/crypto/us/"),
            Some(Endpoint::Market(Feed::Crypto))
        );
        assert_eq!(Endpoint::from_path("/stream?x=1"), Some(Endpoint::Trading));
        assert_eq!(Endpoint::from_path("/v2/nope"), None);
    }

    #[test]
    fn content_type_chooses_msgpack() {
        let h = [("Content-Type", &b"application/msgpack"[..])];
        assert_eq!(encoding_from_headers(h.into_iter()), Encoding::MsgPack);
        let h = [("content-type", &b"application/json"[..])];
        assert_eq!(encoding_from_headers(h.into_iter()), Encoding::Json);
        assert_eq!(encoding_from_headers(std::iter::empty()), Encoding::Json);
    }
}
