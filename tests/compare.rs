//! `dynobench compare`: verdicts from confidence intervals, exit 1 on a significant
//! regression beyond the threshold, and clear refusals of missing, corrupt or incompatible
//! results directories.

mod common;

use std::path::Path;
use std::process::Command;

use dynobench::class::Catalog;
use dynobench::endpoint::WorkResponse;
use dynobench::record::{
    ClassContext, ClassRecorder, ClassResult, LoadFacts, Phase, RequestRecord, RunReport, SCHEMA_VERSION,
    WorkloadFacts,
};
use dynobench::report::writer::ResultsWriter;

/// A class result whose calls took `lat_us` (µs each).
fn class(name: &str, lat_us: &[u64], failed_calls: u64) -> ClassResult {
    let mut rec = ClassRecorder::new(false, 30_000_000);
    let mut t = 0;
    for &l in lat_us {
        rec.record(&RequestRecord {
            phase: Phase::Measured,
            intended_us: None,
            sent_us: t,
            done_us: t + l,
            connect_us: None,
            status: Some(200),
            error: None,
            server: Some(WorkResponse {
                wall_us: l,
                cpu_us: l / 2,
                wait_us: l / 2,
                digest: "1".into(),
                profile: "cpu".into(),
                ..WorkResponse::default()
            }),
            bytes: 100,
            done_unix_us: 0,
            reconnects: 0,
        });
        t += l;
    }
    for _ in 0..failed_calls {
        rec.record(&RequestRecord {
            phase: Phase::Measured,
            intended_us: None,
            sent_us: t,
            done_us: t + 10,
            connect_us: None,
            status: Some(503),
            error: Some(dynobench::record::ErrorKind::Status),
            server: None,
            bytes: 0,
            done_unix_us: 0,
            reconnects: 0,
        });
    }
    let cat = Catalog::default_catalog();
    ClassResult::from_recorder(
        rec,
        ClassContext {
            class: cat.class(name).unwrap().clone(),
            workers: 2,
            load: LoadFacts {
                model: "closed".into(),
                concurrency: 1,
                ..LoadFacts::default()
            },
            ..ClassContext::default()
        },
    )
}

fn run(dir: &Path, label: &str, classes: Vec<ClassResult>, payload: &str) -> std::path::PathBuf {
    let r = RunReport {
        schema_version: SCHEMA_VERSION.into(),
        tool: "test".into(),
        run_id: format!("20260101-000000-{label}"),
        label: label.into(),
        complete: true,
        workload: WorkloadFacts {
            payload: payload.into(),
            payload_bytes: 4,
            profile: "cpu".into(),
        },
        classes,
        ..RunReport::default()
    };
    let mut w = ResultsWriter::create(dir, &r.run_id).unwrap();
    w.write(&r).unwrap();
    w.dir().to_path_buf()
}

/// `n` latencies spread evenly around `center_ms` (±20%).
fn spread(center_ms: u64, n: u64) -> Vec<u64> {
    (0..n)
        .map(|i| center_ms * 1000 * (80 + 40 * i / n) / 100)
        .collect()
}

fn compare(a: &Path, b: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(common::bin())
        .arg("compare")
        .arg(a)
        .arg(b)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn significant_slowdowns_beyond_the_threshold_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(
        tmp.path(),
        "a",
        vec![
            class("eco", &spread(100, 200), 0),
            class("standard-2x", &spread(50, 200), 0),
        ],
        "p",
    );
    let b = run(
        tmp.path(),
        "b",
        vec![
            class("eco", &spread(150, 200), 0),
            class("standard-2x", &spread(50, 200), 0),
        ],
        "p",
    );
    let o = compare(&a, &b, &[]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{md}");
    assert!(
        md.contains("| eco | p50 |") && md.contains("+50.0%") && md.contains("REGRESSION"),
        "{md}"
    );
    assert!(
        md.contains("| standard-2x | p50 |") && md.contains("no significant change"),
        "{md}"
    );
    // The same change is within a 60% threshold.
    assert_eq!(compare(&a, &b, &["--threshold", "60%"]).status.code(), Some(0));
    // Faster is not a regression.
    let o = compare(&b, &a, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("faster"));
    // JSON output carries the verdicts.
    let j: serde_json::Value = serde_json::from_slice(&compare(&a, &b, &["--json"]).stdout).unwrap();
    assert_eq!(j["regressed"], true);
    assert_eq!(j["classes"][0]["verdict"], "slower");
}

#[test]
fn small_samples_are_insufficient_data_not_no_change() {
    let tmp = tempfile::tempdir().unwrap();
    // 10 calls each: a 5% shift is well inside the intervals, which also allow large changes.
    let a = run(tmp.path(), "a", vec![class("eco", &spread(100, 10), 0)], "p");
    let b = run(tmp.path(), "b", vec![class("eco", &spread(105, 10), 0)], "p");
    let o = compare(&a, &b, &["--threshold", "1%"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("insufficient data") && !out.contains("| no change |"),
        "{out}"
    );
    // --strict: inconclusive is not a pass.
    assert_eq!(compare(&a, &b, &["--strict"]).status.code(), Some(1));
}

#[test]
fn error_rate_increases_are_regressions() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), "a", vec![class("eco", &spread(100, 200), 0)], "p");
    let b = run(tmp.path(), "b", vec![class("eco", &spread(100, 200), 40)], "p");
    let o = compare(&a, &b, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("| eco | error rate | 0.00% | 16.67%"));
}

#[test]
fn a_class_that_fails_in_b_is_a_regression() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), "a", vec![class("eco", &spread(100, 50), 0)], "p");
    let mut broken = class("eco", &[], 0);
    broken.status = dynobench::record::ClassStatus::Failed;
    broken.failure = Some("the server exited during start-up".into());
    let b = run(tmp.path(), "b", vec![broken], "p");
    let o = compare(&a, &b, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("| eco | status | ok | failed |"));
}

/// A class whose driver was the bottleneck in either run is invalid, not slower: compare
/// does not judge it (neither regression nor no regression) and exits 4, unless another
/// class regressed (exit 1).
#[test]
fn a_class_whose_driver_was_the_bottleneck_is_not_judged_and_exits_4() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(
        tmp.path(),
        "a",
        vec![
            class("eco", &spread(100, 200), 0),
            class("standard-2x", &spread(50, 200), 0),
        ],
        "p",
    );
    // B's eco is 50% slower, but its driver was CPU-bound: that is the driver's ceiling.
    let mut bound = class("eco", &spread(150, 200), 0);
    bound.invalid = Some("the driver was the bottleneck: its CPU was 97% busy".into());
    let b = run(
        tmp.path(),
        "b",
        vec![bound, class("standard-2x", &spread(50, 200), 0)],
        "p",
    );
    let o = compare(&a, &b, &[]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(4), "{md}");
    assert!(
        md.contains("| eco | status | | | | not compared: invalid in B (the driver was the bottleneck"),
        "{md}"
    );
    assert!(!md.contains("REGRESSION") && md.contains("**Invalid:"), "{md}");
    let j: serde_json::Value = serde_json::from_slice(&compare(&a, &b, &["--json"]).stdout).unwrap();
    assert_eq!(j["regressed"], false);
    assert_eq!(j["invalid"], serde_json::json!(["eco"]));
    assert_eq!(j["classes"][0]["verdict"], "invalid");
    assert_ne!(j["classes"][1]["verdict"], "invalid", "the valid class is judged");
    // A regression elsewhere still exits 1.
    let mut bound = class("standard-2x", &spread(50, 200), 0);
    bound.invalid = Some("the driver was the bottleneck: its CPU was 97% busy".into());
    let c = run(
        tmp.path(),
        "c",
        vec![class("eco", &spread(150, 200), 0), bound],
        "p",
    );
    assert_eq!(compare(&a, &c, &[]).status.code(), Some(1));
}

#[test]
fn refuses_missing_corrupt_and_incompatible_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), "a", vec![class("eco", &spread(100, 20), 0)], "p");
    let other = run(
        tmp.path(),
        "other",
        vec![class("eco", &spread(100, 20), 0)],
        "different-payload",
    );

    let o = compare(&a, &tmp.path().join("nope"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no run.json"));

    let corrupt = tmp.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    std::fs::write(
        corrupt.join("run.json"),
        "{\"schema_version\": \"1.0\",\n \"classes\": [oops]}",
    )
    .unwrap();
    let o = compare(&a, &corrupt, &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("corrupt/run.json") && e.contains("line 2"), "{e}");

    let future = tmp.path().join("future");
    std::fs::create_dir(&future).unwrap();
    std::fs::write(
        future.join("run.json"),
        "{\"schema_version\": \"2.0\", \"classes\": []}",
    )
    .unwrap();
    let o = compare(&a, &future, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("schema version \"2.0\""));

    let o = compare(&a, &other, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("different workloads"));

    // An empty or truncated baseline is an input error, not a run without classes that
    // "shows no regression".
    for (name, text, field) in [
        ("empty", "{}", "schema_version"),
        (
            "noclasses",
            "{\"schema_version\": \"1.3\", \"classes\": []}",
            "classes",
        ),
    ] {
        let d = tmp.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("run.json"), text).unwrap();
        for o in [compare(&d, &a, &[]), compare(&a, &d, &[])] {
            assert_eq!(o.status.code(), Some(2), "{name}");
            let e = String::from_utf8_lossy(&o.stderr);
            assert!(e.contains(&format!("{name}/run.json: {field}")), "{e}");
        }
    }
}

/// `n` lognormal latencies (µs), median 100 ms, seeded.
fn lognormal(seed: u64, n: usize) -> Vec<u64> {
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let d = rand_distr::LogNormal::new((100_000f64).ln(), 0.3).unwrap();
    (0..n).map(|_| d.sample(&mut rng).round() as u64).collect()
}

fn verdicts(a: &Path, b: &Path) -> (serde_json::Value, i32) {
    let o = compare(a, b, &["--json"]);
    (
        serde_json::from_slice(&o.stdout).unwrap(),
        o.status.code().unwrap(),
    )
}

fn metric<'a>(j: &'a serde_json::Value, m: &str) -> &'a serde_json::Value {
    j["classes"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["metric"] == m)
        .unwrap()
}

#[test]
fn a_p99_regression_at_1000_calls_and_a_tail_only_change_are_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    let base = lognormal(1, 1000);
    let a = run(tmp.path(), "a", vec![class("eco", &base, 0)], "p");
    // The slowest 3% of calls take 2x: p99 up, p50 and p90 unchanged.
    let mut sorted = base.clone();
    sorted.sort_unstable();
    let p97 = sorted[969];
    let tail: Vec<u64> = lognormal(2, 1000)
        .into_iter()
        .map(|v| if v > p97 { v * 2 } else { v })
        .collect();
    let b = run(tmp.path(), "b", vec![class("eco", &tail, 0)], "p");
    let (j, code) = verdicts(&a, &b);
    assert_eq!(code, 1, "{j:#}");
    assert_eq!(metric(&j, "p99")["verdict"], "slower", "{j:#}");
    assert_eq!(metric(&j, "p99")["regression"], true);
    assert_ne!(metric(&j, "p50")["verdict"], "slower", "{j:#}");
    // The same draw again is not a regression.
    let a2 = run(tmp.path(), "a2", vec![class("eco", &lognormal(3, 1000), 0)], "p");
    let (j, code) = verdicts(&a, &a2);
    assert_eq!(code, 0, "{j:#}");
    assert_eq!(j["regressed"], false);
}

#[test]
fn p99_from_100_calls_is_insufficient_data() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run(tmp.path(), "a", vec![class("eco", &lognormal(1, 100), 0)], "p");
    let b = run(tmp.path(), "b", vec![class("eco", &lognormal(2, 100), 0)], "p");
    let (j, _) = verdicts(&a, &b);
    let p99 = metric(&j, "p99");
    assert_eq!(p99["verdict"], "insufficient-data", "{j:#}");
    assert!(p99["note"].as_str().unwrap().contains("368"), "{p99:#}");
}

/// Real runs: the same class measured twice back to back is not called a regression; the
/// same class name with half the CPU quota is. Three rounds each, so the interval carries the
/// run-to-run variance (a fresh server per round) that one round cannot show.
#[test]
fn real_runs_same_class_is_no_regression_and_half_the_quota_is() {
    let _s = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let payload = tmp.path().join("small.json");
    std::fs::write(
        &payload,
        dynobench::workload::generate::generate_orders(5, 128 * 1024),
    )
    .unwrap();
    let catalog = |cores: f64| {
        let f = tmp.path().join(format!("q{cores}.toml"));
        std::fs::write(
            &f,
            format!(
                "[catalog]\nname = \"q\"\nprice_source = \"test\"\nprice_date = \"2026-01-01\"\n\n\
                 [[class]]\nname = \"x\"\nprice_usd_month = 10.0\nmemory_mb = 1024\nworkers = 1\n\
                 cpu = {{ kind = \"quota\", cores = {cores} }}\n"
            ),
        )
        .unwrap();
        f
    };
    let out = tmp.path().join("results");
    let run = |cores: f64, label: &str| -> std::path::PathBuf {
        let o = Command::new(common::bin())
            .args([
                "run", "--calls", "150", "--repeat", "3", "--warmup", "5", "--quiet", "--label", label,
            ])
            .arg("--classes")
            .arg(catalog(cores))
            .arg("--payload")
            .arg(&payload)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().ends_with(label))
            .unwrap()
    };
    let a = run(0.5, "a");
    let a2 = run(0.5, "a2");
    let half = run(0.25, "half");
    let o = compare(&a, &a2, &[]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "back to back is not a regression:\n{md}"
    );
    assert!(!md.contains("REGRESSION"), "{md}");
    let o = compare(&a, &half, &[]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "half the quota is a regression:\n{md}");
    assert!(md.contains("| x | p50 |") && md.contains("REGRESSION"), "{md}");
}
