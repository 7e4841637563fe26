//! The tick engine: the classic experiment. N dynos each finish `workers` jobs per tick. Each
//! tick, first `util`% of the total capacity arrives as jobs routed one by one, then every
//! dyno removes up to `workers` jobs from its queue. The queue measured is what is left on a
//! dyno after its tick of work: the jobs still waiting.
//!
//! With one worker and arrivals A per dyno per tick independent of the queue, this queue Q
//! follows Lindley's recursion Q' = max(Q + A − 1, 0), whose stationary mean is
//! E[Q] = E[A(A−1)] / (2(1−ρ)) with ρ = E[A] (the discrete-time M/D/1 queue). Routing
//! `util·N/100` jobs uniformly at random makes A ~ Binomial(util·N/100, 1/N).

use std::collections::VecDeque;

use rand::RngExt;
use rayon::prelude::*;

use super::common::{SimError, SimRng, task_rng};
use super::policy::Policy;
use super::policy::{MinPicker, two_choices};

/// Settings of a tick-engine sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct TickConfig {
    /// Number of dynos (N).
    pub dynos: u32,
    /// Jobs each dyno finishes per tick.
    pub workers: u32,
    /// Ticks per sample.
    pub ticks: u32,
    /// Independent runs per utilization point.
    pub samples: u32,
    /// Routers for the per-router policy.
    pub routers: u32,
    /// Base seed.
    pub seed: u64,
}

impl Default for TickConfig {
    /// The classic experiment: 100 dynos, one job per tick, 500 ticks, 10 samples.
    fn default() -> TickConfig {
        TickConfig {
            dynos: 100,
            workers: 1,
            ticks: 500,
            samples: 10,
            routers: 10,
            seed: 42,
        }
    }
}

impl TickConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.dynos == 0 {
            return Err(SimError::ZeroDynos);
        }
        if self.workers == 0 {
            return Err(SimError::ZeroWorkers);
        }
        if self.ticks == 0 {
            return Err(SimError::ZeroTicks);
        }
        if self.samples == 0 {
            return Err(SimError::ZeroSamples);
        }
        if self.routers == 0 {
            return Err(SimError::ZeroRouters);
        }
        if u64::from(self.routers) * u64::from(self.dynos) > 50_000_000 {
            return Err(SimError::TooManyRouterViews {
                routers: self.routers,
                dynos: self.dynos,
            });
        }
        Ok(())
    }

    /// Ticks at the start of each sample left out of the time average (the first fifth).
    pub fn warmup_ticks(&self) -> u32 {
        self.ticks / 5
    }
}

/// Queue lengths at one utilization, over all samples.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TickPoint {
    /// Offered load, percent of total capacity.
    pub utilization: f64,
    /// Jobs arriving per tick in total (util·N·workers/100).
    pub jobs_per_tick: f64,
    /// Mean queue across dynos at the end of each sample (the classic experiment's number).
    pub mean: f64,
    /// Median of those end-of-run queues.
    pub median: u32,
    /// 99th percentile of those end-of-run queues.
    pub p99: u32,
    /// Largest of those end-of-run queues.
    pub max: u32,
    /// Mean queue over every dyno and every tick after the warm-up: the same quantity as
    /// `mean`, estimated from far more observations (findings use it).
    pub time_mean: f64,
    /// End-of-run queues observed (dynos × samples).
    pub observations: u64,
}

/// What one sample leaves behind.
#[derive(Debug, Clone)]
struct TickSample {
    final_queues: Vec<u32>,
    time_sum: f64,
    time_obs: u64,
}

/// A routing policy's state during one tick-engine sample.
trait TickRouter {
    /// Picks a dyno for one job and records it (the caller adds it to the dyno's queue).
    fn route(&mut self, q: &[u32], rng: &mut SimRng) -> usize;
    /// Dyno `d` finished `k` jobs (the oldest ones).
    fn served(&mut self, d: usize, k: u32);
}

struct RandomRouter(usize);
impl TickRouter for RandomRouter {
    #[inline]
    fn route(&mut self, _: &[u32], rng: &mut SimRng) -> usize {
        rng.random_range(0..self.0)
    }
    #[inline]
    fn served(&mut self, _: usize, _: u32) {}
}

struct RoundRobinRouter {
    n: usize,
    next: usize,
}
impl TickRouter for RoundRobinRouter {
    #[inline]
    fn route(&mut self, _: &[u32], _: &mut SimRng) -> usize {
        let d = self.next;
        self.next = if d + 1 == self.n { 0 } else { d + 1 };
        d
    }
    #[inline]
    fn served(&mut self, _: usize, _: u32) {}
}

struct LeastConnRouter(MinPicker);
impl TickRouter for LeastConnRouter {
    #[inline]
    fn route(&mut self, _: &[u32], rng: &mut SimRng) -> usize {
        let d = self.0.pick_min(rng);
        self.0.inc(d);
        d
    }
    #[inline]
    fn served(&mut self, d: usize, k: u32) {
        for _ in 0..k {
            self.0.dec(d);
        }
    }
}

/// R routers, each counting only the jobs it sent that are still queued at each dyno. The
/// dynos' FIFO queues remember which router each job came from.
struct PerRouter {
    routers: Vec<MinPicker>,
    fifo: Vec<VecDeque<u32>>,
}
impl TickRouter for PerRouter {
    #[inline]
    fn route(&mut self, _: &[u32], rng: &mut SimRng) -> usize {
        let r = if self.routers.len() == 1 {
            0
        } else {
            rng.random_range(0..self.routers.len())
        };
        let d = self.routers[r].pick_min(rng);
        self.routers[r].inc(d);
        self.fifo[d].push_back(r as u32);
        d
    }
    #[inline]
    fn served(&mut self, d: usize, k: u32) {
        for _ in 0..k {
            let r = self.fifo[d].pop_front().expect("a served job was queued");
            self.routers[r as usize].dec(d);
        }
    }
}

struct TwoChoices(usize);
impl TickRouter for TwoChoices {
    #[inline]
    fn route(&mut self, q: &[u32], rng: &mut SimRng) -> usize {
        let (a, b) = two_choices(self.0, rng);
        if q[b] < q[a] { b } else { a }
    }
    #[inline]
    fn served(&mut self, _: usize, _: u32) {}
}

fn run_with<R: TickRouter>(cfg: &TickConfig, util: f64, router: &mut R, rng: &mut SimRng) -> TickSample {
    let n = cfg.dynos as usize;
    let w = cfg.workers;
    let per_tick = util / 100.0 * n as f64 * f64::from(w);
    let warmup = cfg.warmup_ticks();
    let mut q = vec![0u32; n];
    let mut time_sum = 0.0;
    let mut time_obs = 0u64;
    for t in 0..cfg.ticks {
        // Jobs this tick: the integer part of the running total, so fractional rates are
        // carried over deterministically (exact for integer rates, as in the classic).
        let jobs = ((f64::from(t) + 1.0) * per_tick).floor() - (f64::from(t) * per_tick).floor();
        for _ in 0..jobs as u64 {
            let d = router.route(&q, rng);
            q[d] += 1;
        }
        let mut sum = 0u64;
        for (d, qd) in q.iter_mut().enumerate() {
            let k = (*qd).min(w);
            if k > 0 {
                *qd -= k;
                router.served(d, k);
            }
            sum += u64::from(*qd);
        }
        if t >= warmup {
            time_sum += sum as f64;
            time_obs += n as u64;
        }
    }
    TickSample {
        final_queues: q,
        time_sum,
        time_obs,
    }
}

fn run_sample(cfg: &TickConfig, policy: Policy, util: f64, sample: u32) -> TickSample {
    let mut rng = task_rng(cfg.seed, util, sample);
    let n = cfg.dynos as usize;
    match policy {
        Policy::Random => run_with(cfg, util, &mut RandomRouter(n), &mut rng),
        Policy::RoundRobin => run_with(cfg, util, &mut RoundRobinRouter { n, next: 0 }, &mut rng),
        Policy::LeastConnections => run_with(cfg, util, &mut LeastConnRouter(MinPicker::new(n)), &mut rng),
        Policy::PerRouterLeastConnections => {
            let mut r = PerRouter {
                routers: vec![MinPicker::new(n); cfg.routers as usize],
                fifo: vec![VecDeque::new(); n],
            };
            run_with(cfg, util, &mut r, &mut rng)
        }
        Policy::PowerOfTwoChoices => run_with(cfg, util, &mut TwoChoices(n), &mut rng),
    }
}

fn summarize(cfg: &TickConfig, util: f64, samples: &[TickSample]) -> TickPoint {
    let mut all: Vec<u32> = samples
        .iter()
        .flat_map(|s| s.final_queues.iter().copied())
        .collect();
    all.sort_unstable();
    let len = all.len();
    let rank = |q: f64| all[((q * len as f64).ceil() as usize).clamp(1, len) - 1];
    let time_sum: f64 = samples.iter().map(|s| s.time_sum).sum();
    let time_obs: u64 = samples.iter().map(|s| s.time_obs).sum();
    TickPoint {
        utilization: util,
        jobs_per_tick: util / 100.0 * f64::from(cfg.dynos) * f64::from(cfg.workers),
        mean: all.iter().map(|&x| f64::from(x)).sum::<f64>() / len as f64,
        median: rank(0.5),
        p99: rank(0.99),
        max: all[len - 1],
        time_mean: if time_obs == 0 {
            0.0
        } else {
            time_sum / time_obs as f64
        },
        observations: len as u64,
    }
}

/// Runs the sweep for one policy: every (utilization, sample) pair in parallel, each with its
/// own generator derived from the seed, so results do not depend on thread scheduling.
pub fn sweep(cfg: &TickConfig, policy: Policy, utils: &[f64]) -> Result<Vec<TickPoint>, SimError> {
    cfg.validate()?;
    let tasks: Vec<(usize, u32)> = (0..utils.len())
        .flat_map(|i| (0..cfg.samples).map(move |s| (i, s)))
        .collect();
    let samples: Vec<TickSample> = tasks
        .par_iter()
        .map(|&(i, s)| run_sample(cfg, policy, utils[i], s))
        .collect();
    Ok(samples
        .chunks(cfg.samples as usize)
        .zip(utils)
        .map(|(chunk, &u)| summarize(cfg, u, chunk))
        .collect())
}

/// The discrete-time M/D/1 mean of the queue measured here (after the tick's service), for
/// one worker per dyno and `util·N/100` jobs per tick routed uniformly at random:
/// E[A(A−1)] / (2(1−ρ)) with A ~ Binomial(k, 1/N), so E[A(A−1)] = k(k−1)/N².
pub fn random_routing_mean_queue(dynos: u32, util: f64) -> f64 {
    let n = f64::from(dynos);
    let k = util / 100.0 * n;
    let rho = util / 100.0;
    if rho >= 1.0 {
        return f64::INFINITY;
    }
    k * (k - 1.0).max(0.0) / (n * n) / (2.0 * (1.0 - rho))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_validated() {
        let cfg = TickConfig {
            samples: 3,
            ticks: 100,
            ..TickConfig::default()
        };
        let a = sweep(&cfg, Policy::Random, &[50.0, 90.0]).unwrap();
        let b = sweep(&cfg, Policy::Random, &[90.0]).unwrap();
        assert_eq!(a[1], b[0], "a point does not depend on the range it was swept in");
        assert_eq!(
            sweep(
                &TickConfig {
                    dynos: 0,
                    ..cfg.clone()
                },
                Policy::Random,
                &[1.0]
            )
            .unwrap_err(),
            SimError::ZeroDynos
        );
    }

    #[test]
    fn round_robin_never_queues_below_capacity() {
        let cfg = TickConfig {
            samples: 2,
            ticks: 200,
            ..TickConfig::default()
        };
        for p in sweep(&cfg, Policy::RoundRobin, &[10.0, 55.5, 100.0]).unwrap() {
            assert_eq!((p.max, p.time_mean), (0, 0.0), "{p:?}");
        }
        let over = sweep(&cfg, Policy::RoundRobin, &[110.0]).unwrap();
        assert!(
            over[0].mean > 15.0,
            "10 extra jobs per tick pile up: {:?}",
            over[0]
        );
    }

    #[test]
    fn formula() {
        assert!((random_routing_mean_queue(100, 50.0) - 0.245).abs() < 1e-12);
        assert_eq!(random_routing_mean_queue(100, 0.0), 0.0);
    }
}
