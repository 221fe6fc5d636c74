//! Bare CUR 2.0 data files — a file, or a folder of files, with no Data Exports manifest around
//! them (a download, a hand-made copy). Pure: from an object listing to one group of files per
//! billing period.
//!
//! What is lost without a manifest: the manifest says which files of which execution make up a
//! period, so a stale chunk an overwrite left behind, or an older create-new execution, is read
//! with the rest; every data file found counts. The billing period comes from the path:
//! the `BILLING_PERIOD=YYYY-MM` folder AWS writes data files under (anywhere in the path, so a file
//! given alone keeps its folder's period), else a `YYYY-MM` in the file name.

use std::collections::BTreeMap;

use super::Format;
use super::manifest::PERIOD_SEGMENT;
use crate::source::ObjectMeta;

/// The data files of one billing period, and a stand-in for a manifest: an object whose key, size,
/// time and tag change whenever a file is added, removed or rewritten, so an unchanged period is
/// not read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarePeriod {
    pub meta: ObjectMeta,
    pub files: Vec<String>,
}

/// A data file whose billing period the path does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoPeriod {
    pub location: String,
}

/// The key that stands for a bare period's (missing) manifest, as `manifest` labels show it.
pub fn pseudo_manifest_key(period: &str) -> String {
    format!("(no manifest: bare data files of {PERIOD_SEGMENT}{period})")
}

/// Groups the data files of `listing` (keys relative to the source root; anything under
/// `metadata/` or not a data file is ignored) by billing period. `location` gives a key's full
/// path or URI, whose folders may name the period when the source is a single file.
pub fn plan(
    listing: &[ObjectMeta],
    location: impl Fn(&str) -> String,
) -> (BTreeMap<String, BarePeriod>, Vec<NoPeriod>) {
    let mut groups: BTreeMap<String, Vec<&ObjectMeta>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for o in listing {
        if o.key.starts_with("metadata/") || Format::of_key(&o.key).is_none() {
            continue;
        }
        let full = location(&o.key);
        match period_of_path(&full) {
            Some(p) => groups.entry(p).or_default().push(o),
            None => unknown.push(NoPeriod { location: full }),
        }
    }
    let periods = groups
        .into_iter()
        .map(|(period, files)| {
            let mut tag = Fnv::default();
            for f in &files {
                tag.add(f.key.as_bytes());
                tag.add(&f.size.to_le_bytes());
                tag.add(&f.last_modified_ms.unwrap_or(0).to_le_bytes());
                tag.add(f.etag.as_deref().unwrap_or("").as_bytes());
            }
            let meta = ObjectMeta {
                key: pseudo_manifest_key(&period),
                size: files.iter().map(|f| f.size).sum(),
                last_modified_ms: files.iter().filter_map(|f| f.last_modified_ms).max(),
                etag: Some(format!("{:016x}-{}", tag.0, files.len())),
            };
            let files = files.iter().map(|f| f.key.clone()).collect();
            (period.clone(), BarePeriod { meta, files })
        })
        .collect();
    (periods, unknown)
}

/// `…/BILLING_PERIOD=2026-11/…` → `2026-11`; else a `YYYY-MM` (month 01–12) in the last path
/// segment (`cur-2026-11.parquet`).
pub fn period_of_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split(['/', '\\']).collect();
    for s in segments.iter().rev() {
        if let Some(p) = s.strip_prefix(PERIOD_SEGMENT) {
            return is_period(p).then(|| p.to_string());
        }
    }
    let name = segments.last()?.as_bytes();
    (0..name.len().saturating_sub(6)).find_map(|i| {
        let w = &name[i..i + 7];
        let bounded = (i == 0 || !name[i - 1].is_ascii_digit())
            && name.get(i + 7).is_none_or(|c| !c.is_ascii_digit());
        let text = std::str::from_utf8(w).ok()?;
        (bounded && is_period(text)).then(|| text.to_string())
    })
}

fn is_period(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..].iter().all(u8::is_ascii_digit)
        && matches!(s[5..].parse::<u8>(), Ok(1..=12))
        && s[..4] >= *"2000"
}

/// FNV-1a, 64 bits: a stable tag of a period's file list (not a security measure).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, size: u64, t: i64) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size,
            last_modified_ms: Some(t),
            etag: None,
        }
    }

    #[test]
    fn periods_from_the_path() {
        for (path, want) in [
            // As AWS writes them (Data Exports user guide, "Export delivery").
            (
                "data/BILLING_PERIOD=2026-11/cur2-00001.snappy.parquet",
                Some("2026-11"),
            ),
            (
                "/home/me/Downloads/BILLING_PERIOD=2026-04/x.csv.gz",
                Some("2026-04"),
            ),
            ("cur-2026-10.parquet", Some("2026-10")),
            ("bill_2026-12_export.csv", Some("2026-12")),
            ("cur-2026-13.parquet", None),
            ("cur-12026-10.parquet", None),
            ("2026-10-01-part.parquet", Some("2026-10")),
            ("export.parquet", None),
            ("data/BILLING_PERIOD=soon/x.parquet", None),
        ] {
            assert_eq!(period_of_path(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn files_group_by_period_and_the_tag_follows_every_change() {
        let listing = vec![
            obj("metadata/BILLING_PERIOD=2026-11/x-Manifest.json", 10, 1),
            obj("data/BILLING_PERIOD=2026-11/a.parquet", 100, 5),
            obj("data/BILLING_PERIOD=2026-11/b.parquet", 200, 7),
            obj("data/BILLING_PERIOD=2026-10/c.csv.gz", 50, 3),
            obj("notes.txt", 1, 1),
            obj("loose.parquet", 9, 9),
        ];
        let (periods, unknown) = plan(&listing, |k| format!("/m/{k}"));
        assert_eq!(
            unknown,
            vec![NoPeriod {
                location: "/m/loose.parquet".into()
            }]
        );
        assert_eq!(periods.keys().collect::<Vec<_>>(), ["2026-10", "2026-11"]);
        let nov = &periods["2026-11"];
        assert_eq!(
            nov.files,
            [
                "data/BILLING_PERIOD=2026-11/a.parquet",
                "data/BILLING_PERIOD=2026-11/b.parquet"
            ]
        );
        assert_eq!(nov.meta.size, 300);
        assert_eq!(nov.meta.last_modified_ms, Some(7));
        assert_eq!(
            nov.meta.key,
            "(no manifest: bare data files of BILLING_PERIOD=2026-11)"
        );
        // Same listing, same stand-in; any change to a file, a new file or a gone one, another.
        let again = plan(&listing, |k| format!("/m/{k}")).0;
        assert_eq!(again["2026-11"].meta, nov.meta);
        for changed in [
            {
                let mut l = listing.clone();
                l[2].last_modified_ms = Some(8);
                l
            },
            {
                let mut l = listing.clone();
                l[1].size = 101;
                l
            },
            {
                let mut l = listing.clone();
                l.push(obj("data/BILLING_PERIOD=2026-11/d.parquet", 1, 1));
                l
            },
            {
                let mut l = listing.clone();
                l.remove(2);
                l
            },
        ] {
            let p = plan(&changed, |k| format!("/m/{k}")).0;
            assert_ne!(p["2026-11"].meta.etag, nov.meta.etag);
            assert_eq!(p["2026-10"].meta, periods["2026-10"].meta);
        }
    }

    #[test]
    fn a_single_file_takes_its_folders_period() {
        let listing = vec![obj("cur2-00001.snappy.parquet", 10, 1)];
        let (periods, unknown) = plan(&listing, |k| format!("/dl/data/BILLING_PERIOD=2026-09/{k}"));
        assert!(unknown.is_empty());
        assert_eq!(periods["2026-09"].files, ["cur2-00001.snappy.parquet"]);
    }
}
