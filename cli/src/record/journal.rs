//! The row-group journal beside an open Parquet file, and the repair of a
//! file whose writer died before its footer.
//!
//! A Parquet file is only readable with its footer, written when the file
//! is closed. So that a killed recording (SIGKILL, the OOM killer) loses no more
//! than the last unflushed rows, each row group written to `<file>` is also
//! described by one JSON line appended to `<file>.rowgroups`: its rows, and
//! where each column chunk lies. Closing the file removes the journal. A
//! journal found when `record` starts means its file was never closed:
//! [`repair`] cuts the file after the last journaled row group and writes
//! the footer those row groups make.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::SchemaRef;
use parquet::arrow::ArrowSchemaConverter;
use parquet::basic::{Compression, EncodingMask};
use parquet::file::metadata::{
    ColumnChunkMetaData, FileMetaData, ParquetMetaData, ParquetMetaDataWriter, RowGroupMetaData,
};
use parquet::schema::types::SchemaDescPtr;
use serde::{Deserialize, Serialize};

use super::parquet::arrow_schema;
use super::schema::Table;

/// The journal's file name ends with this, after the data file's name.
pub(crate) const JOURNAL_SUFFIX: &str = ".rowgroups";

/// Where one column chunk of a row group lies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Chunk {
    data_page_offset: i64,
    dictionary_page_offset: Option<i64>,
    compressed_bytes: i64,
    uncompressed_bytes: i64,
    values: i64,
    encodings: i32,
}

/// One journaled row group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// The table, so the schema is known when repairing.
    table: String,
    rows: i64,
    total_bytes: i64,
    /// The file's length once this row group was written.
    end: u64,
    chunks: Vec<Chunk>,
}

/// The journal of one Parquet file being written.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    table: Table,
}

impl Journal {
    /// Creates the journal of the Parquet file at `data`.
    ///
    /// # Errors
    /// When it cannot be created.
    pub(crate) fn create(data: &Path, table: Table) -> io::Result<Self> {
        let path = journal_path(data);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        Ok(Self { path, file, table })
    }

    /// Notes a row group just written, `end` the file's length after it.
    ///
    /// # Errors
    /// When the journal cannot be written.
    pub(crate) fn note(&mut self, row_group: &RowGroupMetaData, end: u64) -> io::Result<()> {
        let entry = Entry {
            table: self.table.name().to_owned(),
            rows: row_group.num_rows(),
            total_bytes: row_group.total_byte_size(),
            end,
            chunks: row_group
                .columns()
                .iter()
                .map(|column| Chunk {
                    data_page_offset: column.data_page_offset(),
                    dictionary_page_offset: column.dictionary_page_offset(),
                    compressed_bytes: column.compressed_size(),
                    uncompressed_bytes: column.uncompressed_size(),
                    values: column.num_values(),
                    encodings: column.encodings_mask().as_i32(),
                })
                .collect(),
        };
        let mut line = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }

    /// Removes the journal (its file was closed with a footer).
    ///
    /// # Errors
    /// When it cannot be removed.
    pub(crate) fn remove(self) -> io::Result<()> {
        fs::remove_file(&self.path)
    }
}

fn journal_path(data: &Path) -> PathBuf {
    let mut name = data.as_os_str().to_owned();
    name.push(JOURNAL_SUFFIX);
    PathBuf::from(name)
}

/// What [`repair`] did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repaired {
    /// The data file, now with a footer.
    pub(crate) path: PathBuf,
    /// The rows it keeps.
    pub(crate) rows: i64,
}

/// Repairs every Parquet file of `dir` left without a footer (a journal
/// beside it), then removes its journal.
///
/// # Errors
/// A message naming the file that could not be repaired.
pub(crate) fn repair(dir: &Path) -> Result<Vec<Repaired>, String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut repaired = Vec::new();
    for entry in entries.flatten() {
        let journal = entry.path();
        let Some(data) = journal
            .to_str()
            .and_then(|name| name.strip_suffix(JOURNAL_SUFFIX))
            .map(PathBuf::from)
        else {
            continue;
        };
        let failed = |e: &dyn std::fmt::Display| {
            format!(
                "cannot repair {} from {}: {e}",
                data.display(),
                journal.display()
            )
        };
        let rows = repair_one(&data, &journal).map_err(|e| failed(&e))?;
        fs::remove_file(&journal).map_err(|e| failed(&e))?;
        repaired.push(Repaired { path: data, rows });
    }
    Ok(repaired)
}

/// Cuts `data` after its last journaled row group and writes their footer.
fn repair_one(data: &Path, journal: &Path) -> io::Result<i64> {
    let mut entries = Vec::new();
    for line in BufReader::new(File::open(journal)?).lines() {
        let line = line?;
        // A line cut short by the crash describes nothing that was flushed.
        match serde_json::from_str::<Entry>(&line) {
            Ok(entry) => entries.push(entry),
            Err(_) => break,
        }
    }
    let Some(table) = entries.first().map(|e| e.table.clone()) else {
        // No row group was ever written: an empty file is no data.
        fs::remove_file(data)?;
        return Ok(0);
    };
    let table = Table::from_name(&table)
        .ok_or_else(|| io::Error::other(format!("unknown table {table:?} in the journal")))?;
    let schema = parquet_schema(&arrow_schema(table))?;
    let mut row_groups = Vec::with_capacity(entries.len());
    for (ordinal, entry) in entries.iter().enumerate() {
        row_groups.push(row_group(entry, &schema, ordinal)?);
    }
    let rows = entries.iter().map(|e| e.rows).sum();
    let end = entries.last().map_or(0, |e| e.end);
    let metadata = ParquetMetaData::new(
        FileMetaData::new(
            1,
            rows,
            Some(format!(
                "tickwire record {} (repaired)",
                env!("CARGO_PKG_VERSION")
            )),
            None,
            schema,
            None,
        ),
        row_groups,
    );
    let mut footer = Vec::new();
    ParquetMetaDataWriter::new(&mut footer, &metadata)
        .finish()
        .map_err(io::Error::other)?;
    let file = OpenOptions::new().write(true).open(data)?;
    file.set_len(end)?;
    let mut file = OpenOptions::new().append(true).open(data)?;
    file.write_all(&footer)?;
    file.sync_all()?;
    Ok(rows)
}

fn parquet_schema(schema: &SchemaRef) -> io::Result<SchemaDescPtr> {
    ArrowSchemaConverter::new()
        .convert(schema)
        .map(Arc::new)
        .map_err(io::Error::other)
}

fn row_group(
    entry: &Entry,
    schema: &SchemaDescPtr,
    ordinal: usize,
) -> io::Result<RowGroupMetaData> {
    let columns = schema
        .columns()
        .iter()
        .zip(&entry.chunks)
        .map(|(descriptor, chunk)| {
            ColumnChunkMetaData::builder(Arc::clone(descriptor))
                .set_compression(Compression::SNAPPY)
                .set_data_page_offset(chunk.data_page_offset)
                .set_dictionary_page_offset(chunk.dictionary_page_offset)
                .set_total_compressed_size(chunk.compressed_bytes)
                .set_total_uncompressed_size(chunk.uncompressed_bytes)
                .set_num_values(chunk.values)
                .set_encodings_mask(
                    EncodingMask::try_new(chunk.encodings).map_err(io::Error::other)?,
                )
                .build()
                .map_err(io::Error::other)
        })
        .collect::<io::Result<Vec<_>>>()?;
    if columns.len() != schema.num_columns() {
        return Err(io::Error::other("a journaled row group misses columns"));
    }
    RowGroupMetaData::builder(Arc::clone(schema))
        .set_num_rows(entry.rows)
        .set_total_byte_size(entry.total_bytes)
        .set_ordinal(i32::try_from(ordinal).map_err(io::Error::other)?)
        .set_column_metadata(columns)
        .build()
        .map_err(io::Error::other)
}
