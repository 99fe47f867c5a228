//! How the command fails: a message for stderr and an exit code.

use std::fmt;
use std::process::ExitCode;

use tickwire_core::machine::StreamError;

/// Why `tickwire` stopped unsuccessfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CliError {
    /// The command line makes no sense (exit code 2).
    Usage(String),
    /// Something failed while running: the network, the terminal… (exit code 1).
    Runtime(String),
    /// The server gave a verdict that retrying cannot change (exit code 3).
    Fatal {
        /// The server's or HTTP code, if any.
        code: Option<u16>,
        /// One line: what happened and what to do.
        message: String,
    },
}

impl CliError {
    /// A usage error.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// A runtime error.
    pub(crate) fn runtime(message: impl Into<String>) -> Self {
        Self::Runtime(message.into())
    }

    /// A stream the flags describe cannot be built: a usage error, in the
    /// command line's words rather than the library's.
    pub(crate) fn stream_build(error: &tickwire_ws::Error) -> Self {
        match error {
            tickwire_ws::Error::InsecureEndpoint { host } => Self::usage(format!(
                "refusing to send credentials over plain ws:// to {host}: give a wss:// URL \
                 (plain ws:// is accepted only on a loopback address such as 127.0.0.1)"
            )),
            tickwire_ws::Error::BackfillUnsupported { market, .. } => Self::usage(format!(
                "cannot backfill the {market} feed: backfill fetches stock trades and bars \
                 only; drop --backfill (or pass --backfill none)"
            )),
            other => Self::usage(other.to_string()),
        }
    }

    /// Why a stream to `endpoint` stopped for good: it gave up connecting
    /// (a runtime error naming the last cause and the flag that sets how
    /// often it tries), or a fatal verdict.
    pub(crate) fn stream_failed(error: &StreamError, endpoint: &str) -> Self {
        match error {
            StreamError::GaveUp { attempts, last } => Self::runtime(format!(
                "cannot connect to {endpoint}: {last} (gave up after {attempts} failed attempts; \
                 --connect-attempts N to try more often, 0 for ever)"
            )),
            other => Self::fatal(other),
        }
    }

    /// The fatal verdict carried by a stream error, with advice.
    pub(crate) fn fatal(error: &StreamError) -> Self {
        let code = error.code();
        let what = match error {
            StreamError::Server {
                code: Some(code),
                message,
            } => format!("the server stopped the stream with error {code} ({message})"),
            StreamError::Refused { status } => {
                format!("the server refused the connection with HTTP {status}")
            }
            StreamError::AuthRejected { message } if message.is_empty() => {
                "the server refused the credentials".to_owned()
            }
            StreamError::AuthRejected { message } => {
                format!("the server refused the credentials ({message})")
            }
            other => other.to_string(),
        };
        let advice = match error {
            StreamError::AuthRejected { .. } => advice(Some(402)),
            _ => advice(code),
        };
        Self::Fatal {
            code,
            message: format!("{what}. {advice}"),
        }
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Self::Usage(_) => 2,
            Self::Runtime(_) => 1,
            Self::Fatal { .. } => 3,
        })
    }
}

/// What the user can do about a fatal code.
fn advice(code: Option<u16>) -> &'static str {
    match code {
        Some(401..=403) => {
            "Check --key/--secret (or APCA_API_KEY_ID/APCA_API_SECRET_KEY), and paper vs live keys"
        }
        Some(409) => {
            "Your plan does not include this feed: try --feed iex, or upgrade the data plan"
        }
        Some(411) => {
            "The key lacks the scope for this stream: create a key with market data access"
        }
        Some(412) => "This feed needs MessagePack: pass --encoding msgpack",
        Some(404) => "Check the --url path (e.g. /v2/iex, /v1beta3/crypto/us, /stream)",
        _ => "Check the credentials, the feed and the URL, then try again",
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => write!(f, "{message}"),
            Self::Runtime(message) => write!(f, "{message}"),
            Self::Fatal { message, .. } => write!(f, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_errors_name_the_code_and_what_to_do() {
        let error = CliError::fatal(&StreamError::Server {
            code: Some(402),
            message: "auth failed".into(),
        });
        assert_eq!(error.exit_code(), ExitCode::from(3));
        let text = error.to_string();
        assert!(text.contains("402"), "{text}");
        assert!(text.contains("--key"), "{text}");
        assert!(!text.contains('\n'), "{text}");
        let error = CliError::fatal(&StreamError::Server {
            code: Some(409),
            message: "insufficient subscription".into(),
        });
        assert!(error.to_string().contains("--feed iex"));
        let error = CliError::fatal(&StreamError::AuthRejected {
            message: "unauthorized".into(),
        });
        assert_eq!(
            error.to_string(),
            "the server refused the credentials (unauthorized). \
             Check --key/--secret (or APCA_API_KEY_ID/APCA_API_SECRET_KEY), and paper vs live keys"
        );
    }

    #[test]
    fn giving_up_names_the_endpoint_the_cause_and_the_flag() {
        let error = CliError::stream_failed(
            &StreamError::GaveUp {
                attempts: 5,
                last: Box::new(StreamError::Refused { status: 503 }),
            },
            "wss://example.test/v2/iex",
        );
        assert_eq!(error.exit_code(), ExitCode::from(1));
        let text = error.to_string();
        assert!(
            text.starts_with("cannot connect to wss://example.test/v2/iex: "),
            "{text}"
        );
        assert!(text.contains("HTTP 503"), "{text}");
        assert!(text.contains("gave up after 5 failed attempts"), "{text}");
        assert!(text.contains("--connect-attempts"), "{text}");
        let fatal = CliError::stream_failed(&StreamError::Refused { status: 401 }, "x");
        assert_eq!(fatal.exit_code(), ExitCode::from(3));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(CliError::usage("x").exit_code(), ExitCode::from(2));
        assert_eq!(CliError::runtime("x").exit_code(), ExitCode::from(1));
    }
}
