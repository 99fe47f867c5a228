//! `record`'s writing side: the stream's data into one file per table
//! ([`schema::Table`]) and UTC day, lifecycle events into a sidecar.
//!
//! Files are named `<table>-<YYYY-MM-DD>.parquet` (or `.csv`) after the
//! messages' own UTC day; an existing file is never overwritten (the next
//! free `<table>-<day>.<n>.<ext>` is taken). A table's file is closed when a
//! message of a later day arrives for it (rotation), and every file is closed
//! (Parquet footer written) when recording stops: `--duration`, `--count`,
//! Ctrl-C, SIGTERM, an error, and on unwinding from a panic.
//!
//! Buffered rows reach the file as a row group at least every
//! [`FLUSH_INTERVAL`] (or each [`ROWS_PER_GROUP_MAX`] rows), so a process
//! that dies without closing loses at most the rows of the last
//! [`FLUSH_INTERVAL`]: the next `record` into the folder writes the missing
//! Parquet footers from the row-group journals ([`journal`]).
//!
//! Every event that is not data (`state`, `subscription`, `gap`, `resumed`,
//! `error`, `dropped`) is appended to `events.jsonl` in the folder as its
//! `--json` line, written through at once. Snapshots (a relay's latest
//! quote of a symbol on joining it) are not recorded: one is no new
//! message and may repeat a live quote already recorded.

pub(crate) mod csv;
pub(crate) mod folder_lock;
pub(crate) mod journal;
pub(crate) mod parquet;
pub(crate) mod schema;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tickwire_alpaca::MarketData;
use tickwire_core::machine::Event;
use tickwire_ws::StreamEvent;

use self::csv::CsvFile;
use self::folder_lock::FolderLock;
use self::parquet::ParquetFile;
use self::schema::Table;
use crate::args::RecordFormat;
use crate::follow::{Sink, SinkError};
use crate::output::{Clock, json};

/// The longest buffered rows wait before they are written to their file.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// The most rows in one Parquet row group.
pub(crate) const ROWS_PER_GROUP_MAX: usize = 65_536;

/// The sidecar of lifecycle events.
pub(crate) const EVENTS_FILE: &str = "events.jsonl";

const SECONDS_PER_DAY: i64 = 86_400;

/// A table's file being written, in some format.
pub(crate) trait TableFile: Send {
    /// Adds the row of a message; `json` is its `--json` line (used by
    /// [`Table::Other`] only).
    ///
    /// # Errors
    /// When writing fails.
    fn append(&mut self, data: &MarketData, json: &str) -> io::Result<()>;

    /// Writes buffered rows through when [`FLUSH_INTERVAL`] has passed since
    /// the last time.
    ///
    /// # Errors
    /// When writing fails.
    fn flush_due(&mut self, now: Instant) -> io::Result<()>;

    /// Writes everything and closes the file (footer included); returns the
    /// rows written in all.
    ///
    /// # Errors
    /// When writing fails.
    fn close(&mut self) -> io::Result<u64>;

    /// Where the file is.
    fn path(&self) -> &Path;
}

/// The open file of a table, and the UTC day it holds.
struct OpenTable {
    day: i64,
    file: Box<dyn TableFile>,
}

/// Writes a market-data stream's events to files (a [`Sink`]).
pub(crate) struct Recorder {
    dir: PathBuf,
    format: RecordFormat,
    open: BTreeMap<Table, OpenTable>,
    closed: Vec<(PathBuf, u64)>,
    events: BufWriter<File>,
    json: String,
    summary: Summary,
    /// Dropped last: the files are closed before the folder is let go.
    _lock: FolderLock,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.dir)
            .field("format", &self.format)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// What was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Data messages the stream delivered.
    pub(crate) messages: u64,
    /// Each file written and its rows, in the order they were closed.
    pub(crate) files: Vec<(PathBuf, u64)>,
    /// Lines appended to the lifecycle sidecar.
    pub(crate) lifecycle_lines: u64,
    /// Gaps (live lost) while recording.
    pub(crate) gaps: u64,
    /// Data events dropped by the slow-consumer policy.
    pub(crate) dropped: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tickwire record: {} messages, {} gaps, {} dropped",
            self.messages, self.gaps, self.dropped
        )?;
        for (path, rows) in &self.files {
            writeln!(f, "  {}  {rows} rows", path.display())?;
        }
        write!(
            f,
            "  {EVENTS_FILE}  {} lifecycle lines",
            self.lifecycle_lines
        )
    }
}

impl Recorder {
    /// Starts recording into `dir` (created if missing).
    ///
    /// # Errors
    /// A message naming the folder when it cannot be created or written.
    pub(crate) fn create(dir: &Path, format: RecordFormat) -> Result<Self, String> {
        let failed = |e: io::Error| format!("cannot write into {}: {e}", dir.display());
        fs::create_dir_all(dir).map_err(failed)?;
        let lock = FolderLock::take(dir)?;
        for repaired in journal::repair(dir)? {
            crate::notice(&format!(
                "{} was left without its footer by an earlier recording: repaired, {} rows kept",
                repaired.path.display(),
                repaired.rows
            ));
        }
        let events = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(EVENTS_FILE))
            .map_err(failed)?;
        Ok(Self {
            dir: dir.to_owned(),
            format,
            open: BTreeMap::new(),
            closed: Vec::new(),
            events: BufWriter::new(events),
            json: String::with_capacity(256),
            summary: Summary::default(),
            _lock: lock,
        })
    }

    /// Closes every file and says what was written.
    ///
    /// # Errors
    /// A message naming the file that could not be completed.
    pub(crate) fn finish(mut self) -> Result<Summary, String> {
        let mut first_error = None;
        for (_, mut table) in std::mem::take(&mut self.open) {
            match table.file.close() {
                Ok(rows) => self.closed.push((table.file.path().to_owned(), rows)),
                Err(error) => {
                    first_error.get_or_insert_with(|| file_error(table.file.path(), &error));
                }
            }
        }
        if let Err(error) = self.events.flush() {
            first_error.get_or_insert_with(|| file_error(&self.dir.join(EVENTS_FILE), &error));
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        let mut summary = std::mem::take(&mut self.summary);
        summary.files = std::mem::take(&mut self.closed);
        Ok(summary)
    }

    fn record(&mut self, event: &StreamEvent<MarketData>, data: &MarketData) -> io::Result<()> {
        let table = Table::of(data);
        let day = data.timestamp().seconds.div_euclid(SECONDS_PER_DAY);
        self.json.clear();
        if table == Table::Other {
            json::format(event, &Clock::now(), &mut self.json);
        }
        let rotate = self.open.get(&table).is_some_and(|open| open.day != day);
        if rotate && let Some(mut old) = self.open.remove(&table) {
            let rows = old.file.close()?;
            self.closed.push((old.file.path().to_owned(), rows));
        }
        if !self.open.contains_key(&table) {
            let file = self.create_file(table, day)?;
            self.open.insert(table, OpenTable { day, file });
        }
        match self.open.get_mut(&table) {
            Some(open) => open.file.append(data, &self.json),
            None => Err(io::Error::other("the table's file is not open")),
        }
    }

    /// Creates a table's file for `day`, under the first free name.
    fn create_file(&self, table: Table, day: i64) -> io::Result<Box<dyn TableFile>> {
        let date = date(day);
        let extension = match self.format {
            RecordFormat::Parquet => "parquet",
            RecordFormat::Csv => "csv",
        };
        let now = Instant::now();
        for n in 0_u32.. {
            let name = if n == 0 {
                format!("{}-{date}.{extension}", table.name())
            } else {
                format!("{}-{date}.{n}.{extension}", table.name())
            };
            let path = self.dir.join(name);
            let created: io::Result<Box<dyn TableFile>> = match self.format {
                RecordFormat::Parquet => {
                    ParquetFile::create(&path, table, now).map(|f| Box::new(f) as _)
                }
                RecordFormat::Csv => CsvFile::create(&path, table, now).map(|f| Box::new(f) as _),
            };
            match created {
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                other => return other,
            }
        }
        Err(io::Error::other("no free file name"))
    }

    fn lifecycle(&mut self, event: &StreamEvent<MarketData>) -> io::Result<()> {
        match event {
            StreamEvent::Machine(Event::Gap { .. }) => self.summary.gaps += 1,
            StreamEvent::Dropped { total, .. } => self.summary.dropped = *total,
            StreamEvent::Machine(_)
            | StreamEvent::Recovered(_)
            | StreamEvent::Snapshot(_)
            | StreamEvent::RecoveryFailed { .. } => {}
        }
        self.json.clear();
        json::format(event, &Clock::now(), &mut self.json);
        if self.json.is_empty() {
            return Ok(());
        }
        self.json.push('\n');
        self.events.write_all(self.json.as_bytes())?;
        self.events.flush()?;
        self.summary.lifecycle_lines += 1;
        Ok(())
    }
}

impl Sink<MarketData> for Recorder {
    fn event(&mut self, event: &StreamEvent<MarketData>) -> Result<(), SinkError> {
        if let StreamEvent::Snapshot(_) = event {
            return Ok(());
        }
        match event.data() {
            Some(data) => {
                self.summary.messages += 1;
                self.record(event, data).map_err(|e| {
                    let path = self.dir.join(Table::of(data).name());
                    SinkError::Failed(file_error(&path, &e))
                })
            }
            None => self
                .lifecycle(event)
                .map_err(|e| SinkError::Failed(file_error(&self.dir.join(EVENTS_FILE), &e))),
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let now = Instant::now();
        for table in self.open.values_mut() {
            table
                .file
                .flush_due(now)
                .map_err(|e| SinkError::Failed(file_error(table.file.path(), &e)))?;
        }
        Ok(())
    }
}

fn file_error(path: &Path, error: &io::Error) -> String {
    format!("cannot write {}: {error}", path.display())
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (the proleptic Gregorian
/// calendar; H. Hinnant's `civil_from_days`).
fn date(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day_of_month = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day_of_month:02}")
}

/// The UTC day a timestamp falls on, as [`date`] names it (for tests and docs).
#[cfg(test)]
fn day_of(timestamp: tickwire_core::Timestamp) -> String {
    date(timestamp.seconds.div_euclid(SECONDS_PER_DAY))
}

/// A fresh empty folder for a unit test, named after it and this process.
#[cfg(test)]
fn temporary_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickwire-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A file of trades named `file`, made by `create` in a fresh folder `dir`
/// and holding one trade: the folder, the file's path, the file.
#[cfg(test)]
fn one_trade_file<F: TableFile>(
    create: fn(&Path, Table, Instant) -> io::Result<F>,
    dir: &str,
    file: &str,
) -> (PathBuf, PathBuf, F) {
    let dir = temporary_dir(dir);
    let path = dir.join(file);
    let mut file = create(&path, Table::Trades, Instant::now()).unwrap();
    let trade = crate::output::fixtures::market(crate::output::fixtures::TRADE);
    file.append(&trade, "").unwrap();
    (dir, path, file)
}

#[cfg(test)]
mod tests {
    use tickwire_core::machine::State;

    use super::*;
    use crate::output::fixtures::{self, data, machine};

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        for (time, day) in [
            ("2024-02-29T23:59:59.999Z", "2024-02-29"),
            ("2024-03-01T00:00:00Z", "2024-03-01"),
            ("2026-12-31T12:00:00Z", "2026-12-31"),
        ] {
            assert_eq!(day_of(time.parse().unwrap()), day);
        }
    }

    #[test]
    fn one_file_per_table_and_day_and_a_sidecar() {
        let dir = temporary_dir("recorder-unit");
        let mut recorder = Recorder::create(&dir, RecordFormat::Csv).unwrap();
        let quote = fixtures::market(fixtures::QUOTE);
        let mut next_day = quote.clone();
        if let MarketData::Quote(q) = &mut next_day {
            q.timestamp.seconds += SECONDS_PER_DAY;
        }
        for event in [
            machine::<MarketData>(Event::StateChanged(State::Closed)),
            data(quote.clone()),
            data(fixtures::market(fixtures::TRADE)),
            data(quote.clone()),
            StreamEvent::Snapshot(quote),
            data(next_day),
            data(fixtures::market(fixtures::LULD)),
            StreamEvent::Dropped { count: 1, total: 1 },
        ] {
            recorder.event(&event).unwrap();
        }
        recorder.flush().unwrap();
        let summary = recorder.finish().unwrap();
        assert_eq!(summary.messages, 5);
        assert_eq!((summary.lifecycle_lines, summary.dropped), (2, 1));
        let mut files: Vec<(String, u64)> = summary
            .files
            .iter()
            .map(|(path, rows)| {
                (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    *rows,
                )
            })
            .collect();
        files.sort();
        assert_eq!(
            files,
            [
                ("other-2024-01-02.csv".to_owned(), 1),
                ("quotes-2024-01-02.csv".to_owned(), 2),
                ("quotes-2024-01-03.csv".to_owned(), 1),
                ("trades-2024-01-02.csv".to_owned(), 1),
            ]
        );
        let other = fs::read_to_string(dir.join("other-2024-01-02.csv")).unwrap();
        assert!(
            other.contains(",luld,SPY,\"{\"\"type\"\":\"\"luld\"\""),
            "{other}"
        );
        let events = fs::read_to_string(dir.join(EVENTS_FILE)).unwrap();
        assert_eq!(events.lines().count(), 2);
        assert!(
            events.starts_with(r#"{"type":"state","state":"closed""#),
            "{events}"
        );

        // A second recording into the same folder takes new names.
        let mut again = Recorder::create(&dir, RecordFormat::Csv).unwrap();
        again
            .event(&data(fixtures::market(fixtures::TRADE)))
            .unwrap();
        let summary = again.finish().unwrap();
        assert!(
            summary.files[0].0.ends_with("trades-2024-01-02.1.csv"),
            "{summary}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unwritable_folder_is_a_clear_error() {
        let error = Recorder::create(
            Path::new("/proc/tickwire-cannot-be-here"),
            RecordFormat::Parquet,
        )
        .unwrap_err();
        assert!(
            error.starts_with("cannot write into /proc/tickwire-cannot-be-here"),
            "{error}"
        );
    }
}
