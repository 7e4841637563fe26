//! A run whose driver was the bottleneck is invalid, not slow: an open loop far beyond
//! what its one connection can carry to a one-at-a-time server makes nearly every call wait
//! for the connection; run.json records the driver's figures and why the class is invalid,
//! the table marks it, its SLO verdict is `invalid` (exit 1: not a pass), and `compare`
//! refuses to judge it (exit 4).

mod common;

use common::results::{only_dir, read_report};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dynobench::record::RunReport;
use dynobench::record::driver_load::DriverBound;
use dynobench::record::verdict::SloOutcome;

fn bound_run(url: &str, out: &Path) -> (std::process::Output, PathBuf) {
    let o = Command::new(common::bin())
        .args([
            "run",
            "--url",
            url,
            "--class",
            "eco",
            "--warmup",
            "2",
            "--calls",
            "60",
            "--rate",
            "500",
            "--concurrency",
            "1",
            "--slo",
            "p99<=10s",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    let dir = only_dir(out);
    (o, dir)
}

#[test]
fn a_run_bounded_by_its_connections_is_invalid_and_compare_does_not_judge_it() {
    let _s = common::serial();
    let addr = common::fixed_server(Duration::from_millis(5), None);
    let url = format!("http://{addr}");
    let tmp = tempfile::tempdir().unwrap();
    let (o, a) = bound_run(&url, &tmp.path().join("a"));
    let table = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "an invalid verdict is not a pass\n{table}"
    );
    assert!(table.contains("eco!"), "{table}");
    assert!(
        table.contains("eco: INVALID: the driver was the bottleneck:")
            && table.contains("waited for one of its 1 connections"),
        "{table}"
    );
    let r: RunReport = read_report(&a);
    let c = &r.classes[0];
    let d = c.driver.as_ref().expect("the driver's figures are recorded");
    assert!(d.bound.contains(&DriverBound::Connections), "{d:?}");
    assert_eq!((d.connections, d.scheduled), (1, 60), "{d:?}");
    assert!(
        d.connection_waits > 30 && d.cpu_share.is_some() && d.wall_s > 0.0,
        "{d:?}"
    );
    assert!(
        c.invalid
            .as_deref()
            .is_some_and(|w| w.starts_with("the driver was the bottleneck"))
    );
    assert_eq!(r.slo[0].outcome, SloOutcome::Invalid, "{}", r.slo[0].line);
    let summary = std::fs::read_to_string(a.join("summary.md")).unwrap();
    assert!(
        summary.contains("**invalid**: the driver was the bottleneck"),
        "{summary}"
    );
    // A second such run: compare judges neither regression nor its absence.
    let (_, b) = bound_run(&url, &tmp.path().join("b"));
    let cmp = Command::new(common::bin())
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&cmp.stdout);
    assert_eq!(
        cmp.status.code(),
        Some(4),
        "{md}{}",
        String::from_utf8_lossy(&cmp.stderr)
    );
    assert!(md.contains("not compared: invalid in A and B"), "{md}");
}
