//! The binary as a platform runs it: the Procfile's `web:` command with `$PORT` and
//! `$WEB_CONCURRENCY`, SIGTERM handling, and refusal of bad payloads with exit 2.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

/// Kills the child if a test fails before it is reaped.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The `web:` command of the Procfile, split into program and arguments.
fn procfile_web() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Procfile")).expect("Procfile");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("web:"))
        .expect("Procfile has a web: process");
    let mut words = line.split_whitespace().map(str::to_string);
    (words.next().expect("web: has a command"), words.collect())
}

#[test]
fn procfile_web_process_serves_on_port() {
    let (program, args) = procfile_web();
    assert!(
        program.ends_with("/dynobench") || program == "dynobench",
        "the Procfile runs the dynobench binary, got {program}"
    );
    // The platform builds target/release/dynobench; here cargo built the same binary for
    // this test run, so run that one with the Procfile's own arguments.
    let port = common::free_port();
    let child = Command::new(common::bin())
        .args(&args)
        .env("PORT", port.to_string())
        .env("WEB_CONCURRENCY", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(Some(child));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    assert!(
        common::wait_healthy(addr, Duration::from_secs(10)),
        "/health answers on $PORT"
    );
    let w = common::get(addr, "/work");
    assert_eq!(w.status, 200, "{}", w.body);
    assert!(w.json()["cpu_us"].as_u64().unwrap() > 0);
    assert_eq!(
        common::get(addr, "/stats").json()["workers"],
        2,
        "WEB_CONCURRENCY is honoured"
    );

    // SIGTERM: graceful shutdown, exit 0, well within the platform's 30 s.
    let c = child.0.take().unwrap();
    let pid = nix::unistd::Pid::from_raw(c.id() as i32);
    let t = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    assert!(t.elapsed() < Duration::from_secs(30));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shut down gracefully"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("0.0.0.0:{port}")),
        "binds all interfaces under $PORT"
    );
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let _serial = common::serial();
    let port = common::free_port();
    let child = Command::cargo_bin("dynobench")
        .unwrap()
        .args(["serve", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Reap(Some(child));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    assert!(common::wait_healthy(addr, Duration::from_secs(10)));
    let inflight = std::thread::spawn(move || common::get(addr, "/work"));
    std::thread::sleep(Duration::from_millis(15));
    let c = child.0.take().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(inflight.join().unwrap().status, 200);
}

fn serve_with_payload(path: &std::path::Path) -> std::process::Output {
    Command::cargo_bin("dynobench")
        .unwrap()
        .args(["serve", "--port", "0", "--payload"])
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn bad_payloads_exit_2_naming_file_and_position() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.json");
    let out = serve_with_payload(&missing);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.json") && err.contains("cannot read"),
        "{err}"
    );

    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "\n").unwrap();
    let out = serve_with_payload(&empty);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("empty.json") && err.contains("empty"), "{err}");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"orders\": [\n  {\"id\": 1},\n  {\"id\": 2,,}\n]}").unwrap();
    let out = serve_with_payload(&broken);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json") && err.contains("line 3, column 12"),
        "{err}"
    );
}

#[test]
fn payload_command_writes_the_generator_output() {
    let out = Command::cargo_bin("dynobench")
        .unwrap()
        .args(["payload", "--size", "64KiB", "--seed", "3"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        out.stdout,
        dynobench::workload::generate::generate_orders(3, 64 * 1024)
    );
    let bad = Command::cargo_bin("dynobench")
        .unwrap()
        .args(["payload", "--size", "4 lightyears"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--size"));
}
