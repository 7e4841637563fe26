//! One dyno of the CPU engine: busy workers, the backlog, its processor-shared CPU, the
//! CFS-like quota per period (the class's own, 100 ms by default) with the kernel's CPU
//! burst accrual, and — for a burst-balance class — the balance stepped
//! every period by the CPU used ([`crate::limit::burst::Balance`], the same dynamics the
//! live controller applies every 100 ms), which sets the next period's quota.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::demand::{Cpu, EPS};
use crate::limit::burst::Balance;

/// Per-dyno state: busy workers, the backlog, and the processor-shared CPU.
pub(super) struct Dyno {
    pub(super) busy: u32,
    pub(super) queue: VecDeque<u32>,
    /// Attained service per computing job so far (seconds of CPU each has had).
    pub(super) v: f64,
    pub(super) last: f64,
    /// Computing jobs by the virtual time at which they finish their CPU phase.
    pub(super) computing: BinaryHeap<Reverse<(u64, u32)>>,
    pub(super) version: u64,
    /// CPU seconds left in the current quota period.
    pub(super) budget: f64,
    /// CPU seconds the current period started with (its quota, plus any burst accrued).
    granted: f64,
    /// When the current quota period ends.
    pub(super) period_end: f64,
    /// Out of quota until `period_end`.
    pub(super) throttled: bool,
    /// The quota of the current period, cores (a burst-balance class's changes).
    quota: f64,
    /// A burst-balance class's balance.
    balance: Option<Balance>,
}

impl Dyno {
    /// An idle dyno whose first quota period ends at `phase`.
    pub(super) fn new(cpu: Cpu, phase: f64) -> Dyno {
        let balance = cpu.burst.map(Balance::new);
        let quota = balance.map_or(cpu.quota.unwrap_or(0.0), |b| b.allowed());
        // An idle dyno has accrued its whole burst.
        let budget = cpu.per_period(quota).1;
        Dyno {
            busy: 0,
            queue: VecDeque::new(),
            v: 0.0,
            last: 0.0,
            computing: BinaryHeap::new(),
            version: 0,
            budget,
            granted: budget,
            period_end: phase,
            throttled: false,
            quota,
            balance,
        }
    }

    /// Each computing job's speed now.
    pub(super) fn rate(&self, cpu: Cpu) -> f64 {
        let k = self.computing.len() as f64;
        if k == 0.0 || self.throttled {
            0.0
        } else {
            (cpu.cores / k).min(1.0)
        }
    }

    /// Brings the virtual clock and the quota to `t` (events are scheduled at every period
    /// end while jobs compute, so no period boundary is crossed with work in between). At a
    /// period's end a burst balance is stepped by the CPU the period used, and by nothing
    /// for the idle periods after it.
    pub(super) fn advance(&mut self, t: f64, cpu: Cpu) {
        let r = self.rate(cpu);
        let dt = t - self.last;
        self.v += dt * r;
        if cpu.quota.is_some() {
            self.budget -= dt * r * self.computing.len() as f64;
        }
        self.last = t;
        if cpu.quota.is_some() && t >= self.period_end - EPS {
            let p = cpu.period;
            let periods = ((t - self.period_end) / p).floor() + 1.0;
            self.period_end += periods * p;
            let left = self.budget.max(0.0);
            if let Some(b) = &mut self.balance {
                let used = (self.granted - left).max(0.0);
                self.quota = b.step(used, p);
                if periods > 1.0 {
                    self.quota = b.step(0.0, (periods - 1.0) * p);
                }
            }
            // The kernel's refill (sched-bwc): each period's quota on top of what is left,
            // capped at one period's quota plus the burst — without a burst, the quota.
            let (q, cap) = cpu.per_period(self.quota);
            self.budget = (left + periods * q).min(cap);
            self.granted = self.budget;
            self.throttled = false;
        }
        if cpu.quota.is_some() && self.budget <= EPS && !self.computing.is_empty() {
            self.throttled = true;
        }
    }
}
