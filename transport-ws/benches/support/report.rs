//! A benchmark's output: a table for people, or with `--json` one JSON
//! object (`{"benchmark", "version", "rows": [...]}`) for tracking figures
//! over time.

use serde_json::{Map, Value, json};

use super::args::Args;

/// Version of the `--json` layout; bumped when a key is renamed or removed.
pub(crate) const JSON_VERSION: u32 = 1;

/// Rows of figures, printed as a table as they come or as JSON at the end.
#[derive(Debug)]
pub(crate) struct Report {
    benchmark: &'static str,
    json: bool,
    rows: Vec<Value>,
    context: Map<String, Value>,
}

impl Report {
    /// A report for `benchmark`; `title` heads the table.
    pub(crate) fn new(benchmark: &'static str, args: &Args, title: &str) -> Self {
        if !args.json {
            println!("{title}; allocator: {}", super::ALLOCATOR);
        }
        Self {
            benchmark,
            json: args.json,
            rows: Vec::new(),
            context: Map::new(),
        }
    }

    /// Settings of the whole run (quotes per run, rounds…), a JSON object
    /// whose keys are kept beside the rows.
    pub(crate) fn context(&mut self, settings: Value) {
        if let Value::Object(settings) = settings {
            self.context.extend(settings);
        }
    }

    /// A line of the table only (headers, notes).
    pub(crate) fn line(&self, text: &str) {
        if !self.json {
            println!("{text}");
        }
    }

    /// One row: `text` for the table, `row` for the JSON.
    pub(crate) fn row(&mut self, text: &str, row: Value) {
        if self.json {
            self.rows.push(row);
        } else {
            println!("{text}");
        }
    }

    /// Prints the JSON object, when asked for.
    pub(crate) fn finish(self) {
        if self.json {
            let mut object = json!({
                "benchmark": self.benchmark,
                "version": JSON_VERSION,
                "load_average_1m": load_average(),
                "allocator": super::ALLOCATOR,
            });
            if let Value::Object(map) = &mut object {
                map.extend(self.context);
                map.insert("rows".into(), Value::Array(self.rows));
            }
            println!("{object}");
        }
    }
}

/// The one-minute load average, from `/proc/loadavg` (how busy the machine was).
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
