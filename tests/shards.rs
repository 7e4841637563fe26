//! Shards of one run (`run --shard I/N`, `dynobench merge`): the merge is exact (the same
//! histogram as one recorder that saw every call), four shard processes against one
//! endpoint merge to the load and latency of one driver, and shards of different runs,
//! duplicates, missing shards and whole runs are refused by name.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dynobench::class::Catalog;
use dynobench::endpoint::WorkResponse;
use dynobench::record::histogram::{Hist, decode};
use dynobench::record::shards::{MergeError, ShardRun, merge_shards};
use dynobench::record::{
    ClassContext, ClassRecorder, ClassResult, LoadFacts, Phase, RequestRecord, RunConfig, RunReport,
    ShardFacts, WorkloadFacts,
};
use dynobench::report::reader::{read_intervals, read_run};
use dynobench::server::{self, ServeConfig};
use dynobench::workload::Payload;

/// A class result whose measured calls took `lat_us` (µs each), back to back from `t0`.
fn class(lat_us: &[u64], t0: u64) -> ClassResult {
    let mut rec = ClassRecorder::new(false, 30_000_000);
    let mut t = t0;
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
                wall_us: l * 9 / 10,
                cpu_us: l / 2,
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
    let cat = Catalog::default_catalog();
    ClassResult::from_recorder(
        rec,
        ClassContext {
            class: cat.class("standard-1x").unwrap().clone(),
            workers: 2,
            load: LoadFacts {
                model: "closed".into(),
                concurrency: 1,
                ..LoadFacts::default()
            },
            measured_start_unix_s: 1_800_000_000.0,
            ..ClassContext::default()
        },
    )
}

fn shard(index: u32, count: u32, lat_us: &[u64], calls: u32) -> ShardRun {
    ShardRun {
        source: format!("shard{index}"),
        report: RunReport {
            run_id: format!("20260101-000000-shard{index}of{count}"),
            complete: true,
            config: RunConfig {
                calls: lat_us.len() as u32,
                concurrency: 1,
                path: "/work".into(),
                shard: Some(ShardFacts {
                    index,
                    count,
                    run_calls: calls,
                    run_concurrency: 4,
                    run_seed: 42,
                    ..ShardFacts::default()
                }),
                ..RunConfig::default()
            },
            workload: WorkloadFacts {
                payload: "orders.json".into(),
                payload_bytes: 4,
                profile: "cpu".into(),
            },
            classes: vec![class(lat_us, 0)],
            ..RunReport::default()
        },
    }
}

/// Latencies with a long tail, deterministic.
fn latencies(n: u64) -> Vec<u64> {
    (0..n)
        .map(|i| 20_000 + (i * 7919 % 997) * 37 + if i % 50 == 0 { 400_000 + i * 1000 } else { 0 })
        .collect()
}

fn assert_same_histogram(a: &Hist, b: &Hist) {
    assert_eq!(a.len(), b.len(), "counts");
    for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
        assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "quantile {q}");
    }
    let counts = |h: &Hist| {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(a), counts(b), "every recorded value");
}

#[test]
fn merged_shards_equal_one_recorder_that_saw_every_call() {
    let all = latencies(1000);
    // Four shards of 250 calls each, dealt round-robin as four drivers would share them.
    let shards: Vec<ShardRun> = (0..4)
        .rev()
        .map(|i| {
            let mine: Vec<u64> = all.iter().skip(i as usize).step_by(4).copied().collect();
            shard(i, 4, &mine, 1000)
        })
        .collect();
    let merged = merge_shards(shards, false, "20260101-000001-merged").unwrap();
    let one = class(&all, 0);
    let m = &merged.classes[0];
    assert_eq!(m.calls.ok, 1000);
    assert_same_histogram(
        &decode(&m.histograms.client_latency).unwrap(),
        &decode(&one.histograms.client_latency).unwrap(),
    );
    assert_same_histogram(
        &decode(m.histograms.server_wall.as_deref().unwrap()).unwrap(),
        &decode(one.histograms.server_wall.as_deref().unwrap()).unwrap(),
    );
    // Every summary (percentiles and their confidence intervals) is recomputed from it.
    assert_eq!(m.latency, one.latency);
    assert_eq!(merged.config.calls, 1000, "the run's calls, not a shard's");
    assert_eq!(merged.config.shard, None);
    let facts = merged.merged.as_ref().unwrap();
    assert_eq!((facts.count, facts.merged), (4, 4));
    assert_eq!(
        facts.shards.iter().map(|s| s.index).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(m.rounds.len(), 1, "shards are one measurement, not rounds");
}

#[test]
fn merge_refuses_what_is_not_one_run() {
    let l = latencies(100);
    let err = |shards: Vec<ShardRun>, partial: bool| merge_shards(shards, partial, "x-y-z").unwrap_err();
    // Different runs: another call count, another path, another class price.
    let mut other = shard(1, 2, &l, 300);
    let e = err(vec![shard(0, 2, &l, 200), other.clone()], false);
    assert!(
        e.to_string()
            .contains("config.calls is 200 in one and 300 in the other"),
        "{e}"
    );
    other.report.config.shard.as_mut().unwrap().run_calls = 200;
    other.report.config.path = "/work?profile=io".into();
    let e = err(vec![shard(0, 2, &l, 200), other.clone()], false);
    assert!(e.to_string().contains("config.path"), "{e}");
    other.report.config.path = "/work".into();
    other.report.classes[0].class.price_usd_month = 50.0;
    let e = err(vec![shard(0, 2, &l, 200), other], false);
    assert!(e.to_string().contains("price_usd_month"), "{e}");
    // Another shard count, another barrier.
    let e = err(vec![shard(0, 2, &l, 200), shard(1, 3, &l, 200)], false);
    assert!(e.to_string().contains("shards.count"), "{e}");
    let mut late = shard(1, 2, &l, 200);
    late.report.config.shard.as_mut().unwrap().start_at = Some("2026-12-01T10:00:00Z".into());
    assert!(
        err(vec![shard(0, 2, &l, 200), late], false)
            .to_string()
            .contains("shards.start_at")
    );
    // Duplicates, missing shards (unless --partial), whole runs.
    assert!(matches!(
        err(vec![shard(0, 2, &l, 200), shard(0, 2, &l, 200)], false),
        MergeError::Duplicate { index: 0, .. }
    ));
    assert!(
        matches!(err(vec![shard(1, 3, &l, 200)], false), MergeError::Missing { ref missing, count: 3 } if missing == &[0, 2])
    );
    let partial = merge_shards(vec![shard(1, 3, &l, 200)], true, "x-y-z").unwrap();
    assert!(
        partial.warnings.iter().any(|w| w.contains("1 of 3 shards")),
        "{:?}",
        partial.warnings
    );
    assert!(!partial.complete);
    let mut whole = shard(0, 1, &l, 100);
    whole.report.config.shard = None;
    assert!(matches!(err(vec![whole], false), MergeError::NotAShard(_)));
}

#[test]
fn a_late_shard_and_a_saturated_one_are_flagged() {
    let l = latencies(400);
    let mut shards: Vec<ShardRun> = (0..2).map(|i| shard(i, 2, &l, 800)).collect();
    // Shard 1 started 3 s late and could not keep its rate.
    shards[1].report.classes[0].measured_start_unix_s += 3.0;
    shards[1].report.classes[0].load.target_rps = Some(1000.0);
    shards[1].report.classes[0].load.late_sends = 300;
    let m = merge_shards(shards, false, "x-y-z").unwrap();
    let w = m.warnings.join("\n");
    assert!(
        w.contains("started up to 3000 ms apart") && w.contains("shard 1 last"),
        "{w}"
    );
    assert!(
        w.contains("shard 1 (shard1): the driver was the bottleneck: 300 of 400 scheduled calls waited"),
        "{w}"
    );
    // The merged class is invalid, not slow: its SLO verdicts are not judged.
    let why = m.classes[0].invalid.as_deref().unwrap_or_default();
    assert!(why.starts_with("shard 1: the driver was the bottleneck"), "{why}");
    assert!(w.contains("achieved"), "{w}");
    // The duration is the span of both windows, not their sum.
    let d = m.classes[0].duration_s;
    let one = m.classes[0].rounds[0].throughput_rps;
    assert!(d > 3.0 && d < 2.0 * class(&l, 0).duration_s, "{d}");
    assert!(one > 0.0);
}

fn dynobench(args: &[&str]) -> Output {
    Command::new(common::bin()).args(args).output().expect("runs")
}

fn only_dir(parent: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("run.json").is_file())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn four_shard_processes_merge_to_one_drivers_load() {
    let _serial = common::serial();
    // Enough workers that the io-bound calls never queue: latency is the simulated wait.
    let s = server::start(ServeConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        workers: 8,
        backlog: 64,
        payload: Payload::bundled(),
        ballast_mb: 0,
        timeouts: Default::default(),
        guard: Default::default(),
    })
    .expect("server starts");
    let url = format!("http://{}", s.addr);
    let tmp = tempfile::tempdir().unwrap();
    let common_args = |calls: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "run",
            "--url",
            &url,
            "--class",
            "standard-1x",
            "--calls",
            calls,
            "--concurrency",
            "4",
            "--profile",
            "io",
            "--io-ms",
            "20",
            "--warmup",
            "4",
            "-q",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let start_at = format!(
        "{:.3}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            + 4.0
    );
    let shards_dir = tmp.path().join("shards");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let shard = format!("{i}/4");
            let args = common_args(
                "200",
                &[
                    "--shard",
                    &shard,
                    "--start-at",
                    &start_at,
                    "--out",
                    shards_dir.to_str().unwrap(),
                ],
            );
            Command::new(common::bin())
                .args(&args)
                .spawn()
                .expect("shard starts")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a shard failed");
    }
    let single_dir = tmp.path().join("single");
    let single = Command::new(common::bin())
        .args(common_args("200", &["--out", single_dir.to_str().unwrap()]))
        .output()
        .unwrap();
    assert!(
        single.status.success(),
        "{}",
        String::from_utf8_lossy(&single.stderr)
    );
    let shard_dirs: Vec<PathBuf> = std::fs::read_dir(&shards_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(shard_dirs.len(), 4);
    let merged_dir = tmp.path().join("merged");
    let mut args = vec![
        "merge".to_string(),
        "--out".into(),
        merged_dir.to_str().unwrap().into(),
    ];
    args.extend(shard_dirs.iter().map(|p| p.to_str().unwrap().to_string()));
    let out = Command::new(common::bin()).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("merged 4 of 4 shards"));

    let merged = read_run(&only_dir(&merged_dir)).unwrap();
    // Its page, with the shards' table.
    let html = std::fs::read_to_string(merged.dir().join("index.html")).unwrap();
    let doc = common::page::self_contained(&html, Some(merged.dir()));
    common::page::run_page(&doc, &merged.report);
    assert!(
        doc.select(&common::page::sel("#merged pre")).next().is_some(),
        "the shards"
    );
    let m = &merged.report.classes[0];
    let shard_runs: Vec<_> = shard_dirs.iter().map(|d| read_run(d).unwrap()).collect();
    // Exact: the merged histogram is the shards' added, and every call is there once.
    assert_eq!(m.calls.ok, 200);
    let mut sum = decode(&shard_runs[0].report.classes[0].histograms.client_latency).unwrap();
    for r in &shard_runs[1..] {
        sum.add(decode(&r.report.classes[0].histograms.client_latency).unwrap())
            .unwrap();
    }
    assert_same_histogram(&decode(&m.histograms.client_latency).unwrap(), &sum);
    let hlog: usize = read_intervals(&merged, &m.name)
        .unwrap()
        .unwrap()
        .iter()
        .map(Vec::len)
        .sum();
    assert_eq!(hlog, 200, "the merged .hlog holds every call");
    assert_eq!(merged.report.config.concurrency, 4);
    // The barrier held: the shards started together on the server's clock.
    let facts = merged.report.merged.as_ref().unwrap();
    assert!(facts.start_spread_ms.unwrap() < 1000.0, "{facts:?}");
    assert!(
        facts.shards.iter().all(|s| s.clock_uncertainty_ms.is_some()),
        "the endpoint stamps its answers"
    );
    // The same total load from one driver gives the same latency (the calls wait 20 ms).
    let one = read_run(&only_dir(&single_dir)).unwrap();
    let (p50_m, p50_1) = (
        m.latency.value(50.0).unwrap() as f64,
        one.report.classes[0].latency.value(50.0).unwrap() as f64,
    );
    assert!(
        (0.8..1.25).contains(&(p50_m / p50_1)),
        "merged p50 {p50_m} µs, one driver {p50_1} µs"
    );

    // Shards of another run are refused, naming the difference.
    let other_dir = tmp.path().join("other");
    let o = Command::new(common::bin())
        .args(common_args(
            "300",
            &["--shard", "1/4", "--out", other_dir.to_str().unwrap()],
        ))
        .output()
        .unwrap();
    assert!(o.status.success());
    let first = shard_dirs
        .iter()
        .find(|d| d.to_str().unwrap().ends_with("shard0of4"))
        .unwrap();
    let r = dynobench(&[
        "merge",
        "--no-save",
        first.to_str().unwrap(),
        only_dir(&other_dir).to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("not shards of one run") && err.contains("config.calls is 200 in one and 300"),
        "{err}"
    );
    // A whole run is not a shard.
    let r = dynobench(&["merge", "--no-save", only_dir(&single_dir).to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("is not a shard"));
    s.stop().unwrap();
}

#[test]
fn shard_flags_are_checked() {
    let r = dynobench(&["run", "--shard", "4/4", "--url", "http://127.0.0.1:9"]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("not a shard such as 0/4"));
    let r = dynobench(&["run", "--class", "standard-1x", "--shard", "0/2"]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("give its --url"));
    let r = dynobench(&[
        "run",
        "--url",
        "http://127.0.0.1:9",
        "--class",
        "standard-1x",
        "--shard",
        "0/8",
        "--concurrency",
        "4",
    ]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("closed loop with 4 callers cannot be split 8 ways"));
    let r = dynobench(&[
        "run",
        "--url",
        "http://127.0.0.1:9",
        "--start-at",
        "2026-12-01T10:00:00Z",
    ]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("--start-at is the barrier of shards"));
    let r = dynobench(&[
        "run",
        "--url",
        "http://127.0.0.1:9",
        "--shard",
        "0/2",
        "--start-at",
        "tomorrow",
    ]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("RFC 3339"));
}
