//! Where export objects come from: a local directory laid out like the export's S3 prefix, or the
//! S3 prefix itself. [`Source`] is the one type the rest of the daemon sees: it lists objects and
//! hands out whole objects, byte ranges and streaming readers, all blocking. For S3 it drives the
//! async SDK with a runtime handle, so callers must run on a plain thread (a refresh runs on a
//! blocking thread, or outside the runtime in `once`), never on an async worker. Knows nothing of
//! CUR or Parquet.

pub mod local;
pub mod s3;

use std::io::Read;
use std::ops::Range;

use bytes::Bytes;

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
    #[error("{location}: {source}{}", io_hint(.source))]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: {message}")]
    S3 {
        location: String,
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error(
        "{location}: no such export root (expected `data/` and `metadata/` folders as AWS Data Exports writes them)"
    )]
    NoRoot { location: String },
}

/// What to do about a local I/O error.
fn io_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            "; it is named (by a manifest or a listing) but not there: re-sync the mirror from the bucket, and check that nothing deletes the export's files"
        }
        std::io::ErrorKind::PermissionDenied => "; let the exporter's user read the export's files",
        _ => "",
    }
}

/// The export's objects: a local directory or an S3 prefix.
#[derive(Debug, Clone)]
pub struct Source(Backend);

#[derive(Debug, Clone)]
enum Backend {
    Local(LocalSource),
    S3 {
        s3: S3Source,
        rt: tokio::runtime::Handle,
    },
}

impl Source {
    /// A local copy of the export prefix.
    pub fn local(root: impl Into<std::path::PathBuf>) -> Source {
        Source(Backend::Local(LocalSource::new(root)))
    }

    /// An S3 prefix; its requests run on `rt`.
    pub fn s3(s3: S3Source, rt: tokio::runtime::Handle) -> Source {
        Source(Backend::S3 { s3, rt })
    }

    /// Every object under `prefix` (relative to the export root), sorted by key.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, SourceError> {
        match &self.0 {
            Backend::Local(l) => l.list(prefix),
            Backend::S3 { s3, rt } => rt.block_on(s3.list(prefix)),
        }
    }

    /// The whole object (manifests are small).
    pub fn get(&self, key: &str) -> Result<Bytes, SourceError> {
        match &self.0 {
            Backend::Local(l) => l.get(key).map(Bytes::from),
            Backend::S3 { s3, rt } => rt.block_on(s3.get(key)),
        }
    }

    /// The last `n` bytes of an object (all of it when shorter) and the object's size.
    pub fn get_suffix(&self, key: &str, n: u64) -> Result<(Bytes, u64), SourceError> {
        match &self.0 {
            Backend::Local(l) => l.get_suffix(key, n),
            Backend::S3 { s3, rt } => rt.block_on(s3.get_suffix(key, n)),
        }
    }

    /// The given byte ranges of an object, in order. On S3 nearby ranges are fetched with one GET
    /// and the GETs run in parallel (bounded by `s3.concurrency`).
    pub fn get_ranges(&self, key: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, SourceError> {
        match &self.0 {
            Backend::Local(l) => l.get_ranges(key, ranges),
            Backend::S3 { s3, rt } => rt.block_on(s3.get_ranges(key, ranges)),
        }
    }

    /// A streaming reader of the whole object (gzip CSV is decompressed on the fly, never held
    /// whole). Its bytes are counted as they are read; an S3 body that breaks is resumed
    /// (`ResumingBody`).
    pub fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, SourceError> {
        match &self.0 {
            Backend::Local(l) => Ok(Box::new(l.open(key)?)),
            Backend::S3 { s3, rt } => {
                Ok(Box::new(ResumingBody::open(s3.clone(), rt.clone(), key)?))
            }
        }
    }

    /// The object's full name for messages (path or `s3://` URI).
    pub fn location(&self, key: &str) -> String {
        match &self.0 {
            Backend::Local(l) => l.location(key),
            Backend::S3 { s3, .. } => s3.location(key),
        }
    }

    /// S3 self-metrics, for an S3 source.
    pub fn s3_stats(&self) -> Option<S3Stats> {
        match &self.0 {
            Backend::Local(_) => None,
            Backend::S3 { s3, .. } => Some(s3.stats()),
        }
    }

    /// Whether requests wait on the network (worth more threads than cores).
    pub fn is_remote(&self) -> bool {
        matches!(self.0, Backend::S3 { .. })
    }
}

/// A streamed S3 body that resumes where it broke: when reading fails (the connection was cut,
/// reset or stalled), the object is requested again from the first byte not yet read, on the
/// ETag first seen (an object replaced meanwhile is refused, never spliced), up to
/// `s3.max_attempts` attempts in all. A reader above it sees one unbroken stream.
struct ResumingBody {
    s3: S3Source,
    rt: tokio::runtime::Handle,
    key: String,
    etag: Option<String>,
    inner: Box<dyn Read + Send>,
    /// Bytes handed out so far.
    offset: u64,
    attempt: u32,
}

impl ResumingBody {
    fn open(s3: S3Source, rt: tokio::runtime::Handle, key: &str) -> Result<Self, SourceError> {
        let (body, etag) = rt.block_on(s3.stream_from(key, 0, None))?;
        let inner = blocking(body, &rt);
        Ok(ResumingBody {
            s3,
            rt,
            key: key.to_string(),
            etag,
            inner,
            offset: 0,
            attempt: 1,
        })
    }
}

impl Read for ResumingBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let error = match self.inner.read(buf) {
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => e,
            };
            let Some(backoff) = self.s3.body_retry(&self.key, self.attempt, &error) else {
                return Err(error);
            };
            // The broken body holds a GET permit: give it back first (with `s3.concurrency = 1`
            // the next GET would wait for it forever).
            self.inner = Box::new(std::io::empty());
            std::thread::sleep(backoff);
            self.attempt += 1;
            let (body, _) = self
                .rt
                .block_on(
                    self.s3
                        .stream_from(&self.key, self.offset, self.etag.as_deref()),
                )
                .map_err(std::io::Error::other)?;
            self.inner = blocking(body, &self.rt);
        }
    }
}

/// An async body as a blocking reader driven on `rt`.
fn blocking(
    body: impl tokio::io::AsyncRead + Send + Unpin + 'static,
    rt: &tokio::runtime::Handle,
) -> Box<dyn Read + Send> {
    Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
        body,
        rt.clone(),
    ))
}
