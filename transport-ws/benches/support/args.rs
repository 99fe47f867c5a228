//! The command line of a benchmark: `key=value` settings, `--json`, and
//! whether it runs as a benchmark at all.

/// A benchmark's arguments, after `cargo bench -p tickwire-ws --bench NAME --`.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    words: Vec<String>,
    /// `cargo bench` passes `--bench`; `cargo test --benches` runs bench
    /// targets without it, and then every benchmark makes one short pass.
    pub(crate) quick: bool,
    /// Print one JSON object instead of the table.
    pub(crate) json: bool,
}

impl Args {
    /// The process's arguments.
    pub(crate) fn from_env() -> Self {
        let words: Vec<String> = std::env::args().skip(1).collect();
        let quick = !words.iter().any(|w| w == "--bench");
        let json = words.iter().any(|w| w == "--json");
        Self { words, quick, json }
    }

    /// The value of `key=value`, parsed, or `default`.
    pub(crate) fn value<T: std::str::FromStr>(&self, key: &str, default: T) -> T {
        self.words
            .iter()
            .find_map(|w| {
                w.strip_prefix(key)
                    .and_then(|rest| rest.strip_prefix('='))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(default)
    }

    /// The value of `key=value`, or `bench` when benchmarking and `quick` in a quick pass.
    pub(crate) fn sized<T: std::str::FromStr>(&self, key: &str, bench: T, quick: T) -> T {
        self.value(key, if self.quick { quick } else { bench })
    }

    /// The first argument that is a plain number, or `bench` (`quick` in a quick pass).
    pub(crate) fn number(&self, bench: usize, quick: usize) -> usize {
        self.words
            .iter()
            .find_map(|w| w.parse().ok())
            .unwrap_or(if self.quick { quick } else { bench })
    }

    /// Whether the bare word is present.
    pub(crate) fn has(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word)
    }

    /// Whether `word` is wanted: either it is named, or no word of `group` is.
    pub(crate) fn wants(&self, word: &str, group: &[&str]) -> bool {
        !self.words.iter().any(|w| group.contains(&w.as_str())) || self.has(word)
    }

    /// Every argument, for passing on to a child process.
    pub(crate) fn words(&self) -> &[String] {
        &self.words
    }
}

/// Logs to stderr when `RUST_LOG` is set.
pub(crate) fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
}
