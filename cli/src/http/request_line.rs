//! The first line of an HTTP request: method, path and query.

/// `GET /metrics HTTP/1.1`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestLine {
    /// `GET`, `POST`…
    pub(crate) method: String,
    /// The path, without the query.
    pub(crate) path: String,
    /// `name=value` pairs of the query, in order; not percent-decoded
    /// (the endpoints take plain names and paths).
    pub(crate) query: Vec<(String, String)>,
}

impl RequestLine {
    /// Parses the request line at the start of `request`; `None` when it is
    /// not `METHOD TARGET HTTP/x`.
    pub(crate) fn parse(request: &[u8]) -> Option<Self> {
        let line = request.split(|b| *b == b'\n').next()?;
        let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
        let mut parts = line.split(' ');
        let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !version.starts_with("HTTP/") || !target.starts_with('/') {
            return None;
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (name.to_owned(), value.to_owned())
            })
            .collect();
        Some(Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query,
        })
    }

    /// The first value of a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_method_path_and_query() {
        let line = RequestLine::parse(
            b"POST /faults/reset?endpoint=/v2/iex&x HTTP/1.1\r\nHost: a\r\n\r\n",
        )
        .expect("a request line");
        assert_eq!(line.method, "POST");
        assert_eq!(line.path, "/faults/reset");
        assert_eq!(line.param("endpoint"), Some("/v2/iex"));
        assert_eq!(line.param("x"), Some(""));
        assert_eq!(line.param("y"), None);
    }

    #[test]
    fn refuses_what_is_not_a_request_line() {
        for bad in [
            &b""[..],
            b"GET",
            b"GET /metrics",
            b"GET metrics HTTP/1.1",
            b"GET /metrics FTP/1 extra",
            b"\xff\xfe /x HTTP/1.1",
        ] {
            assert_eq!(
                RequestLine::parse(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
