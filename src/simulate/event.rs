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

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use hdrhistogram::Histogram;
use rand::RngExt;
use rand_distr::Exp1;
use rayon::prelude::*;

use super::policy::{MinPicker, two_choices};
use super::service::ServiceDist;
use super::{Arrivals, Policy, SimError, SimRng, task_rng};
use crate::slo::{Slo, SloMetric};

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

/// Response times, queues and 503s at one utilization, over all samples.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventPoint {
    /// Offered load, percent of total capacity.
    pub utilization: f64,
    /// Arrival rate, requests per second, all dynos together.
    pub rate: f64,
    /// Requests counted (after warm-up), all samples.
    pub requests: u64,
    /// Mean response time (seconds; 503s count at the timeout).
    pub mean_response: f64,
    /// Median response time (seconds).
    pub p50: f64,
    /// 95th percentile response time (seconds).
    pub p95: f64,
    /// 99th percentile response time (seconds).
    pub p99: f64,
    /// Largest response time (seconds).
    pub max: f64,
    /// Mean time waiting for a worker (seconds), over requests a dyno accepted.
    pub mean_wait: f64,
    /// `mean_wait` in units of the mean service time: how many jobs' worth one waits.
    pub mean_wait_jobs: f64,
    /// Time-averaged number of requests waiting per dyno (Little's law on the waits).
    pub mean_queue: f64,
    /// 99th percentile of the queue an arriving request found on its dyno.
    pub p99_queue: u32,
    /// Largest queue an arriving request found on its dyno.
    pub max_queue: u32,
    /// Requests the router gave up on after the timeout (503).
    pub timeouts: u64,
    /// Requests refused because the dyno's backlog was full (503).
    pub rejected: u64,
    /// Share of requests answered 503 (timeouts + rejected), 0..1.
    pub share_503: f64,
    /// Response-time histogram (microseconds).
    #[serde(skip)]
    pub latency: Histogram<u64>,
}

impl EventPoint {
    /// The response-time quantile `q` (seconds).
    pub fn quantile(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1e6
    }

    /// The value an SLO constrains: microseconds for latency metrics, a fraction for the
    /// error rate. `None` when no request was counted.
    pub fn slo_value(&self, slo: &Slo) -> Option<f64> {
        if self.requests == 0 {
            return None;
        }
        Some(match slo.metric {
            SloMetric::Percentile(p) => self.latency.value_at_quantile(p / 100.0) as f64,
            SloMetric::Max => self.latency.max() as f64,
            SloMetric::ErrorRate => self.share_503,
        })
    }
}

/// Per-dyno state: worker free-times and the start times of the requests still waiting.
struct Dynos {
    w: usize,
    free: Vec<f64>,
    waiting: Vec<VecDeque<f64>>,
}

impl Dynos {
    fn new(n: usize, w: usize) -> Dynos {
        Dynos {
            w,
            free: vec![0.0; n * w],
            waiting: vec![VecDeque::new(); n],
        }
    }

    /// Requests waiting on dyno `d` at time `now` (starts are in FIFO order, so the ones that
    /// have started are at the front).
    #[inline]
    fn waiting_now(&mut self, d: usize, now: f64) -> usize {
        let q = &mut self.waiting[d];
        while let Some(&s) = q.front() {
            if s <= now {
                q.pop_front();
            } else {
                break;
            }
        }
        q.len()
    }

    /// Requests in dyno `d` (waiting or in service) at time `now`.
    #[inline]
    fn in_system(&mut self, d: usize, now: f64) -> usize {
        let waiting = self.waiting_now(d, now);
        waiting
            + self.free[d * self.w..(d + 1) * self.w]
                .iter()
                .filter(|&&f| f > now)
                .count()
    }

    /// The worker of dyno `d` that is free first, and when.
    #[inline]
    fn earliest_worker(&self, d: usize) -> (usize, f64) {
        let ws = &self.free[d * self.w..(d + 1) * self.w];
        let mut k = 0;
        for (i, &f) in ws.iter().enumerate().skip(1) {
            if f < ws[k] {
                k = i;
            }
        }
        (d * self.w + k, ws[k])
    }
}

/// A routing policy's state during one event-engine sample.
trait EventRouter {
    /// Picks a dyno (and the router that sends) for a request arriving at `now`.
    fn route(&mut self, now: f64, dynos: &mut Dynos, rng: &mut SimRng) -> (usize, u32);
    /// The dyno accepted the request; it ends at `finish`, and the router stops waiting for
    /// it at `router_done` (= min(finish, arrival + timeout)).
    fn accepted(&mut self, d: usize, r: u32, finish: f64, router_done: f64);
}

struct RandomRouter(usize);
impl EventRouter for RandomRouter {
    #[inline]
    fn route(&mut self, _: f64, _: &mut Dynos, rng: &mut SimRng) -> (usize, u32) {
        (rng.random_range(0..self.0), 0)
    }
    #[inline]
    fn accepted(&mut self, _: usize, _: u32, _: f64, _: f64) {}
}

struct RoundRobinRouter {
    n: usize,
    next: usize,
}
impl EventRouter for RoundRobinRouter {
    #[inline]
    fn route(&mut self, _: f64, _: &mut Dynos, _: &mut SimRng) -> (usize, u32) {
        let d = self.next;
        self.next = if d + 1 == self.n { 0 } else { d + 1 };
        (d, 0)
    }
    #[inline]
    fn accepted(&mut self, _: usize, _: u32, _: f64, _: f64) {}
}

/// Times are non-negative and finite, so their bit patterns order like the numbers.
#[inline]
fn key(t: f64) -> u64 {
    t.to_bits()
}

/// One all-knowing router: counts the requests really in each dyno (until they finish).
struct LeastConnRouter {
    picker: MinPicker,
    ends: BinaryHeap<Reverse<(u64, u32)>>,
}
impl EventRouter for LeastConnRouter {
    #[inline]
    fn route(&mut self, now: f64, _: &mut Dynos, rng: &mut SimRng) -> (usize, u32) {
        let k = key(now);
        while let Some(&Reverse((t, d))) = self.ends.peek() {
            if t > k {
                break;
            }
            self.ends.pop();
            self.picker.dec(d as usize);
        }
        (self.picker.pick_min(rng), 0)
    }
    #[inline]
    fn accepted(&mut self, d: usize, _: u32, finish: f64, _: f64) {
        self.picker.inc(d);
        self.ends.push(Reverse((key(finish), d as u32)));
    }
}

/// R routers, each counting its own requests in flight per dyno until it sees them answered
/// (or gives up on them at the timeout).
struct PerRouter {
    routers: Vec<MinPicker>,
    ends: BinaryHeap<Reverse<(u64, u32, u32)>>,
}
impl EventRouter for PerRouter {
    #[inline]
    fn route(&mut self, now: f64, _: &mut Dynos, rng: &mut SimRng) -> (usize, u32) {
        let k = key(now);
        while let Some(&Reverse((t, d, r))) = self.ends.peek() {
            if t > k {
                break;
            }
            self.ends.pop();
            self.routers[r as usize].dec(d as usize);
        }
        let r = if self.routers.len() == 1 {
            0
        } else {
            rng.random_range(0..self.routers.len())
        };
        (self.routers[r].pick_min(rng), r as u32)
    }
    #[inline]
    fn accepted(&mut self, d: usize, r: u32, _: f64, router_done: f64) {
        self.routers[r as usize].inc(d);
        self.ends.push(Reverse((key(router_done), d as u32, r)));
    }
}

struct TwoChoices(usize);
impl EventRouter for TwoChoices {
    #[inline]
    fn route(&mut self, now: f64, dynos: &mut Dynos, rng: &mut SimRng) -> (usize, u32) {
        let (a, b) = two_choices(self.0, rng);
        if a != b && dynos.in_system(b, now) < dynos.in_system(a, now) {
            (b, 0)
        } else {
            (a, 0)
        }
    }
    #[inline]
    fn accepted(&mut self, _: usize, _: u32, _: f64, _: f64) {}
}

/// What one sample leaves behind.
struct EventSample {
    latency: Histogram<u64>,
    n: u64,
    sum_response: f64,
    served: u64,
    sum_wait: f64,
    timeouts: u64,
    rejected: u64,
    queue_seen: Vec<u64>,
    window: f64,
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits; larger values saturate (the timeout is far below).
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

#[inline]
fn to_us(s: f64) -> u64 {
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
    let mut s = EventSample {
        latency: new_histogram(),
        n: 0,
        sum_response: 0.0,
        served: 0,
        sum_wait: 0.0,
        timeouts: 0,
        rejected: 0,
        queue_seen: vec![0; 64],
        window: 0.0,
    };
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
            Arrivals::Deterministic => (i + 1) as f64 * gap,
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
    let mut latency = new_histogram();
    let mut queue_seen: Vec<u64> = Vec::new();
    let (mut n, mut served, mut timeouts, mut rejected) = (0u64, 0u64, 0u64, 0u64);
    let (mut sum_response, mut sum_wait, mut dyno_seconds) = (0.0, 0.0, 0.0);
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
        dyno_seconds += s.window * f64::from(cfg.dynos);
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
        rate: cfg.rate_for(service, util),
        requests: n,
        mean_response: if n == 0 { 0.0 } else { sum_response / n as f64 },
        p50: q(0.5),
        p95: q(0.95),
        p99: q(0.99),
        max: if n == 0 { 0.0 } else { latency.max() as f64 / 1e6 },
        mean_wait,
        mean_wait_jobs: mean_wait / service.mean(),
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

/// M/M/1 mean response time 1/(μ−λ) in units of the mean service time, at load ρ.
pub fn mm1_mean_response(rho: f64) -> f64 {
    1.0 / (1.0 - rho)
}

/// M/D/1 mean response time by Pollaczek–Khinchine (service + ρ·S/(2(1−ρ))), in units of the
/// service time, at load ρ.
pub fn md1_mean_response(rho: f64) -> f64 {
    1.0 + rho / (2.0 * (1.0 - rho))
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
            arrivals: Arrivals::Deterministic,
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
            arrivals: Arrivals::Deterministic,
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
