//! The capacity search run against a simulated dyno: one M/M/1 worker (exponential
//! service, Poisson arrivals), whose true capacity for a `pXX <= L` SLO is known in closed
//! form (the response time is exponential with rate μ − λ, so pXX = −ln(1 − XX%)/(μ − λ)).
//! Each trial runs the same search as `run --find-capacity` — the closed-loop probe, the
//! doubling/bisection with its confirmation step, every step planned in relaxation times,
//! drained before it and judged by `record::capacity_step::judge_step` on a `ClassResult`
//! built from the simulated calls — and the answer is compared with the true capacity.

use rand::{RngExt, SeedableRng};
use rand_distr::Exp1;

use super::common::SimRng;
use crate::record::capacity::{CapacitySearch, CapacityStep, TOLERANCE};
use crate::record::capacity_step::{StepFacts, judge_step, step_call_floor};
use crate::record::steady::step_plan;
use crate::record::{ClassContext, ClassRecorder, ClassResult, LoadFacts, RequestRecord};
use crate::slo::{Slo, SloMetric};

/// One simulated search's settings.
#[derive(Debug, Clone)]
pub struct SearchCheck {
    /// Mean service time, s.
    pub service_s: f64,
    /// The SLO searched against (a latency percentile).
    pub slo: Slo,
    /// Most steps (as `--capacity-steps`).
    pub max_steps: usize,
    /// Measured time per step at least (as `--capacity-step`), s.
    pub step_s: f64,
    /// Longest warm-up or measured part of a step, s.
    pub max_step_s: f64,
}

/// The true capacity, req/s: the highest rate whose steady-state percentile is within the
/// limit (0 when even an idle server breaks it).
pub fn true_capacity(c: &SearchCheck) -> f64 {
    let SloMetric::Percentile(p) = c.slo.metric else {
        return 0.0;
    };
    let limit_s = c.slo.limit / 1e6;
    (1.0 / c.service_s + (1.0 - p / 100.0).ln() / limit_s).max(0.0)
}

/// One trial's outcome.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    /// The rate the search answered (highest held), req/s.
    pub answer: Option<f64>,
    /// Whether the answer held on its confirmation step.
    pub confirmed: bool,
    /// Every step.
    pub steps: Vec<CapacityStep>,
}

/// Simulates `n` calls at `rate` (after `warm` warm-up calls) on one FIFO worker starting
/// empty; returns the result, the offered rate and the calls in flight at the last send.
fn step(rng: &mut SimRng, service_s: f64, rate: f64, warm: u64, n: u64) -> (ClassResult, f64, f64, f64) {
    let mut rec = ClassRecorder::new(true, 600_000_000);
    let (mut t, mut free) = (0.0f64, 0.0f64);
    let mut measured: Vec<(f64, f64)> = Vec::with_capacity(n as usize);
    let mut served = 0.0;
    let us = |s: f64| (s * 1e6).round() as u64;
    for i in 0..warm + n {
        t += rng.sample::<f64, _>(Exp1) / rate;
        let s = rng.sample::<f64, _>(Exp1) * service_s;
        let start = t.max(free);
        free = start + s;
        if i == warm {
            rec.measuring_from(us(t));
        }
        if i >= warm {
            served += s;
            measured.push((t, free));
            rec.record(&RequestRecord {
                intended_us: Some(us(t)),
                ..RequestRecord::measured_ok(us(t), us(free))
            });
        }
    }
    let first = measured.first().map_or(0.0, |m| m.0);
    let last = measured.last().map_or(0.0, |m| m.0);
    let in_flight = measured.iter().filter(|m| m.1 > last).count() as f64;
    let offered = if last > first {
        (n - 1) as f64 / (last - first)
    } else {
        rate
    };
    let r = ClassResult::from_recorder(
        rec,
        ClassContext {
            workers: 1,
            load: LoadFacts {
                model: "open".into(),
                concurrency: 64,
                target_rps: Some(rate),
                ..LoadFacts::default()
            },
            ..ClassContext::default()
        },
    );
    (r, offered, in_flight, served / n.max(1) as f64)
}

/// One search against the simulated dyno, seeded.
pub fn search_once(c: &SearchCheck, seed: u64) -> SearchOutcome {
    let mut rng = SimRng::seed_from_u64(seed);
    // The probe: 10 calls by one caller, back to back.
    let probe: f64 = (0..10)
        .map(|_| rng.sample::<f64, _>(Exp1) * c.service_s)
        .sum::<f64>()
        / 10.0;
    let mut service = probe;
    let first = (0.8 / probe).max(0.1);
    let mut search = CapacitySearch::new(first, c.max_steps, TOLERANCE, first / 8.0).aimed_at(c.slo.limit);
    let mut steps = Vec::new();
    while let Some(rate) = search.next_rate() {
        let confirmation = search.confirming();
        let extended = search.extending();
        let longer = search.extension();
        let plan = step_plan(rate, service, 1, c.step_s * longer, c.max_step_s);
        let warm = (rate * plan.warmup_s).ceil() as u64;
        let n =
            ((rate * plan.measure_s).ceil() as u64).max(step_call_floor(&c.slo, longer, rate, c.max_step_s));
        let (r, offered, in_flight, mean) = step(&mut rng, c.service_s, rate, warm, n);
        service = mean;
        let s = judge_step(
            &r,
            &c.slo,
            &StepFacts {
                rate,
                offered_rps: offered,
                plan,
                in_flight_end: in_flight,
                workers: 1,
                drained_ms: None,
                confirmation,
                extended,
            },
        );
        search.record_step(&s);
        steps.push(s);
    }
    SearchOutcome {
        answer: search.bracket().0,
        confirmed: search.is_confirmed(),
        steps,
    }
}

/// Shares over `trials` seeded searches.
#[derive(Debug, Clone, Default)]
pub struct CheckSummary {
    /// Trials run.
    pub trials: usize,
    /// The true capacity, req/s.
    pub truth: f64,
    /// Share of answers within [85%, 100%] of the truth.
    pub within: f64,
    /// Share of answers above the truth.
    pub above: f64,
    /// Share of answers below 85% of it (or none).
    pub below: f64,
    /// Median answer / truth.
    pub median_ratio: f64,
    /// Mean steps per search.
    pub mean_steps: f64,
    /// Mean simulated seconds per search (warm-ups and measured parts).
    pub mean_sim_s: f64,
}

/// Runs `trials` searches (seeds `seed..seed+trials`, in parallel) and summarizes them.
pub fn check(c: &SearchCheck, trials: usize, seed: u64) -> CheckSummary {
    use rayon::prelude::*;
    let truth = true_capacity(c);
    let out: Vec<SearchOutcome> = (0..trials as u64)
        .into_par_iter()
        .map(|i| search_once(c, seed.wrapping_add(i)))
        .collect();
    let ratio: Vec<f64> = out.iter().map(|o| o.answer.unwrap_or(0.0) / truth).collect();
    let share = |f: &dyn Fn(f64) -> bool| ratio.iter().filter(|r| f(**r)).count() as f64 / trials as f64;
    let mut sorted = ratio.clone();
    sorted.sort_by(f64::total_cmp);
    CheckSummary {
        trials,
        truth,
        within: share(&|r| (0.85..=1.0).contains(&r)),
        above: share(&|r| r > 1.0),
        below: share(&|r| r < 0.85),
        median_ratio: sorted.get(trials / 2).copied().unwrap_or(0.0),
        mean_steps: out.iter().map(|o| o.steps.len()).sum::<usize>() as f64 / trials as f64,
        mean_sim_s: out
            .iter()
            .flat_map(|o| o.steps.iter().map(|s| s.warmup_s + s.duration_s))
            .sum::<f64>()
            / trials as f64,
    }
}
