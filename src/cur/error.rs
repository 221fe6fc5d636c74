//! Decoding errors; every one names the object and, where it has one, the position.

/// What to do about a damaged data file.
const RESYNC: &str = "the billing period keeps its last good data; if this is a mirror, re-sync the file from the bucket, else the next AWS delivery rewrites it";

/// An error reading a manifest or a data file.
#[derive(Debug, thiserror::Error)]
pub enum CurError {
    #[error("{object}: {source}")]
    Io {
        object: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{object}: not a readable Parquet file: {source}; {RESYNC}")]
    ParquetFile {
        object: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{object}: row group {row_group}: {source}; {RESYNC}")]
    ParquetRowGroup {
        object: String,
        row_group: usize,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{object}: line {line}: {message}")]
    Csv {
        object: String,
        line: u64,
        message: String,
    },
    #[error("{object}: required column {column} is missing; is this a CUR 2.0 export?")]
    MissingColumn {
        object: String,
        column: &'static str,
    },
    #[error(
        "{object}: column {column} has type {found}, expected {expected}; is this a CUR 2.0 export as AWS Data Exports writes it?"
    )]
    ColumnType {
        object: String,
        column: &'static str,
        found: String,
        expected: &'static str,
    },
    /// A data file whose name says no format we decode. Stage `decode`: the object is there and
    /// readable; what fails is turning it into rows, as for a damaged file.
    #[error(
        "{object}: unknown data file format: expected a name ending in .parquet, .csv.gz or .csv (what AWS Data Exports writes; .csv for hand-made mirrors); the billing period keeps its last good data"
    )]
    UnknownFormat { object: String },
    #[error("{object}: manifest: {message}")]
    Manifest { object: String, message: String },
}
