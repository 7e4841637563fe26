//! Helpers shared by the integration tests: a tiny HTTP/1.1 client over a TcpStream, a
//! cross-process lock for tests that time things, and a way to run the built binary.

#![allow(dead_code)]

pub mod page;
pub mod results;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// Sends a raw request (with `Connection: close`) and reads the whole response.
pub fn raw(addr: SocketAddr, request: &str) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(request.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Resp {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    })
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
    .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"))
}

/// A lock held by tests that measure time, pin CPUs or create cgroups, so that they never
/// run at the same time as each other, even across test binaries (flock on a shared file).
pub struct Serial(std::fs::File);

pub fn serial() -> Serial {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("dynobench-tests.lock"))
        .expect("opening the test lock file");
    // SAFETY: flock on a descriptor we own; blocks until the lock is ours.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock failed");
    Serial(f)
}

/// The dynobench binary cargo built for these tests.
pub fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_dynobench"))
}

/// |got − want| / want.
pub fn rel_err(got: f64, want: f64) -> f64 {
    (got - want).abs() / want
}

/// The stdout of a command that must have succeeded (else both outputs in the panic).
pub fn succeeded(o: &std::process::Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Interrupts `child` with SIGINT as a user's Ctrl-C would, and checks that it exits 130
/// saying it was interrupted; returns its stderr.
pub fn interrupt(mut child: std::process::Child) -> String {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    err
}

/// Runs the binary with `args` and waits for it.
pub fn dynobench(args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .output()
        .expect("running dynobench")
}

/// Runs the binary with `args`: its exit code (-1 if killed), stdout and stderr.
pub fn dynobench_text(args: &[&str]) -> (i32, String, String) {
    let out = dynobench(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Waits until `addr` accepts connections and `/health` answers 200.
pub fn wait_healthy(addr: SocketAddr, within: Duration) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < within {
        if let Ok(r) = raw(
            addr,
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ) && r.status == 200
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A keep-alive HTTP/1.1 server answering every request in `service` with the endpoint's
/// timing JSON, one request at a time (like a single worker); call number `stall.0` takes
/// `stall.1` instead.
pub fn fixed_server(service: Duration, stall: Option<(u64, Duration)>) -> SocketAddr {
    use std::io::{BufRead, BufReader};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Mutex::new(()));
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (count, gate) = (count.clone(), gate.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut w: TcpStream = s;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let _g = gate.lock().unwrap();
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let t = std::time::Instant::now();
                    let d = match stall {
                        Some((at, d)) if at == n => d,
                        _ => service,
                    };
                    std::thread::sleep(d);
                    let us = t.elapsed().as_micros();
                    let body = format!(
                        "{{\"wall_us\":{us},\"cpu_us\":10,\"wait_us\":0,\"queue_us\":0,\"worker\":0,\"digest\":\"x\"}}"
                    );
                    // One write, no Nagle: a response split over writes waits for a delayed ACK.
                    let _ = w.set_nodelay(true);
                    let _ = w.write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    );
                }
            });
        }
    });
    addr
}

/// Command lines of running processes that contain any of `needles` (leftover children:
/// `dynobench burn`, `dynobench neighbour`, `dynobench serve --port 0`, ...).
pub fn processes_matching(needles: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if needles.iter().any(|n| cmd.contains(n)) {
                v.push(cmd);
            }
        }
    }
    v
}

/// Servers and neighbours a run started that are still running.
pub fn dynobench_children() -> Vec<String> {
    processes_matching(&["dynobench serve --port 0", "dynobench neighbour"])
}

/// Cgroup directories a dynobench process `pid` created that are still there (v1
/// controllers and the v2 root).
pub fn leftover_groups(pid: u32) -> Vec<String> {
    ["cpu", "cpuacct", "cpuset", "memory", "unified", ""]
        .iter()
        .flat_map(|c| {
            std::fs::read_dir(format!("/sys/fs/cgroup/{c}"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(&format!("dynobench-{pid}-")))
        .collect()
}

/// How far wall time is from CPU + CPU wait + hypervisor steal over a set of CPU-bound
/// `/work` calls, as a share of their total wall time (summed, not per call: steal is
/// counted in 10 ms ticks, so one call's estimate is coarse but the sum is not). Calls
/// without a run-delay reading (`note`) are left out.
pub fn unexplained_share(calls: &[dynobench::endpoint::WorkResponse]) -> f64 {
    let with: Vec<_> = calls.iter().filter(|w| w.note.is_none()).collect();
    let wall: f64 = with.iter().map(|w| w.wall_us as f64).sum();
    let explained: f64 = with
        .iter()
        .map(|w| (w.cpu_us + w.wait_us + w.steal_us) as f64)
        .sum();
    if wall > 0.0 {
        (wall - explained).abs() / wall
    } else {
        0.0
    }
}

/// Parses `dynobench run ARGS` into its flags.
pub fn run_args(args: &[&str]) -> dynobench::cli::RunArgs {
    use clap::Parser;
    let mut v = vec!["dynobench", "run"];
    v.extend_from_slice(args);
    match dynobench::cli::Cli::try_parse_from(v).unwrap().command {
        dynobench::cli::Command::Run(a) => *a,
        _ => unreachable!("a run command"),
    }
}

/// The committed reference runs: the results directories `.gitignore` lets in (other runs
/// may sit beside them) that hold a run.json.
pub fn reference_runs() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    ignore
        .lines()
        .filter_map(|l| l.strip_prefix("!/results/"))
        .map(|d| root.join("results").join(d.trim_end_matches('/')))
        .filter(|p| p.join("run.json").exists())
        .collect()
}
