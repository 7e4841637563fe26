//! Per-dollar answers for the class a user buys, end to end on the committed reference run:
//! `plan --classes CATALOG` bills each platform as it bills (Cloud Run only while serving,
//! Fargate per provisioned vCPU and GB), its CSV parses with a CSV reader, and the run's
//! own classes are priced at their catalog cores, not this machine's cap.

mod common;

use std::process::Command;

const REFERENCE: &str = "results/20261205-070835-local";

/// Runs `dynobench plan` on the reference run with `args` and a CSV; returns the CSV rows
/// as maps from column to value.
fn plan_csv(args: &[&str]) -> Vec<std::collections::HashMap<String, String>> {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("plan.csv");
    let out = Command::new(common::bin())
        .args([
            "plan",
            "--results",
            REFERENCE,
            "--samples",
            "2",
            "--requests",
            "20000",
        ])
        .args(args)
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r = csv::Reader::from_path(&csv).unwrap();
    let head = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), head.len(), "every row has the header's fields");
            head.iter()
                .map(String::from)
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &std::collections::HashMap<String, String>, k: &str) -> f64 {
    row[k]
        .parse()
        .unwrap_or_else(|_| panic!("{k} = '{}' is not a number", row[k]))
}

#[test]
fn cloud_run_at_a_light_load_bills_less_than_an_instance_busy_all_month() {
    let rows = plan_csv(&[
        "--classes",
        "cloudrun",
        "--class",
        "1vcpu-0.5gib",
        "--rate",
        "5",
        "--slo",
        "p99<=1s",
    ]);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["outcome"], "meets");
    assert!(r["billing"].starts_with("request"), "{}", r["billing"]);
    // The source names the measured pairs (a field with a comma, quoted by the CSV writer).
    assert!(r["source"].contains("(CPU, non-CPU)"), "{}", r["source"]);
    let dynos = num(r, "dynos");
    let bill = num(r, "monthly_usd");
    let busy_all_month = dynos * num(r, "price_usd_month");
    // 5 req/s all month: 13.14 M requests at $0.40/M in fees alone.
    let fees = 5.0 * 730.0 * 3600.0 / 1e6 * 0.40;
    assert!(bill < busy_all_month, "{bill} vs {busy_all_month}");
    assert!(bill > fees, "{bill} vs fees {fees}");
}

#[test]
fn fargate_bills_its_provisioned_vcpu_and_gb_hours() {
    let rows = plan_csv(&[
        "--classes",
        "fargate",
        "--class",
        "0.5vcpu-1gb",
        "--rate",
        "20",
        "--slo",
        "p95<=2s",
    ]);
    let r = &rows[0];
    assert_eq!(r["outcome"], "meets");
    let dynos = num(r, "dynos");
    // dynos × 730 h × (0.5 vCPU × $0.04048 + 1 GB × $0.004445), by hand.
    let want = dynos * 730.0 * (0.5 * 0.04048 + 1.0 * 0.004445);
    assert!(
        (num(r, "monthly_usd") - want).abs() < 0.01,
        "{} vs {want}",
        r["monthly_usd"]
    );
}

#[test]
fn plans_of_the_runs_own_classes_use_their_catalog_cores() {
    // performance-l was capped to one core here; the plan buys its 8.
    let rows = plan_csv(&["--class", "performance-l", "--rate", "50", "--slo", "p99<=1s"]);
    let r = &rows[0];
    assert_eq!(num(r, "cores"), 8.0);
    assert_eq!(r["billing"], "monthly, prorated (720 h)");
    // One dyno of 8 cores at ~91 ms of CPU per request carries ~87 req/s, so 50 req/s fits
    // in one: $500.
    assert_eq!(num(r, "dynos"), 1.0);
    assert!((num(r, "monthly_usd") - 500.0).abs() < 1e-6);
}
