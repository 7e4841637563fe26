//! The endpoint against hostile or careless clients: malformed request lines and headers,
//! a head trickled in (slow-loris), pipelining, HTTP/1.0, a client that resets mid-request,
//! a thousand idle connections, kept-alive connections that outlive the head timeout but
//! not the idle one, and arbitrary bytes and queries (proptest). Every time the server
//! answers or closes as it should, never panics, and keeps serving others. The driver
//! reconnects transparently when the server closes an idle connection.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{get, raw};
use dynobench::server::{self, ConnTimeouts, ServeConfig};
use dynobench::workload::Payload;
use proptest::prelude::*;

fn start(timeouts: ConnTimeouts) -> server::ServerHandle {
    server::start(ServeConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        workers: 2,
        backlog: 64,
        payload: Payload::bundled(),
        ballast_mb: 0,
        timeouts,
        guard: Default::default(),
    })
    .expect("server starts")
}

fn short() -> ConnTimeouts {
    ConnTimeouts {
        head: Duration::from_millis(400),
        idle: Duration::from_secs(2),
    }
}

/// Reads until the peer closes (or `within` passes); returns what arrived and whether it closed.
fn read_until_closed(s: &mut TcpStream, within: Duration) -> (String, bool) {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (String::from_utf8_lossy(&buf).into(), true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&buf).into(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&buf).into(), false),
        }
    }
}

fn status_of(text: &str) -> u16 {
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let s = start(short());
    for bad in [
        "GARBAGE\r\n\r\n",
        "GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost x\r\n\r\n",
        "GET /health HTTP/1.1\r\nHo st: x\r\n\r\n",
        "GET\r\n\r\n",
        "\u{1}\u{2}\u{3}\r\n\r\n",
    ] {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.write_all(bad.as_bytes()).unwrap();
        let (text, closed) = read_until_closed(&mut c, Duration::from_secs(5));
        let st = status_of(&text);
        assert!(closed, "{bad:?}: the connection is closed");
        assert!(st == 400 || st == 505 || st == 0, "{bad:?} → {text:?}");
        assert_eq!(get(s.addr, "/health").status, 200, "after {bad:?}");
    }
    s.stop().unwrap();
}

#[test]
fn a_trickled_head_is_cut_off_while_others_are_served() {
    let s = start(short());
    let mut slow = TcpStream::connect(s.addr).unwrap();
    let t = Instant::now();
    let mut cut = false;
    for b in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if slow.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        // Others are served meanwhile.
        if t.elapsed() < Duration::from_millis(200) {
            assert_eq!(get(s.addr, "/health").status, 200);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (text, closed) = read_until_closed(&mut slow, Duration::from_secs(3));
    assert!(cut || closed, "the slow head was not cut off: {text:?}");
    assert!(!text.contains("200 OK"), "{text}");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "cut off near the head timeout, not the idle one"
    );
    assert_eq!(get(s.addr, "/health").status, 200);
    s.stop().unwrap();
}

#[test]
fn kept_alive_connections_outlive_the_head_timeout_but_not_the_idle_one() {
    let s = start(short());
    let mut c = TcpStream::connect(s.addr).unwrap();
    let req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut buf = [0u8; 1024];
    c.write_all(req).unwrap();
    assert!(c.read(&mut buf).unwrap() > 0);
    // Idle for twice the head timeout: still open.
    std::thread::sleep(Duration::from_millis(800));
    c.write_all(req).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = c.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "reused after idling past the head timeout"
    );
    // Idle past the idle timeout: the server closes it.
    let (_, closed) = read_until_closed(&mut c, Duration::from_secs(4));
    assert!(closed, "closed after the idle timeout");
    s.stop().unwrap();
}

#[test]
fn pipelined_requests_and_http10_are_answered_in_order() {
    let s = start(short());
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (text, closed) = read_until_closed(&mut c, Duration::from_secs(5));
    assert!(closed);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "404", "200"], "{text}");
    // HTTP/1.0 without keep-alive: one answer, then the server closes.
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"GET /health HTTP/1.0\r\n\r\n").unwrap();
    let (text, closed) = read_until_closed(&mut c, Duration::from_secs(5));
    assert!(closed && status_of(&text) == 200, "{text}");
    s.stop().unwrap();
}

#[test]
fn a_client_resetting_mid_request_does_not_hurt_the_server() {
    let s = start(short());
    for _ in 0..5 {
        let c = TcpStream::connect(s.addr).unwrap();
        (&c).write_all(b"GET /work HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        // An abrupt reset (RST, not FIN) while the work is in progress.
        socket2_linger_zero(&c);
        drop(c);
    }
    let stats = get(s.addr, "/stats");
    assert_eq!(stats.status, 200);
    assert_eq!(get(s.addr, "/work?profile=io&io_ms=1").status, 200);
    s.stop().unwrap();
}

/// SO_LINGER 0, so that closing sends a reset.
fn socket2_linger_zero(c: &TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a descriptor we own, with a correctly sized struct.
    let rc = unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
}

#[test]
fn a_thousand_idle_connections_cost_little_and_block_nobody() {
    // A separate server process, so its memory is its own.
    let port = common::free_port();
    let mut child = std::process::Command::new(common::bin())
        .args(["serve", "--port", &port.to_string(), "--workers", "1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(common::wait_healthy(addr, Duration::from_secs(10)));
    let rss = || get(addr, "/stats").json()["rss_bytes"].as_u64().unwrap();
    let _ =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).and_then(|(_, hard)| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)
        });
    let before = rss();
    let mut conns = Vec::new();
    for _ in 0..1000 {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 512];
        assert!(c.read(&mut buf).unwrap() > 0);
        conns.push(c);
    }
    // Everyone else is still served, at once.
    let t = Instant::now();
    assert_eq!(get(addr, "/work?profile=io&io_ms=1").status, 200);
    assert!(t.elapsed() < Duration::from_secs(5));
    let after = rss();
    let per_conn = after.saturating_sub(before) / 1000;
    assert!(
        per_conn < 64 * 1024,
        "{per_conn} bytes per idle connection ({before} → {after})"
    );
    drop(conns);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    assert!(
        child.wait().unwrap().success(),
        "graceful exit with idle connections open"
    );
}

#[test]
fn the_driver_reconnects_when_the_server_closes_idle_connections() {
    // The server drops idle connections after 150 ms; the driver calls every 400 ms.
    let s = start(ConnTimeouts {
        head: Duration::from_secs(5),
        idle: Duration::from_millis(150),
    });
    let url = format!("http://{}", s.addr);
    let args = common::run_args(&[
        "--url",
        &url,
        "--class",
        "standard-1x",
        "--rate",
        "2.5",
        "--calls",
        "6",
        "--concurrency",
        "1",
        "--profile",
        "io",
        "--io-ms",
        "1",
        "--warmup",
        "1",
        "--no-save",
        "-q",
    ]);
    let plan = dynobench::run_plan(&args, common::bin()).unwrap();
    let r = dynobench::driver::run(
        &plan,
        &dynobench::limit::Detection::unprobed(),
        &mut dynobench::driver::Silent,
    )
    .unwrap();
    let c = &r.classes[0];
    assert!(c.is_ok(), "{:?}", c.failure);
    assert_eq!(c.calls.ok, 6, "{:?}", c.calls.errors);
    assert!(c.calls.reconnects >= 4, "reconnects {}", c.calls.reconnects);
    s.stop().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_break_the_server(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let s = shared();
        if let Ok(mut c) = TcpStream::connect(s) {
            let _ = c.write_all(&bytes);
            let _ = c.shutdown(std::net::Shutdown::Write);
            let (text, _) = read_until_closed(&mut c, Duration::from_secs(3));
            let st = status_of(&text);
            prop_assert!(text.is_empty() || (200..600).contains(&st), "{:?}", text);
            prop_assert!(st < 500 || st == 505, "a server error for {:?}: {}", bytes, text);
        }
        prop_assert_eq!(get(s, "/health").status, 200);
    }

    #[test]
    fn arbitrary_queries_get_200_or_400(
        pairs in proptest::collection::vec(
            (prop_oneof!["profile", "io_ms", "io_share", "x", "[a-z%&=]{0,6}"], prop_oneof!["io", "cpu", "gpu", "-1", "0", "1e9", "0.5", "NaN", "[a-zA-Z0-9%+=&]{0,8}"]),
            0..4,
        )
    ) {
        let s = shared();
        // Keep the valid ones cheap: a CPU call would cost ~100 ms.
        let mut q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        q.push("profile=io".into());
        q.push("io_ms=0".into());
        q.rotate_right(2);
        let path = format!("/work?{}", q.join("&"));
        let r = raw(s, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        if let Ok(r) = r {
            prop_assert!(r.status == 200 || r.status == 400 || r.status == 503, "{} → {}: {}", path, r.status, r.body);
            // A target that is not a valid URI is refused by the HTTP layer, without a body;
            // anything routed gets a JSON error naming the problem.
            let valid_uri = path.parse::<hyper::Uri>().is_ok();
            if r.status == 400 && (valid_uri || !r.body.is_empty()) {
                prop_assert!(r.json()["error"].as_str().is_some(), "{}: {}", path, r.body);
            }
        }
        prop_assert_eq!(get(s, "/health").status, 200);
    }
}

/// One server for the property tests (started once, lives for the test binary).
fn shared() -> SocketAddr {
    static ADDR: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    *ADDR.get_or_init(|| {
        let h = start(short());
        let a = h.addr;
        std::mem::forget(h);
        a
    })
}
