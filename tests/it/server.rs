//! The HTTP server under pressure: scrapes answered while refreshes and renders run, and a client
//! that never finishes its headers cut off by `header_read_timeout`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cur_sample::{ExportSpec, write_export};

use crate::util::{Daemon, http_get_raw};

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let sample = crate::util::repo().join("sample/export");
    let d = Daemon::start(
        &["--source", sample.to_str().unwrap()],
        &[("BCE_HEADER_READ_TIMEOUT", "1s")],
    );
    let mut slow = TcpStream::connect(d.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let outcome = slow.read_to_end(&mut buf);
    let waited = started.elapsed();
    // Closed by the server (EOF, possibly after a 408, or a reset), not by our read timeout.
    match outcome {
        Ok(_) => {}
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "the connection was not closed by the server: {e}"
        ),
    }
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(8),
        "cut off after {waited:?}"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.contains("200 OK"),
        "an incomplete request was answered: {text}"
    );
    // Others are still served.
    assert_eq!(d.get("/healthz").0, 200);
}

#[test]
fn scrapes_are_answered_while_long_refreshes_and_renders_run() {
    // Enough series that rendering (and gzip) takes a while in a debug build.
    let dir = tempfile::tempdir().unwrap();
    let spec = ExportSpec {
        periods: vec!["2026-10".into(), "2026-11".into()],
        rows_per_period: 10_000,
        bedrock_share: 0.9,
        extra_sessions: 4_000,
        ..ExportSpec::default()
    };
    write_export(dir.path(), &spec).unwrap();
    let mut d = Daemon::start(
        &["--source", dir.path().to_str().unwrap()],
        &[("BCE_REFRESH_INTERVAL", "1s"), ("BCE_MAX_SERIES", "100000")],
    );
    d.wait_ready();
    // Scrape until two more renders have finished (refreshes follow each other 1 s apart).
    let rendered = |d: &mut Daemon| {
        d.drain_log()
            .iter()
            .filter(|l| l.contains("exposition rendered"))
            .count()
    };
    let before = rendered(&mut d);
    let until = Instant::now() + Duration::from_secs(90);
    let mut worst = Duration::ZERO;
    let mut scrapes = 0;
    while rendered(&mut d) < before + 2 {
        assert!(Instant::now() < until, "no two renders within 90 s");
        let t = Instant::now();
        let (status, _, body) =
            http_get_raw(d.addr, "/metrics", &[("Accept-Encoding", "gzip")]).unwrap();
        assert_eq!(status, 200);
        assert!(!body.is_empty());
        worst = worst.max(t.elapsed());
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let renders = d.logged_numbers("exposition rendered", "render_seconds");
    let longest = renders.iter().copied().fold(0.0, f64::max);
    assert!(
        renders.len() >= 2 && longest >= 0.3,
        "renders were too short to prove anything: {renders:?}"
    );
    assert!(
        worst.as_secs_f64() < longest / 2.0,
        "a scrape waited {worst:?} while renders took up to {longest:.2}s ({scrapes} scrapes)"
    );
}
