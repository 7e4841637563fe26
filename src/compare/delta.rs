//! One class's deltas from run A to run B: per-round estimates and blocks from the
//! histograms, the host's drift, and each percentile's and the error rate's change with its
//! interval and verdict. `compare` (mod.rs) puts them together over the classes.

use super::*;

/// The values of a histogram, sorted (µs as f64), for per-round estimates.
pub(super) fn values_of(encoded: &str) -> Vec<f64> {
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

pub(super) fn round_estimates(c: &ClassResult, p: f64) -> Vec<f64> {
    c.rounds
        .iter()
        .filter(|r| r.ok > 0 && !r.latency.is_empty())
        .filter_map(|r| harrell_davis(&values_of(&r.latency), p))
        .collect()
}

/// The i.i.d. fallback when a run has no .hlog: every call its own block.
pub(super) fn blocks_from_histogram(c: &ClassResult) -> Blocks {
    Blocks {
        blocks: values_of(&c.histograms.client_latency)
            .into_iter()
            .map(|v| vec![v as u64])
            .collect(),
    }
}

pub(super) fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// Rounds per run that would bring a family interval down to `target` (log scale): from
/// the per-run variance `var_run` (run-to-run and within-run), at about 2.5 standard
/// errors (simultaneous over the percentiles).
pub(super) fn rounds_to_decide(var_run: f64, target: f64) -> u64 {
    let q = 2.5f64;
    ((2.0 * q * q * var_run / (target * target)).ceil() as u64).clamp(2, 1000)
}

/// The host's drift from A to B by the reference work, as a log ratio with its standard
/// error (the readings' own spread); `None` without readings on both sides.
pub(super) fn host_drift(ca: &ClassResult, cb: &ClassResult) -> Option<(f64, f64)> {
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
pub(super) struct ClassPlan {
    family: Family,
    method: String,
    pub(super) intervals: FamilyIntervals,
    /// One round a side (the run-to-run term is in the intervals).
    one_round: bool,
    /// The per-run variance behind an interval, per percentile (log scale), for "rounds
    /// that would decide it".
    var_run: Vec<f64>,
}

pub(super) fn class_plan(
    a: RunData,
    b: RunData,
    ca: &ClassResult,
    cb: &ClassResult,
    o: &CompareOptions,
) -> ClassPlan {
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
pub(super) fn metric_delta(
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

pub(super) fn error_delta(ca: &ClassResult, cb: &ClassResult) -> ErrorDelta {
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

pub(super) fn class_delta(
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
pub(super) fn invalid_side<'c>(ca: &'c ClassResult, cb: &'c ClassResult) -> Option<(&'static str, &'c str)> {
    match (ca.invalid.as_deref(), cb.invalid.as_deref()) {
        (Some(a), Some(_)) => Some(("A and B", a)),
        (Some(a), None) => Some(("A", a)),
        (None, Some(b)) => Some(("B", b)),
        (None, None) => None,
    }
}
