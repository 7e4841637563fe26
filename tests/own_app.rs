//! The user's own app under every class: examples/app.py (forking workers) run by
//! `run --procfile` under two classes with cgroup v1 (where writable) and the dutycycle
//! fallback — CPU per request from the group, throttling, memory, $/M — then `plan
//! --results` and `compare` on those runs, no process left on any path (normal end,
//! Ctrl-C), and servers that exit at start, never answer or ignore $PORT.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn procfile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/Procfile")
}

/// A marker in the environment of dynobench, inherited by every process it starts.
fn marker(tag: &str) -> String {
    format!("{tag}-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Processes (other than zombies) whose environment holds `DYNOBENCH_TEST_MARK=mark`.
fn marked(mark: &str) -> Vec<(i32, String)> {
    let needle = format!("DYNOBENCH_TEST_MARK={mark}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z'));
        if !zombie && env.split(|&b| b == 0).any(|v| v == needle.as_bytes()) {
            let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            out.push((pid, cmd.replace('\0', " ")));
        }
    }
    out
}

fn dynobench(mark: &str, args: &[&str]) -> Command {
    let mut c = Command::new(common::bin());
    c.args(args).env("DYNOBENCH_TEST_MARK", mark);
    c
}

/// Whether the cgroup v1 limiter works here (else the reason to skip).
fn cgroup1() -> Result<(), String> {
    let d = dynobench::limit::Detection::probe();
    d.cgroup1.as_ref().map(|_| ()).map_err(|e| e.clone())
}

fn run_app(limiter: &str, out: &Path, label: &str, extra: &[&str]) -> (Output, Value) {
    let mark = marker(label);
    let pf = procfile();
    let mut args = vec![
        "run",
        "--procfile",
        pf.to_str().unwrap(),
        "--class",
        "standard-1x",
        "--class",
        "performance-m",
        "--limiter",
        limiter,
        "--out",
        out.to_str().unwrap(),
        "--label",
        label,
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = dynobench(&mark, &args).output().unwrap();
    let left = marked(&mark);
    assert!(
        left.is_empty(),
        "{limiter}: processes left after the run: {left:?}"
    );
    let report: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o, report)
}

fn class<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no class {name}"))
}

fn run_dir(out: &Path) -> PathBuf {
    std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap()
}

/// Checks what a run of the example app must report for both classes.
fn check_figures(limiter: &str, r: &Value) {
    let mut cpu = Vec::new();
    for name in ["standard-1x", "performance-m"] {
        let c = class(r, name);
        assert_eq!(c["status"], "ok", "{limiter} {name}: {}", c["failure"]);
        let per_req = c["cpu_per_request_us"]
            .as_f64()
            .expect("CPU per request from the group");
        assert!(per_req > 0.0, "{limiter} {name}: {per_req}");
        let g = &c["group"];
        assert!(
            g["processes"].as_u64().unwrap() >= 3,
            "master + 2 workers at least: {g}"
        );
        assert!(!g["windows"].as_array().unwrap().is_empty(), "{g}");
        assert!(
            g["memory_peak_bytes"].as_u64().unwrap_or(0) > 0,
            "{limiter} {name}: memory peak {g}"
        );
        assert!(c["latency"]["p50_us"].as_u64().is_some() || c["latency"]["percentiles"].is_array());
        assert!(
            c["cost"]["usd_per_million_requests"].as_f64().is_some(),
            "{limiter} {name}: $/M {}",
            c["cost"]
        );
        assert!(c["server_cpu"].is_object() && !c["demand"]["cpu_us"].as_array().unwrap().is_empty());
        cpu.push(per_req);
    }
    // The same app does the same work under both classes: its CPU per request is alike
    // (within a factor of 3), whatever this machine's speed.
    assert!(
        cpu[0] / cpu[1] < 3.0 && cpu[1] / cpu[0] < 3.0,
        "{limiter}: CPU per request {cpu:?}"
    );
}

#[test]
fn example_app_under_two_classes_then_plan_and_compare() {
    let _g = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    // 4 callers for 2 workers, ~15 ms of CPU a call: standard-1x's 0.67-core cap throttles
    // the group.
    let busy = [
        "--calls",
        "120",
        "--concurrency",
        "4",
        "--neighbours",
        "none",
        "--path",
        "/work?n=1500",
    ];
    let mut runs = Vec::new();
    match cgroup1() {
        Ok(()) => {
            let out = tmp.path().join("v1");
            let (_, r) = run_app("cgroup1", &out, "v1", &busy);
            check_figures("cgroup1", &r);
            let k = &class(&r, "standard-1x")["kernel"];
            assert!(
                k["nr_throttled"].as_u64().unwrap() > 0,
                "cgroup v1 throttling: {k}"
            );
            assert!(k["throttled_us"].as_u64().unwrap() > 0, "{k}");
            let windows = class(&r, "standard-1x")["group"]["windows"]
                .as_array()
                .unwrap()
                .clone();
            assert!(
                windows
                    .iter()
                    .any(|w| w["nr_throttled"].as_u64().unwrap_or(0) > 0),
                "{windows:?}"
            );
            runs.push(run_dir(&out));
        }
        Err(why) => eprintln!("skipping the cgroup v1 part: {why}"),
    }
    // The fallback works everywhere: the process group is held to the quota and counted.
    let out = tmp.path().join("dc");
    let (_, r) = run_app("dutycycle", &out, "dc", &busy);
    check_figures("dutycycle", &r);
    let k = &class(&r, "standard-1x")["kernel"];
    assert!(
        k["stopped_us"].as_u64().unwrap_or(0) > 0,
        "dutycycle held the group: {k}"
    );
    runs.push(run_dir(&out));
    let (a, b) = (&runs[0], runs.last().unwrap());

    let o = Command::new(common::bin())
        .args(["plan", "--rate", "50", "--slo", "p95<=500ms", "--results"])
        .arg(a)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "plan: {text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("standard-1x") && text.contains("performance-m"),
        "{text}"
    );

    let o = Command::new(common::bin())
        .arg("compare")
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "compare: {text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("standard-1x") && text.contains("performance-m"),
        "{text}"
    );
}

/// Ctrl-C while the forking app is measured: dynobench stops, keeps what it measured, and
/// no process of the app survives.
#[test]
fn interrupt_leaves_no_process() {
    let _g = common::serial();
    let mut limiters = vec!["dutycycle"];
    if cgroup1().is_ok() {
        limiters.insert(0, "cgroup1");
    }
    for limiter in limiters {
        let tmp = tempfile::tempdir().unwrap();
        let mark = marker("int");
        let pf = procfile();
        let mut child = dynobench(
            &mark,
            &[
                "run",
                "--procfile",
                pf.to_str().unwrap(),
                "--class",
                "standard-1x",
                "--class",
                "performance-m",
                "--calls",
                "1000000",
                "--limiter",
                limiter,
                "--quiet",
                "--out",
                tmp.path().to_str().unwrap(),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        // Wait for the master and its two workers (python3 processes) to run.
        loop {
            let pythons = marked(&mark)
                .into_iter()
                .filter(|(_, c)| c.contains("app.py"))
                .count();
            if pythons >= 3 {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "{limiter}: dynobench ended before the app ran"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let o = child.wait_with_output().unwrap();
        let left = marked(&mark);
        assert!(
            left.is_empty(),
            "{limiter}: processes left after Ctrl-C: {left:?}"
        );
        let run = std::fs::read_to_string(run_dir(tmp.path()).join("run.json")).unwrap();
        let r: Value = serde_json::from_str(&run).unwrap();
        assert_eq!(
            r["interrupted"],
            true,
            "{limiter}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(class(&r, "standard-1x")["status"], "interrupted");
    }
}

/// A server that exits at start, never answers, or ignores $PORT: each class fails with
/// a message naming the class and the command, and the run goes on with the next class.
#[test]
fn servers_that_never_become_ready() {
    let cases = [
        ("exit 3", "exited with code 3"),
        ("sleep 600", "did not answer GET /"),
        ("python3 -m http.server --bind 127.0.0.1 0", "ignores $PORT"),
    ];
    for (cmd, expected) in cases {
        let mark = marker("bad");
        let o = dynobench(
            &mark,
            &[
                "run",
                "--server",
                cmd,
                "--class",
                "standard-1x",
                "--class",
                "performance-m",
                "--limiter",
                "dutycycle",
                "--startup-timeout",
                "3s",
                "--no-save",
                "--json",
            ],
        )
        .output()
        .unwrap();
        let left = marked(&mark);
        assert!(left.is_empty(), "{cmd}: processes left: {left:?}");
        let r: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{cmd}: {e}: {}", String::from_utf8_lossy(&o.stderr)));
        for name in ["standard-1x", "performance-m"] {
            let c = class(&r, name);
            let f = c["failure"].as_str().unwrap_or_default();
            assert_eq!(c["status"], "failed", "{cmd}: {c}");
            assert!(
                f.contains(name) && f.contains(cmd) && f.contains(expected),
                "{cmd}: {f}"
            );
        }
    }
}

/// `--method`, `--header` and `--body @FILE`: the example's POST /transform route.
#[test]
fn posts_a_json_body() {
    let mark = marker("post");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let body = format!("@{}", dir.join("orders.json").display());
    let o = dynobench(
        &mark,
        &[
            "run",
            "--server",
            "python3 app.py",
            "--class",
            "performance-m",
            "--limiter",
            "dutycycle",
            "--calls",
            "30",
            "--method",
            "POST",
            "--path",
            "/transform",
            "--header",
            "Content-Type: application/json",
            "--body",
            &body,
            "--no-save",
            "--json",
        ],
    )
    .current_dir(&dir)
    .output()
    .unwrap();
    assert!(marked(&mark).is_empty());
    let r: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let c = class(&r, "performance-m");
    assert_eq!(c["status"], "ok", "{c}");
    assert_eq!(c["calls"]["ok"], 30, "{}", c["calls"]);
    // The body's orders were transformed: the responses are larger than an error's.
    assert!(
        c["calls"]["response_bytes"].as_u64().unwrap() > 30 * 200,
        "{}",
        c["calls"]
    );
}
