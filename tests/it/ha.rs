//! High availability: two replicas reading the same export serve byte-identical /metrics bodies,
//! apart from the self-metrics that describe the process itself (when it refreshed, how long it
//! took). So Prometheus can scrape both and rules can take `max without (instance)`.

use crate::util::*;

/// Metric families whose values belong to one process by nature.
const PER_PROCESS: &[&str] = &[
    "bedrock_exporter_last_refresh_timestamp_seconds",
    "bedrock_exporter_last_refresh_success_timestamp_seconds",
    "bedrock_exporter_last_refresh_duration_seconds",
    "bedrock_exporter_config_last_reload_success_timestamp_seconds",
    // The clock at the refresh (unless `now` is fixed); rules take the replicas' max.
    "bedrock_exporter_now_timestamp_seconds",
    "bedrock_exporter_previous_billing_period_age_seconds",
];

/// The body without the sample lines of per-process families (their HELP/TYPE lines stay, so
/// the set and order of families is compared too); returns the body and how many lines went.
fn without_per_process(body: &str) -> (String, usize) {
    let mut out = String::with_capacity(body.len());
    let mut dropped = 0;
    for line in body.lines() {
        let name = line.split(['{', ' ']).next().unwrap_or("");
        if !line.starts_with('#') && PER_PROCESS.contains(&name) {
            dropped += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    (out, dropped)
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: {x:?} vs {y:?}", i + 1);
        }
    }
    format!(
        "lengths {} vs {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn two_replicas_on_the_same_export_serve_identical_metrics() {
    let sample = repo().join("sample/export");
    let args = ["--source", sample.to_str().unwrap()];
    let a = Daemon::start(&args, &[]);
    // The second replica starts later, so its timestamps and durations differ.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = Daemon::start(&args, &[]);
    a.wait_ready();
    b.wait_ready();
    for accept in [None, Some("application/openmetrics-text; version=1.0.0")] {
        let (sa, _, body_a) = http_get(a.addr, "/metrics", accept).unwrap();
        let (sb, _, body_b) = http_get(b.addr, "/metrics", accept).unwrap();
        assert_eq!((sa, sb), (200, 200));
        assert!(
            body_a
                .lines()
                .filter(|l| l.starts_with("bedrock_cost_usd{"))
                .count()
                > 50,
            "the sample should give many cost series"
        );
        let (fa, dropped_a) = without_per_process(&body_a);
        let (fb, dropped_b) = without_per_process(&body_b);
        assert_eq!(
            dropped_a,
            PER_PROCESS.len(),
            "one sample per per-process family"
        );
        assert_eq!(dropped_b, PER_PROCESS.len());
        assert!(
            fa == fb,
            "replicas differ ({accept:?}): {}",
            first_difference(&fa, &fb)
        );
        // The per-process families are really per process: the filter hides a real difference.
        assert_ne!(
            body_a, body_b,
            "replicas started a second apart should differ in their refresh timestamps"
        );
    }
}
