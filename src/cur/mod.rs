//! CUR 2.0 decoding: manifests, Parquet and gzip CSV data files → [`CurRow`]s handed to a
//! [`RowSink`]. Knows the CUR 2.0 schema, nothing of Bedrock.
//!
//! - [`columns`] — the column names we read (selected by name, never by position).
//! - [`row`] — the plain row type and the sink trait.
//! - [`manifest`] — Data Exports manifests: which files of which execution count.
//! - [`bare`] — data files without a manifest: grouped by the billing period their path names.
//! - [`parquet`] — a plan from the footer, then any row group decoded from its column chunks.
//! - [`csv`] — a streaming decoder, one record at a time.
//! - [`time`] — ISO-8601 timestamps as written in CSV exports.

pub mod bare;
pub mod columns;
pub mod csv;
pub mod error;
pub mod manifest;
pub mod parquet;
pub mod row;
pub mod time;

pub use error::CurError;
pub use row::{CurRow, FileStats, Prefilter, RowSink};

/// The data-file formats AWS Data Exports writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `*.snappy.parquet` (every codec the `parquet` crate has is built in).
    Parquet,
    /// `*.csv.gz`.
    CsvGz,
    /// Uncompressed `*.csv` (not written by AWS; accepted for hand-made mirrors).
    Csv,
}

impl Format {
    /// The format of a data file, from its name.
    pub fn of_key(key: &str) -> Option<Format> {
        if key.ends_with(".parquet") {
            Some(Format::Parquet)
        } else if key.ends_with(".csv.gz") {
            Some(Format::CsvGz)
        } else if key.ends_with(".csv") {
            Some(Format::Csv)
        } else {
            None
        }
    }
}
