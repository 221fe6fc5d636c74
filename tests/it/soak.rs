//! Soak: many refreshes against a real S3-compatible server (moto) whose export keeps changing
//! (two exports with different data uploaded in turn over the same keys, so every refresh
//! rereads) and which is killed and restarted every few refreshes. The daemon's resident memory
//! and open file descriptors must stay flat; every successful refresh serves exactly one of the
//! two exports' totals, never a mix. Refreshes are triggered with `POST /-/reload`
//! (`--web.enable-lifecycle`), each followed by a refresh.
//!
//! Memory is measured as the resident set of a daemon whose glibc allocator is set to give memory
//! back as it frees it ([`ALLOCATOR`]: one arena, no thread caches, the heap top trimmed at once,
//! blocks of 128 kB and more mapped on their own, no cache of exited threads' stacks). The resident set then follows the live heap,
//! so growth means retained memory, not arenas warming up at the pace of the machine's load. The
//! growth is a robust fit: the floor (minimum) of each cycle of 10 refreshes after a warm-up, and
//! the Theil–Sen slope (median of pairwise slopes) of those floors. The leak test proves the fit
//! catches a leak of 8 kB per refresh (a debug-build hook of the daemon leaks it).
//!
//! `SOAK_REFRESHES` sets the number of refreshes (default 300, about three minutes in a debug build
//! on an idle machine); `SOAK_SERIES_OUT=PREFIX` writes each run's samples to `PREFIX-leakN.txt`;
//! `scripts/soak.sh` runs 1,000 and prints the figures the docs quote.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use cur_sample::{ExportSpec, write_export};

use crate::util::*;

const BUCKET: &str = "soak";
const PREFIX: &str = "cur/soak";

/// moto without IAM checks (any key is accepted), so a restarted server takes the same keys.
fn start_moto(port: u16) -> Child {
    let bin = python().parent().unwrap().join("moto_server");
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server (./scripts/test.sh installs it)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for(Duration::from_secs(30), "moto_server to listen", || {
        TcpStream::connect(addr).ok()
    });
    child
}

fn upload(rt: &tokio::runtime::Runtime, endpoint: SocketAddr, root: &Path) {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{endpoint}"))
        .force_path_style(true)
        .credentials_provider(Credentials::new("soak", "soak", None, None, "test"))
        .build();
    let client = {
        let _g = rt.enter();
        aws_sdk_s3::Client::from_conf(conf)
    };
    upload_tree(rt, &client, root, BUCKET, PREFIX);
}

/// Anonymous resident memory (kB: heap, anonymous maps, stacks; not the binary's file-backed pages,
/// which grow as new code paths first run) and open file descriptors of a process.
fn rss_and_fds(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

fn total(m: &[Sample]) -> f64 {
    ksum(samples(m, "bedrock_cost_usd").iter().map(|s| s.value))
}

fn refreshes(m: &[Sample]) -> f64 {
    samples(m, "bedrock_exporter_refreshes_total")
        .iter()
        .map(|s| s.value)
        .sum()
}

/// Memory growth the soak accepts, in kB per 100 refreshes (5 kB per refresh). Measured on the
/// 2-core machine with the allocator settings above, 300 refreshes each (the docs' soak table):
/// without a leak the fit is 0 idle and up to +370 kB per 100 refreshes with the machine
/// overloaded (load average 15: several cargo builds beside the suite); a leak of 4 kB per
/// refresh fits at +420 to +590, one of 8 kB at +772 overloaded. The limit sits between the two:
/// 1.35 times the worst fit without a leak, 0.65 times the 8 kB leak's.
const MAX_GROWTH_KB_PER_100: f64 = 500.0;

/// The leak the leak test plants, per refresh.
const TEST_LEAK_BYTES: usize = 8 * 1024;

/// glibc malloc tunables that make the resident set follow the live heap (see the module docs).
const ALLOCATOR: &str = "glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0:\
glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=131072:glibc.pthread.stack_cache_size=0";

/// Refreshes between two kills of the S3 server; also the window of one floor.
const CYCLE: usize = 10;

/// Theil–Sen slope of `ys` over their index: the median of the slopes of every pair.
fn theil_sen(ys: &[f64]) -> f64 {
    let mut slopes = Vec::new();
    for i in 0..ys.len() {
        for j in i + 1..ys.len() {
            slopes.push((ys[j] - ys[i]) / (j - i) as f64);
        }
    }
    slopes.sort_by(f64::total_cmp);
    let m = slopes.len() / 2;
    if slopes.len() % 2 == 1 {
        slopes[m]
    } else {
        (slopes[m - 1] + slopes[m]) / 2.0
    }
}

/// What a soak measured.
struct Soak {
    rss: Vec<f64>,
    fds: Vec<f64>,
    /// Fitted RSS growth after the warm-up, kB per 100 refreshes.
    growth_kb_per_100: f64,
    /// The first refresh of the fit.
    warm_up: usize,
}

impl Soak {
    fn summary(&self) -> String {
        let fmt = |v: &[f64]| {
            let mut s = v.to_vec();
            s.sort_by(f64::total_cmp);
            format!(
                "first {:.0}, median {:.0}, last {:.0}, max {:.0}",
                v[0],
                s[s.len() / 2],
                v[v.len() - 1],
                s[s.len() - 1]
            )
        };
        format!(
            "SOAK anon_rss_kb: {} ; fitted growth after refresh {} {:+.1} kB per 100 refreshes (limit {MAX_GROWTH_KB_PER_100})\nSOAK fds: {}",
            fmt(&self.rss),
            self.warm_up,
            self.growth_kb_per_100,
            fmt(&self.fds)
        )
    }
}

fn refreshes_to_run() -> usize {
    std::env::var("SOAK_REFRESHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

#[test]
fn soak_refreshes_with_changing_exports_and_s3_restarts_keep_memory_and_fds_flat() {
    if missing(&[Need::Moto]) {
        return;
    }
    let s = soak(refreshes_to_run(), 0);
    println!("{}", s.summary());
    // Flat: file descriptors come back to where they were (at most 2 over the warm-up's maximum:
    // a connection being closed); memory grows less than the limit.
    let fd_max_after = s.fds[s.warm_up..].iter().copied().fold(0.0, f64::max);
    let fd_max_before = s.fds[..s.warm_up].iter().copied().fold(0.0, f64::max);
    assert!(
        fd_max_after <= fd_max_before + 2.0,
        "file descriptors grow: {}",
        s.summary()
    );
    let fd_floors: Vec<f64> = s.fds[s.warm_up..]
        .chunks(CYCLE)
        .map(|c| c.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    let fd_growth = theil_sen(&fd_floors) / CYCLE as f64 * 100.0;
    assert!(
        fd_growth.abs() < 1.0,
        "fd growth {fd_growth} per 100 refreshes"
    );
    assert!(
        s.growth_kb_per_100 < MAX_GROWTH_KB_PER_100,
        "memory grows: {}",
        s.summary()
    );
}

/// The soak can fail: the same run with the daemon leaking 8 kB per refresh (a debug-build hook)
/// is over the limit.
#[test]
fn a_leak_of_8_kb_per_refresh_fails_the_soak() {
    if missing(&[Need::Moto]) {
        return;
    }
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the leak hook exists in debug builds only");
        return;
    }
    let s = soak(refreshes_to_run(), TEST_LEAK_BYTES);
    println!("{}", s.summary());
    assert!(
        s.growth_kb_per_100 > MAX_GROWTH_KB_PER_100,
        "a leak of {TEST_LEAK_BYTES} bytes per refresh went unnoticed: {}",
        s.summary()
    );
}

/// `n` refreshes (S3 killed and restarted every [`CYCLE`]), the daemon leaking `leak` bytes per
/// refresh; RSS and fds after each.
fn soak(n: usize, leak: usize) -> Soak {
    let restart_every = CYCLE;
    assert!(n >= 12 * CYCLE, "SOAK_REFRESHES: at least {}", 12 * CYCLE);
    let dir = tempfile::tempdir().unwrap();
    let exports: Vec<_> = [1u64, 2]
        .iter()
        .map(|seed| {
            let root = dir.path().join(format!("export-{seed}"));
            write_export(
                &root,
                &ExportSpec {
                    rows_per_period: 300,
                    files_per_period: 2,
                    row_group_rows: 100,
                    extra_sessions: 0,
                    seed: *seed,
                    ..ExportSpec::default()
                },
            )
            .unwrap();
            let expected = total(&parse_exposition(&once(&root, &[])));
            (root, expected)
        })
        .collect();
    assert!(
        (exports[0].1 - exports[1].1).abs() > 1e-6,
        "the two exports must differ"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = free_port();
    let endpoint: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut moto = start_moto(port);
    upload(&rt, endpoint, &exports[0].0);
    let d = Daemon::start(
        &[
            "--source",
            &format!("s3://{BUCKET}/{PREFIX}"),
            "--s3-endpoint",
            &format!("http://{endpoint}"),
            "--s3-path-style",
            "--web.enable-lifecycle",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "soak"),
            ("AWS_SECRET_ACCESS_KEY", "soak"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ("BCE_S3__MAX_ATTEMPTS", "2"),
            ("BCE_S3__REQUEST_TIMEOUT", "2s"),
            (
                "BEDROCK_EXPORTER_TEST_LEAK_BYTES_PER_REFRESH",
                &leak.to_string(),
            ),
            ("GLIBC_TUNABLES", ALLOCATOR),
        ],
    );
    d.wait_ready();
    let pid = d.child.id();
    let started = Instant::now();
    let mut rss = Vec::new();
    let mut fds = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for i in 0..n {
        let down = i % restart_every == restart_every - 1;
        let which = i % 2;
        if down {
            let _ = moto.kill();
            let _ = moto.wait();
        } else {
            upload(&rt, endpoint, &exports[which].0);
        }
        let t0 = Instant::now();
        let before = refreshes(&d.metrics());
        let (code, _, _) = raw_request(d.addr, "POST", "/-/reload", &[]);
        assert_eq!(code, 200, "POST /-/reload");
        let m = wait_for(
            Duration::from_secs(60),
            "the refresh after a reload",
            || {
                let m = d.metrics();
                (refreshes(&m) > before).then_some(m)
            },
        );
        let success = value(&m, "bedrock_exporter_last_refresh_success", &[]) == Some(1.0);
        let t = total(&m);
        assert!(
            exports.iter().any(|(_, e)| close(t, *e, 1e-9)),
            "refresh {i}: total {t} is neither export's ({}, {}): a partial read was published",
            exports[0].1,
            exports[1].1
        );
        if down {
            assert!(!success, "refresh {i} succeeded with the S3 server down");
            failed += 1;
            moto = start_moto(port);
            upload(&rt, endpoint, &exports[which].0);
        } else {
            assert!(success, "refresh {i} failed with the S3 server up");
            assert!(
                close(t, exports[which].1, 1e-9),
                "refresh {i} serves the other export"
            );
            ok += 1;
        }
        if std::env::var("SOAK_TRACE").is_ok() {
            eprintln!(
                "refresh {i}: {:?} (upload+restart before it not counted)",
                t0.elapsed()
            );
        }
        let (r, f) = rss_and_fds(pid);
        rss.push(r as f64);
        fds.push(f as f64);
    }
    if let Ok(out) = std::env::var("SOAK_SERIES_OUT") {
        let text: String = rss
            .iter()
            .zip(&fds)
            .map(|(r, f)| format!("{r} {f}\n"))
            .collect();
        std::fs::write(format!("{out}-leak{leak}.txt"), text).unwrap();
    }
    let _ = moto.kill();
    let _ = moto.wait();
    let mut d = d;
    let refresh_secs = d.logged_numbers("refresh finished", "seconds");
    if std::env::var("SOAK_TRACE").is_ok() {
        eprintln!("{}", d.drain_log().join("\n"));
    }
    println!(
        "SOAK refresh seconds: mean {:.3}, max {:.3}",
        refresh_secs.iter().sum::<f64>() / refresh_secs.len().max(1) as f64,
        refresh_secs.iter().copied().fold(0.0, f64::max)
    );
    // The fit starts after a third of the run (the allocator's first-use growth is over by then),
    // on whole cycles.
    let warm_up = (n / 3).div_ceil(CYCLE) * CYCLE;
    let floors: Vec<f64> = rss[warm_up..]
        .chunks(CYCLE)
        .map(|c| c.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    let soak = Soak {
        growth_kb_per_100: theil_sen(&floors) / CYCLE as f64 * 100.0,
        warm_up,
        rss,
        fds,
    };
    println!(
        "SOAK refreshes={n} ok={ok} failed={failed} leak={leak} seconds={:.0}",
        started.elapsed().as_secs_f64()
    );
    soak
}
