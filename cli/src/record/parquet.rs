//! One table's Parquet file: arrow-rs's `ArrowWriter` with the table's
//! explicit schema, Snappy compression, rows buffered in Arrow builders and
//! written as a row group when [`ROWS_PER_GROUP_MAX`] rows are buffered or
//! [`FLUSH_INTERVAL`] has passed, and noted in the file's [`Journal`]; the
//! footer is written on close, and on drop when a path did not close it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{
    ArrayBuilder, Float64Builder, ListBuilder, StringBuilder, TimestampNanosecondBuilder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tickwire_alpaca::{Conditions, MarketData};
use tickwire_core::Timestamp;

use super::journal::Journal;
use super::schema::{Column, Kind, RowWriter, Table, write_row};
use super::{FLUSH_INTERVAL, ROWS_PER_GROUP_MAX, TableFile};

/// The time zone of every timestamp column.
const UTC: &str = "UTC";

/// The Arrow schema of a table.
pub(crate) fn arrow_schema(table: Table) -> SchemaRef {
    let fields: Vec<Field> = table
        .columns()
        .iter()
        .map(|column| Field::new(column.name, data_type(column.kind), column.nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into())),
        Kind::Text => DataType::Utf8,
        Kind::Float => DataType::Float64,
        Kind::Integer => DataType::UInt64,
        Kind::TextList => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
    }
}

/// A column being filled.
#[derive(Debug)]
enum Builder {
    Timestamp(TimestampNanosecondBuilder),
    Text(StringBuilder),
    Float(Float64Builder),
    Integer(UInt64Builder),
    TextList(ListBuilder<StringBuilder>),
}

impl Builder {
    fn new(column: &Column) -> Self {
        match column.kind {
            Kind::Timestamp => {
                Self::Timestamp(TimestampNanosecondBuilder::new().with_timezone(UTC))
            }
            Kind::Text => Self::Text(StringBuilder::new()),
            Kind::Float => Self::Float(Float64Builder::new()),
            Kind::Integer => Self::Integer(UInt64Builder::new()),
            Kind::TextList => Self::TextList(ListBuilder::new(StringBuilder::new())),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
            Self::Float(b) => Arc::new(b.finish()),
            Self::Integer(b) => Arc::new(b.finish()),
            Self::TextList(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Timestamp(b) => b.len(),
            Self::Text(b) => b.len(),
            Self::Float(b) => b.len(),
            Self::Integer(b) => b.len(),
            Self::TextList(b) => b.len(),
        }
    }
}

/// Fills the builders of one row, column after column.
struct Cursor<'a> {
    builders: &'a mut [Builder],
    next: usize,
}

impl Cursor<'_> {
    fn builder(&mut self) -> Option<&mut Builder> {
        let builder = self.builders.get_mut(self.next);
        self.next += 1;
        builder
    }
}

// A value of the wrong kind for its column would be a bug in `schema`
// (its test checks every row against its columns); it is passed over, and
// the batch then fails with a clear error instead of a panic.
impl RowWriter for Cursor<'_> {
    fn timestamp(&mut self, value: Timestamp) {
        if let Some(Builder::Timestamp(b)) = self.builder() {
            b.append_value(nanoseconds(value));
        }
    }

    fn text(&mut self, value: Option<&str>) {
        if let Some(Builder::Text(b)) = self.builder() {
            b.append_option(value);
        }
    }

    fn float(&mut self, value: Option<f64>) {
        if let Some(Builder::Float(b)) = self.builder() {
            b.append_option(value);
        }
    }

    fn integer(&mut self, value: Option<u64>) {
        if let Some(Builder::Integer(b)) = self.builder() {
            b.append_option(value);
        }
    }

    fn list(&mut self, values: &Conditions) {
        if let Some(Builder::TextList(b)) = self.builder() {
            for value in values.iter() {
                b.values().append_value(value);
            }
            b.append(true);
        }
    }
}

/// Nanoseconds since the epoch (saturating: Arrow's range ends in 2262).
fn nanoseconds(value: Timestamp) -> i64 {
    value
        .seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(value.nanos))
}

/// A table's Parquet file being written.
pub(crate) struct ParquetFile {
    path: PathBuf,
    schema: SchemaRef,
    builders: Vec<Builder>,
    writer: Option<ArrowWriter<File>>,
    journal: Option<Journal>,
    rows_written: u64,
    last_flush: Instant,
}

impl std::fmt::Debug for ParquetFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetFile")
            .field("path", &self.path)
            .field("rows_written", &self.rows_written)
            .finish_non_exhaustive()
    }
}

impl ParquetFile {
    /// Creates the file at `path` for `table`.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub(crate) fn create(path: &Path, table: Table, now: Instant) -> io::Result<Self> {
        let schema = arrow_schema(table);
        let file = File::create_new(path)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP_MAX))
            .build();
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(properties))
            .map_err(io::Error::other)?;
        let journal = Journal::create(path, table)?;
        Ok(Self {
            path: path.to_owned(),
            builders: table.columns().iter().map(Builder::new).collect(),
            schema,
            writer: Some(writer),
            journal: Some(journal),
            rows_written: 0,
            last_flush: now,
        })
    }

    fn buffered(&self) -> usize {
        self.builders.first().map_or(0, Builder::len)
    }

    /// Writes the buffered rows as a row group, through to the file.
    fn write_row_group(&mut self) -> io::Result<()> {
        let rows = self.buffered();
        if rows == 0 {
            return Ok(());
        }
        let Some(writer) = self.writer.as_mut() else {
            return Err(io::Error::other("the file is already closed"));
        };
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch =
            RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(io::Error::other)?;
        writer.write(&batch).map_err(io::Error::other)?;
        writer.flush().map_err(io::Error::other)?;
        writer.sync()?;
        if let (Some(journal), Some(row_group)) =
            (self.journal.as_mut(), writer.flushed_row_groups().last())
        {
            journal.note(row_group, writer.bytes_written() as u64)?;
        }
        self.rows_written += rows as u64;
        Ok(())
    }
}

impl TableFile for ParquetFile {
    fn append(&mut self, data: &MarketData, json: &str) -> io::Result<()> {
        write_row(
            data,
            json,
            &mut Cursor {
                builders: &mut self.builders,
                next: 0,
            },
        );
        if self.buffered() >= ROWS_PER_GROUP_MAX {
            self.write_row_group()?;
        }
        Ok(())
    }

    fn flush_due(&mut self, now: Instant) -> io::Result<()> {
        if now.saturating_duration_since(self.last_flush) >= FLUSH_INTERVAL {
            self.last_flush = now;
            self.write_row_group()?;
        }
        Ok(())
    }

    fn close(&mut self) -> io::Result<u64> {
        self.write_row_group()?;
        if let Some(writer) = self.writer.take() {
            writer.close().map_err(io::Error::other)?;
        }
        if let Some(journal) = self.journal.take() {
            journal.remove()?;
        }
        Ok(self.rows_written)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ParquetFile {
    fn drop(&mut self) {
        if self.writer.is_some()
            && let Err(error) = self.close()
        {
            tracing::warn!("cannot close {}: {error}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;
    use crate::output::fixtures;
    use crate::record::{one_trade_file, temporary_dir};

    /// A new quotes file `file` in a fresh folder `dir`, created at the
    /// instant returned: the folder, the file's path, the instant, the file.
    fn quotes_file(dir: &str, file: &str) -> (PathBuf, PathBuf, Instant, ParquetFile) {
        let dir = temporary_dir(dir);
        let path = dir.join(file);
        let start = Instant::now();
        let file = ParquetFile::create(&path, Table::Quotes, start).unwrap();
        (dir, path, start, file)
    }

    #[test]
    fn rows_become_row_groups_and_a_footer() {
        let (dir, path, start, mut file) = quotes_file("parquet-unit", "quotes.parquet");
        let quote = fixtures::market(fixtures::QUOTE);
        for _ in 0..3 {
            file.append(&quote, "").unwrap();
        }
        file.flush_due(start).unwrap();
        assert_eq!(file.rows_written, 0, "not due yet");
        file.flush_due(start + FLUSH_INTERVAL).unwrap();
        assert_eq!(file.rows_written, 3, "a row group on the time bound");
        file.append(&quote, "").unwrap();
        assert!(dir.join("quotes.parquet.rowgroups").exists());
        assert_eq!(file.close().unwrap(), 4);
        assert!(
            !dir.join("quotes.parquet.rowgroups").exists(),
            "closed: no journal"
        );

        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let metadata = reader.metadata();
        assert_eq!(metadata.num_row_groups(), 2);
        assert_eq!(metadata.file_metadata().num_rows(), 4);
        let names: Vec<&str> = metadata
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name())
            .collect();
        assert!(
            names.starts_with(&["timestamp", "symbol", "bid_exchange"]),
            "{names:?}"
        );
        assert!(File::create_new(&path).is_err());
        assert!(
            ParquetFile::create(&path, Table::Quotes, start).is_err(),
            "an existing file is never overwritten"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_left_without_footer_is_repaired_from_its_journal() {
        let (dir, path, start, mut file) =
            quotes_file("parquet-repair", "quotes-2024-01-02.parquet");
        let quote = fixtures::market(fixtures::QUOTE);
        for round in 1..=2 {
            for _ in 0..5 {
                file.append(&quote, "").unwrap();
            }
            file.flush_due(start + FLUSH_INTERVAL * round).unwrap();
        }
        file.append(&quote, "").unwrap();
        // The process dies: no footer, the last row never flushed.
        file.writer = None;
        file.journal = None;
        drop(file);
        assert!(SerializedFileReader::new(File::open(&path).unwrap()).is_err());

        let repaired = super::super::journal::repair(&dir).unwrap();
        assert_eq!(repaired.len(), 1);
        assert_eq!(repaired[0].rows, 10);
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 2);
        assert_eq!(reader.metadata().file_metadata().num_rows(), 10);
        let rows = reader.get_row_iter(None).unwrap().count();
        assert_eq!(rows, 10);
        assert!(!dir.join("quotes-2024-01-02.parquet.rowgroups").exists());
        assert!(super::super::journal::repair(&dir).unwrap().is_empty());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dropping_closes_the_file() {
        let (dir, path, file) =
            one_trade_file(ParquetFile::create, "parquet-drop", "trades.parquet");
        drop(file);
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 1);
        fs::remove_dir_all(dir).unwrap();
    }
}
