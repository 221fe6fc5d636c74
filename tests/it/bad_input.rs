//! Bad input: a clear error naming the file, the error counted, the previous snapshot kept, and
//! recovery once the input is good again.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, SystemTime};

use cur_sample::{ExportSpec, ExportSummary, SampleFormat, write_export};

use crate::util::*;

fn export(dir: &Path, format: SampleFormat) -> ExportSummary {
    write_export(
        dir,
        &ExportSpec {
            format,
            rows_per_period: 1_500,
            ..ExportSpec::default()
        },
    )
    .unwrap()
}

/// Makes the manifest look rewritten, as AWS does after every execution.
fn touch_manifests(root: &Path, summary: &ExportSummary, bump_secs: u64) {
    for m in &summary.manifests {
        let f = OpenOptions::new().write(true).open(root.join(m)).unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(bump_secs))
            .unwrap();
    }
}

fn once_fails_naming(root: &Path, file: &str, words: &[&str]) -> String {
    let out = run(&["once", "--source", root.to_str().unwrap()]);
    assert!(!out.status.success(), "once should fail");
    assert!(
        out.stdout.is_empty(),
        "a failed refresh prints no exposition"
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains(file), "error does not name {file}: {err}");
    for w in words {
        assert!(err.contains(w), "error lacks {w:?}: {err}");
    }
    err
}

#[test]
fn truncated_parquet_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = export(dir.path(), SampleFormat::Parquet);
    let victim = &s.live_files[1];
    let path = dir.path().join(victim);
    let len = std::fs::metadata(&path).unwrap().len();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    once_fails_naming(dir.path(), victim, &["Parquet", "decode"]);
}

#[test]
fn bad_gzip_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = export(dir.path(), SampleFormat::CsvGz);
    let victim = &s.live_files[0];
    std::fs::write(dir.path().join(victim), b"this is not gzip at all\n").unwrap();
    once_fails_naming(dir.path(), victim, &["gzip", "line"]);
}

#[test]
fn a_manifest_naming_a_missing_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = export(dir.path(), SampleFormat::Parquet);
    let victim = &s.live_files[2];
    std::fs::remove_file(dir.path().join(victim)).unwrap();
    once_fails_naming(dir.path(), victim, &["read"]);
}

#[test]
fn a_bad_manifest_names_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let s = export(dir.path(), SampleFormat::Parquet);
    std::fs::write(dir.path().join(&s.manifests[0]), b"{\"dataFiles\": [").unwrap();
    once_fails_naming(dir.path(), &s.manifests[0], &["manifest"]);
}

#[test]
fn the_daemon_keeps_the_last_good_snapshot_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let s = export(root, SampleFormat::Parquet);
    let mut daemon = Daemon::start(
        &["--source", root.to_str().unwrap()],
        &[("BCE_REFRESH_INTERVAL", "1s")],
    );
    daemon.wait_ready();
    let costs = |all: &[Sample]| -> Vec<Sample> {
        all.iter()
            .filter(|s| s.name == "bedrock_cost_usd")
            .cloned()
            .collect()
    };
    let good = costs(&daemon.metrics());
    assert!(!good.is_empty());

    // Corrupt one listed file; the next refresh fails.
    let victim = root.join(&s.live_files[0]);
    let original = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &original[..original.len() / 3]).unwrap();
    touch_manifests(root, &s, 5);
    let after = wait_for(
        Duration::from_secs(30),
        "a decode error to be counted",
        || {
            let m = daemon.metrics();
            (value(&m, "bedrock_exporter_errors_total", &[("stage", "decode")])? >= 1.0)
                .then_some(m)
        },
    );
    assert_eq!(
        value(&after, "bedrock_exporter_last_refresh_success", &[]),
        Some(0.0)
    );
    assert_eq!(
        costs(&after),
        good,
        "the last good snapshot must keep being served"
    );
    assert_eq!(daemon.get("/readyz").0, 200);
    let log = daemon.drain_log().join("\n");
    assert!(
        log.contains(&s.live_files[0]),
        "the log names the file: {log}"
    );

    // Fixed: the next refresh succeeds with the same numbers.
    std::fs::write(&victim, &original).unwrap();
    touch_manifests(root, &s, 10);
    let recovered = wait_for(Duration::from_secs(30), "recovery", || {
        let m = daemon.metrics();
        (value(&m, "bedrock_exporter_last_refresh_success", &[])? == 1.0).then_some(m)
    });
    assert_eq!(costs(&recovered), good);
    assert!(
        value(
            &recovered,
            "bedrock_exporter_refreshes_total",
            &[("outcome", "failure")]
        )
        .unwrap()
            >= 1.0
    );
}

/// Rewrites a gzip CSV data file, replacing `from` by `to` on the lines `which` picks (by index).
fn rewrite_csv_gz(path: &Path, from: &str, to: &str, which: impl Fn(usize) -> bool) {
    use std::io::{Read, Write};
    let mut text = String::new();
    flate2::read::GzDecoder::new(File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let rewritten: String = text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, l)| {
            if which(i) {
                l.replace(from, to)
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(File::create(path).unwrap(), Default::default());
    gz.write_all(rewritten.as_bytes()).unwrap();
    gz.finish().unwrap();
}

/// Currency codes come from the bill (`line_item_currency_code`) and name metric families
/// (`bedrock_cost_usd`): a code that is not three letters, or two codes of one billing period that
/// differ only by case (one family name), fail that period as a decode error naming the period,
/// its manifest and the codes; nothing unsanitised reaches a metric name or a HELP text.
#[test]
fn bad_or_colliding_currency_codes_fail_their_period() {
    /// (replacement, lines rewritten, words of the error)
    type Case = (&'static str, fn(usize) -> bool, &'static [&'static str]);
    let cases: [Case; 2] = [
        ("US$", |_| true, &["\"US$\"", "three letters"]),
        ("usd", |i| i % 2 == 1, &["\"USD\"", "\"usd\""]),
    ];
    for (code, which, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        let s = export(dir.path(), SampleFormat::CsvGz);
        let victim = &s.live_files[0];
        rewrite_csv_gz(&dir.path().join(victim), "USD", code, which);
        let period = victim
            .split("BILLING_PERIOD=")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap();
        let manifest = s.manifests.iter().find(|m| m.contains(period)).unwrap();
        let err = once_fails_naming(
            dir.path(),
            manifest,
            &[&["[decode]", period][..], words].concat(),
        );
        assert!(!err.contains("bedrock_cost_us$"), "{err}");
    }
}
