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

/// Rounds per run that would bring a family interval down to `target` (log scale): from
/// the per-run variance `var_run` (run-to-run and within-run), at about 2.5 standard
/// errors (simultaneous over the percentiles).
fn rounds_to_decide(var_run: f64, target: f64) -> u64 {
    let q = 2.5f64;
    ((2.0 * q * q * var_run / (target * target)).ceil() as u64).clamp(2, 1000)
}

/// The host's drift from A to B by the reference work, as a log ratio with its standard
/// error (the readings' own spread); `None` without readings on both sides.
fn host_drift(ca: &ClassResult, cb: &ClassResult) -> Option<(f64, f64)> {
    let logs = |c: &ClassResult| -> Option<(f64, f64, usize)> {
        let h = c.host_speed.as_ref()?;
        let v: Vec<f64> = h
            .readings
            .iter()
            .map(|r| r.cpu_ref_us)
            .filter(|x| *x > 0.0)
            .map(f64::ln)
            .collect();
        if v.is_empty() {
            return (h.cpu_ref_us > 0.0)
                .then(|| (h.cpu_ref_us.ln(), (h.spread_pct / 100.0 / 2.0).powi(2), 1));
        }
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = if v.len() > 1 {
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            (h.spread_pct / 100.0 / 2.0).powi(2)
        };
        Some((m, var, v.len()))
    };
    let (ma, va, na) = logs(ca)?;
    let (mb, vb, nb) = logs(cb)?;
    Some((mb - ma, (va / na as f64 + vb / nb as f64).sqrt()))
}

/// How one class is compared: its family of changes, at what level, and what adjusts it.
struct ClassPlan {
    family: Family,
    method: String,
    intervals: FamilyIntervals,
    /// One round a side (the run-to-run term is in the intervals).
    one_round: bool,
    /// The per-run variance behind an interval, per percentile (log scale), for "rounds
    /// that would decide it".
    var_run: Vec<f64>,
}

fn class_plan(a: RunData, b: RunData, ca: &ClassResult, cb: &ClassResult, o: &CompareOptions) -> ClassPlan {
    let (ka, kb) = (ca.rounds.len().max(1), cb.rounds.len().max(1));
    let ps: Vec<f64> = METRICS.iter().map(|p| p / 100.0).collect();
    if ka >= 2 && kb >= 2 {
        let logs = |c: &ClassResult, p: f64| -> Vec<f64> {
            round_estimates(c, p)
                .into_iter()
                .filter(|v| *v > 0.0)
                .map(f64::ln)
                .collect()
        };
        let family = Family::Rounds {
            a: ps.iter().map(|&p| logs(ca, p)).collect(),
            b: ps.iter().map(|&p| logs(cb, p)).collect(),
        };
        let intervals = family.intervals();
        let var_run = intervals
            .changes
            .iter()
            .map(|c| c.map_or(0.0, |c| c.se * c.se * (ka * kb) as f64 / (ka + kb) as f64))
            .collect();
        return ClassPlan {
            method: format!(
                "rounds: Welch t on {ka} and {kb} per-round Harrell-Davis estimates, Bonferroni over {} percentiles",
                METRICS.len()
            ),
            family,
            intervals,
            one_round: false,
            var_run,
        };
    }
    let (ba, bb, method) = match (a.blocks.get(&ca.name), b.blocks.get(&cb.name)) {
        (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => (
            x.clone(),
            y.clone(),
            format!(
                "block bootstrap over consecutive calls ({} and {} blocks), max-|t| over {} percentiles, plus run-to-run spread",
                x.blocks.len(),
                y.blocks.len(),
                METRICS.len()
            ),
        ),
        _ => (
            blocks_from_histogram(ca),
            blocks_from_histogram(cb),
            "bootstrap treating calls as independent (no .hlog: autocorrelation not accounted), max-|t`, plus run-to-run spread"
                .replace('`', "|"),
        ),
    };
    let seed = o.seed
        ^ ca.name
            .bytes()
            .fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(u64::from(x)));
    let run_to_run: Vec<f64> = match o.run_to_run_pct {
        Some(v) => vec![v / 100.0; METRICS.len()],
        None => RUN_TO_RUN.to_vec(),
    };
    let (center, reps) = bootstrap_replicates(&ba, &bb, &ps, seed)
        .unwrap_or((vec![None; ps.len()], vec![Vec::new(); ps.len()]));
    let family = Family::Bootstrap {
        center,
        reps,
        run_to_run: run_to_run.clone(),
        seed,
    };
    let intervals = family.intervals();
    let var_run = intervals
        .changes
        .iter()
        .zip(&run_to_run)
        .map(|(c, rr)| c.map_or(rr * rr, |c| c.se * c.se / 2.0))
        .collect();
    ClassPlan {
        family,
        method,
        intervals,
        one_round: true,
        var_run,
    }
}

/// The verdict on one percentile from its simultaneous interval, both as measured and with
/// the host's drift taken out: they must agree, or the host could explain (or hide) it.
#[allow(clippy::too_many_arguments)]
fn metric_delta(
    ca: &ClassResult,
    cb: &ClassResult,
    j: usize,
    plan: &ClassPlan,
    q: f64,
    holm: (f64, bool, usize),
    drift: Option<(f64, f64)>,
    o: &CompareOptions,
) -> MetricDelta {
    let p = METRICS[j];
    let (pa, pb) = (
        ca.latency.percentile(p).cloned(),
        cb.latency.percentile(p).cloned(),
    );
    let bounded = |x: &Option<Percentile>| {
        x.as_ref()
            .is_some_and(|x| x.value_us.is_some() && x.ci_low_us.is_some() && x.ci_high_us.is_some())
    };
    let noise = o.noise_pct / 100.0;
    let lc = plan.intervals.changes[j];
    let mut change = lc.map(|c| c.change(q));
    let mut note = None;
    let mut v = verdict(change, noise);
    if !bounded(&pa) || !bounded(&pb) {
        let need = crate::record::verdict::min_calls_for(p / 100.0);
        note = Some(format!(
            "p{p} cannot be bounded from {} (A) and {} (B) calls: it needs at least {need} per run",
            ca.latency.count, cb.latency.count
        ));
        change = None;
        v = Verdict::InsufficientData;
    } else if let Some(lc) = lc {
        if let Some((d, sd)) = drift {
            let norm = LogChange {
                center: lc.center - d,
                se: (lc.se * lc.se + sd * sd).sqrt(),
                df: lc.df,
            }
            .change(q);
            let vn = verdict(Some(norm), noise);
            if vn != v {
                note = Some(format!(
                    "the host's reference work was {} in B ({}, ± {:.1}%): with that taken out the change is {} [{}, {}] ({}), so the host could explain it",
                    if d > 0.0 { "slower" } else { "faster" },
                    pct(d.exp() - 1.0),
                    sd * 100.0,
                    pct(norm.estimate),
                    pct(norm.lo),
                    pct(norm.hi),
                    vn.text()
                ));
                v = Verdict::InsufficientData;
            }
        }
        let (level, rejected, classes) = holm;
        if matches!(v, Verdict::Slower | Verdict::Faster) && !rejected {
            note = Some(format!(
                "not significant once {classes} class(es) × {} percentiles are accounted for (Holm, tested at {:.2}%)",
                METRICS.len(),
                level * 100.0
            ));
            v = Verdict::InsufficientData;
        }
        if v == Verdict::InsufficientData && note.is_none() {
            let c = change.unwrap_or(Change {
                estimate: 0.0,
                lo: 0.0,
                hi: 0.0,
            });
            let target = (1.0 + c.estimate.abs().max(noise)).ln();
            let rounds = rounds_to_decide(plan.var_run[j], target);
            note = Some(if plan.one_round {
                format!(
                    "one round a side: the interval includes this host's run-to-run spread ({:.1}% per run) that no single run shows; about {rounds} rounds per run (run --repeat {rounds}) would decide it",
                    match &plan.family {
                        Family::Bootstrap { run_to_run, .. } => run_to_run[j] * 100.0,
                        Family::Rounds { .. } => 0.0,
                    }
                )
            } else {
                format!(
                    "the interval allows a change beyond the {}% noise threshold without showing one; about {rounds} rounds per run would decide it",
                    o.noise_pct
                )
            });
        }
    }
    MetricDelta {
        metric: format!("p{p}"),
        regression: v == Verdict::Slower && change.is_some_and(|c| c.estimate * 100.0 > o.threshold_pct),
        a: pa,
        b: pb,
        change,
        verdict: v,
        method: plan.method.clone(),
        note,
    }
}

fn error_delta(ca: &ClassResult, cb: &ClassResult) -> ErrorDelta {
    let err = proportion_change(
        ca.calls.attempted - ca.calls.ok.min(ca.calls.attempted),
        ca.calls.attempted,
        cb.calls.attempted - cb.calls.ok.min(cb.calls.attempted),
        cb.calls.attempted,
    );
    ErrorDelta {
        a: ca.calls.error_rate,
        b: cb.calls.error_rate,
        regression: err.lo > 0.0,
        change: err,
    }
}

fn class_delta(
    ca: &ClassResult,
    cb: &ClassResult,
    plan: Option<&ClassPlan>,
    holm: (f64, bool, usize),
    o: &CompareOptions,
) -> ClassDelta {
    let mut d = ClassDelta {
        class: ca.name.clone(),
        metrics: Vec::new(),
        error_rate: error_delta(ca, cb),
        status: "compared".into(),
        verdict: "not compared".into(),
        broke: ca.is_ok() && !cb.is_ok(),
        rounds: (ca.rounds.len().max(1), cb.rounds.len().max(1)),
        host_cpu_ref_us: (
            ca.host_speed.as_ref().map(|h| h.cpu_ref_us),
            cb.host_speed.as_ref().map(|h| h.cpu_ref_us),
        ),
        drift_note: None,
    };
    let Some(plan) = plan else {
        if let Some((side, why)) = invalid_side(ca, cb) {
            d.status = format!("not compared: invalid in {side} ({why})");
            d.verdict = "invalid".into();
            return d;
        }
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
    };
    // The reference work runs on the driver's host: for a remote server it says nothing
    // about the server's host.
    let remote = ca.limits.is_none() || cb.limits.is_none();
    let drift = if remote { None } else { host_drift(ca, cb) };
    if remote {
        d.drift_note = Some(
            "host drift not applied: the reference work ran on the driver's host, not the remote server's"
                .into(),
        );
    }
    let (level, _, _) = holm;
    let q = plan.family.critical(level, &plan.intervals.changes);
    for (j, &qj) in q.iter().enumerate() {
        d.metrics.push(metric_delta(ca, cb, j, plan, qj, holm, drift, o));
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

/// The side (`A`, `B` or `A and B`) whose figures for the class are invalid, and why.
fn invalid_side<'c>(ca: &'c ClassResult, cb: &'c ClassResult) -> Option<(&'static str, &'c str)> {
    match (ca.invalid.as_deref(), cb.invalid.as_deref()) {
        (Some(a), Some(_)) => Some(("A and B", a)),
        (Some(a), None) => Some(("A", a)),
        (None, Some(b)) => Some(("B", b)),
        (None, None) => None,
    }
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
