//! The planner's search and its range: each dyno search starts from an analytic estimate
//! (Erlang C with the Allen–Cunneen correction for general service times, M/G/k) and
//! simulates only near the boundary; a class with measured (CPU, non-CPU) pairs is then
//! re-planned on bootstrap resamples of its pairs — with common random numbers (the same
//! arrivals, routing and draw indices in every resample, so resamples differ by their
//! demand alone) and each search started at the point answer — giving a dyno-count range.

use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::common::{SimError, SimRng, task_rng};
use super::cpu::{self, Cpu, Demand, DemandDist, dyno_capacity};
use super::event::{EventConfig, EventSample, summarize_samples};
use super::plan::{alone, demand_value};
use super::plan_model::{DynoRange, PlanConfig, PlanOutcome};
use super::policy::Policy;
use super::sweep::EventPoint;
use crate::slo::SloMetric;

/// Bootstrap resamples of the measured pairs behind a range.
pub const RESAMPLES: u32 = 20;

/// Fewest dynos whose capacity strictly exceeds the rate.
pub(super) fn min_dynos(rate: f64, per_dyno: f64) -> u32 {
    (((rate / per_dyno).floor() as u64) + 1).min(u64::from(u32::MAX)) as u32
}

/// Erlang C: the chance an arrival waits in M/M/c at offered load `a` (< c).
fn erlang_c(c: u32, a: f64) -> f64 {
    // Erlang B by its stable recursion, then C = B / (1 − ρ (1 − B)).
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let rho = a / f64::from(c);
    b / (1.0 - rho * (1.0 - b))
}

/// The analytic estimate of the fewest dynos that hold a percentile SLO: each dyno an
/// M/G/W queue at rate/n, service as a request alone on a worker's share of the CPU;
/// P(R > T) ≈ P(S > T) + E[C e^(−θ (T − S)); S ≤ T], the wait's tail exponential with
/// rate θ = W (1 − ρ) / E[S] × 2 / (1 + cs²). `min` when the SLO is not a percentile.
pub(super) fn analytic_dynos(cfg: &PlanConfig, w: u32, c: Cpu, demand: &DemandDist, min: u32) -> u32 {
    let SloMetric::Percentile(p) = cfg.slo.metric else {
        return min;
    };
    let limit = cfg.slo.limit / 1e6;
    let share = Cpu {
        cores: (c.cores / f64::from(w)).min(1.0),
        quota: c.quota.map(|q| q / f64::from(w)),
        burst: None,
        accrue: c.accrue / f64::from(w),
        ..c
    };
    let mut rng = SimRng::seed_from_u64(cfg.sim.seed ^ 0xA11A);
    let s: Vec<f64> = (0..2000)
        .map(|_| {
            let d = demand.sample(&mut rng);
            alone(d.cpu, share) + d.other
        })
        .collect();
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    let var = s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / s.len() as f64;
    let scv = if mean > 0.0 { var / (mean * mean) } else { 1.0 };
    let allowed = 1.0 - p / 100.0;
    let tail = |n: u32| -> f64 {
        let a = cfg.rate / f64::from(n) * mean;
        let rho = a / f64::from(w);
        if rho >= 1.0 {
            return 1.0;
        }
        let pw = erlang_c(w, a);
        let theta = f64::from(w) * (1.0 - rho) / mean * 2.0 / (1.0 + scv);
        s.iter()
            .map(|&x| {
                if x > limit {
                    1.0
                } else {
                    pw * (-theta * (limit - x)).exp()
                }
            })
            .sum::<f64>()
            / s.len() as f64
    };
    let (mut lo, mut hi) = (min.max(1), min.max(1));
    while tail(hi) > allowed {
        if hi >= cfg.max_dynos {
            return cfg.max_dynos;
        }
        lo = hi;
        hi = hi.saturating_mul(2).min(cfg.max_dynos);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if tail(mid) > allowed { lo = mid } else { hi = mid }
    }
    hi
}

/// Searches the fewest dynos in `min..=cfg.max_dynos` that hold the SLO, starting at
/// `start`: galloping down while it holds (or up while it does not), then bisecting the
/// bracket down to `resolution` dynos (1: exact; the answer is the bracket's top), evaluating
/// each size with `eval`.
pub(super) fn search_near(
    cfg: &PlanConfig,
    min: u32,
    start: u32,
    resolution: u32,
    mut eval: impl FnMut(u32) -> Result<EventPoint, SimError>,
    evals: &mut u32,
) -> Result<PlanOutcome, SimError> {
    if min > cfg.max_dynos {
        return Ok(PlanOutcome::NotWithin {
            max_dynos: cfg.max_dynos,
            achieved: f64::INFINITY,
        });
    }
    let mut check = |n: u32| -> Result<(bool, EventPoint), SimError> {
        *evals += 1;
        let p = eval(n)?;
        let v = p.slo_value(&cfg.slo).unwrap_or(f64::INFINITY);
        Ok((cfg.slo.holds(v), p))
    };
    let n0 = start.clamp(min.max(1), cfg.max_dynos);
    let (ok, p0) = check(n0)?;
    let (mut lo, mut hi, mut hi_point) = if ok {
        // Down: lo is the largest size known to fail (min − 1 when none is).
        let (mut hi, mut hi_point, mut step) = (n0, p0, resolution.max(1));
        let lo = loop {
            if hi <= min.max(1) {
                break hi - 1;
            }
            let n = hi.saturating_sub(step).max(min.max(1));
            let (ok, p) = check(n)?;
            if !ok {
                break n;
            }
            (hi, hi_point) = (n, p);
            step = step.saturating_mul(2);
        };
        (lo, hi, hi_point)
    } else {
        let (mut lo, mut step, mut last) = (n0, resolution.max(1), p0);
        loop {
            if lo >= cfg.max_dynos {
                return Ok(PlanOutcome::NotWithin {
                    max_dynos: cfg.max_dynos,
                    achieved: last.slo_value(&cfg.slo).unwrap_or(f64::INFINITY),
                });
            }
            let n = lo.saturating_add(step).min(cfg.max_dynos);
            let (ok, p) = check(n)?;
            if ok {
                break (lo, n, p);
            }
            (lo, last) = (n, p);
            step = step.saturating_mul(2);
        }
    };
    while hi - lo > resolution.max(1) {
        let mid = lo + (hi - lo) / 2;
        let (ok, p) = check(mid)?;
        if ok {
            (hi, hi_point) = (mid, p);
        } else {
            lo = mid;
        }
    }
    Ok(meets(&cfg.slo, hi, &hi_point))
}

/// A met plan at `dynos`, from the point simulated there (no bill yet).
pub(super) fn meets(slo: &crate::slo::Slo, dynos: u32, p: &EventPoint) -> PlanOutcome {
    PlanOutcome::Meets {
        dynos,
        utilization: p.utilization,
        achieved: p.slo_value(slo).unwrap_or(f64::INFINITY),
        mean_response: p.mean_response,
        share_503: p.share_503,
        monthly_usd: 0.0,
        bill: Vec::new(),
    }
}

/// One size with the CPU model, its random streams keyed by `key` rather than by the
/// demand's capacity, so that resamples of the demand share them.
pub(super) fn eval_keyed(
    sim: &EventConfig,
    c: Cpu,
    policy: Policy,
    demand: &DemandDist,
    rate: f64,
    key: f64,
) -> Result<EventPoint, SimError> {
    sim.validate()?;
    let capacity = dyno_capacity(sim.workers, c, demand) * f64::from(sim.dynos);
    let samples: Vec<EventSample> = (0..sim.samples)
        .into_par_iter()
        .map(|i| {
            let mut rng = task_rng(sim.seed, key, i);
            cpu::run_sample(
                sim,
                c,
                policy,
                demand,
                cpu::Load::Rate(rate),
                sim.warmup(),
                &mut rng,
            )
        })
        .collect();
    let mean = demand.mean_cpu() + demand.mean_other();
    Ok(summarize_samples(
        sim.dynos,
        rate,
        mean,
        100.0 * rate / capacity,
        samples,
    ))
}

/// The dyno-count range over bootstrap resamples of `pairs` at `w` workers on `c`: each
/// resample's search starts at the point answer `point` scaled by how the analytic
/// estimate moves between the pairs and the resample, and simulates one sample of half the
/// requests per size with the streams of the point's own first sample (`key(n)`), so most
/// take two sizes at an eighth of the cost of the point's (four samples); the range so
/// includes that shorter simulation's own noise (it errs wide). The range is the 5th to 95th
/// percentile of the resamples' answers (`None` at the top when more than 5% of them
/// cannot meet the SLO within --max-dynos).
pub(super) fn bootstrap(
    cfg: &PlanConfig,
    w: u32,
    c: Cpu,
    pairs: &[Demand],
    point: u32,
    key: impl Fn(u32) -> f64 + Sync,
) -> Result<(DynoRange, u32), SimError> {
    let measured = DemandDist::Pairs(pairs.to_vec());
    let min0 = min_dynos(cfg.rate, dyno_capacity(w, c, &measured));
    let analytic0 = f64::from(analytic_dynos(cfg, w, c, &measured, min0));
    let answers: Vec<Result<(Option<u32>, u32), SimError>> = (0..RESAMPLES)
        .into_par_iter()
        .map(|b| {
            let mut rng = task_rng(cfg.sim.seed ^ 0xB007, 0.0, b);
            let resample: Vec<Demand> = (0..pairs.len())
                .map(|_| pairs[rng.random_range(0..pairs.len())])
                .collect();
            let demand = DemandDist::Pairs(resample);
            let svc = demand_value(&cfg.slo, &demand, c, cfg.sim.timeout, cfg.sim.seed);
            if !cfg.slo.holds(svc) {
                return Ok((None, 0));
            }
            let min = min_dynos(cfg.rate, dyno_capacity(w, c, &demand));
            let shift = f64::from(analytic_dynos(cfg, w, c, &demand, min)) / analytic0;
            let start = (f64::from(point) * shift).round() as u32;
            let mut evals = 0;
            let sim = |n: u32| EventConfig {
                dynos: n,
                workers: w,
                samples: 1,
                requests: (cfg.sim.requests / 2).max(1000),
                ..cfg.sim.clone()
            };
            // Resolution 2% of the size (the range's own width is wider than that).
            let o = search_near(
                cfg,
                min,
                start,
                (start / 50).max(1),
                |n| eval_keyed(&sim(n), c, cfg.policy, &demand, cfg.rate, key(n)),
                &mut evals,
            )?;
            Ok((
                match o {
                    PlanOutcome::Meets { dynos, .. } => Some(dynos),
                    _ => None,
                },
                evals,
            ))
        })
        .collect();
    let mut ns = Vec::with_capacity(answers.len());
    let mut evals = 0;
    for a in answers {
        let (n, e) = a?;
        ns.push(n.unwrap_or(u32::MAX));
        evals += e;
    }
    ns.sort_unstable();
    let b = ns.len();
    let low = ns[((0.05 * b as f64).floor() as usize).min(b - 1)];
    let high = ns[((0.95 * b as f64).ceil() as usize).clamp(1, b) - 1];
    Ok((
        DynoRange {
            low,
            high: (high != u32::MAX).then_some(high),
            point,
            resamples: RESAMPLES,
            never: ns.iter().filter(|&&n| n == u32::MAX).count() as u32,
        },
        evals,
    ))
}
