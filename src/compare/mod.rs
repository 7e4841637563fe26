//! `dynobench compare A B`: per class, the change of p50, p90, p95, p99 and the error rate
//! from run A to run B, each with an interval and a verdict — faster, slower, no change
//! (the whole interval within the noise threshold), or insufficient data (saying what would
//! decide it). The intervals of a class's percentiles are simultaneous and classes are
//! tested with Holm, so the whole comparison has one 5% error rate ([`family`]); one round
//! a side carries this host's run-to-run spread, rounds on both sides their own spread. A
//! change the host's drift could explain or hide — the verdict differs once the reference
//! work's change (with its own spread) is taken out — is not called. A slow-down beyond the
//! threshold is a regression.
//! Pure: takes runs already read (`report::reader`), never reads or runs anything.

mod checks;
mod delta;
pub mod family;
pub mod stats;
pub mod verdict;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::record::histogram::decode;
use crate::record::summary::Percentile;
use crate::record::{ClassResult, RunReport};
use family::{Family, FamilyIntervals, LogChange, RUN_TO_RUN, holm};
use stats::{Blocks, Change, bootstrap_replicates, harrell_davis, proportion_change};
use verdict::{Verdict, verdict};

pub use checks::{CompareError, check_compatible, check_what_if, warnings};
use delta::*;

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
    /// Run-to-run spread of a one-round percentile, percent per run (`None`: this host's
    /// measured defaults, [`family::RUN_TO_RUN`]).
    pub run_to_run_pct: Option<f64>,
}

impl Default for CompareOptions {
    fn default() -> CompareOptions {
        CompareOptions {
            threshold_pct: 10.0,
            noise_pct: 2.0,
            seed: 42,
            run_to_run_pct: None,
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
    /// Why host drift was not taken into account, if it was not.
    pub drift_note: Option<String>,
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
    /// Classes not judged because their figures are invalid in A or B (the driver was the
    /// bottleneck): neither a regression nor its absence can be claimed for them.
    pub invalid: Vec<String>,
    /// Any regression.
    pub regressed: bool,
}

/// Compares two runs: every class's family of percentile changes, then Holm across the
/// classes compared, then each class's simultaneous intervals at its Holm level.
pub fn compare(a: RunData, b: RunData, o: &CompareOptions) -> Comparison {
    let pairs: Vec<(&ClassResult, &ClassResult)> = a
        .report
        .classes
        .iter()
        .filter_map(|ca| Some((ca, b.report.class(&ca.name)?)))
        .collect();
    let plans: Vec<Option<ClassPlan>> = pairs
        .iter()
        .map(|(ca, cb)| {
            (ca.is_ok() && cb.is_ok() && invalid_side(ca, cb).is_none()).then(|| class_plan(a, b, ca, cb, o))
        })
        .collect();
    let compared: Vec<usize> = (0..plans.len()).filter(|&i| plans[i].is_some()).collect();
    let p: Vec<f64> = compared
        .iter()
        .map(|&i| plans[i].as_ref().map_or(1.0, |p| p.intervals.p_value))
        .collect();
    let levels = holm(&p, 1.0 - stats::CONFIDENCE);
    let mut holm_of = vec![(1.0 - stats::CONFIDENCE, false, compared.len()); plans.len()];
    for (k, &i) in compared.iter().enumerate() {
        holm_of[i] = (levels[k].0, levels[k].1, compared.len());
    }
    let classes: Vec<ClassDelta> = pairs
        .iter()
        .enumerate()
        .map(|(i, (ca, cb))| class_delta(ca, cb, plans[i].as_ref(), holm_of[i], o))
        .collect();
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
    let invalid = classes
        .iter()
        .filter(|c| c.verdict == "invalid")
        .map(|c| c.class.clone())
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
        invalid,
        regressed,
    }
}
