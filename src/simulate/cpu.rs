//! The dyno model with CPU: each dyno runs `workers` workers (WEB_CONCURRENCY) on `cores`
//! cores. A request holds a worker for a CPU phase and then a non-CPU phase (IO, a
//! downstream call, time blocked); the CPU is **processor-shared** among the workers that
//! are computing — each progresses at min(1, cores / computing) — so more workers add
//! throughput only until the CPU is full, and past that they only add latency. A CPU
//! **quota** (a container's `--cpus`, a shared class's burst cap) is modelled as CFS
//! enforces it: per 100 ms period the dyno may use `quota × 100 ms` of CPU, at full speed,
//! and then it stalls until the period ends (a share under busy neighbours is plain
//! processor sharing at the floor). Requests
//! beyond the workers wait in a FIFO backlog (503 at once when it is full), and the router
//! gives up after the timeout (503) while the dyno finishes the work anyway.
//!
//! A discrete-event simulation: arrivals (open loop at a rate, or a closed loop of callers
//! that send again as soon as they are answered), CPU completions (rescheduled whenever the
//! number of computing workers changes, through a per-dyno virtual clock of attained
//! service) and non-CPU completions. Pure and seeded.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::RngExt;
use rayon::prelude::*;

use super::common::{SimError, SimRng, task_rng};
use super::event::{EventConfig, EventSample, summarize_samples, to_us};
use super::policy::{Chooser, Policy};
use super::sweep::EventPoint;

use super::cpu_dyno::Dyno;
use super::demand::EPS;
pub use super::demand::{Cpu, Demand, DemandDist, Load, QUOTA_PERIOD, dyno_capacity};

#[derive(Clone, Copy)]
struct Req {
    arrival: f64,
    dyno: u32,
    router: u32,
    /// Its demand when it computes alone.
    demand: Demand,
    /// Its demand when other workers compute beside it, if measured apart.
    busy_demand: Option<Demand>,
    counted: bool,
    forgotten: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    CpuDone { dyno: u32, version: u64 },
    OtherDone { req: u32 },
    Forget { req: u32 },
    Send { caller: u32 },
}

/// Times are non-negative and finite, so their bit patterns order like the numbers.
fn key(t: f64) -> u64 {
    t.max(0.0).to_bits()
}

struct Sim<'a> {
    cfg: &'a EventConfig,
    cpu: Cpu,
    demand: &'a DemandDist,
    policy: Policy,
    dynos: Vec<Dyno>,
    reqs: Vec<Req>,
    events: BinaryHeap<Reverse<(u64, u64, Kind)>>,
    seq: u64,
    chooser: Chooser,
    s: EventSample,
    timeout_us: u64,
}

impl Sim<'_> {
    fn push(&mut self, t: f64, kind: Kind) {
        self.seq += 1;
        self.events.push(Reverse((key(t), self.seq, kind)));
    }

    fn reschedule(&mut self, d: usize, t: f64) {
        let cpu = self.cpu;
        let dy = &mut self.dynos[d];
        dy.version += 1;
        let version = dy.version;
        let Some(&Reverse((vf, _))) = dy.computing.peek() else {
            return;
        };
        let at = if dy.throttled {
            dy.period_end
        } else {
            let r = dy.rate(cpu);
            let mut at = t + (f64::from_bits(vf) - dy.v).max(0.0) / r;
            if cpu.quota.is_some() {
                // The quota runs out, or the period ends (and the budget refills), first.
                let burn = r * dy.computing.len() as f64;
                at = at.min(t + dy.budget.max(0.0) / burn).min(dy.period_end);
            }
            at
        };
        self.push(
            at,
            Kind::CpuDone {
                dyno: d as u32,
                version,
            },
        );
    }

    fn start_cpu(&mut self, d: usize, id: u32, t: f64) {
        let cpu = self.cpu;
        let req = &mut self.reqs[id as usize];
        if let Some(busy) = req.busy_demand
            && !self.dynos[d].computing.is_empty()
        {
            // Other workers are computing: its demand as measured when they were.
            req.demand = busy;
        }
        let dem = req.demand;
        let dy = &mut self.dynos[d];
        dy.advance(t, cpu);
        let finish = dy.v + dem.cpu;
        dy.computing.push(Reverse((finish.to_bits(), id)));
        self.reschedule(d, t);
    }

    /// A request arrives at time `t`; returns its id when a dyno took it.
    fn arrive(&mut self, t: f64, counted: bool, rng: &mut SimRng) -> Option<u32> {
        let (d, r) = self.chooser.pick(rng);
        let demand = self.demand.sample(rng);
        let busy_demand = self.demand.sample_busy(rng);
        let dy = &self.dynos[d];
        let waiting = dy.queue.len();
        if counted {
            self.s.n += 1;
            if waiting >= self.s.queue_seen.len() {
                self.s.queue_seen.resize(waiting + 1, 0);
            }
            self.s.queue_seen[waiting] += 1;
        }
        if dy.busy >= self.cfg.workers && waiting >= self.cfg.backlog as usize {
            if counted {
                self.s.rejected += 1;
                self.s.latency.saturating_record(self.timeout_us);
                self.s.sum_response += self.cfg.timeout;
            }
            return None;
        }
        let id = self.reqs.len() as u32;
        self.reqs.push(Req {
            arrival: t,
            dyno: d as u32,
            router: r,
            demand,
            busy_demand,
            counted,
            forgotten: false,
        });
        self.chooser.sent(d, r);
        if self.policy == Policy::PerRouterLeastConnections {
            self.push(t + self.cfg.timeout, Kind::Forget { req: id });
        }
        if self.dynos[d].busy < self.cfg.workers {
            self.dynos[d].busy += 1;
            self.start_cpu(d, id, t);
        } else {
            self.dynos[d].queue.push_back(id);
        }
        Some(id)
    }

    fn forget(&mut self, id: u32) {
        let q = &mut self.reqs[id as usize];
        if !q.forgotten {
            q.forgotten = true;
            self.chooser.router_done(q.dyno as usize, q.router);
        }
    }

    /// A request's worker is done with it at `t`.
    fn finish(&mut self, id: u32, t: f64) {
        let q = self.reqs[id as usize];
        let d = q.dyno as usize;
        self.chooser.dyno_done(d);
        self.forget(id);
        if q.counted {
            let response = t - q.arrival;
            self.s.served += 1;
            if response > self.cfg.timeout {
                self.s.timeouts += 1;
                self.s.latency.saturating_record(self.timeout_us);
                self.s.sum_response += self.cfg.timeout;
            } else {
                self.s.latency.saturating_record(to_us(response));
                self.s.sum_response += response;
            }
        }
        let dy = &mut self.dynos[d];
        match dy.queue.pop_front() {
            Some(next) => {
                let nq = self.reqs[next as usize];
                if nq.counted {
                    self.s.sum_wait += t - nq.arrival;
                }
                self.start_cpu(d, next, t);
            }
            None => dy.busy -= 1,
        }
    }
}

impl<'a> Sim<'a> {
    /// A simulation of `cfg.dynos` idle dynos; each dyno's quota periods start at their
    /// own phase (drawn from `rng`), as a group's CFS timer does.
    fn new(
        cfg: &'a EventConfig,
        cpu: Cpu,
        policy: Policy,
        demand: &'a DemandDist,
        rng: &mut SimRng,
    ) -> Sim<'a> {
        let n = cfg.dynos as usize;
        Sim {
            cfg,
            cpu,
            demand,
            policy,
            dynos: (0..n)
                .map(|_| {
                    let phase: f64 = rng.random::<f64>() * cpu.period;
                    Dyno::new(cpu, phase)
                })
                .collect(),
            reqs: Vec::with_capacity(cfg.requests as usize),
            events: BinaryHeap::new(),
            seq: 0,
            chooser: Chooser::new(policy, n, cfg.routers),
            s: EventSample::new(),
            timeout_us: to_us(cfg.timeout),
        }
    }

    /// Dyno `d`'s CPU completion event (of `version`) at `t`: the requests whose CPU phase
    /// is done, in order; none when the event is stale.
    fn cpu_done(&mut self, d: usize, version: u64, t: f64) -> Vec<u32> {
        let mut done = Vec::new();
        if self.dynos[d].version != version {
            return done;
        }
        let cpu = self.cpu;
        let dy = &mut self.dynos[d];
        dy.advance(t, cpu);
        let v = dy.v;
        while let Some(&Reverse((vf, id))) = dy.computing.peek() {
            if f64::from_bits(vf) <= v + EPS {
                dy.computing.pop();
                done.push(id);
            } else {
                break;
            }
        }
        self.reschedule(d, t);
        done
    }
}

/// Runs one load point with the CPU model: all samples in parallel, each seeded.
/// `utilization` labels the point (percent of [`dyno_capacity`] × dynos for a rate).
pub fn run_point(
    cfg: &EventConfig,
    cpu: Cpu,
    policy: Policy,
    demand: &DemandDist,
    load: Load,
) -> Result<EventPoint, SimError> {
    run_point_from(cfg, cpu, policy, demand, load, cfg.warmup())
}

/// [`run_point`] as a live run measures it: every sample starts from idle dynos and counts
/// all but its first `warmup` requests, so a short sample predicts a short run (a queue
/// near saturation has not reached its steady state in a few seconds), not the long-run
/// tail.
pub fn run_point_from(
    cfg: &EventConfig,
    cpu: Cpu,
    policy: Policy,
    demand: &DemandDist,
    load: Load,
    warmup: u64,
) -> Result<EventPoint, SimError> {
    cfg.validate()?;
    let cpu_ok = cpu.cores > 0.0 && cpu.cores.is_finite() && cpu.quota.is_none_or(|q| q > 0.0);
    if !demand.is_usable() || !cpu_ok {
        return Err(SimError::ZeroServiceMean);
    }
    let capacity = dyno_capacity(cfg.workers, cpu, demand) * f64::from(cfg.dynos);
    let (label, rate) = match load {
        Load::Rate(r) => (100.0 * r / capacity, r),
        Load::Callers(c) => (f64::from(c), 0.0),
    };
    let samples: Vec<EventSample> = (0..cfg.samples)
        .into_par_iter()
        .map(|i| {
            let mut rng = task_rng(cfg.seed, label, i);
            source::run_sample(cfg, cpu, policy, demand, load, warmup, &mut rng)
        })
        .collect();
    let mean_service = demand.mean_cpu() + demand.mean_other();
    let mut p = summarize_samples(cfg.dynos, rate, mean_service, label, samples);
    if let Load::Callers(_) = load {
        // A closed loop's rate is what it achieved.
        p.rate = if p.requests > 0 { p.achieved_rps } else { 0.0 };
    }
    Ok(p)
}

#[path = "cpu_source.rs"]
mod source;
pub(super) use source::run_sample;

#[cfg(test)]
#[path = "cpu_tests.rs"]
mod tests;
