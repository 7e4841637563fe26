//! Worker-count sweeps (pure): per class, throughput, tail latency and memory at each
//! `WEB_CONCURRENCY`, and the recommended count — the best throughput (within 5%, fewest
//! workers) that keeps p99 within the SLO and RSS under the class's memory.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::result::ClassResult;
use super::verdict::slo_verdict;
use crate::slo::{Slo, SloMetric};

/// One worker count of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SweepPoint {
    /// `WEB_CONCURRENCY`.
    pub workers: u32,
    /// Callers used (at least the workers).
    pub concurrency: u32,
    /// Whether it was measured.
    pub ok: bool,
    /// Completed calls per second.
    pub throughput_rps: f64,
    /// p95, µs.
    pub p95_us: Option<u64>,
    /// p99, µs.
    pub p99_us: Option<u64>,
    /// Peak RSS, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Peak RSS exceeded the class's memory quota (R14), or the server was killed for memory.
    pub over_memory: bool,
    /// Failed calls / calls.
    pub error_rate: f64,
    /// Whether the p99 (or other latency) SLO held, when one was given.
    pub slo_held: Option<bool>,
}

/// A class's sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkerSweep {
    /// Catalog class name.
    pub class: String,
    /// The class's memory quota, MB.
    pub memory_mb: u64,
    /// The class's default workers.
    pub default_workers: u32,
    /// The points, by worker count.
    pub points: Vec<SweepPoint>,
    /// Recommended `WEB_CONCURRENCY`, if any count qualifies.
    pub recommended: Option<u32>,
    /// Why.
    pub reason: String,
}

fn slo_held(r: &ClassResult, slos: &[Slo]) -> Option<bool> {
    let latency: Vec<&Slo> = slos.iter().filter(|s| s.metric != SloMetric::ErrorRate).collect();
    if latency.is_empty() {
        return None;
    }
    // The same three-valued rule as the run's verdicts: only "meets" holds.
    Some(latency.iter().all(|s| slo_verdict(r, s).held))
}

/// Groups sweep results (`class@N` names) by class and recommends a worker count for each.
pub fn worker_sweeps(results: &[ClassResult], slos: &[Slo]) -> Vec<WorkerSweep> {
    let mut out: Vec<WorkerSweep> = Vec::new();
    for r in results.iter().filter(|r| r.name.contains('@')) {
        let mem = r.class.memory_mb << 20;
        let killed_for_memory = r.failure.as_deref().is_some_and(|f| f.contains("memory"));
        let point = SweepPoint {
            workers: r.workers,
            concurrency: r.load.concurrency,
            ok: r.is_ok(),
            throughput_rps: r.throughput_rps,
            p95_us: r.latency.value(95.0),
            p99_us: r.latency.value(99.0),
            peak_rss_bytes: r.peak_rss_bytes,
            over_memory: killed_for_memory || r.peak_rss_bytes.is_some_and(|b| b > mem),
            error_rate: r.calls.error_rate,
            slo_held: slo_held(r, slos),
        };
        match out.iter_mut().find(|s| s.class == r.class.name) {
            Some(s) => s.points.push(point),
            None => out.push(WorkerSweep {
                class: r.class.name.clone(),
                memory_mb: r.class.memory_mb,
                default_workers: r.class.workers,
                points: vec![point],
                recommended: None,
                reason: String::new(),
            }),
        }
    }
    for s in &mut out {
        s.points.sort_by_key(|p| p.workers);
        recommend(s);
    }
    out
}

fn recommend(s: &mut WorkerSweep) {
    s.recommended = None;
    let eligible: Vec<&SweepPoint> = s
        .points
        .iter()
        .filter(|p| p.ok && !p.over_memory && p.error_rate == 0.0 && p.slo_held != Some(false))
        .collect();
    let excluded: Vec<String> = s
        .points
        .iter()
        .filter(|p| !eligible.iter().any(|e| e.workers == p.workers))
        .map(|p| {
            let why = if !p.ok {
                "failed"
            } else if p.over_memory {
                "over memory"
            } else if p.error_rate > 0.0 {
                "errors"
            } else {
                "breaks the SLO"
            };
            format!("{} ({why})", p.workers)
        })
        .collect();
    let Some(best) = eligible.iter().map(|p| p.throughput_rps).reduce(f64::max) else {
        s.reason = format!("no worker count qualifies: {}", excluded.join(", "));
        return;
    };
    // The fewest workers within 5% of the best throughput: more workers than that only add
    // memory and queueing.
    let pick = eligible
        .iter()
        .filter(|p| p.throughput_rps >= 0.95 * best)
        .min_by_key(|p| p.workers)
        .expect("the best point qualifies");
    s.recommended = Some(pick.workers);
    let mb = |b: Option<u64>| b.map_or("-".into(), |b| format!("{:.0} MB", b as f64 / 1048576.0));
    s.reason = format!(
        "{} workers: {:.2} req/s (the best is {:.2}; fewer workers within 5% of it are preferred), p99 {}, peak RSS {} of {} MB{}",
        pick.workers,
        pick.throughput_rps,
        best,
        pick.p99_us
            .map_or("n/e".into(), |v| format!("{:.1} ms", v as f64 / 1000.0)),
        mb(pick.peak_rss_bytes),
        s.memory_mb,
        if excluded.is_empty() {
            String::new()
        } else {
            format!("; excluded: {}", excluded.join(", "))
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(workers: u32, rps: f64, rss_mb: u64, p99_ms: u64) -> SweepPoint {
        SweepPoint {
            workers,
            concurrency: workers,
            ok: true,
            throughput_rps: rps,
            p95_us: Some(p99_ms * 900),
            p99_us: Some(p99_ms * 1000),
            peak_rss_bytes: Some(rss_mb << 20),
            over_memory: rss_mb > 512,
            error_rate: 0.0,
            slo_held: Some(p99_ms <= 300),
        }
    }

    #[test]
    fn recommends_fewest_workers_near_the_best_within_memory_and_slo() {
        let mut s = WorkerSweep {
            class: "standard-1x".into(),
            memory_mb: 512,
            default_workers: 2,
            points: vec![
                point(1, 10.0, 150, 120),
                point(2, 18.0, 250, 150),
                point(3, 18.5, 350, 250),
                point(4, 19.0, 450, 400),
                point(5, 19.5, 600, 500),
            ],
            recommended: None,
            reason: String::new(),
        };
        recommend(&mut s);
        assert_eq!(s.recommended, Some(2), "{}", s.reason);
        assert!(
            s.reason.contains("4 (breaks the SLO)") && s.reason.contains("5 (over memory)"),
            "{}",
            s.reason
        );
        s.points.iter_mut().for_each(|p| p.over_memory = true);
        recommend(&mut s);
        assert_eq!(s.recommended, None);
        assert!(s.reason.starts_with("no worker count qualifies"));
    }
}
