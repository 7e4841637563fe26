//! `dynobench run --precision`: a class stops once its percentile's interval is within the
//! target (and run.json records the rule and the outcome), a class that cannot get there
//! stops at `--max-calls` and says so in the table, and bad values are refused naming the
//! flag.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use dynobench::record::RunReport;

fn run(url: &str, extra: &[&str]) -> Output {
    Command::new(common::bin())
        .args([
            "run",
            "--url",
            url,
            "--class",
            "eco",
            "--warmup",
            "2",
            "--no-save",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn precision_stops_a_class_once_its_interval_is_narrow_and_records_the_rule() {
    let _s = common::serial();
    let addr = common::fixed_server(Duration::from_millis(5), None);
    let url = format!("http://{addr}");
    let out = run(&url, &["--precision", "25%", "--max-calls", "3000", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: RunReport = serde_json::from_slice(&out.stdout).unwrap();
    let cfg = r
        .config
        .precision
        .as_ref()
        .expect("config records the precision rule");
    assert_eq!(
        (cfg.percentile, cfg.target_pct, cfg.max_calls),
        (99.0, 25.0, 3000)
    );
    assert_eq!(r.config.calls, 3000, "calls is the maximum under --precision");
    let c = &r.classes[0];
    let p = c
        .precision
        .as_ref()
        .expect("the class records how the rule ended");
    assert!(p.reached, "{p:?}");
    assert!(c.calls.attempted >= 368, "not before p99 can be bounded: {p:?}");
    assert!(c.calls.attempted < 3000, "stopped before the maximum: {p:?}");
    assert_eq!(p.calls, c.calls.attempted);
    assert!(p.half_width_pct.is_some_and(|w| w <= 25.0), "{p:?}");
}

#[test]
fn precision_not_reached_stops_at_max_calls_and_says_so() {
    let _s = common::serial();
    let addr = common::fixed_server(Duration::from_millis(1), None);
    let url = format!("http://{addr}");
    // p99.9 cannot be bounded by 400 calls at all: never within ±50%.
    let out = run(
        &url,
        &["--precision", "50%", "--slo", "p99.9<=10s", "--max-calls", "400"],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("eco: precision not reached: unbounded at 400 calls"),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.contains("within ±50% (at most 400 per class)"), "{table}");
}

#[test]
fn bad_precision_values_name_the_flag_and_what_is_valid() {
    for bad in ["0", "abc", "150%"] {
        let out = Command::new(common::bin())
            .args(["run", "--precision", bad, "--no-save"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--precision") && err.contains("more than 0% and below 100%"),
            "{bad}: {err}"
        );
    }
    let out = Command::new(common::bin())
        .args(["run", "--precision", "5%", "--calls", "200", "--no-save"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
