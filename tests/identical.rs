//! The default run's economy: classes emulated identically here (eco, basic and standard-1x
//! share CPU model, memory and workers) are measured once and reported with their own
//! prices, said so in the table and summary; `--measure-identical` measures each.

mod common;

use common::results::only_dir;

use std::process::Command;

use dynobench::record::histogram::decode;
use dynobench::report::reader::read_run;

fn run(extra: &[&str]) -> (dynobench::record::RunReport, String, String) {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(common::bin())
        .args([
            "run", "--class", "eco", "--class", "basic", "--calls", "12", "--warmup", "2", "--out",
        ])
        .arg(out.path())
        .args(extra)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    assert!(o.status.success(), "{stderr}");
    let dir = only_dir(out.path());
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    (read_run(&dir).unwrap().report, stdout + &summary, stderr)
}

#[test]
fn identical_emulations_are_measured_once_unless_asked() {
    let _s = common::serial();
    let (r, text, err) = run(&[]);
    let (eco, basic) = (&r.classes[0], &r.classes[1]);
    assert_eq!(basic.same_as.as_deref(), Some("eco"));
    assert!(eco.same_as.is_none());
    assert_eq!(
        basic.histograms.client_latency, eco.histograms.client_latency,
        "one measurement"
    );
    assert_eq!(decode(&basic.histograms.client_latency).unwrap().len(), 12);
    assert_eq!(basic.price_usd_month, 7.0);
    assert!(
        basic.cost.usd_per_million_requests != eco.cost.usd_per_million_requests,
        "its own price"
    );
    assert!(
        text.contains("basic = eco") && text.contains("emulated here exactly as eco"),
        "{text}"
    );
    assert!(err.contains("the same emulation as eco"), "{err}");

    let (r, _, _) = run(&["--measure-identical"]);
    assert!(r.classes.iter().all(|c| c.same_as.is_none()));
    assert_eq!(r.classes[1].calls.attempted, 12);
}
