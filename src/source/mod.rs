//! Where export objects come from: a local directory laid out like the export's S3 prefix, or the
//! S3 prefix itself. Lists, gets and opens objects by key; knows nothing of CUR.

pub mod local;
pub mod s3;

pub use local::LocalSource;
pub use s3::{S3Settings, S3Source, S3Stats};

/// One object of the export, by key relative to the export root (`/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Last modification time, milliseconds since the Unix epoch.
    pub last_modified_ms: Option<i64>,
    /// Entity tag (S3 only).
    pub etag: Option<String>,
}

/// An error listing or reading objects; names the object.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{location}: {source}")]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: {message}")]
    S3 { location: String, message: String },
    #[error(
        "{location}: no such export root (expected `data/` and `metadata/` folders as AWS Data Exports writes them)"
    )]
    NoRoot { location: String },
}
