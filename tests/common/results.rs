//! Helpers for tests that read or build results: the one run directory a command wrote,
//! its run.json, and class results recorded from given latencies.

use std::path::{Path, PathBuf};

use dynobench::class::Catalog;
use dynobench::endpoint::WorkResponse;
use dynobench::record::{ClassContext, ClassRecorder, ErrorKind, LoadFacts, Phase, RequestRecord, RunReport};

/// The only entry in `out` (a run's `--out` directory holds exactly its run directory).
pub fn only_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// The only directory in `parent` that holds a run.json (other files may sit beside it).
pub fn only_run_dir(parent: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("run.json").is_file())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// The run.json in `dir`, parsed.
pub fn read_report(dir: &Path) -> RunReport {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Records one measured call per latency in `lat_us` (µs), back to back from `t0`, each
/// with the server timing `server(latency)`; returns the time the last one ended.
pub fn record_calls(
    rec: &mut ClassRecorder,
    lat_us: &[u64],
    t0: u64,
    server: impl Fn(u64) -> WorkResponse,
) -> u64 {
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
            server: Some(server(l)),
            bytes: 100,
            done_unix_us: 0,
            reconnects: 0,
        });
        t += l;
    }
    t
}

/// Records `n` measured calls answered 503 at time `t`.
pub fn record_failures(rec: &mut ClassRecorder, n: u64, t: u64) {
    for _ in 0..n {
        rec.record(&RequestRecord {
            phase: Phase::Measured,
            intended_us: None,
            sent_us: t,
            done_us: t + 10,
            connect_us: None,
            status: Some(503),
            error: Some(ErrorKind::Status),
            server: None,
            bytes: 0,
            done_unix_us: 0,
            reconnects: 0,
        });
    }
}

/// A server timing of a CPU-bound call: `wall_us` on the wall clock, half of the call's
/// latency `l` on the CPU.
pub fn cpu_timing(l: u64, wall_us: u64, wait_us: u64) -> WorkResponse {
    WorkResponse {
        wall_us,
        cpu_us: l / 2,
        wait_us,
        digest: "1".into(),
        profile: "cpu".into(),
        ..WorkResponse::default()
    }
}

/// The context of a default-catalog class measured closed-loop by one caller on 2 workers.
pub fn closed_context(class: &str) -> ClassContext {
    ClassContext {
        class: Catalog::default_catalog().class(class).unwrap().clone(),
        workers: 2,
        load: LoadFacts {
            model: "closed".into(),
            concurrency: 1,
            ..LoadFacts::default()
        },
        ..ClassContext::default()
    }
}

/// A fresh closed-loop recorder with the driver's default 30-s timeout.
pub fn recorder() -> ClassRecorder {
    ClassRecorder::new(false, 30_000_000)
}
