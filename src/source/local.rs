//! A local directory holding a copy of an export prefix (what `aws s3 sync s3://bucket/prefix/<export>`
//! gives): `<root>/data/BILLING_PERIOD=…/…` and `<root>/metadata/BILLING_PERIOD=…/…`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::{ObjectMeta, SourceError};

#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
    /// A source that is one data file: its parent is the root and only this name is listed.
    only: Option<String>,
}

impl LocalSource {
    /// `root` is an export root (or any folder); a path to a file makes a source of that one file
    /// (a bare data file, read without a manifest).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root: PathBuf = root.into();
        if root.is_file()
            && let (Some(parent), Some(name)) = (root.parent(), root.file_name())
        {
            return LocalSource {
                root: parent.to_path_buf(),
                only: Some(name.to_string_lossy().into_owned()),
            };
        }
        LocalSource { root, only: None }
    }

    /// The full path of a key, for messages.
    pub fn location(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }

    /// Every object under `prefix` (a key prefix ending in `/`), recursively, sorted by key.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, SourceError> {
        if !self.root.is_dir() {
            return Err(SourceError::NoRoot {
                location: self.root.display().to_string(),
            });
        }
        let mut out = Vec::new();
        if let Some(name) = &self.only {
            // One file: listed under its name, and nothing else (not even a manifest beside it).
            let path = self.root.join(name);
            if prefix.is_empty() {
                let meta = std::fs::metadata(&path).map_err(|source| SourceError::Io {
                    location: path.display().to_string(),
                    source,
                })?;
                out.push(ObjectMeta {
                    key: name.clone(),
                    size: meta.len(),
                    last_modified_ms: meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as i64),
                    etag: None,
                });
            }
            return Ok(out);
        }
        let dir = self.root.join(prefix);
        if dir.is_dir() {
            // Links are followed (a mirror may link its folders elsewhere); walkdir compares each
            // directory with its ancestors, so a link back up is an error here, not a recursion.
            for entry in walkdir::WalkDir::new(&dir).min_depth(1).follow_links(true) {
                let entry = entry.map_err(|e| walk_error(e, &dir))?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let path = entry.path();
                let meta = entry.metadata().map_err(|e| walk_error(e, path))?;
                let rel = path.strip_prefix(&self.root).unwrap_or(path);
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let last_modified_ms = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64);
                out.push(ObjectMeta {
                    key,
                    size: meta.len(),
                    last_modified_ms,
                    etag: None,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The whole object (manifests are small).
    pub fn get(&self, key: &str) -> Result<Vec<u8>, SourceError> {
        std::fs::read(self.root.join(key)).map_err(|source| SourceError::Io {
            location: self.location(key),
            source,
        })
    }

    /// An open file for streaming reads.
    pub fn open(&self, key: &str) -> Result<File, SourceError> {
        File::open(self.root.join(key)).map_err(|source| SourceError::Io {
            location: self.location(key),
            source,
        })
    }

    fn io_err(&self, key: &str) -> impl Fn(std::io::Error) -> SourceError + '_ {
        let location = self.location(key);
        move |source| SourceError::Io {
            location: location.clone(),
            source,
        }
    }

    /// The last `n` bytes of the file (all of it when shorter) and its size.
    pub fn get_suffix(&self, key: &str, n: u64) -> Result<(bytes::Bytes, u64), SourceError> {
        let err = self.io_err(key);
        let mut file = self.open(key)?;
        let size = file.metadata().map_err(&err)?.len();
        let start = size.saturating_sub(n);
        file.seek(SeekFrom::Start(start)).map_err(&err)?;
        let mut buf = Vec::with_capacity((size - start) as usize);
        file.read_to_end(&mut buf).map_err(&err)?;
        Ok((buf.into(), size))
    }

    /// The given byte ranges of the file, in order.
    pub fn get_ranges(
        &self,
        key: &str,
        ranges: &[Range<u64>],
    ) -> Result<Vec<bytes::Bytes>, SourceError> {
        let err = self.io_err(key);
        let file = self.open(key)?;
        ranges
            .iter()
            .map(|r| {
                // Read into spare capacity: zero-filling first cost a `memset` of every byte.
                let len = (r.end - r.start) as usize;
                let mut buf = Vec::with_capacity(len);
                (&file).seek(SeekFrom::Start(r.start)).map_err(&err)?;
                (&file)
                    .take(len as u64)
                    .read_to_end(&mut buf)
                    .map_err(&err)?;
                if buf.len() < len {
                    return Err(err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("bytes {}..{} are past the end of the file", r.start, r.end),
                    )));
                }
                Ok(buf.into())
            })
            .collect()
    }
}

/// A listing error naming the path: a symlink loop says where it leads back to.
fn walk_error(e: walkdir::Error, fallback: &Path) -> SourceError {
    let location = e.path().unwrap_or(fallback).display().to_string();
    if let Some(ancestor) = e.loop_ancestor() {
        let source = std::io::Error::other(format!(
            "symlink loop: it leads back to {}, which holds it; remove the link (an export mirror needs no link back up)",
            ancestor.display()
        ));
        return SourceError::Io { location, source };
    }
    let source = e
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other("cannot list"));
    SourceError::Io { location, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symlink loop in a mirror is an error naming the link, at once (the walk used to recurse
    /// through it until the OS said "too many levels of symbolic links", 40 levels down, naming
    /// that path; with two links it branched 2^40 ways); links that are no loop are followed.
    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let period = dir.path().join("metadata/BILLING_PERIOD=2026-01");
        std::fs::create_dir_all(&period).unwrap();
        std::fs::write(period.join("x-Manifest.json"), b"{}").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("y-Manifest.json"), b"{}").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), period.join("linked")).unwrap();
        let source = LocalSource::new(dir.path());
        let keys: Vec<String> = source
            .list("metadata/")
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(
            keys,
            [
                "metadata/BILLING_PERIOD=2026-01/linked/y-Manifest.json",
                "metadata/BILLING_PERIOD=2026-01/x-Manifest.json"
            ]
        );
        // Two links back up: without loop detection the walk also branches, 2^40 paths deep.
        for name in ["cycle", "again"] {
            std::os::unix::fs::symlink(dir.path().join("metadata"), period.join(name)).unwrap();
        }
        let e = source.list("metadata/").unwrap_err().to_string();
        assert!(
            e.contains("BILLING_PERIOD=2026-01/again") && e.contains("symlink loop"),
            "{e}"
        );
        assert!(!e.contains("again/BILLING_PERIOD"), "{e}");
    }
}
