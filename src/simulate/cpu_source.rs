//! Where a CPU-model sample's requests come from (open-loop arrivals or a closed loop of
//! callers) and the sample's event loop: a child of `cpu`, so it drives the simulation's
//! own state.

use std::cmp::Reverse;

use rand::RngExt;
use rand_distr::Exp1;

use super::super::common::SimRng;
use super::super::event::{EventConfig, EventSample};
use super::super::policy::Policy;
use super::{Cpu, DemandDist, Kind, Load, Sim};
use crate::record::Arrivals;

/// Where a sample's requests come from: arrivals at a rate (open loop) or callers that
/// send again as soon as they are answered (closed loop).
struct Source {
    load: Load,
    /// Requests to issue in all.
    requests: u64,
    /// Requests issued before this many are not counted.
    warmup: u64,
    issued: u64,
    /// When the first counted request was issued.
    first_counted: Option<f64>,
    /// The next open-loop arrival.
    next_arrival: Option<f64>,
    /// The caller waiting on each request (closed loop).
    callers_of: Vec<Option<u32>>,
}

impl Source {
    /// The source of `load`: the first arrival at 0, or every caller's first send (a
    /// microsecond apart, like connections opening).
    fn start(cfg: &EventConfig, load: Load, sim: &mut Sim) -> Source {
        let next_arrival = match load {
            Load::Rate(r) if r > 0.0 => Some(0.0),
            Load::Rate(_) => None,
            Load::Callers(c) => {
                for caller in 0..c {
                    sim.push(f64::from(caller) * 1e-6, Kind::Send { caller });
                }
                None
            }
        };
        Source {
            load,
            requests: cfg.requests,
            warmup: cfg.warmup(),
            issued: 0,
            first_counted: None,
            next_arrival,
            callers_of: Vec::new(),
        }
    }

    /// Issues a request at `t`; whether it is counted (past the warm-up).
    fn issue(&mut self, t: f64) -> bool {
        let counted = self.issued >= self.warmup;
        if counted && self.first_counted.is_none() {
            self.first_counted = Some(t);
        }
        self.issued += 1;
        counted
    }

    /// The open-loop arrival due at `t`, and the time of the next one.
    fn arrive(&mut self, sim: &mut Sim, t: f64, arrivals: Arrivals, rng: &mut SimRng) {
        let counted = self.issue(t);
        sim.arrive(t, counted, rng);
        self.next_arrival = match self.load {
            Load::Rate(r) if self.issued < self.requests => Some(match arrivals {
                Arrivals::Poisson => {
                    let e: f64 = rng.sample(Exp1);
                    t + e / r
                }
                Arrivals::Constant => t + 1.0 / r,
            }),
            _ => None,
        };
    }

    /// A caller sends at `t` (while requests remain); a refused caller tries again at once.
    fn send(&mut self, sim: &mut Sim, caller: u32, t: f64, rng: &mut SimRng) {
        if self.issued >= self.requests {
            return;
        }
        let counted = self.issue(t);
        match sim.arrive(t, counted, rng) {
            Some(id) => {
                if self.callers_of.len() <= id as usize {
                    self.callers_of.resize(id as usize + 1, None);
                }
                self.callers_of[id as usize] = Some(caller);
            }
            None => sim.push(t, Kind::Send { caller }),
        }
    }

    /// Request `id` is answered at `t`; its caller, if any, sends again.
    fn answered(&self, sim: &mut Sim, id: u32, t: f64) {
        sim.finish(id, t);
        if let Some(Some(c)) = self.callers_of.get(id as usize) {
            sim.push(t, Kind::Send { caller: *c });
        }
    }

    /// Handles the event `kind` at `t`.
    fn handle(&mut self, sim: &mut Sim, kind: Kind, t: f64, rng: &mut SimRng) {
        match kind {
            Kind::Send { caller } => self.send(sim, caller, t, rng),
            Kind::CpuDone { dyno, version } => {
                for id in sim.cpu_done(dyno as usize, version, t) {
                    let other = sim.reqs[id as usize].demand.other;
                    if other > 0.0 {
                        sim.push(t + other, Kind::OtherDone { req: id });
                    } else {
                        self.answered(sim, id, t);
                    }
                }
            }
            Kind::OtherDone { req } => self.answered(sim, req, t),
            Kind::Forget { req } => sim.forget(req),
        }
    }
}

/// One sample from idle dynos, the first `warmup` requests not counted.
pub(in crate::simulate) fn run_sample(
    cfg: &EventConfig,
    cpu: Cpu,
    policy: Policy,
    demand: &DemandDist,
    load: Load,
    warmup: u64,
    rng: &mut SimRng,
) -> EventSample {
    let mut sim = Sim::new(cfg, cpu, policy, demand, rng);
    let mut src = Source::start(cfg, load, &mut sim);
    src.warmup = warmup.min(cfg.requests.saturating_sub(1));
    let mut now = 0.0f64;
    loop {
        let next_event = sim.events.peek().map(|Reverse((k, _, _))| f64::from_bits(*k));
        let take_arrival = match (src.next_arrival, next_event) {
            (Some(a), Some(e)) => a <= e,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_arrival {
            let t = src.next_arrival.expect("an arrival is due");
            now = t;
            src.arrive(&mut sim, t, cfg.arrivals, rng);
            continue;
        }
        let Some(Reverse((k, _, kind))) = sim.events.pop() else {
            break;
        };
        let t = f64::from_bits(k);
        now = t;
        src.handle(&mut sim, kind, t, rng);
    }
    let mut s = sim.s;
    s.window = src.first_counted.map_or(0.0, |f| now - f);
    s
}
