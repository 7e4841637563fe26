//! `dynobench compare A B`: per class, the change of p50, p90, p95, p99 and the error rate
//! from run A to run B, each with a 95% interval and a verdict — faster, slower, no change
//! within the noise threshold, or insufficient data (saying what would decide it). The
//! interval comes from a block bootstrap over consecutive calls (one round) or from the
//! spread between rounds (`run --repeat`, both runs with two or more); see [`stats`]. A
//! change the host's own drift explains (its reference work got slower or faster by as
//! much) is not called significant. A slow-down beyond the threshold is a regression.
//! Pure: takes runs already read (`report::reader`), never reads or runs anything.

mod checks;
pub mod stats;
pub mod verdict;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::record::histogram::decode;
use crate::record::summary::Percentile;
use crate::record::{ClassResult, RunReport};
use stats::{Blocks, Change, bootstrap_changes, harrell_davis, proportion_change, welch_change};
use verdict::{Verdict, verdict};

pub use checks::{CompareError, check_compatible, warnings};

/// The percentiles compared.
pub const METRICS: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

/// How to compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// A slower verdict beyond this many percent is a regression.
    pub threshold_pct: f64,
    /// Changes within this many percent are noise.
    pub noise_pct: f64,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for CompareOptions {
    fn default() -> CompareOptions {
        CompareOptions {
            threshold_pct: 10.0,
            noise_pct: 2.0,
            seed: 42,
        }
    }
}

/// One run as compare needs it: the report and, per class, its calls in blocks of
/// consecutive calls (from the .hlog; absent when the file is missing).
#[derive(Debug, Clone, Copy)]
pub struct RunData<'a> {
    /// The report.
    pub report: &'a RunReport,
    /// Per class, blocks of consecutive calls.
    pub blocks: &'a BTreeMap<String, Blocks>,
}

/// One metric of one class, A → B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDelta {
    /// `p50`, `p90`, `p95`, `p99`.
    pub metric: String,
    /// A's estimate and interval, µs.
    pub a: Option<Percentile>,
    /// B's estimate and interval, µs.
    pub b: Option<Percentile>,
    /// The relative change B/A − 1 with its 95% interval.
    pub change: Option<Change>,
    /// What the interval shows.
    pub verdict: Verdict,
    /// How the interval was obtained.
    pub method: String,
    /// Why the data are insufficient and what would decide it, or how host drift was
    /// taken into account.
    pub note: Option<String>,
    /// Slower beyond the threshold.
    pub regression: bool,
}

/// The error rate of one class, A → B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDelta {
    /// A's error rate.
    pub a: f64,
    /// B's error rate.
    pub b: f64,
    /// B − A in absolute terms (0.01 = one percentage point), with its 95% interval.
    pub change: Change,
    /// Significantly more errors in B.
    pub regression: bool,
}

/// One class, A → B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassDelta {
    /// Class.
    pub class: String,
    /// p50, p90, p95, p99 (empty when not compared).
    pub metrics: Vec<MetricDelta>,
    /// The error rate.
    pub error_rate: ErrorDelta,
    /// `compared`, or why not.
    pub status: String,
    /// The class as a whole: `slower` if any percentile is, else `faster` if any is, else
    /// `no change` if all are, else `insufficient data`; `not compared` for a failed class.
    pub verdict: String,
    /// Measured in A but failed in B: a regression whatever the threshold.
    pub broke: bool,
    /// Rounds in A and in B.
    pub rounds: (usize, usize),
    /// The host's CPU reference time around the class in A and in B, µs.
    pub host_cpu_ref_us: (Option<f64>, Option<f64>),
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Run id of A.
    pub a: String,
    /// Run id of B.
    pub b: String,
    /// Regression threshold, percent.
    pub threshold_pct: f64,
    /// Noise threshold, percent.
    pub noise_pct: f64,
    /// Classes in both runs.
    pub classes: Vec<ClassDelta>,
    /// Classes only in A.
    pub only_a: Vec<String>,
    /// Classes only in B.
    pub only_b: Vec<String>,
    /// Differences between the runs that make the comparison weaker (backend, host, calls).
    pub warnings: Vec<String>,
    /// `class metric` of every verdict that is insufficient data.
    pub inconclusive: Vec<String>,
    /// Any regression.
    pub regressed: bool,
}

/// The values of a histogram, sorted (µs as f64), for per-round estimates.
fn values_of(encoded: &str) -> Vec<f64> {
    let Ok(h) = decode(encoded) else {
        return Vec::new();
    };
    let mut v = Vec::with_capacity(h.len() as usize);
    for x in h.iter_recorded() {
        let value = h.highest_equivalent(x.value_iterated_to()) as f64;
        v.extend(std::iter::repeat_n(value, x.count_at_value() as usize));
    }
    v
}

fn round_estimates(c: &ClassResult, p: f64) -> Vec<f64> {
    c.rounds
        .iter()
        .filter(|r| r.ok > 0 && !r.latency.is_empty())
        .filter_map(|r| harrell_davis(&values_of(&r.latency), p))
        .collect()
}

/// The i.i.d. fallback when a run has no .hlog: every call its own block.
fn blocks_from_histogram(c: &ClassResult) -> Blocks {
    Blocks {
        blocks: values_of(&c.histograms.client_latency)
            .into_iter()
            .map(|v| vec![v as u64])
            .collect(),
    }
}

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// Calls per run that would shrink an interval of half-width `h` (relative) at `n` calls to
/// decide: to `|estimate|` when the change is beyond the noise, else to the noise.
fn calls_to_decide(c: &Change, n: u64, noise: f64) -> u64 {
    let h = (c.hi - c.lo) / 2.0;
    let target = c.estimate.abs().max(noise).max(1e-4);
    ((n as f64) * (h / target).powi(2)).ceil() as u64
}

fn metric_delta(
    ca: &ClassResult,
    cb: &ClassResult,
    p: f64,
    change: Option<Change>,
    method: &str,
    drift: Option<f64>,
    o: &CompareOptions,
) -> MetricDelta {
    let (pa, pb) = (
        ca.latency.percentile(p).cloned(),
        cb.latency.percentile(p).cloned(),
    );
    let bounded = |x: &Option<Percentile>| {
        x.as_ref()
            .is_some_and(|x| x.value_us.is_some() && x.ci_low_us.is_some() && x.ci_high_us.is_some())
    };
    let noise = o.noise_pct / 100.0;
    let mut note = None;
    let mut change = change;
    let mut v = verdict(change, noise);
    if !bounded(&pa) || !bounded(&pb) {
        let need = crate::record::verdict::min_calls_for(p / 100.0);
        note = Some(format!(
            "p{p} cannot be bounded from {} (A) and {} (B) calls: it needs at least {need} per run",
            ca.latency.count, cb.latency.count
        ));
        change = None;
        v = Verdict::InsufficientData;
    } else if let Some(c) = change {
        if let Some(d) = drift.filter(|d| *d > 0.0) {
            // What B's change would be had its host been as fast as A's.
            let norm = Change {
                estimate: (1.0 + c.estimate) / d - 1.0,
                lo: (1.0 + c.lo) / d - 1.0,
                hi: (1.0 + c.hi) / d - 1.0,
            };
            if matches!(v, Verdict::Slower | Verdict::Faster) && verdict(Some(norm), noise) != v {
                note = Some(format!(
                    "the host itself was {} in B by the reference work ({}); that explains this change (normalized: {} [{}, {}])",
                    if d > 1.0 { "slower" } else { "faster" },
                    pct(d - 1.0),
                    pct(norm.estimate),
                    pct(norm.lo),
                    pct(norm.hi)
                ));
                v = Verdict::InsufficientData;
            }
        }
        if v == Verdict::InsufficientData && note.is_none() {
            let n = ca.latency.count.min(cb.latency.count);
            note = Some(format!(
                "the interval allows a change beyond the {}% noise threshold without showing one; about {} calls per run (or more rounds) would decide it",
                o.noise_pct,
                calls_to_decide(&c, n, noise)
            ));
        }
    }
    MetricDelta {
        metric: format!("p{p}"),
        regression: v == Verdict::Slower && change.is_some_and(|c| c.estimate * 100.0 > o.threshold_pct),
        a: pa,
        b: pb,
        change,
        verdict: v,
        method: method.into(),
        note,
    }
}

fn class_delta(a: RunData, b: RunData, ca: &ClassResult, cb: &ClassResult, o: &CompareOptions) -> ClassDelta {
    let ka = ca.rounds.len().max(1);
    let kb = cb.rounds.len().max(1);
    let err = proportion_change(
        ca.calls.attempted - ca.calls.ok.min(ca.calls.attempted),
        ca.calls.attempted,
        cb.calls.attempted - cb.calls.ok.min(cb.calls.attempted),
        cb.calls.attempted,
    );
    let mut d = ClassDelta {
        class: ca.name.clone(),
        metrics: Vec::new(),
        error_rate: ErrorDelta {
            a: ca.calls.error_rate,
            b: cb.calls.error_rate,
            regression: err.lo > 0.0,
            change: err,
        },
        status: "compared".into(),
        verdict: "not compared".into(),
        broke: ca.is_ok() && !cb.is_ok(),
        rounds: (ka, kb),
        host_cpu_ref_us: (
            ca.host_speed.as_ref().map(|h| h.cpu_ref_us),
            cb.host_speed.as_ref().map(|h| h.cpu_ref_us),
        ),
    };
    if !ca.is_ok() || !cb.is_ok() {
        d.status = if !ca.is_ok() {
            format!(
                "not compared: failed in A ({})",
                ca.failure.as_deref().unwrap_or("")
            )
        } else {
            format!(
                "not compared: failed in B ({})",
                cb.failure.as_deref().unwrap_or("")
            )
        };
        return d;
    }
    let drift = match d.host_cpu_ref_us {
        (Some(x), Some(y)) if x > 0.0 => Some(y / x),
        _ => None,
    };
    let ps: Vec<f64> = METRICS.iter().map(|p| p / 100.0).collect();
    if ka >= 2 && kb >= 2 {
        for &p in &METRICS {
            let c = welch_change(&round_estimates(ca, p / 100.0), &round_estimates(cb, p / 100.0));
            let method = format!("rounds: Welch t on {ka} and {kb} per-round Harrell-Davis estimates");
            d.metrics.push(metric_delta(ca, cb, p, c, &method, drift, o));
        }
    } else {
        let (ba, bb, method) = match (a.blocks.get(&ca.name), b.blocks.get(&cb.name)) {
            (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => (
                x.clone(),
                y.clone(),
                format!(
                    "block bootstrap over consecutive calls ({} and {} blocks; one round: run-to-run variance not included, use --repeat)",
                    x.blocks.len(),
                    y.blocks.len()
                ),
            ),
            _ => (
                blocks_from_histogram(ca),
                blocks_from_histogram(cb),
                "bootstrap treating calls as independent (no .hlog: autocorrelation not accounted)"
                    .to_string(),
            ),
        };
        let seed = o.seed
            ^ ca.name
                .bytes()
                .fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(u64::from(x)));
        let changes = bootstrap_changes(&ba, &bb, &ps, seed);
        for (i, &p) in METRICS.iter().enumerate() {
            d.metrics
                .push(metric_delta(ca, cb, p, changes[i], &method, drift, o));
        }
    }
    let any = |v: Verdict| d.metrics.iter().any(|m| m.verdict == v);
    d.verdict = if any(Verdict::Slower) {
        Verdict::Slower
    } else if any(Verdict::Faster) {
        Verdict::Faster
    } else if d.metrics.iter().all(|m| m.verdict == Verdict::NoChange) {
        Verdict::NoChange
    } else {
        Verdict::InsufficientData
    }
    .text()
    .into();
    d
}

/// Compares two runs.
pub fn compare(a: RunData, b: RunData, o: &CompareOptions) -> Comparison {
    let mut classes = Vec::new();
    for ca in &a.report.classes {
        if let Some(cb) = b.report.class(&ca.name) {
            classes.push(class_delta(a, b, ca, cb, o));
        }
    }
    let names = |x: &RunReport, y: &RunReport| -> Vec<String> {
        x.classes
            .iter()
            .filter(|c| y.class(&c.name).is_none())
            .map(|c| c.name.clone())
            .collect()
    };
    let inconclusive = classes
        .iter()
        .flat_map(|c| {
            c.metrics
                .iter()
                .filter(|m| m.verdict == Verdict::InsufficientData)
                .map(move |m| format!("{} {}", c.class, m.metric))
        })
        .collect();
    let regressed = classes
        .iter()
        .any(|c| c.broke || c.error_rate.regression || c.metrics.iter().any(|m| m.regression));
    Comparison {
        a: a.report.run_id.clone(),
        b: b.report.run_id.clone(),
        threshold_pct: o.threshold_pct,
        noise_pct: o.noise_pct,
        only_a: names(a.report, b.report),
        only_b: names(b.report, a.report),
        warnings: warnings(a.report, b.report),
        classes,
        inconclusive,
        regressed,
    }
}
