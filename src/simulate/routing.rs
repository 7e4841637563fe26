//! The event engine's dynos and routers: per-dyno FIFO state (worker free-times and the
//! start times of waiting requests) and one router per policy, deciding where each arrival
//! goes from what that policy can know.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::RngExt;

use super::common::SimRng;
use super::policy::{MinPicker, two_choices};

/// Per-dyno state: worker free-times and the start times of the requests still waiting.
pub(crate) struct Dynos {
    w: usize,
    /// When each worker (dyno-major) is next free.
    pub(crate) free: Vec<f64>,
    /// Per dyno, the start times of the requests waiting, in FIFO order.
    pub(crate) waiting: Vec<VecDeque<f64>>,
}

impl Dynos {
    pub(crate) fn new(n: usize, w: usize) -> Dynos {
        Dynos {
            w,
            free: vec![0.0; n * w],
            waiting: vec![VecDeque::new(); n],
        }
    }

    /// Requests waiting on dyno `d` at time `now` (starts are in FIFO order, so the ones that
    /// have started are at the front).
    #[inline]
    pub(crate) fn waiting_now(&mut self, d: usize, now: f64) -> usize {
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
    pub(crate) fn in_system(&mut self, d: usize, now: f64) -> usize {
        let waiting = self.waiting_now(d, now);
        waiting
            + self.free[d * self.w..(d + 1) * self.w]
                .iter()
                .filter(|&&f| f > now)
                .count()
    }

    /// The worker of dyno `d` that is free first, and when.
    #[inline]
    pub(crate) fn earliest_worker(&self, d: usize) -> (usize, f64) {
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
pub(crate) trait EventRouter {
    /// Picks a dyno (and the router that sends) for a request arriving at `now`.
    fn route(&mut self, now: f64, dynos: &mut Dynos, rng: &mut SimRng) -> (usize, u32);
    /// The dyno accepted the request; it ends at `finish`, and the router stops waiting for
    /// it at `router_done` (= min(finish, arrival + timeout)).
    fn accepted(&mut self, d: usize, r: u32, finish: f64, router_done: f64);
}

pub(crate) struct RandomRouter(pub(crate) usize);
impl EventRouter for RandomRouter {
    #[inline]
    fn route(&mut self, _: f64, _: &mut Dynos, rng: &mut SimRng) -> (usize, u32) {
        (rng.random_range(0..self.0), 0)
    }
    #[inline]
    fn accepted(&mut self, _: usize, _: u32, _: f64, _: f64) {}
}

pub(crate) struct RoundRobinRouter {
    pub(crate) n: usize,
    pub(crate) next: usize,
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
pub(crate) struct LeastConnRouter {
    pub(crate) picker: MinPicker,
    pub(crate) ends: BinaryHeap<Reverse<(u64, u32)>>,
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
pub(crate) struct PerRouter {
    pub(crate) routers: Vec<MinPicker>,
    pub(crate) ends: BinaryHeap<Reverse<(u64, u32, u32)>>,
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

pub(crate) struct TwoChoices(pub(crate) usize);
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
