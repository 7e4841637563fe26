//! SLO verdicts (pure), three-valued from confidence intervals: a class **meets** an SLO
//! when the whole 95% interval of its figure is within the limit, **breaks** it when the
//! whole interval is beyond, and is **inconclusive** otherwise (the interval straddles the
//! limit, or the sample cannot bound the percentile) — with the number of calls that would
//! decide it. Failed calls count against latency SLOs as infinitely slow, and against the
//! error rate.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::histogram::{Hist, decode, value_at_rank};
use super::result::{ClassResult, ClassStatus};
use super::summary::{CONFIDENCE, Z95, ci_ranks, estimate_rank, wilson};
use crate::slo::{Slo, SloMetric};
use crate::units::ms_text as ms;

/// One SLO verdict for one class, from the 95% interval of the constrained figure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SloVerdict {
    /// Class.
    pub class: String,
    /// The objective.
    pub slo: String,
    /// Point estimate: µs for latency, a fraction for the error rate; absent when not
    /// estimable (or infinite: the percentile falls on failed calls).
    pub measured: Option<f64>,
    /// Lower end of its 95% interval (µs or a fraction); absent when the sample cannot give
    /// it, or when it falls on failed calls (infinitely slow: the line says so).
    pub ci_low: Option<f64>,
    /// Upper end of its 95% interval; absent as `ci_low` is.
    pub ci_high: Option<f64>,
    /// meets, breaks or inconclusive.
    pub outcome: SloOutcome,
    /// Whether it met the objective (`outcome == meets`; inconclusive is not a pass).
    pub held: bool,
    /// When inconclusive: about how many calls would decide it.
    pub calls_needed: Option<u64>,
    /// The calls the interval was taken at when consecutive calls were correlated: the
    /// calls ÷ the design effect of exceeding the estimate (batch means over the run's
    /// intervals, rounds as clusters); absent when calls were taken as independent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_calls: Option<f64>,
    /// One line for humans.
    pub line: String,
}

const Z: f64 = Z95;

/// What a verdict says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SloOutcome {
    /// The whole interval is within the limit.
    Meets,
    /// The whole interval is beyond the limit.
    Breaks,
    /// Neither: more calls would decide it (or the class failed).
    #[default]
    Inconclusive,
    /// Not judged: the class's figures are invalid (the driver was the bottleneck).
    Invalid,
}

impl SloOutcome {
    /// The word in reports.
    pub fn word(self) -> &'static str {
        match self {
            SloOutcome::Meets => "meets",
            SloOutcome::Breaks => "breaks",
            SloOutcome::Inconclusive => "inconclusive",
            SloOutcome::Invalid => "invalid",
        }
    }
}

/// The fewest calls for which percentile `p` (0..1) has both ends of its 95% interval.
pub fn min_calls_for(p: f64) -> u64 {
    let mut n = ((0.025f64.ln() / p.ln()).max(0.025f64.ln() / (1.0 - p).ln())).ceil() as u64;
    n = n.max(1);
    while !matches!(ci_ranks(n, p, CONFIDENCE), (Some(_), Some(_))) {
        n += 1;
    }
    n
}

/// Calls that would let an interval around a share `share` (of calls within the limit, or
/// of failures) separate from `target`, by the normal approximation; `None` when they are
/// equal (the class sits at the limit: no number of calls decides it).
fn calls_to_separate(share: f64, target: f64) -> Option<u64> {
    let d = (share - target).abs();
    (d > 1e-9).then(|| (Z * Z * target * (1.0 - target) / (d * d)).ceil().max(1.0) as u64)
}

/// The value at 1-based rank `r` among `n_total` calls of which those not in `h` failed
/// (they rank last, as infinitely slow); `None` for infinity.
fn ranked(h: &Hist, r: u64) -> Option<u64> {
    if r <= h.len() { value_at_rank(h, r) } else { None }
}

/// One SLO checked against one class.
pub fn slo_verdict(c: &ClassResult, s: &Slo) -> SloVerdict {
    let mut v = SloVerdict {
        class: c.name.clone(),
        slo: s.text.clone(),
        ..SloVerdict::default()
    };
    if c.status != ClassStatus::Ok {
        v.line = format!(
            "{}: {} not checked: the class {}",
            c.name,
            s,
            c.failure.as_deref().unwrap_or("failed")
        );
        return v;
    }
    if let Some(why) = &c.invalid {
        v.outcome = SloOutcome::Invalid;
        v.line = format!("{}: {s} not judged: invalid: {why}", c.name);
        return v;
    }
    let attempted = c.calls.attempted;
    match s.metric {
        SloMetric::ErrorRate => {
            let failed = c.calls.attempted.saturating_sub(c.calls.ok) as f64;
            let (lo, hi) = wilson(failed, attempted as f64);
            let rate = c.calls.error_rate;
            v.measured = Some(rate);
            v.ci_low = Some(lo);
            v.ci_high = Some(hi);
            v.outcome = if hi <= s.limit {
                SloOutcome::Meets
            } else if lo > s.limit {
                SloOutcome::Breaks
            } else {
                SloOutcome::Inconclusive
            };
            if v.outcome == SloOutcome::Inconclusive {
                v.calls_needed = if rate == 0.0 && s.limit > 0.0 {
                    Some((Z * Z * (1.0 - s.limit) / s.limit).ceil() as u64)
                } else {
                    calls_to_separate(rate, s.limit)
                };
            }
            v.line = format!(
                "{}: error rate {:.2}% [95% CI {:.2}%, {:.2}%] {} {}",
                c.name,
                rate * 100.0,
                lo * 100.0,
                hi * 100.0,
                v.outcome.word(),
                s
            );
        }
        SloMetric::Max => {
            let failed = attempted.saturating_sub(c.latency.count);
            let max = c.latency.max_us as f64;
            v.measured = (failed == 0).then_some(max);
            v.outcome = if failed == 0 && c.latency.count > 0 && s.holds(max) {
                SloOutcome::Meets
            } else {
                SloOutcome::Breaks
            };
            v.line = format!(
                "{}: max {}{} {} {} (over the {} calls measured)",
                c.name,
                ms(max),
                if failed > 0 {
                    format!(", and {failed} failed calls")
                } else {
                    String::new()
                },
                v.outcome.word(),
                s,
                attempted
            );
        }
        SloMetric::Percentile(pct) => percentile_verdict(c, s, pct, &mut v),
    }
    v.held = v.outcome == SloOutcome::Meets;
    v
}

fn percentile_verdict(c: &ClassResult, s: &Slo, pct: f64, v: &mut SloVerdict) {
    let p = pct / 100.0;
    let h = match decode(&c.histograms.client_latency) {
        Ok(h) => h,
        Err(e) => {
            v.line = format!(
                "{}: {s} not checked: the latency histogram is unreadable ({e})",
                c.name
            );
            return;
        }
    };
    let rounds: Vec<Hist> = c.rounds.iter().filter_map(|r| decode(&r.latency).ok()).collect();
    let iv = percentile_interval(&h, c.calls.attempted, &c.intervals, &rounds, p);
    let (n, failed, est, de) = (iv.n, iv.failed, iv.estimate, iv.design_effect);
    v.effective_calls = iv.effective_calls;
    v.measured = iv.measured;
    v.ci_low = iv.ci_low;
    v.ci_high = iv.ci_high;
    let inf = f64::INFINITY;
    let within = h.count_between(0, s.limit as u64) as f64 / n.max(1) as f64;
    v.outcome = match (v.ci_low, v.ci_high) {
        (_, Some(hi)) if s.holds(hi) => SloOutcome::Meets,
        (Some(lo), _) if !s.holds(lo) => SloOutcome::Breaks,
        _ => SloOutcome::Inconclusive,
    };
    let fmt = |x: Option<f64>| match x {
        Some(x) if x.is_finite() => ms(x),
        Some(_) => "∞ (failed calls)".into(),
        None => "—".into(),
    };
    let mut failed_note = if failed > 0 {
        format!(" ({failed} failed calls count as infinitely slow)")
    } else {
        String::new()
    };
    if let Some(ne) = v.effective_calls {
        failed_note.push_str(&format!(
            " (consecutive calls correlated: the interval is taken at {ne:.0} effective calls of {n})"
        ));
    }
    if v.outcome == SloOutcome::Inconclusive {
        let min = min_calls_for(p);
        let sep = calls_to_separate(within, p);
        // Correlated calls: that many more of them for the same information.
        v.calls_needed = sep.map(|x| ((x as f64 * de.unwrap_or(1.0)).ceil() as u64).max(min));
        let why = match (est, v.calls_needed) {
            (None, _) => {
                format!("p{pct} cannot be estimated from {n} calls (needs at least {min} to bound it)")
            }
            (_, None) => format!(
                "p{pct} sits at the limit ({:.1}% of calls within it): no number of calls decides it",
                within * 100.0
            ),
            (_, Some(need)) if n < min => format!(
                "{n} calls cannot bound p{pct} (needs at least {min}); about {need} calls would decide it"
            ),
            (_, Some(need)) => format!(
                "the interval straddles the limit; about {need} calls would decide it ({:.1}% of calls are within it)",
                within * 100.0
            ),
        };
        v.line = format!(
            "{}: p{pct} {} [95% CI {}, {}] is inconclusive for {s}: {why}{failed_note}",
            c.name,
            fmt(v.measured.or(est.and(Some(inf)))),
            fmt(v.ci_low),
            fmt(v.ci_high)
        );
    } else {
        v.line = format!(
            "{}: p{pct} {} [95% CI {}, {}] {} {s}{failed_note}",
            c.name,
            fmt(v.measured.or(est.and(Some(inf)))),
            fmt(v.ci_low),
            fmt(v.ci_high),
            v.outcome.word()
        );
    }
}

/// A percentile's point estimate and 95% interval as reports and verdicts give them: every
/// attempted call counts (those not in `h` failed and rank last, as infinitely slow), and
/// correlated calls are taken at their effective number (the design effect of batch means
/// over `intervals` and of `rounds` as clusters). The one interval SLO verdicts and the
/// `--precision` stopping rule use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileInterval {
    /// Calls counted (attempted, at least those in the histogram).
    pub n: u64,
    /// Calls that failed (not in the histogram).
    pub failed: u64,
    /// The nearest-rank estimate: `None` when not estimable, `Some(None)` when it falls on
    /// failed calls.
    pub estimate: Option<Option<u64>>,
    /// The estimate, µs (absent when not estimable or infinite).
    pub measured: Option<f64>,
    /// Lower end, µs (infinite on failed calls); absent when the sample cannot give it.
    pub ci_low: Option<f64>,
    /// Upper end, as `ci_low`.
    pub ci_high: Option<f64>,
    /// The design effect applied (only when above 1).
    pub design_effect: Option<f64>,
    /// n ÷ the design effect, when applied.
    pub effective_calls: Option<f64>,
}

impl PercentileInterval {
    /// The interval's larger distance from the estimate, relative to it (0.05 = ±5%);
    /// `None` when an end is missing or infinite, or there is no finite estimate.
    pub fn relative_half_width(&self) -> Option<f64> {
        let (m, lo, hi) = (self.measured?, self.ci_low?, self.ci_high?);
        (m > 0.0 && lo.is_finite() && hi.is_finite()).then(|| ((m - lo).max(hi - m) / m).max(0.0))
    }
}

/// The interval of percentile `p` (0..1) of the latency histogram `h` among `attempted`
/// calls; see [`PercentileInterval`].
pub fn percentile_interval(
    h: &Hist,
    attempted: u64,
    intervals: &super::intervals::IntervalSeries,
    rounds: &[Hist],
    p: f64,
) -> PercentileInterval {
    // Every attempted call counts; the ones not in the histogram failed and rank last.
    let n = attempted.max(h.len());
    let failed = n - h.len();
    let est = estimate_rank(n, p).map(|r| ranked(h, r));
    // Correlated calls carry less information than as many independent ones: take the
    // interval at the effective sample size, its ranks scaled back to the n calls.
    let de = est
        .flatten()
        .and_then(|q| super::ess::class_design_effect(intervals, rounds, q))
        .filter(|de| *de > 1.0);
    let mut effective_calls = None;
    let (j, k) = match de {
        Some(de) => {
            let n_eff = ((n as f64 / de).floor() as u64).max(1);
            let scale = n as f64 / n_eff as f64;
            effective_calls = Some(n as f64 / de);
            let (j, k) = ci_ranks(n_eff, p, CONFIDENCE);
            (
                j.map(|j| ((j as f64 * scale).floor() as u64).clamp(1, n)),
                k.and_then(|k| {
                    let r = ((k as f64 - 1.0) * scale).ceil() as u64 + 1;
                    (r <= n).then_some(r)
                }),
            )
        }
        None => ci_ranks(n, p, CONFIDENCE),
    };
    let inf = f64::INFINITY;
    PercentileInterval {
        n,
        failed,
        estimate: est,
        measured: est.flatten().map(|x| x as f64),
        ci_low: j.map(|r| ranked(h, r).map_or(inf, |x| x as f64)),
        ci_high: k.map(|r| ranked(h, r).map_or(inf, |x| x as f64)),
        design_effect: de,
        effective_calls,
    }
}

/// One verdict per class and SLO.
pub fn slo_verdicts(classes: &[ClassResult], slos: &[Slo]) -> Vec<SloVerdict> {
    classes
        .iter()
        .flat_map(|c| slos.iter().map(move |s| slo_verdict(c, s)))
        .collect()
}

/// Measured calls per class that let every percentile SLO in `slos` be bounded (both ends
/// of its 95% interval), and at least `floor`.
pub fn calls_for_slos(slos: &[Slo], floor: u32) -> u32 {
    slos.iter()
        .filter_map(|s| match s.metric {
            SloMetric::Percentile(p) => Some(min_calls_for(p / 100.0)),
            _ => None,
        })
        .max()
        .map_or(floor, |n| (n as u32).max(floor))
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
