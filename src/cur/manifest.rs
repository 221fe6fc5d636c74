//! Data Exports manifests: which data files of which execution count for each billing period.
//!
//! Layout (Data Exports user guide, "Export delivery", docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html): `<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`
//! (overwrite mode) or `…/BILLING_PERIOD=YYYY-MM/<timestamp>-<execution-id>/<export>-Manifest.json`
//! (create-new mode). The manifest is written after all data files, and lists them in `dataFiles` as
//! `s3://bucket/prefix/<export>/data/…` URIs. Only the files the newest manifest lists count:
//! overwrite mode leaves stale chunks behind (overwritten with empty data), and create-new mode keeps
//! every older execution. The full manifest schema is undocumented, so unknown keys are ignored.

use std::collections::BTreeMap;

use super::CurError;
use crate::source::ObjectMeta;

/// The path segment that names a billing period.
pub const PERIOD_SEGMENT: &str = "BILLING_PERIOD=";

/// What a manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `executionId`, when the manifest has one.
    pub execution_id: Option<String>,
    /// Data files as keys relative to the export root (`data/BILLING_PERIOD=2026-11/…`).
    pub data_files: Vec<String>,
    /// The manifest says its export is example data (`"bedrockCostExporterSample": true`, written by
    /// `cur-sample`), not a bill: the exporter says so in a metric and in its log.
    pub sample: bool,
}

/// The manifest key that marks example data (`cur-sample` writes it; AWS never does). A marker in
/// the manifest, not the path, so that a copy of the sample anywhere is still recognised.
pub const SAMPLE_MARKER: &str = "bedrockCostExporterSample";

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    #[serde(default)]
    execution_id: Option<String>,
    data_files: Option<Vec<String>>,
    #[serde(default, rename = "bedrockCostExporterSample")]
    sample: bool,
}

/// Parses a manifest; `object` names it in errors.
pub fn parse(bytes: &[u8], object: &str) -> Result<Manifest, CurError> {
    let raw: RawManifest = serde_json::from_slice(bytes).map_err(|e| CurError::Manifest {
        object: object.to_string(),
        message: format!("not valid manifest JSON: {e}"),
    })?;
    let files = raw.data_files.ok_or_else(|| CurError::Manifest {
        object: object.to_string(),
        message: "has no `dataFiles` list".to_string(),
    })?;
    let bad = |message: String| CurError::Manifest {
        object: object.to_string(),
        message,
    };
    let mut data_files = Vec::with_capacity(files.len());
    let mut seen = std::collections::HashSet::new();
    let mut first_root: Option<&str> = None;
    for uri in &files {
        if has_dot_segment(uri) {
            return Err(bad(format!(
                "data file {uri:?} has a `.` or `..` segment; AWS writes plain keys: is the manifest damaged or hand-made?"
            )));
        }
        let key = resolve_data_file(uri).ok_or_else(|| {
            bad(format!(
                "data file {uri:?} is not under `data/{PERIOD_SEGMENT}…` of an export"
            ))
        })?;
        // Every file of one execution lives under one export root (bucket and prefix).
        let root = &uri[..uri.len() - key.len()];
        match first_root {
            None => first_root = Some(root),
            Some(r) if r != root => {
                return Err(bad(format!(
                    "data file {uri:?} is under {root:?}, the files before it under {r:?}; one manifest lists the files of one export, so it names another export's files: re-sync the manifest from the bucket"
                )));
            }
            Some(_) => {}
        }
        if !seen.insert(key.clone()) {
            return Err(bad(format!(
                "lists {key} twice; a data file counts once, so the manifest is damaged: re-sync it from the bucket or wait for the next AWS delivery"
            )));
        }
        data_files.push(key);
    }
    Ok(Manifest {
        execution_id: raw.execution_id.filter(|s| !s.is_empty()),
        data_files,
        sample: raw.sample,
    })
}

/// `s3://bucket/prefix/export/data/BILLING_PERIOD=2026-11/x-00001.snappy.parquet` →
/// `data/BILLING_PERIOD=2026-11/x-00001.snappy.parquet`: the key relative to the export root, so a
/// local mirror or another bucket resolves the same manifest.
pub fn resolve_data_file(uri: &str) -> Option<String> {
    let needle = format!("data/{PERIOD_SEGMENT}");
    let at = uri.rfind(&needle)?;
    if at > 0 && !uri[..at].ends_with('/') {
        return None;
    }
    let key = &uri[at..];
    (!key.contains("/../") && !key.ends_with('/')).then(|| key.to_string())
}

/// Whether a URI's path has a `.` or `..` segment (after the scheme's `//`, when it starts with
/// a scheme: a `://` further on is part of the path).
fn has_dot_segment(uri: &str) -> bool {
    let path = match uri.split_once("://") {
        Some((scheme, p))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            p
        }
        _ => uri,
    };
    path.split(['/', '\\']).any(|seg| seg == "." || seg == "..")
}

/// The billing period (`YYYY-MM`) named by a key's `BILLING_PERIOD=` segment.
pub fn period_of_key(key: &str) -> Option<&str> {
    let at = key.find(PERIOD_SEGMENT)? + PERIOD_SEGMENT.len();
    let period = key.get(at..at + 7)?;
    let b = period.as_bytes();
    let ok = b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
        && key[at + 7..].starts_with('/');
    ok.then_some(period)
}

/// The create-new execution folder (`<timestamp>-<execution-id>`) of a manifest key, if any.
pub fn execution_folder(key: &str) -> Option<&str> {
    let at = key.find(PERIOD_SEGMENT)?;
    let after = &key[at..];
    let mut parts = after.split('/');
    parts.next()?; // BILLING_PERIOD=…
    let folder = parts.next()?;
    parts.next().map(|_| folder)
}

/// Whether a key under `metadata/` is a manifest.
pub fn is_manifest_key(key: &str) -> bool {
    key.ends_with("Manifest.json") && key.contains("metadata/") && period_of_key(key).is_some()
}

/// The newest manifest of each billing period in a listing of `metadata/`.
///
/// Newest = greatest execution folder name (create-new folders start with a sortable timestamp),
/// then greatest last-modified time, then greatest key. Folder names come first because a git
/// checkout or a copy does not keep modification times.
pub fn latest_per_period(listing: &[ObjectMeta]) -> BTreeMap<String, ObjectMeta> {
    let mut best: BTreeMap<String, ObjectMeta> = BTreeMap::new();
    let rank = |m: &ObjectMeta| {
        (
            execution_folder(&m.key).unwrap_or("").to_string(),
            m.last_modified_ms.unwrap_or(i64::MIN),
            m.key.clone(),
        )
    };
    for m in listing.iter().filter(|m| is_manifest_key(&m.key)) {
        let period = period_of_key(&m.key).expect("checked by is_manifest_key");
        match best.get(period) {
            Some(cur) if rank(cur) >= rank(m) => {}
            _ => {
                best.insert(period.to_string(), m.clone());
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, modified: i64) -> ObjectMeta {
        ObjectMeta {
            key: key.to_string(),
            size: 1,
            last_modified_ms: Some(modified),
            etag: None,
        }
    }

    #[test]
    fn parses_leniently_and_resolves_against_the_root() {
        let json = br#"{
            "executionId": "8a5f-1",
            "exportArn": "arn:aws:bcm-data-exports:us-east-1:123456789012:export/cur2-1",
            "columns": [{"name": "bill_bill_type", "type": "string"}],
            "unknownKey": {"nested": true},
            "dataFiles": [
                "s3://my-bucket/cur/cur2/data/BILLING_PERIOD=2026-11/cur2-00001.snappy.parquet",
                "s3://my-bucket/cur/cur2/data/BILLING_PERIOD=2026-11/20261101T000000Z-8a5f/cur2-00002.snappy.parquet"
            ]
        }"#;
        let m = parse(json, "m.json").unwrap();
        assert_eq!(m.execution_id.as_deref(), Some("8a5f-1"));
        assert_eq!(
            m.data_files,
            [
                "data/BILLING_PERIOD=2026-11/cur2-00001.snappy.parquet",
                "data/BILLING_PERIOD=2026-11/20261101T000000Z-8a5f/cur2-00002.snappy.parquet"
            ]
        );
    }

    #[test]
    fn bad_manifests_name_the_object() {
        let e = parse(b"{", "metadata/x-Manifest.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("metadata/x-Manifest.json: manifest: not valid manifest JSON"),
            "{e}"
        );
        let e = parse(b"{}", "m").unwrap_err().to_string();
        assert!(e.contains("no `dataFiles`"), "{e}");
        let e = parse(br#"{"dataFiles":["s3://b/elsewhere/file.parquet"]}"#, "m").unwrap_err();
        assert!(e.to_string().contains("elsewhere/file.parquet"), "{e}");
        assert_eq!(
            resolve_data_file("s3://b/p/mydata/BILLING_PERIOD=2026-11/x.parquet"),
            None
        );
    }

    #[test]
    fn dot_segments_duplicates_and_other_exports_are_refused() {
        let one = |uris: &[&str]| {
            let json = serde_json::json!({ "dataFiles": uris }).to_string();
            parse(json.as_bytes(), "m").map_err(|e| e.to_string())
        };
        let f = "s3://b/cur/cur2/data/BILLING_PERIOD=2026-11/cur2-00001.snappy.parquet";
        let g = "s3://b/cur/cur2/data/BILLING_PERIOD=2026-11/cur2-00002.snappy.parquet";
        assert_eq!(one(&[f, g]).unwrap().data_files.len(), 2);
        // A mirror in another bucket resolves against the root: fine when every file agrees.
        let other = "s3://replica/x/data/BILLING_PERIOD=2026-11/cur2-00001.snappy.parquet";
        assert_eq!(one(&[other]).unwrap().data_files.len(), 1);
        let e = one(&[f, f]).unwrap_err();
        assert!(e.contains("cur2-00001.snappy.parquet twice"), "{e}");
        let e = one(&[f, other]).unwrap_err();
        assert!(
            e.contains("\"s3://replica/x/\"") && e.contains("another export"),
            "{e}"
        );
        for dotted in [
            "s3://b/cur/../../etc/data/BILLING_PERIOD=2026-11/x.csv.gz",
            "s3://b/cur/./data/BILLING_PERIOD=2026-11/x.csv.gz",
            "s3://b/cur/cur2/data/BILLING_PERIOD=2026-11/../BILLING_PERIOD=2026-11/x.csv.gz",
            "s3://b/cur/cur2/data/BILLING_PERIOD=2026-11/..",
            "data/BILLING_PERIOD=2026-11/..\\..\\x.csv",
            // A `://` after the dot segment is not a scheme (found by the manifest fuzz target).
            "s3:?/b/data/BILLING_PERIOD=2026-11/./a://b.parquet",
            "data/BILLING_PERIOD=2026-11/./a://b.parquet",
        ] {
            let e = one(&[dotted]).unwrap_err();
            assert!(e.contains("`.` or `..` segment"), "{dotted}: {e}");
        }
        // Dots inside a name are fine.
        assert!(one(&["s3://b/c/data/BILLING_PERIOD=2026-11/a..b.csv.gz"]).is_ok());
    }

    #[test]
    fn periods_and_folders() {
        let k = "metadata/BILLING_PERIOD=2026-11/20261102T101010Z-abc/cur2-Manifest.json";
        assert_eq!(period_of_key(k), Some("2026-11"));
        assert_eq!(execution_folder(k), Some("20261102T101010Z-abc"));
        assert_eq!(
            execution_folder("metadata/BILLING_PERIOD=2026-11/cur2-Manifest.json"),
            None
        );
        assert_eq!(period_of_key("metadata/BILLING_PERIOD=2026-1/x"), None);
        assert!(!is_manifest_key(
            "data/BILLING_PERIOD=2026-11/cur2-00001.snappy.parquet"
        ));
    }

    #[test]
    fn newest_execution_wins_per_period() {
        let listing = [
            meta("metadata/BILLING_PERIOD=2026-10/cur2-Manifest.json", 5),
            meta(
                "metadata/BILLING_PERIOD=2026-11/20261101T060000Z-aaa/cur2-Manifest.json",
                9,
            ),
            meta(
                "metadata/BILLING_PERIOD=2026-11/20261102T060000Z-bbb/cur2-Manifest.json",
                1,
            ),
            meta(
                "metadata/BILLING_PERIOD=2026-11/20261102T060000Z-bbb/other.json",
                99,
            ),
            meta("aws-programmatic-access-test-object", 1),
        ];
        let best = latest_per_period(&listing);
        assert_eq!(best.len(), 2);
        assert!(best["2026-11"].key.contains("bbb"));
        assert!(best["2026-10"].key.ends_with("cur2-Manifest.json"));
    }
}
