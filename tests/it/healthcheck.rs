//! `healthcheck` against the running daemon: what the container's HEALTHCHECK relies on.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("healthcheck")
        .args(args)
        .env_remove("BCE_SOURCE")
        .env_remove("BCE_LISTEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run healthcheck");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn healthy_daemon_passes_liveness_and_readiness() {
    let sample = repo().join("sample/export");
    let d = Daemon::start(&["--source", sample.to_str().unwrap()], &[]);
    let url = format!("http://{}/healthz", d.addr);
    let (ok, out, err) = healthcheck(&["--url", &url], &[]);
    assert!(ok, "stdout {out} stderr {err}");
    assert!(out.contains("healthy") && out.contains("/healthz"), "{out}");
    d.wait_ready();
    // --listen and --ready: the form without a URL, as the Dockerfile uses it.
    let listen = d.addr.to_string();
    let (ok, out, err) = healthcheck(&["--ready", "--listen", &listen], &[]);
    assert!(ok, "stdout {out} stderr {err}");
    assert!(out.contains("/readyz") && out.contains("ready"), "{out}");
}

#[test]
fn not_ready_daemon_fails_readiness_with_the_reason() {
    // An empty export root: every refresh fails, so /readyz stays 503 while /healthz is 200.
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&["--source", dir.path().to_str().unwrap()], &[]);
    let (ok, _, err) = healthcheck(&["--url", &format!("http://{}/readyz", d.addr)], &[]);
    assert!(!ok, "a daemon that never refreshed must not be ready");
    assert!(
        err.contains("unhealthy") && err.contains("503") && err.contains("not ready"),
        "{err}"
    );
    let (ok, _, err) = healthcheck(&["--url", &format!("http://{}/healthz", d.addr)], &[]);
    assert!(ok, "{err}");
    let (ok, _, err) = healthcheck(&["--url", &format!("http://{}/nope", d.addr)], &[]);
    assert!(!ok && err.contains("404"), "{err}");
}

#[test]
fn unreachable_and_silent_servers_fail_within_the_timeout() {
    let port = free_port();
    let (ok, _, err) = healthcheck(&["--url", &format!("http://127.0.0.1:{port}/healthz")], &[]);
    assert!(!ok);
    assert!(
        err.contains("unreachable") && err.contains(&port.to_string()) && err.contains("listen"),
        "{err}"
    );

    // Accepts the connection, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        let (mut conn, _) = silent.accept().unwrap();
        let mut sink = Vec::new();
        let _ = conn.read_to_end(&mut sink);
    });
    let start = Instant::now();
    let (ok, _, err) = healthcheck(
        &[
            "--url",
            &format!("http://{addr}/healthz"),
            "--timeout",
            "700ms",
        ],
        &[],
    );
    let took = start.elapsed();
    assert!(!ok && err.contains("no answer within"), "{err}");
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let _ = holder.join();

    // Not HTTP at all.
    let garbage = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = garbage.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        use std::io::Write;
        let (mut conn, _) = garbage.accept().unwrap();
        // Read the request first, so the client never writes into a closed socket.
        let mut buf = [0u8; 1024];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = conn.write_all(b"SSH-2.0-OpenSSH\r\n");
    });
    let (ok, _, err) = healthcheck(&["--url", &format!("http://{addr}/")], &[]);
    assert!(!ok && err.contains("did not answer HTTP"), "{err}");
    let _ = t.join();

    for (url, want) in [
        ("https://127.0.0.1:1/healthz", "needs --web.config.file"),
        ("127.0.0.1:9747", "expected http://"),
    ] {
        let (ok, _, err) = healthcheck(&["--url", url], &[]);
        assert!(!ok && err.contains(want), "{url}: {err}");
    }
    let (ok, _, err) = healthcheck(&["--timeout", "0s"], &[]);
    assert!(!ok && err.contains("positive duration"), "{err}");
}

/// The container's setup exactly: `BCE_LISTEN=0.0.0.0:PORT` for the daemon, and a bare
/// `healthcheck` (same environment) that must find it on loopback.
#[test]
fn container_environment_listen_on_all_addresses_is_probed_on_loopback() {
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let sample = repo().join("sample/export");
    let mut child = Command::new(BIN)
        .env("BCE_LISTEN", &listen)
        .env("BCE_SOURCE", &sample)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn daemon");
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut child);
    let env = [("BCE_LISTEN", listen.as_str())];
    wait_for(Duration::from_secs(60), "healthcheck --ready", || {
        healthcheck(&["--ready"], &env).0.then_some(())
    });
    let (ok, out, err) = healthcheck(&[], &env);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("http://127.0.0.1:{port}/healthz")),
        "{out}"
    );
}
