//! Capacity planning: for each measured class, the smallest number of dynos that holds an SLO
//! at a target rate under a routing policy (found by simulation with the class's own service
//! times and workers), the monthly bill, and the cheapest class that meets it.
//!
//! More dynos add throughput, never speed: as the dyno count grows the wait for a worker goes
//! to zero and a response takes its service time. A class whose service time alone breaks the
//! SLO cannot meet it at any size, and the plan says so instead of searching.

use super::common::SimError;
use super::event::{self, EventConfig, EventPoint};
use super::policy::Policy;
use super::service::ServiceDist;
use crate::slo::{Slo, SloMetric};

pub use crate::class::HOURS_PER_MONTH;

/// What a plan is for.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// Target arrival rate, requests per second.
    pub rate: f64,
    /// The objective.
    pub slo: Slo,
    /// Routing policy.
    pub policy: Policy,
    /// Simulation settings; `dynos` and `workers` are set per class and size.
    pub sim: EventConfig,
    /// Largest dyno count tried.
    pub max_dynos: u32,
}

/// One class to plan for.
#[derive(Debug, Clone)]
pub struct PlanClass {
    /// Class name.
    pub name: String,
    /// Workers per dyno (WEB_CONCURRENCY) the class was measured with.
    pub workers: u32,
    /// Price per dyno, USD per month.
    pub price_usd_month: f64,
    /// Measured service times.
    pub service: ServiceDist,
    /// Where the service times came from (e.g. `server_wall`).
    pub source: String,
}

/// The answer for one class.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum PlanOutcome {
    /// The SLO holds with `dynos` dynos (and not with one fewer, in the simulation).
    Meets {
        /// Dynos needed.
        dynos: u32,
        /// Utilization at that size, percent.
        utilization: f64,
        /// The SLO metric reached (µs, or a fraction for the error rate).
        achieved: f64,
        /// Mean response time at that size (seconds).
        mean_response: f64,
        /// Share of 503s at that size.
        share_503: f64,
        /// dynos × price.
        monthly_usd: f64,
    },
    /// The service time alone breaks the SLO: no number of dynos can meet it.
    ServiceTooSlow {
        /// The SLO metric of the service time alone (µs, or a fraction for the error rate).
        service_value: f64,
    },
    /// Not met at `max_dynos` (the service time is just under the limit, or the tail needs
    /// an unreasonable number of idle dynos).
    NotWithin {
        /// The largest size tried.
        max_dynos: u32,
        /// The SLO metric reached there.
        achieved: f64,
    },
}

/// The plan for one class.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClassPlan {
    /// Class name.
    pub class: String,
    /// Workers per dyno.
    pub workers: u32,
    /// Price per dyno, USD per month.
    pub price_usd_month: f64,
    /// Where the service times came from.
    pub source: String,
    /// Mean service time (seconds).
    pub service_mean: f64,
    /// The SLO metric of the service time alone (µs, or a fraction for the error rate).
    pub service_value: f64,
    /// Fewest dynos that can carry the rate at all (utilization below 100%).
    pub min_dynos_for_rate: u32,
    /// The answer.
    pub outcome: PlanOutcome,
    /// Simulations run to find it.
    pub evaluations: u32,
}

impl ClassPlan {
    /// The monthly bill, when the SLO can be met.
    pub fn monthly_usd(&self) -> Option<f64> {
        match self.outcome {
            PlanOutcome::Meets { monthly_usd, .. } => Some(monthly_usd),
            _ => None,
        }
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

/// Plans one class: checks the service time alone, then searches the dyno count (doubling
/// from the fewest that can carry the rate, then bisecting), simulating each size with the
/// same seed so sizes are compared on common random numbers.
pub fn plan_class(cfg: &PlanConfig, class: &PlanClass) -> Result<ClassPlan, SimError> {
    let mean = class.service.mean();
    if !(mean > 0.0 && mean.is_finite()) {
        return Err(SimError::ZeroServiceMean);
    }
    if class.workers == 0 {
        return Err(SimError::ZeroWorkers);
    }
    let svc_value = service_value(&cfg.slo, &class.service, cfg.sim.timeout);
    let offered = cfg.rate * mean / f64::from(class.workers);
    let min_dynos = ((offered.floor() as u64) + 1).min(u64::from(u32::MAX)) as u32;
    let mut plan = ClassPlan {
        class: class.name.clone(),
        workers: class.workers,
        price_usd_month: class.price_usd_month,
        source: class.source.clone(),
        service_mean: mean,
        service_value: svc_value,
        min_dynos_for_rate: min_dynos,
        outcome: PlanOutcome::ServiceTooSlow {
            service_value: svc_value,
        },
        evaluations: 0,
    };
    if !cfg.slo.holds(svc_value) {
        return Ok(plan);
    }
    let mut evals = 0u32;
    let mut eval = |n: u32| -> Result<(bool, EventPoint), SimError> {
        evals += 1;
        let sim = EventConfig {
            dynos: n,
            workers: class.workers,
            ..cfg.sim.clone()
        };
        let util = 100.0 * cfg.rate * mean / (f64::from(n) * f64::from(class.workers));
        let p = event::run_point(&sim, cfg.policy, &class.service, util)?;
        let v = p.slo_value(&cfg.slo).unwrap_or(f64::INFINITY);
        Ok((cfg.slo.holds(v), p))
    };
    if min_dynos > cfg.max_dynos {
        plan.outcome = PlanOutcome::NotWithin {
            max_dynos: cfg.max_dynos,
            achieved: f64::INFINITY,
        };
        return Ok(plan);
    }
    // Double until it holds.
    let mut lo_fail: Option<u32> = None;
    let mut n = min_dynos.max(1);
    let (mut hi, mut hi_point) = loop {
        let (ok, p) = eval(n)?;
        if ok {
            break (n, p);
        }
        if n >= cfg.max_dynos {
            plan.evaluations = evals;
            plan.outcome = PlanOutcome::NotWithin {
                max_dynos: cfg.max_dynos,
                achieved: p.slo_value(&cfg.slo).unwrap_or(f64::INFINITY),
            };
            return Ok(plan);
        }
        lo_fail = Some(n);
        n = n.saturating_mul(2).min(cfg.max_dynos);
    };
    // Bisect between the last failing size and the first holding one.
    if let Some(mut lo) = lo_fail {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let (ok, p) = eval(mid)?;
            if ok {
                hi = mid;
                hi_point = p;
            } else {
                lo = mid;
            }
        }
    }
    plan.evaluations = evals;
    plan.outcome = PlanOutcome::Meets {
        dynos: hi,
        utilization: hi_point.utilization,
        achieved: hi_point.slo_value(&cfg.slo).unwrap_or(f64::INFINITY),
        mean_response: hi_point.mean_response,
        share_503: hi_point.share_503,
        monthly_usd: f64::from(hi) * class.price_usd_month,
    };
    Ok(plan)
}

/// Plans every class (one after the other; each simulation is parallel inside).
pub fn plan(cfg: &PlanConfig, classes: &[PlanClass]) -> Result<Vec<ClassPlan>, SimError> {
    cfg.sim.validate()?;
    classes.iter().map(|c| plan_class(cfg, c)).collect()
}

/// The index of the cheapest plan that meets the SLO (ties: fewer dynos, then file order).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(slo: &str, rate: f64) -> PlanConfig {
        PlanConfig {
            rate,
            slo: slo.parse().unwrap(),
            policy: Policy::Random,
            sim: EventConfig {
                requests: 20_000,
                samples: 2,
                ..EventConfig::default()
            },
            max_dynos: 200,
        }
    }

    fn class(svc: ServiceDist, workers: u32) -> PlanClass {
        PlanClass {
            name: "c".into(),
            workers,
            price_usd_month: 25.0,
            service: svc,
            source: "test".into(),
        }
    }

    #[test]
    fn too_slow_service_is_never_searched() {
        let p = plan_class(
            &cfg("p99<=300ms", 100.0),
            &class(ServiceDist::Deterministic(0.4), 1),
        )
        .unwrap();
        assert!(
            matches!(p.outcome, PlanOutcome::ServiceTooSlow { service_value } if service_value == 400_000.0)
        );
        assert_eq!(p.evaluations, 0);
    }

    #[test]
    fn finds_a_minimal_size() {
        // 100 req/s of 50 ms requests: 5 dynos' worth of work. Deterministic service and
        // max<=1s: some size between 6 and 200 dynos holds it, one fewer does not.
        let c = cfg("p99<=120ms", 100.0);
        let cl = class(ServiceDist::Deterministic(0.05), 1);
        let p = plan_class(&c, &cl).unwrap();
        let PlanOutcome::Meets {
            dynos, monthly_usd, ..
        } = p.outcome
        else {
            panic!("{p:?}")
        };
        assert!(dynos > 5 && dynos < 200, "{dynos}");
        assert_eq!(monthly_usd, f64::from(dynos) * 25.0);
        assert_eq!(p.min_dynos_for_rate, 6);
        let fewer = PlanConfig {
            max_dynos: dynos - 1,
            ..c
        };
        assert!(matches!(
            plan_class(&fewer, &cl).unwrap().outcome,
            PlanOutcome::NotWithin { .. }
        ));
        assert_eq!(cheapest(std::slice::from_ref(&p)), Some(0));
    }
}
