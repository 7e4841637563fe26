//! The discrete-event engine: continuous time, Poisson (or evenly spaced) arrivals at
//! `util`% of total capacity, service times from a distribution, `workers` per dyno serving a
//! FIFO queue, a per-dyno backlog limit, and the router timeout.
//!
//! Each dyno is a FIFO multi-server queue, so a request's start time is known when it arrives
//! (the earliest time one of the dyno's workers is free): arrivals are the only events that
//! need processing in time order. Routers that count requests in flight keep a heap of the
//! moments those requests end. Per dyno the state is `workers` free-times and a ring of the
//! start times of the requests still waiting; nothing is allocated per request.
//!
//! Failure model (as on the platform): a request whose response would take longer than the
//! router timeout gets a 503 at the timeout, but the dyno still works on it to the end; a
//! request arriving when the dyno already has `backlog` requests waiting is refused at once
//! with a 503. Every 503 enters the latency figures at the timeout value: a failed request is
//! never counted as a fast one.

use std::collections::BinaryHeap;

use hdrhistogram::Histogram;
use rand::RngExt;
use rand_distr::Exp1;
use rayon::prelude::*;

use super::common::{SimError, SimRng, task_rng};
use super::policy::MinPicker;
use super::policy::Policy;
use super::routing::{
    Dynos, EventRouter, LeastConnRouter, PerRouter, RandomRouter, RoundRobinRouter, TwoChoices,
};
use super::service::ServiceDist;
pub use super::sweep::EventPoint;
pub use super::theory::{md1_mean_response, mm1_mean_response};
use crate::record::Arrivals;

/// Settings of an event-engine run.
#[derive(Debug, Clone, PartialEq)]
pub struct EventConfig {
    /// Number of dynos.
    pub dynos: u32,
    /// Workers per dyno (WEB_CONCURRENCY): requests served at once.
    pub workers: u32,
    /// Requests simulated per sample; the first tenth warms the queues up and is not counted.
    pub requests: u64,
    /// Independent runs per utilization point.
    pub samples: u32,
    /// Routers for the per-router policy.
    pub routers: u32,
    /// Requests allowed to wait on one dyno; an arrival beyond that gets a 503 at once.
    pub backlog: u32,
    /// Router timeout in seconds: a longer response becomes a 503.
    pub timeout: f64,
    /// Arrival process.
    pub arrivals: Arrivals,
    /// Base seed.
    pub seed: u64,
}

impl Default for EventConfig {
    /// 100 dynos × 1 worker, 10 samples of 100 000 requests, backlog 1024, 30 s timeout.
    fn default() -> EventConfig {
        EventConfig {
            dynos: 100,
            workers: 1,
            requests: 100_000,
            samples: 10,
            routers: 10,
            backlog: 1024,
            timeout: 30.0,
            arrivals: Arrivals::Poisson,
            seed: 42,
        }
    }
}

impl EventConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.dynos == 0 {
            return Err(SimError::ZeroDynos);
        }
        if self.workers == 0 {
            return Err(SimError::ZeroWorkers);
        }
        if self.samples == 0 {
            return Err(SimError::ZeroSamples);
        }
        if self.routers == 0 {
            return Err(SimError::ZeroRouters);
        }
        if self.requests < 100 {
            return Err(SimError::TooFewRequests(self.requests));
        }
        if u64::from(self.routers) * u64::from(self.dynos) > 50_000_000 {
            return Err(SimError::TooManyRouterViews {
                routers: self.routers,
                dynos: self.dynos,
            });
        }
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            return Err(SimError::BadTimeout);
        }
        Ok(())
    }

    /// Requests per sample left out of the figures (the first tenth).
    pub fn warmup(&self) -> u64 {
        self.requests / 10
    }

    /// The arrival rate (requests per second) that is `util`% of total capacity.
    pub fn rate_for(&self, service: &ServiceDist, util: f64) -> f64 {
        util / 100.0 * f64::from(self.dynos) * f64::from(self.workers) / service.mean()
    }
}

/// What one sample leaves behind (shared with the CPU engine).
#[derive(Debug, Clone)]
pub(crate) struct EventSample {
    pub(crate) latency: Histogram<u64>,
    pub(crate) n: u64,
    pub(crate) sum_response: f64,
    pub(crate) served: u64,
    pub(crate) sum_wait: f64,
    pub(crate) timeouts: u64,
    pub(crate) rejected: u64,
    pub(crate) queue_seen: Vec<u64>,
    pub(crate) window: f64,
}

impl EventSample {
    /// An empty sample.
    pub(crate) fn new() -> EventSample {
        EventSample {
            latency: new_histogram(),
            n: 0,
            sum_response: 0.0,
            served: 0,
            sum_wait: 0.0,
            timeouts: 0,
            rejected: 0,
            queue_seen: vec![0; 64],
            window: 0.0,
        }
    }
}

pub(crate) fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits; larger values saturate (the timeout is far below).
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

#[inline]
pub(crate) fn to_us(s: f64) -> u64 {
    (s * 1e6).round().max(1.0) as u64
}

fn run_with<R: EventRouter>(
    cfg: &EventConfig,
    service: &ServiceDist,
    rate: f64,
    router: &mut R,
    rng: &mut SimRng,
) -> EventSample {
    let n = cfg.dynos as usize;
    let mut dynos = Dynos::new(n, cfg.workers as usize);
    let warmup = cfg.warmup();
    let timeout = cfg.timeout;
    let timeout_us = to_us(timeout);
    let backlog = cfg.backlog as usize;
    let mut s = EventSample::new();
    if rate <= 0.0 {
        return s;
    }
    let gap = 1.0 / rate;
    let mut now = 0.0f64;
    let mut first_counted = 0.0;
    for i in 0..cfg.requests {
        now = match cfg.arrivals {
            Arrivals::Poisson => {
                let e: f64 = rng.sample(Exp1);
                now + e * gap
            }
            Arrivals::Constant => (i + 1) as f64 * gap,
        };
        let (d, r) = router.route(now, &mut dynos, rng);
        let waiting = dynos.waiting_now(d, now);
        let counted = i >= warmup;
        if counted {
            if i == warmup {
                first_counted = now;
            }
            s.n += 1;
            if waiting >= s.queue_seen.len() {
                s.queue_seen.resize(waiting + 1, 0);
            }
            s.queue_seen[waiting] += 1;
        }
        let (k, free) = dynos.earliest_worker(d);
        if free > now && waiting >= backlog {
            // Every worker is busy and the backlog is full: refused at once.
            if counted {
                s.rejected += 1;
                s.latency.saturating_record(timeout_us);
                s.sum_response += timeout;
            }
            continue;
        }
        let start = now.max(free);
        let finish = start + service.sample(rng);
        dynos.free[k] = finish;
        if start > now {
            dynos.waiting[d].push_back(start);
        }
        let response = finish - now;
        router.accepted(d, r, finish, finish.min(now + timeout));
        if counted {
            s.served += 1;
            s.sum_wait += start - now;
            if response > timeout {
                s.timeouts += 1;
                s.latency.saturating_record(timeout_us);
                s.sum_response += timeout;
            } else {
                s.latency.saturating_record(to_us(response));
                s.sum_response += response;
            }
        }
    }
    s.window = now - first_counted;
    s
}

fn run_sample(
    cfg: &EventConfig,
    policy: Policy,
    service: &ServiceDist,
    util: f64,
    sample: u32,
) -> EventSample {
    let mut rng = task_rng(cfg.seed, util, sample);
    let rate = cfg.rate_for(service, util);
    let n = cfg.dynos as usize;
    match policy {
        Policy::Random => run_with(cfg, service, rate, &mut RandomRouter(n), &mut rng),
        Policy::RoundRobin => run_with(cfg, service, rate, &mut RoundRobinRouter { n, next: 0 }, &mut rng),
        Policy::LeastConnections => {
            let mut r = LeastConnRouter {
                picker: MinPicker::new(n),
                ends: BinaryHeap::new(),
            };
            run_with(cfg, service, rate, &mut r, &mut rng)
        }
        Policy::PerRouterLeastConnections => {
            let mut r = PerRouter {
                routers: vec![MinPicker::new(n); cfg.routers as usize],
                ends: BinaryHeap::new(),
            };
            run_with(cfg, service, rate, &mut r, &mut rng)
        }
        Policy::PowerOfTwoChoices => run_with(cfg, service, rate, &mut TwoChoices(n), &mut rng),
    }
}

fn summarize(cfg: &EventConfig, service: &ServiceDist, util: f64, samples: Vec<EventSample>) -> EventPoint {
    summarize_samples(
        cfg.dynos,
        cfg.rate_for(service, util),
        service.mean(),
        util,
        samples,
    )
}

/// Merges the samples of one point: `rate` offered, `mean_service` seconds per request (for
/// the wait in jobs), `util` the point's label.
pub(crate) fn summarize_samples(
    dynos: u32,
    rate: f64,
    mean_service: f64,
    util: f64,
    samples: Vec<EventSample>,
) -> EventPoint {
    let mut latency = new_histogram();
    let mut queue_seen: Vec<u64> = Vec::new();
    let (mut n, mut served, mut timeouts, mut rejected) = (0u64, 0u64, 0u64, 0u64);
    let (mut sum_response, mut sum_wait, mut dyno_seconds, mut window) = (0.0, 0.0, 0.0, 0.0);
    for s in samples {
        latency.add(&s.latency).expect("histograms share their bounds");
        if queue_seen.len() < s.queue_seen.len() {
            queue_seen.resize(s.queue_seen.len(), 0);
        }
        for (a, b) in queue_seen.iter_mut().zip(&s.queue_seen) {
            *a += b;
        }
        n += s.n;
        served += s.served;
        timeouts += s.timeouts;
        rejected += s.rejected;
        sum_response += s.sum_response;
        sum_wait += s.sum_wait;
        dyno_seconds += s.window * f64::from(dynos);
        window += s.window;
    }
    let q = |x: f64| {
        if n == 0 {
            0.0
        } else {
            latency.value_at_quantile(x) as f64 / 1e6
        }
    };
    let queue_q = |x: f64| {
        let rank = ((x * n as f64).ceil() as u64).max(1);
        let mut acc = 0;
        for (len, &c) in queue_seen.iter().enumerate() {
            acc += c;
            if acc >= rank {
                return len as u32;
            }
        }
        0
    };
    let mean_wait = if served == 0 {
        0.0
    } else {
        sum_wait / served as f64
    };
    EventPoint {
        utilization: util,
        rate,
        achieved_rps: if window > 0.0 { n as f64 / window } else { 0.0 },
        requests: n,
        mean_response: if n == 0 { 0.0 } else { sum_response / n as f64 },
        p50: q(0.5),
        p95: q(0.95),
        p99: q(0.99),
        max: if n == 0 { 0.0 } else { latency.max() as f64 / 1e6 },
        mean_wait,
        mean_wait_jobs: mean_wait / mean_service,
        mean_queue: if dyno_seconds > 0.0 {
            sum_wait / dyno_seconds
        } else {
            0.0
        },
        p99_queue: queue_q(0.99),
        max_queue: queue_seen.iter().rposition(|&c| c > 0).unwrap_or(0) as u32,
        timeouts,
        rejected,
        share_503: if n == 0 {
            0.0
        } else {
            (timeouts + rejected) as f64 / n as f64
        },
        latency,
    }
}

fn check(cfg: &EventConfig, service: &ServiceDist) -> Result<(), SimError> {
    cfg.validate()?;
    if service.mean() <= 0.0 || !service.mean().is_finite() {
        return Err(SimError::ZeroServiceMean);
    }
    Ok(())
}

/// Runs one utilization point: all samples in parallel, each with its own seeded generator.
pub fn run_point(
    cfg: &EventConfig,
    policy: Policy,
    service: &ServiceDist,
    util: f64,
) -> Result<EventPoint, SimError> {
    check(cfg, service)?;
    let samples: Vec<EventSample> = (0..cfg.samples)
        .into_par_iter()
        .map(|s| run_sample(cfg, policy, service, util, s))
        .collect();
    Ok(summarize(cfg, service, util, samples))
}

/// Runs the sweep for one policy: utilization points in parallel, and each point's samples in
/// parallel (merged point by point, so memory holds a few points' histograms, not all).
pub fn sweep(
    cfg: &EventConfig,
    policy: Policy,
    service: &ServiceDist,
    utils: &[f64],
) -> Result<Vec<EventPoint>, SimError> {
    check(cfg, service)?;
    Ok(utils
        .par_iter()
        .map(|&u| {
            let samples: Vec<EventSample> = (0..cfg.samples)
                .into_par_iter()
                .map(|s| run_sample(cfg, policy, service, u, s))
                .collect();
            summarize(cfg, service, u, samples)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> EventConfig {
        EventConfig {
            dynos: 4,
            workers: 2,
            requests: 20_000,
            samples: 2,
            ..EventConfig::default()
        }
    }

    #[test]
    fn zero_load_and_light_load() {
        let svc = ServiceDist::Deterministic(0.1);
        let p = run_point(&cfg(), Policy::Random, &svc, 0.0).unwrap();
        assert_eq!((p.requests, p.p99), (0, 0.0));
        // Round-robin over 4 dynos × 2 workers at 50% with even arrivals never waits.
        let c = EventConfig {
            arrivals: Arrivals::Constant,
            ..cfg()
        };
        let p = run_point(&c, Policy::RoundRobin, &svc, 50.0).unwrap();
        assert_eq!(p.mean_wait, 0.0);
        assert!((p.p99 - 0.1).abs() < 1e-3, "{}", p.p99);
        assert_eq!(p.requests, 2 * 18_000);
    }

    #[test]
    fn overload_times_out_and_rejects() {
        let svc = ServiceDist::Deterministic(1.0);
        let c = EventConfig {
            dynos: 1,
            workers: 1,
            backlog: 20,
            timeout: 10.0,
            arrivals: Arrivals::Constant,
            ..cfg()
        };
        let p = run_point(&c, Policy::Random, &svc, 200.0).unwrap();
        // Half the arrivals find the 20-deep backlog full; every accepted one waits ~20 s.
        assert!((p.share_503 - 1.0).abs() < 1e-3, "{}", p.share_503);
        assert!(p.rejected > p.requests / 3 && p.timeouts > p.requests / 3);
        assert_eq!(p.max_queue, 20);
        assert!((p.p50 - 10.0).abs() < 0.05);
    }
}
