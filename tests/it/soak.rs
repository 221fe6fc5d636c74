//! Soak: many refreshes against a real S3-compatible server (moto) whose export keeps changing
//! (two exports with different data uploaded in turn over the same keys, so every refresh
//! rereads) and which is killed and restarted every few refreshes. The daemon's resident memory
//! and open file descriptors must stay flat; every successful refresh serves exactly one of the
//! two exports' totals, never a mix. Refreshes are triggered with `POST /-/reload`
//! (`--web.enable-lifecycle`), each followed by a refresh.
//!
//! `SOAK_REFRESHES` sets the number of refreshes (default 160, under two minutes in a debug build);
//! `scripts/soak.sh` runs 1,000 and prints the figures the README quotes.

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

/// Resident set size (kB) and open file descriptors of a process.
fn rss_and_fds(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

/// Least-squares slope of `ys` over their index.
fn slope(ys: &[f64]) -> f64 {
    let n = ys.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = ys.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        num += (i as f64 - mx) * (y - my);
        den += (i as f64 - mx).powi(2);
    }
    num / den
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

#[test]
fn soak_refreshes_with_changing_exports_and_s3_restarts_keep_memory_and_fds_flat() {
    let n: usize = std::env::var("SOAK_REFRESHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(160);
    let restart_every = 10;
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
    // Slopes over the second half (after allocator warm-up), per 100 refreshes.
    let half = n / 2;
    let rss_slope = slope(&rss[half..]) * 100.0;
    let fd_slope = slope(&fds[half..]) * 100.0;
    let fmt = |v: &[f64]| {
        format!(
            "first {:.0}, median {:.0}, last {:.0}, max {:.0}",
            v[0],
            {
                let mut s = v.to_vec();
                s.sort_by(f64::total_cmp);
                s[s.len() / 2]
            },
            v[v.len() - 1],
            v.iter().copied().fold(0.0, f64::max)
        )
    };
    println!(
        "SOAK refreshes={n} ok={ok} failed={failed} seconds={:.0}\nSOAK rss_kb: {} ; slope over the second half {rss_slope:+.1} kB per 100 refreshes\nSOAK fds: {} ; slope over the second half {fd_slope:+.2} per 100 refreshes",
        started.elapsed().as_secs_f64(),
        fmt(&rss),
        fmt(&fds),
    );
    // Flat: file descriptors come back to where they were; memory grows by less than 2 MB per
    // 100 refreshes over the second half (a leak of one export's data per refresh is ~100 kB,
    // so 100 refreshes would grow by 10 MB).
    let fd_max_second_half = fds[half..].iter().copied().fold(0.0, f64::max);
    assert!(
        fd_max_second_half <= fds[..half].iter().copied().fold(0.0, f64::max) + 2.0,
        "file descriptors grow: {}",
        fmt(&fds)
    );
    assert!(
        fd_slope.abs() < 1.0,
        "fd slope {fd_slope} per 100 refreshes"
    );
    assert!(
        rss_slope < 2048.0,
        "RSS grows {rss_slope:.0} kB per 100 refreshes: {}",
        fmt(&rss)
    );
}
