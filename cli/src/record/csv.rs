//! One table's CSV file (`record --format csv`): a header line with the
//! column names, then one line per message (RFC 4180 quoting).
//!
//! Timestamps are RFC 3339 in UTC, numbers as the feed sent them, an empty
//! field for a missing value, and a list as its items separated by spaces.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use tickwire_alpaca::{Conditions, MarketData};
use tickwire_core::Timestamp;

use super::schema::{RowWriter, Table, write_row};
use super::{FLUSH_INTERVAL, TableFile};

/// A table's CSV file being written.
#[derive(Debug)]
pub(crate) struct CsvFile {
    path: PathBuf,
    out: BufWriter<File>,
    line: String,
    rows: u64,
    last_flush: Instant,
}

impl CsvFile {
    /// Creates the file at `path` for `table` and writes the header line.
    ///
    /// # Errors
    /// When the file cannot be created or written.
    pub(crate) fn create(path: &Path, table: Table, now: Instant) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(64 * 1024, File::create_new(path)?);
        let names: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
        writeln!(out, "{}", names.join(","))?;
        Ok(Self {
            path: path.to_owned(),
            out,
            line: String::with_capacity(256),
            rows: 0,
            last_flush: now,
        })
    }
}

/// Builds one line.
struct Line<'a> {
    text: &'a mut String,
    fields: usize,
}

impl<'a> Line<'a> {
    fn new(text: &'a mut String) -> Self {
        text.clear();
        Self { text, fields: 0 }
    }

    fn field(&mut self, value: &str) {
        if self.fields > 0 {
            self.text.push(',');
        }
        self.fields += 1;
        if value.contains([',', '"', '\n', '\r']) {
            self.text.push('"');
            self.text.push_str(&value.replace('"', "\"\""));
            self.text.push('"');
        } else {
            self.text.push_str(value);
        }
    }
}

impl RowWriter for Line<'_> {
    fn timestamp(&mut self, value: Timestamp) {
        self.field(&value.to_string());
    }

    fn text(&mut self, value: Option<&str>) {
        self.field(value.unwrap_or(""));
    }

    fn float(&mut self, value: Option<f64>) {
        self.field(&value.map_or_else(String::new, |v| v.to_string()));
    }

    fn integer(&mut self, value: Option<u64>) {
        self.field(&value.map_or_else(String::new, |v| v.to_string()));
    }

    fn list(&mut self, values: &Conditions) {
        self.field(&values.iter().collect::<Vec<_>>().join(" "));
    }
}

impl TableFile for CsvFile {
    fn append(&mut self, data: &MarketData, json: &str) -> io::Result<()> {
        write_row(data, json, &mut Line::new(&mut self.line));
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
        self.rows += 1;
        Ok(())
    }

    fn flush_due(&mut self, now: Instant) -> io::Result<()> {
        if now.saturating_duration_since(self.last_flush) >= FLUSH_INTERVAL {
            self.last_flush = now;
            self.out.flush()?;
        }
        Ok(())
    }

    fn close(&mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.rows)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::record::one_trade_file;

    #[test]
    fn a_header_then_one_quoted_line_per_message() {
        let (dir, path, mut file) = one_trade_file(CsvFile::create, "csv-unit", "trades.csv");
        assert_eq!(file.close().unwrap(), 1);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "timestamp,symbol,id,exchange,price,size,conditions,tape,taker_side\n\
             2024-01-02T15:04:05.5Z,SPY,52983525029461,V,470.5,100,@ I,B,\n"
        );
        let mut line = String::new();
        let mut fields = Line::new(&mut line);
        fields.field("");
        fields.field("a,\"b\"");
        assert_eq!(line, ",\"a,\"\"b\"\"\"");
        fs::remove_dir_all(dir).unwrap();
    }
}
