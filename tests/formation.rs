//! The formation: our router in process (seeded random choice, H11 backlog limit, H12
//! timeout, least-connections avoiding a busy dyno) and `run --dynos N` end to end (starts,
//! measures, predicts, and leaves no process or cgroup behind, also on Ctrl-C).

mod common;

use common::results::{only_dir, read_report};

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dynobench::driver::router::{Router, RouterConfig, RouterLog};
use dynobench::record::RunReport;
use dynobench::simulate::Policy;

fn config(dynos: Vec<SocketAddr>, policy: Policy, seed: u64) -> RouterConfig {
    RouterConfig {
        dynos,
        policy,
        routers: 1,
        max_in_flight: 50,
        backlog: 1024,
        timeout: Duration::from_secs(30),
        seed,
    }
}

/// Sends `n` requests one after another through a router with `cfg`; returns its log.
fn sequential(cfg: RouterConfig, n: usize) -> RouterLog {
    let router = Router::start(cfg).unwrap();
    for _ in 0..n {
        assert_eq!(common::get(router.addr, "/work").status, 200);
    }
    router.stop()
}

fn picks(log: &RouterLog) -> Vec<u32> {
    let mut e = log.entries.clone();
    e.sort_by_key(|e| e.id);
    e.iter().map(|e| e.dyno).collect()
}

#[test]
fn random_choice_is_seeded_and_recorded() {
    let dynos: Vec<SocketAddr> = (0..4)
        .map(|_| common::fixed_server(Duration::from_millis(1), None))
        .collect();
    let a = sequential(config(dynos.clone(), Policy::Random, 7), 40);
    let b = sequential(config(dynos.clone(), Policy::Random, 7), 40);
    let c = sequential(config(dynos.clone(), Policy::Random, 8), 40);
    assert_eq!(picks(&a), picks(&b), "the same seed routes the same way");
    assert_ne!(picks(&a), picks(&c), "another seed routes another way");
    assert_eq!(a.routed.iter().sum::<u64>(), 40);
    assert!(a.routed.iter().filter(|&&n| n > 0).count() >= 3, "{:?}", a.routed);
    // Every request has a router-log line in the platform's format.
    assert_eq!(a.entries.len(), 40);
    let line = a.entries[0].line("localhost");
    assert!(
        line.starts_with("heroku[router]: at=info method=GET path=\"/work\"") && line.contains("status=200"),
        "{line}"
    );
    // Round-robin visits every dyno in turn.
    let rr = sequential(config(dynos, Policy::RoundRobin, 1), 8);
    assert_eq!(picks(&rr), vec![0, 1, 2, 3, 0, 1, 2, 3]);
}

#[test]
fn a_full_backlog_answers_503_h11_and_a_slow_dyno_503_h12() {
    let slow = common::fixed_server(Duration::from_millis(300), None);
    let router = Router::start(RouterConfig {
        max_in_flight: 1,
        backlog: 1,
        ..config(vec![slow], Policy::Random, 1)
    })
    .unwrap();
    let addr = router.addr;
    let threads: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || common::get(addr, "/work")))
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap().status).collect();
    let log = router.stop();
    let refused = statuses.iter().filter(|&&s| s == 503).count() as u64;
    assert!(
        log.h11 >= 3,
        "one in service and one waiting; the rest refused: {statuses:?}"
    );
    assert_eq!(
        refused, log.h11,
        "every H11 is a 503 the client saw: {statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count() as u64, 6 - log.h11);
    assert!(
        log.entries
            .iter()
            .any(|e| e.line("x").contains("code=H11 desc=\"Backlog too deep\""))
    );

    let hung = common::fixed_server(Duration::from_secs(3), None);
    let router = Router::start(RouterConfig {
        timeout: Duration::from_millis(200),
        ..config(vec![hung], Policy::Random, 1)
    })
    .unwrap();
    let t = Instant::now();
    let r = common::get(router.addr, "/work");
    let waited = t.elapsed();
    let log = router.stop();
    assert_eq!(r.status, 503);
    assert_eq!(log.h12, 1);
    assert!(
        waited < Duration::from_secs(2),
        "answered at the timeout, not the dyno: {waited:?}"
    );
}

#[test]
fn least_connections_sends_around_a_busy_dyno() {
    // Dyno 0 is stuck on its first request; least-connections then sends everything else
    // to dyno 1, where random would keep queueing half of it behind the stuck one.
    let stuck = common::fixed_server(Duration::from_millis(1), Some((0, Duration::from_millis(1500))));
    let free = common::fixed_server(Duration::from_millis(1), None);
    let router = Router::start(config(vec![stuck, free], Policy::LeastConnections, 3)).unwrap();
    let addr = router.addr;
    let first = std::thread::spawn(move || common::get(addr, "/work"));
    // Wait until the first request is on a dyno.
    let t = Instant::now();
    while router.in_flight() == 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..10 {
        assert_eq!(common::get(addr, "/work").status, 200);
    }
    assert_eq!(first.join().unwrap().status, 200);
    let log = router.stop();
    let busy = picks(&log)[0] as usize;
    assert_eq!(
        log.routed[busy], 1,
        "nothing else went to the busy dyno: {:?}",
        log.routed
    );
}

fn formation_processes() -> Vec<String> {
    common::processes_matching(&["dynobench serve --port 0", "dynobench neighbour"])
}

fn formation_cmd(out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(common::bin());
    c.args([
        "run",
        "--class",
        "standard-1x",
        "--dynos",
        "5",
        "--workers",
        "1",
        "--profile",
        "io",
        "--io-ms",
        "10",
        "--neighbours",
        "none",
        "--warmup",
        "2",
        "--quiet",
        "--out",
    ])
    .arg(out)
    .args(extra)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

/// Runs a 5-dyno formation with `extra` flags to completion: its process id, stderr, results
/// directory and report.
fn run_formation(out: &Path, extra: &[&str]) -> (u32, String, std::path::PathBuf, RunReport) {
    let child = formation_cmd(out, extra).spawn().unwrap();
    let pid = child.id();
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr).to_string();
    assert!(done.status.success(), "{err}");
    let dir = only_dir(out);
    let r = read_report(&dir);
    (pid, err, dir, r)
}

#[test]
fn a_five_dyno_formation_runs_predicts_and_stops_cleanly() {
    let _s = common::serial();
    let out = tempfile::tempdir().unwrap();
    let (pid, err, dir, r) = run_formation(
        out.path(),
        &[
            "--router",
            "random,least-connections",
            "--util",
            "50",
            "--calls",
            "150",
        ],
    );
    assert!(r.complete, "{err}");
    let f = r.formation.as_ref().expect("a formation section");
    assert_eq!((f.dynos, f.workers), (5, 1));
    assert!(f.capacity_rps > 0.0 && f.service_mean_ms >= 10.0, "{f:?}");
    assert_eq!(f.points.len(), 2);
    for (p, policy) in f.points.iter().zip(["random", "least-connections"]) {
        assert_eq!(p.policy, policy);
        let class = r.class(&p.name).expect("each point is a class result");
        assert_eq!(class.calls.ok, 150);
        // The router saw every call, warm-up included, and sent each to one of the 5 dynos.
        assert_eq!(p.routed.len(), 5);
        assert!(p.routed.iter().sum::<u64>() >= 150, "{:?}", p.routed);
        assert!(p.measured.mean_ms > 0.0 && p.predicted.mean_ms > 0.0, "{p:?}");
        assert!(p.router_seed != 0);
    }
    for file in ["formation.svg", "summary.md", "runtime.log", "index.html"] {
        assert!(dir.join(file).exists(), "{file}");
    }
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let doc = common::page::self_contained(&html, Some(&dir));
    common::page::run_page(&doc, &r);
    let formation = common::page::text(
        doc.select(&common::page::sel("#formation"))
            .next()
            .expect("a formation section"),
    );
    assert!(formation.contains("measured vs simulated"), "{formation}");
    assert!(
        html.contains("formation.svg"),
        "the formation chart is on the page"
    );
    let log = std::fs::read_to_string(dir.join("runtime.log")).unwrap();
    assert!(
        log.contains("heroku[router]: at=info") && log.contains("dyno=web.5"),
        "router lines"
    );
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("Formation: measured vs simulated"));
    assert!(formation_processes().is_empty(), "{:?}", formation_processes());
    assert!(
        common::leftover_groups(pid).is_empty(),
        "{:?}",
        common::leftover_groups(pid)
    );
}

#[test]
fn ctrl_c_stops_a_formation_and_leaves_nothing_behind() {
    let _s = common::serial();
    let out = tempfile::tempdir().unwrap();
    let child = formation_cmd(
        out.path(),
        &["--router", "random", "--util", "50", "--calls", "5000"],
    )
    .spawn()
    .unwrap();
    let pid = child.id();
    // Wait until the five dynos are up, then interrupt.
    let t = Instant::now();
    while formation_processes().len() < 5 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the formation did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Into the first point (calibration takes about 2 × 100 calls of 10 ms).
    std::thread::sleep(Duration::from_millis(4000));
    common::interrupt(child);
    assert!(formation_processes().is_empty(), "{:?}", formation_processes());
    assert!(
        common::leftover_groups(pid).is_empty(),
        "{:?}",
        common::leftover_groups(pid)
    );
}

#[test]
fn formation_flags_are_checked() {
    let out = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--dynos", "3"], "--dynos runs one class"),
        (
            vec!["--dynos", "3", "--class", "eco", "--rate", "5"],
            "--dynos cannot be combined with --rate",
        ),
        (
            vec!["--dynos", "3", "--class", "eco", "--router", "smart"],
            "unknown routing policy 'smart'",
        ),
        (
            vec!["--dynos", "3", "--class", "eco", "--util", "0"],
            "outside 0 < util <= 150",
        ),
    ] {
        let o = Command::new(common::bin())
            .arg("run")
            .args(&args)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn haproxy_in_front_of_the_same_dynos_queues_alike() {
    let Some(_) = dynobench::driver::haproxy::find() else {
        eprintln!(
            "SKIPPED haproxy_in_front_of_the_same_dynos_queues_alike: no haproxy on PATH (apt-get install haproxy)"
        );
        return;
    };
    let _s = common::serial();
    let out = tempfile::tempdir().unwrap();
    let (pid, _, _, r) = run_formation(
        out.path(),
        &[
            "--balancer",
            "haproxy",
            "--router",
            "random,least-connections",
            "--util",
            "80",
            "--calls",
            "600",
        ],
    );
    let f = r.formation.unwrap();
    assert!(f.balancer.contains("HAProxy"), "{}", f.balancer);
    let (random, least) = (&f.points[0], &f.points[1]);
    // One random draw per request queues; least connections hardly does.
    assert!(
        random.measured.mean_wait_ms > 2.0 * least.measured.mean_wait_ms,
        "random {random:?} vs least-connections {least:?}"
    );
    assert!(
        common::processes_matching(&["dynobench-haproxy-"]).is_empty(),
        "haproxy stopped"
    );
    assert!(
        !std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .any(|e| e
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("dynobench-haproxy-{pid}-"))),
        "its configuration removed"
    );
}
