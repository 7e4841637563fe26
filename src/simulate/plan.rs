//! Capacity planning: for each measured class, the smallest number of dynos — and, with the
//! CPU model, the worker count — that holds an SLO at a target rate under a routing policy,
//! found by simulation with the class's own measured demand, the monthly bill, and the
//! cheapest class that meets it.
//!
//! With the CPU model ([`DynoModel::Cpu`]) a dyno is `workers` workers sharing the class's
//! cores (see [`super::cpu`]): no size is tried that needs more CPU than it buys
//! (rate × mean CPU > dynos × cores), and a shared class is planned twice — at its floor
//! (a busy host) and at its burst cap (an idle host) — because that range is the honest
//! answer for shared dynos. Without CPU figures (older results) each worker is an
//! independent server drawing a whole measured service time ([`DynoModel::Servers`]).
//!
//! More dynos add throughput, never speed: as the dyno count grows the wait for a worker goes
//! to zero and a response takes its service time. A class whose service time alone breaks the
//! SLO cannot meet it at any size, and the plan says so instead of searching.

use rand::SeedableRng;

use super::common::{SimError, SimRng};
use super::cpu::{self, Cpu, DemandDist, Load, dyno_capacity};
use super::event::{self, EventConfig};
use super::plan_range::{analytic_dynos, bootstrap, eval_keyed, meets, min_dynos, search_near};
use super::service::ServiceDist;
use crate::slo::{Slo, SloMetric};

pub use crate::class::HOURS_PER_MONTH;

pub use super::plan_model::*;

fn metric_of(slo: &Slo, sorted: &[f64], timeout: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    match slo.metric {
        SloMetric::Percentile(p) => {
            let k = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[k - 1].min(timeout) * 1e6
        }
        SloMetric::Max => sorted[sorted.len() - 1].min(timeout) * 1e6,
        SloMetric::ErrorRate => sorted.iter().filter(|&&x| x > timeout).count() as f64 / sorted.len() as f64,
    }
}

/// The SLO metric of the service time alone (what infinitely many dynos would give).
pub fn service_value(slo: &Slo, service: &ServiceDist, timeout: f64) -> f64 {
    match slo.metric {
        SloMetric::Percentile(p) => service.quantile(p / 100.0).min(timeout) * 1e6,
        SloMetric::Max => service.max().min(timeout) * 1e6,
        SloMetric::ErrorRate => service.share_above(timeout),
    }
}

/// How long `cpu_s` seconds of CPU take alone on `cpu`: slowed by a share below one core;
/// under a quota, at full speed for the quota of each period (the first with the burst an
/// idle dyno has accrued), stalled for the rest of it. The request starts as a period does.
pub fn alone(cpu_s: f64, cpu: Cpu) -> f64 {
    match cpu.quota {
        Some(q) if q < cpu.cores.min(1.0) => {
            let (per_period, first) = cpu.per_period(q);
            if cpu_s <= first {
                return cpu_s;
            }
            // A first period holding more than its length of CPU runs on through the next
            // refills; otherwise it stalls at its end like any other.
            let (mut t, mut left, mut budget) = (0.0, cpu_s, first);
            let mut period_end = cpu.period;
            loop {
                let run = left.min(budget).min(period_end - t);
                t += run;
                left -= run;
                budget -= run;
                if left <= 0.0 {
                    return t;
                }
                if budget <= 1e-12 {
                    t = period_end;
                }
                let periods = ((t - period_end) / cpu.period).floor() + 1.0;
                if t >= period_end - 1e-12 {
                    period_end += periods * cpu.period;
                    budget = (budget + periods * per_period).min(first);
                    if budget <= 0.0 {
                        return f64::INFINITY;
                    }
                }
            }
        }
        _ => cpu_s / cpu.cores.min(1.0),
    }
}

/// The SLO metric of one request alone on a dyno with `cpu`.
pub fn demand_value(slo: &Slo, demand: &DemandDist, cpu: Cpu, timeout: f64, seed: u64) -> f64 {
    let mut rng = SimRng::seed_from_u64(seed);
    let mut v: Vec<f64> = (0..20_000)
        .map(|_| {
            let d = demand.sample(&mut rng);
            alone(d.cpu, cpu) + d.other
        })
        .collect();
    v.sort_by(f64::total_cmp);
    metric_of(slo, &v, timeout)
}

/// Fills a met plan's monthly bill: `dynos` of the class for the platform's month at
/// `rate`, billed as its platform bills. Request billing counts each dyno busy while it has
/// a request in flight (from the rate per dyno and the simulated mean response, see
/// [`crate::class::billing::busy_fraction`]); used-CPU and surplus billing take the CPU the
/// rate needs (`rate × mean CPU`) spread over the dynos.
fn with_bill(
    o: PlanOutcome,
    class: &crate::class::DynoClass,
    rate: f64,
    cpu_mean: Option<f64>,
) -> PlanOutcome {
    match o {
        PlanOutcome::Meets {
            dynos,
            utilization,
            achieved,
            mean_response,
            share_503,
            ..
        } => {
            let n = f64::from(dynos.max(1));
            let rounding_s = match class.billing {
                crate::class::Billing::Request { rounding_ms, .. } => rounding_ms / 1000.0,
                _ => 0.0,
            };
            let usage = crate::class::Usage {
                instances: n,
                hours: class.billing.hours_per_month(),
                rate_rps: rate,
                busy_fraction: crate::class::billing::busy_fraction(rate / n, mean_response, rounding_s),
                cores_used: cpu_mean.map_or(class.vcpus(), |c| rate * c / n),
                memory_used_mb: None,
            };
            let bill = class.bill(&usage);
            PlanOutcome::Meets {
                dynos,
                utilization,
                achieved,
                mean_response,
                share_503,
                monthly_usd: bill.usd,
                bill: bill.parts,
            }
        }
        o => o,
    }
}

fn plan_servers(cfg: &PlanConfig, workers: u32, service: &ServiceDist) -> Result<ScenarioPlan, SimError> {
    let mean = service.mean();
    if !(mean > 0.0 && mean.is_finite()) {
        return Err(SimError::ZeroServiceMean);
    }
    if workers == 0 {
        return Err(SimError::ZeroWorkers);
    }
    let svc = service_value(&cfg.slo, service, cfg.sim.timeout);
    let per_dyno = f64::from(workers) / mean;
    let min = min_dynos(cfg.rate, per_dyno);
    let mut plan = ScenarioPlan {
        label: String::new(),
        cores: None,
        workers,
        capacity_per_dyno: per_dyno,
        service_value: svc,
        min_dynos_for_rate: min,
        outcome: PlanOutcome::ServiceTooSlow { service_value: svc },
        range: None,
        evaluations: 0,
    };
    if !cfg.slo.holds(svc) {
        return Ok(plan);
    }
    let mut evals = 0;
    plan.outcome = search_near(
        cfg,
        min,
        min,
        1,
        |n| {
            let sim = EventConfig {
                dynos: n,
                workers,
                ..cfg.sim.clone()
            };
            let util = 100.0 * cfg.rate / (f64::from(n) * per_dyno);
            event::run_point(&sim, cfg.policy, service, util)
        },
        &mut evals,
    )?;
    plan.evaluations = evals;
    Ok(plan)
}

fn plan_cpu(
    cfg: &PlanConfig,
    workers: Workers,
    scenario: &CpuScenario,
    demand: &DemandDist,
) -> Result<ScenarioPlan, SimError> {
    if !demand.is_usable() || scenario.cpu.limit().is_nan() || scenario.cpu.limit() <= 0.0 {
        return Err(SimError::ZeroServiceMean);
    }
    let c = scenario.cpu;
    let svc = demand_value(&cfg.slo, demand, c, cfg.sim.timeout, cfg.sim.seed);
    let counts: Vec<u32> = match workers {
        Workers::Fixed(0) => return Err(SimError::ZeroWorkers),
        Workers::Fixed(w) => vec![w],
        Workers::Search { max, measured_at } => {
            let cap = measured_at.map_or(max, |m| max.min(m.max(c.cores.ceil().max(1.0) as u32)));
            (1..=cap.max(1)).collect()
        }
    };
    let sim = |n: u32, w: u32| EventConfig {
        dynos: n,
        workers: w,
        ..cfg.sim.clone()
    };
    let mut best: Option<ScenarioPlan> = None;
    let mut evals = 0;
    for w in counts {
        let per_dyno = dyno_capacity(w, c, demand);
        let min = min_dynos(cfg.rate, per_dyno);
        let mut plan = ScenarioPlan {
            label: scenario.label.clone(),
            cores: Some(c.limit()),
            workers: w,
            capacity_per_dyno: per_dyno,
            service_value: svc,
            min_dynos_for_rate: min,
            outcome: PlanOutcome::ServiceTooSlow { service_value: svc },
            range: None,
            evaluations: 0,
        };
        if !cfg.slo.holds(svc) {
            return Ok(plan);
        }
        // More workers cannot beat a plan that needs no more dynos than this count's bound.
        if let Some(b) = &best
            && let PlanOutcome::Meets { dynos, .. } = b.outcome
            && min >= dynos
        {
            continue;
        }
        let start = analytic_dynos(cfg, w, c, demand, min);
        let mut e = 0;
        plan.outcome = search_near(
            cfg,
            min,
            start,
            1,
            |n| cpu::run_point(&sim(n, w), c, cfg.policy, demand, Load::Rate(cfg.rate)),
            &mut e,
        )?;
        evals += e;
        let better = match (&best, &plan.outcome) {
            (None, _) => true,
            (Some(b), PlanOutcome::Meets { dynos, .. }) => match b.outcome {
                PlanOutcome::Meets { dynos: bd, .. } => *dynos < bd,
                _ => true,
            },
            _ => false,
        };
        if better {
            best = Some(plan);
        }
    }
    let mut p = best.expect("at least one worker count is tried");
    // The range over resamples of measured pairs; the plan is at its upper end.
    if let (DemandDist::Pairs(pairs), PlanOutcome::Meets { dynos, .. }) = (demand, &p.outcome)
        && pairs.len() >= 2
    {
        let (w, point) = (p.workers, *dynos);
        // The point search's own streams: its run_point keys them by utilization.
        let cap = dyno_capacity(w, c, demand);
        let key = |n: u32| 100.0 * cfg.rate / (cap * f64::from(n));
        let (range, e) = bootstrap(cfg, w, c, pairs, point, key)?;
        evals += e;
        if let Some(high) = range.high
            && high > point
        {
            let at = eval_keyed(&sim(high, w), c, cfg.policy, demand, cfg.rate, key(high))?;
            evals += 1;
            p.outcome = meets(&cfg.slo, high, &at);
        }
        p.range = Some(range);
    }
    p.evaluations = evals;
    Ok(p)
}

/// Plans one class in every CPU situation of its model.
pub fn plan_class(cfg: &PlanConfig, class: &PlanClass) -> Result<ClassPlan, SimError> {
    let (mut scenarios, service_mean, cpu_mean) = match &class.model {
        DynoModel::Servers { workers, service } => {
            (vec![plan_servers(cfg, *workers, service)?], service.mean(), None)
        }
        DynoModel::Cpu {
            workers,
            scenarios,
            demand,
        } => (
            scenarios
                .iter()
                .map(|s| plan_cpu(cfg, *workers, s, demand))
                .collect::<Result<Vec<_>, _>>()?,
            demand.mean_cpu() + demand.mean_other(),
            Some(demand.mean_cpu()),
        ),
    };
    for s in &mut scenarios {
        s.outcome = with_bill(s.outcome.clone(), &class.class, cfg.rate, cpu_mean);
    }
    let first = scenarios.first().cloned().ok_or(SimError::ZeroServiceMean)?;
    Ok(ClassPlan {
        class: class.name.clone(),
        workers: first.workers,
        price_usd_month: class.class.price_usd_month,
        billing: class.class.billing.describe(),
        source: class.source.clone(),
        service_mean,
        cpu_mean,
        service_value: first.service_value,
        min_dynos_for_rate: first.min_dynos_for_rate,
        outcome: first.outcome,
        evaluations: scenarios.iter().map(|s| s.evaluations).sum(),
        scenarios,
    })
}

/// Plans every class (one after the other; each simulation is parallel inside).
pub fn plan(cfg: &PlanConfig, classes: &[PlanClass]) -> Result<Vec<ClassPlan>, SimError> {
    cfg.sim.validate()?;
    classes.iter().map(|c| plan_class(cfg, c)).collect()
}

/// The index of the cheapest plan that meets the SLO in its first (most conservative)
/// situation (ties: fewer dynos, then file order).
pub fn cheapest(plans: &[ClassPlan]) -> Option<usize> {
    plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p.outcome {
            PlanOutcome::Meets {
                dynos, monthly_usd, ..
            } => Some((i, monthly_usd, dynos)),
            _ => None,
        })
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)))
        .map(|(i, _, _)| i)
}

/// The CPU situations of a class's CPU model: a shared class at its floor (a busy host) and
/// at its burst cap (an idle host); a burst-balance class with its balance simulated under
/// a sustainable load; a dedicated or quota class at its cores.
/// The CPU situations of `class` at its own quota period and kernel burst.
pub fn scenarios_for(class: &crate::class::DynoClass) -> Vec<CpuScenario> {
    let (period, accrue) = (class.period_ms / 1000.0, class.burst_ms / 1000.0);
    scenarios_of(&class.cpu)
        .into_iter()
        .map(|s| CpuScenario {
            cpu: s.cpu.metered(period, accrue),
            ..s
        })
        .collect()
}

/// The CPU situations of a CPU model at the kernel's default period, without burst.
pub fn scenarios_of(model: &crate::class::CpuModel) -> Vec<CpuScenario> {
    use crate::class::CpuModel;
    match *model {
        CpuModel::Shared {
            floor_cores,
            burst_cores,
            ..
        } => vec![
            CpuScenario {
                label: "busy host (floor)".into(),
                cpu: Cpu::cores(floor_cores),
            },
            CpuScenario {
                label: "idle host (burst)".into(),
                cpu: Cpu::quota(burst_cores),
            },
        ],
        CpuModel::Dedicated { cores } => vec![CpuScenario {
            label: "dedicated".into(),
            cpu: Cpu::cores(cores),
        }],
        CpuModel::Quota { cores } => vec![CpuScenario {
            label: "quota".into(),
            cpu: Cpu::quota(cores),
        }],
        // The balance simulated over time, from a new machine's balance: a size is tried
        // only when the rate's CPU fits under the dynos' baselines (sustainable: the
        // balance refills faster than it drains on average), and then requests run at the
        // burst while bunched arrivals have not spent the balance.
        CpuModel::Burst {
            baseline_cores,
            burst_cores,
            balance_s,
            initial_balance_s,
            refill,
        } => vec![CpuScenario {
            label: "balance (sustained)".into(),
            cpu: Cpu::balance(crate::limit::burst::BurstSpec {
                baseline_cores,
                burst_cores,
                capacity_s: balance_s,
                refill,
                start_s: initial_balance_s.unwrap_or(balance_s),
            }),
        }],
    }
}

/// The largest worker count worth trying on `cores`: twice the cores, stretched by how much
/// of a request is spent off the CPU (an IO-bound app keeps more workers busy per core).
pub fn max_workers(cores: f64, demand: &DemandDist) -> u32 {
    let (c, o) = (demand.mean_cpu(), demand.mean_other());
    let stretch = if c > 0.0 { (c + o) / c } else { 8.0 };
    ((2.0 * cores.max(0.5) * stretch).ceil() as u32).clamp(1, 64)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
