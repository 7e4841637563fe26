//! `plan` prints `validate`'s measured error band next to the plan: from --validate FILE
//! (a `dynobench validate --json` result), "none" without one, and an input error (exit 2)
//! naming the file when it is not such a result.

mod common;

use std::process::Command;

use dynobench::record::model_check::{ModelCheck, ModelCheckRow};

fn plan(dir: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "plan",
        "--service",
        "exponential:50ms",
        "--classes",
        "heroku",
        "--class",
        "performance-m",
        "--rate",
        "20",
        "--slo",
        "p99<=1s",
        "--samples",
        "1",
        "--requests",
        "10000",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(common::bin())
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("running dynobench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn row(measured: f64, predicted: f64) -> ModelCheckRow {
    ModelCheckRow {
        measured_p95_ms: measured,
        predicted_p95_ms: predicted,
        ..ModelCheckRow::default()
    }
}

#[test]
fn plan_prints_the_validate_band_or_says_none() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = plan(dir.path(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("model error band: none"), "{out}");
    let check = ModelCheck {
        rows: vec![row(100.0, 70.0), row(100.0, 110.0), row(100.0, 125.0)],
        notes: vec![],
    };
    let file = dir.path().join("v.json");
    std::fs::write(&file, serde_json::to_string(&check).unwrap()).unwrap();
    let (code, out, err) = plan(dir.path(), &["--validate", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("predicted p95 -30% to +25% of measured over 3 loads")
            && out.contains("within 20% in 1 of 3"),
        "{out}"
    );
    std::fs::write(&file, "{}").unwrap();
    let (code, _, err) = plan(dir.path(), &["--validate", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("v.json") && err.contains("validate --json"), "{err}");
}
