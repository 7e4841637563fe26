//! The endpoint in process: every route and error status, the timing invariants of a
//! CPU-bound request, the worker pool's queueing, and graceful shutdown.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{get, raw};
use dynobench::endpoint::WorkResponse;
use dynobench::server::{self, ServeConfig};
use dynobench::workload::Payload;

fn start(workers: usize, backlog: usize) -> server::ServerHandle {
    server::start(ServeConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        workers,
        backlog,
        payload: Payload::bundled(),
        ballast_mb: 0,
        timeouts: Default::default(),
        guard: Default::default(),
    })
    .expect("server starts")
}

#[test]
fn health_stats_and_not_found() {
    let s = start(1, 16);
    let h = get(s.addr, "/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");

    let st = get(s.addr, "/stats").json();
    assert_eq!(st["pid"], std::process::id());
    assert!(st["rss_bytes"].as_u64().unwrap() > 0);
    assert!(st["uptime_s"].as_f64().unwrap() >= 0.0);
    assert_eq!(st["requests_served"], 0);
    assert_eq!(st["workers"], 1);
    assert_eq!(
        st["payload_bytes"].as_u64().unwrap(),
        Payload::bundled().bytes().len() as u64
    );

    let nf = get(s.addr, "/nope");
    assert_eq!(nf.status, 404);
    assert!(nf.json()["error"].as_str().unwrap().contains("/nope"));
    s.stop().unwrap();
}

#[test]
fn bad_requests_get_json_errors() {
    let s = start(1, 16);
    let q = get(s.addr, "/work?bogus=1");
    assert_eq!(q.status, 400);
    assert!(q.json()["error"].as_str().unwrap().contains("bogus"));
    let p = get(s.addr, "/work?profile=gpu");
    assert_eq!(p.status, 400);
    assert!(p.json()["error"].as_str().unwrap().contains("gpu"));

    let body = "x".repeat(4096);
    let big = raw(
        s.addr,
        &format!(
            "POST /work HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .unwrap();
    assert_eq!(big.status, 413, "{big:?}");

    let post = raw(
        s.addr,
        "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(post.status, 405);

    // A request head beyond the limit is refused by the HTTP layer (431), not buffered.
    let huge = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(server::MAX_HEAD_BYTES * 2)
    );
    match raw(s.addr, &huge) {
        Ok(r) => assert!(r.status == 431 || r.status == 0, "{}", r.status),
        Err(e) => assert!(matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        )),
    }
    // The server is still fine afterwards.
    assert_eq!(get(s.addr, "/health").status, 200);
    s.stop().unwrap();
}

#[test]
fn work_reports_timings_that_add_up() {
    let _serial = common::serial();
    let s = start(1, 16);
    let mut samples = Vec::new();
    for _ in 0..9 {
        let r = get(s.addr, "/work");
        assert_eq!(r.status, 200, "{}", r.body);
        let w: WorkResponse = serde_json::from_str(&r.body).unwrap();
        samples.push(w);
    }
    for w in &samples {
        assert!(w.cpu_us > 1000, "CPU-bound work shows CPU time: {w:?}");
        assert!(w.wall_us >= w.cpu_us, "wall >= cpu: {w:?}");
        assert_eq!(w.bytes, Payload::bundled().bytes().len() as u64);
        assert_eq!(w.worker, 0);
        assert_eq!(w.kind, "orders");
        assert_eq!(w.digest, samples[0].digest);
        if w.note.is_some() {
            assert_eq!(w.wait_us, 0);
        }
    }
    // No I/O inside the handler: wall time is CPU time, plus time waiting for a CPU, plus
    // time the hypervisor stole from the CPU (summed over the calls: steal comes in 10 ms
    // ticks). The precision of the split is shown by the reference run's breakdown.
    let share = common::unexplained_share(&samples);
    assert!(
        share < 0.05,
        "wall vs cpu + wait + steal: {:.1}% apart over {} calls: {samples:?}",
        share * 100.0,
        samples.len()
    );
    assert_eq!(get(s.addr, "/stats").json()["requests_served"], 9);
    s.stop().unwrap();
}

#[test]
fn requests_beyond_the_workers_queue_and_full_backlog_is_503() {
    let _serial = common::serial();
    let s = start(1, 1);
    let addr = s.addr;
    // The worker builds its working set when it starts; one call makes sure it has.
    assert_eq!(get(addr, "/work?profile=io&io_ms=1").status, 200);
    // One worker, room for one waiting request. A starts work; B arrives while A runs and
    // waits in the backlog; C finds the backlog full and gets 503 at once. A and B wait on
    // a simulated downstream call (no CPU), so a busy host cannot reorder them; the gaps
    // between sends are wide for the same reason.
    let a = std::thread::spawn(move || get(addr, "/work?profile=io&io_ms=600"));
    std::thread::sleep(Duration::from_millis(50));
    let b = std::thread::spawn(move || get(addr, "/work?profile=io&io_ms=600"));
    std::thread::sleep(Duration::from_millis(50));
    let c = get(addr, "/work");
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_eq!(c.status, 503, "{c:?}");
    assert!(c.json()["error"].as_str().unwrap().contains("backlog"));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(b.status, 200, "{b:?}");
    let wa: WorkResponse = serde_json::from_str(&a.body).unwrap();
    let wb: WorkResponse = serde_json::from_str(&b.body).unwrap();
    assert!(
        wa.queue_us < wb.queue_us,
        "A ran at once, B waited: {} vs {} µs",
        wa.queue_us,
        wb.queue_us
    );
    assert!(
        wb.queue_us + 150_000 >= wa.wall_us,
        "B waited for (nearly) all of A's service: queue {} µs, A's service {} µs",
        wb.queue_us,
        wa.wall_us
    );
    s.stop().unwrap();
}

#[test]
fn graceful_shutdown_finishes_in_flight_work() {
    let _serial = common::serial();
    let s = start(1, 16);
    let addr = s.addr;
    let inflight = std::thread::spawn(move || get(addr, "/work"));
    // Let the request reach the worker, then ask the server to stop.
    std::thread::sleep(Duration::from_millis(15));
    let t = Instant::now();
    s.stop().unwrap();
    let r = inflight.join().unwrap();
    assert_eq!(r.status, 200, "the in-flight request completes: {r:?}");
    assert!(t.elapsed() < server::SHUTDOWN_GRACE);
    assert!(std::net::TcpStream::connect(addr).is_err(), "no longer accepting");
}

/// A deployed endpoint is public: /work and /stats want the token, /health does not; io
/// waits beyond the router's 30 s are refused; `run --url` sends the token (`--token` or
/// DYNOBENCH_TOKEN) and says what is missing when it does not.
#[test]
fn a_token_guards_work_and_stats_and_io_is_capped() {
    let s = server::start(ServeConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        workers: 2,
        backlog: 16,
        payload: Payload::bundled(),
        ballast_mb: 0,
        timeouts: Default::default(),
        guard: server::Guard {
            token: Some("s3cret".into()),
            ..Default::default()
        },
    })
    .expect("server starts");
    let with = |path: &str, auth: &str| {
        raw(
            s.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
        )
        .unwrap()
    };
    assert_eq!(
        get(s.addr, "/health").status,
        200,
        "the platform's checks need no token"
    );
    for path in ["/work?profile=io&io_ms=1", "/stats"] {
        let r = get(s.addr, path);
        assert_eq!(r.status, 401, "{path} without the token");
        assert!(
            r.headers
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer")
        );
        assert!(r.json()["error"].as_str().unwrap().contains("DYNOBENCH_TOKEN"));
        assert_eq!(with(path, "Authorization: Bearer wrong\r\n").status, 401);
        assert_eq!(with(path, "Authorization: Bearer s3cre\r\n").status, 401);
        assert_eq!(
            with(path, "Authorization: Bearer s3cret\r\n").status,
            200,
            "{path}"
        );
    }
    let long = with(
        "/work?profile=io&io_ms=600000",
        "Authorization: Bearer s3cret\r\n",
    );
    assert_eq!(long.status, 400, "ten minutes per call would stall the workers");
    assert!(long.json()["error"].as_str().unwrap().contains("--max-io-ms"));
    assert_eq!(
        with("/work?profile=io&io_ms=30001", "Authorization: Bearer s3cret\r\n").status,
        400,
        "just past the router's 30 s"
    );
    let g = server::Guard::default();
    assert!(g.io_refusal(Some(30_000)).is_none() && g.io_refusal(Some(30_001)).is_some());

    let url = format!("http://{}", s.addr);
    let run = |token: Option<&str>, env: Option<&str>| {
        let mut c = std::process::Command::new(common::bin());
        c.args([
            "run", "--url", &url, "--class", "eco", "--calls", "4", "--warmup", "1",
        ])
        .args(["--profile", "io", "--io-ms", "2", "--no-save", "--json"])
        .env_remove("DYNOBENCH_TOKEN");
        if let Some(t) = token {
            c.args(["--token", t]);
        }
        if let Some(t) = env {
            c.env("DYNOBENCH_TOKEN", t);
        }
        let o = c.output().unwrap();
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        (
            r["classes"][0].clone(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (c, err) = run(Some("s3cret"), None);
    assert_eq!(c["status"], "ok", "--token: {err}");
    assert_eq!(c["calls"]["ok"], 4);
    let (c, err) = run(None, Some("s3cret"));
    assert_eq!(c["status"], "ok", "DYNOBENCH_TOKEN: {err}");
    let (c, err) = run(None, None);
    assert_eq!(c["status"], "failed", "{err}");
    assert!(c["failure"].as_str().unwrap().contains("--token"), "{c}");
    s.stop().unwrap();
}
