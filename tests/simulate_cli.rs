//! The `simulate` and `plan` command lines: the classic experiment on defaults, CSV and SVG
//! output, precise exit-2 messages for bad arguments, and `plan` on the committed fixture run.

mod common;

use common::dynobench_text as dynobench;

use std::path::{Path, PathBuf};

use dynobench::simulate::Arrivals;

// ---------------------------------------------------------------- command line

/// The committed plan fixture run (see tests/service_loading.rs).
fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan-run")
}

/// `dynobench simulate` with no arguments is the classic experiment and prints the capacity
/// random routing loses (about a quarter) against the best policy.
#[test]
fn cli_simulate_defaults_reproduce_the_classic_experiment() {
    let (code, out, err) = dynobench(&["simulate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("100 dynos, 500 ticks × 10 samples") && out.contains("seed 42"),
        "{out}"
    );
    let random = out
        .lines()
        .find(|l| l.trim_start().starts_with("random "))
        .expect(&out);
    let pct: f64 = random
        .split("up to ")
        .nth(1)
        .and_then(|r| r.split('%').next())
        .and_then(|v| v.parse().ok())
        .expect(random);
    assert!((71.0..=76.0).contains(&pct), "{random}");
    assert!(random.contains("capacity lost vs round-robin (100%)"), "{random}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() < 40, "compact: {} lines", lines.len());
    assert!(out.contains("power-of-two-choices") && out.contains("per-router-least-connections (R=10)"));
}

#[test]
fn cli_simulate_writes_csv_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    let svg = dir.path().join("s.svg");
    let (code, out, err) = dynobench(&[
        "simulate",
        "--service",
        "lognormal:50ms:0.8",
        "--dynos",
        "10",
        "--workers",
        "2",
        "--util",
        "0..100:20",
        "--requests",
        "5000",
        "--samples",
        "2",
        "--policy",
        "random,p2c",
        "--slo",
        "p99<=400ms",
        "--csv",
        csv.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("event engine") && out.contains("p99<=400ms"),
        "{out}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 6, "{text}");
    assert!(lines[0].starts_with("engine,policy,") && lines[0].contains("share_503"));
    assert!(lines[1].starts_with("event,random,10,10,2,0,"), "{}", lines[1]);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("power-of-two-choices") && svg.contains("p99 response time")
    );
}

#[test]
fn cli_bad_arguments_exit_2_with_a_precise_message() {
    let dir = tempfile::tempdir().unwrap();
    let empty_hlog = dir.path().join("empty.hlog");
    std::fs::write(&empty_hlog, "").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["simulate".into(), "--util".into(), "110..0".into()],
            "reversed",
        ),
        (
            vec!["simulate".into(), "--dynos".into(), "0".into()],
            "--dynos must be at least 1",
        ),
        (
            vec![
                "simulate".into(),
                "--service".into(),
                "results/nope/standard-1x".into(),
            ],
            "no run.json at results/nope",
        ),
        (
            vec![
                "simulate".into(),
                "--service".into(),
                empty_hlog.display().to_string(),
            ],
            "holds no recorded values",
        ),
        (
            vec![
                "simulate".into(),
                "--engine".into(),
                "tick".into(),
                "--slo".into(),
                "p99<=1s".into(),
            ],
            "only applies to the event engine",
        ),
        (
            vec!["simulate".into(), "--service".into(), "exponential:0ms".into()],
            "must be positive",
        ),
        (
            vec![
                "plan".into(),
                "--rate".into(),
                "100".into(),
                "--slo".into(),
                "p99<=300ms".into(),
                "--results".into(),
                dir.path().display().to_string(),
            ],
            "no run.json",
        ),
        (
            vec![
                "plan".into(),
                "--rate".into(),
                "100".into(),
                "--slo".into(),
                "p99<=300ms".into(),
                "--results".into(),
                fixture_dir().display().to_string(),
                "--class".into(),
                "standard-9x".into(),
            ],
            "has no class 'standard-9x'; it has: eco, basic",
        ),
    ];
    for (args, want) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = dynobench(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
    }
}

/// `plan` on the committed fixture run: the cheapest class, the failed class skipped, the
/// client-latency fallback named, and the class whose own service time breaks the SLO.
#[test]
fn cli_plan_on_the_fixture_run() {
    let csv = tempfile::NamedTempFile::new().unwrap();
    let (code, out, err) = dynobench(&[
        "plan",
        "--rate",
        "200",
        "--slo",
        "p99<=300ms",
        "--results",
        fixture_dir().to_str().unwrap(),
        "--csv",
        csv.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(out.contains("eco: skipped (status 'failed'"), "{out}");
    assert!(
        out.contains("basic: cannot meet p99<=300ms at any number of dynos"),
        "{out}"
    );
    assert!(
        out.contains("performance-l: service times from client_latency"),
        "{out}"
    );
    assert!(out.contains("Cheapest: "), "{out}");
    let csv = std::fs::read_to_string(csv.path()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 5, "{csv}");
    assert!(csv.contains("basic,1,7,server_wall,") && csv.contains("service-too-slow"));
    // An SLO nothing can meet: exit 1.
    let (code, out, _) = dynobench(&[
        "plan",
        "--rate",
        "200",
        "--slo",
        "p99<=5ms",
        "--results",
        fixture_dir().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("No class meets p99<=5ms"), "{out}");
}

#[test]
fn arrivals_parse() {
    assert_eq!("poisson".parse::<Arrivals>().unwrap(), Arrivals::Poisson);
    assert!("bursty".parse::<Arrivals>().is_err());
}
