//! Burst-balance CPUs (Fly.io shared CPUs, AWS burstable instances): a class may run at its
//! burst cores while a balance of burst time lasts; the balance drains by the CPU used
//! above the baseline and refills (× `refill`) below it; empty, the class is held at the
//! baseline. [`Balance`] is the pure model; [`Controller`] applies it to a running server
//! every 100 ms by setting the backend's quota (a cgroup's CFS quota, or the dutycycle
//! limiter's), and records the balance over time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::procfs::process_cpu_ns;
use crate::record::{BurstSample, BurstTrace};

/// Sets a server's CPU quota, in cores (a backend's cgroup file or its own limiter).
pub type QuotaSetter = Box<dyn Fn(f64) -> Result<(), String> + Send>;

/// How often the controller looks at the CPU used and sets the quota.
pub const STEP: Duration = Duration::from_millis(100);
/// The most samples kept (an hour of steps).
const MAX_SAMPLES: usize = 36_000;

/// A burst-balance CPU as applied: the class's figures and where the balance starts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BurstSpec {
    /// Cores the class may always use.
    pub baseline_cores: f64,
    /// Cores it may use while it has balance.
    pub burst_cores: f64,
    /// The most balance it can hold, core-seconds above the baseline.
    pub capacity_s: f64,
    /// Refill per unused baseline core-second.
    pub refill: f64,
    /// Balance at the start, core-seconds.
    pub start_s: f64,
}

/// The balance, stepped by the CPU used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Balance {
    spec: BurstSpec,
    /// Core-seconds of burst left.
    pub balance_s: f64,
    bursting: bool,
}

impl Balance {
    /// A balance at the spec's start.
    pub fn new(spec: BurstSpec) -> Balance {
        let balance_s = spec.start_s.clamp(0.0, spec.capacity_s);
        Balance {
            spec,
            balance_s,
            bursting: balance_s > 0.0,
        }
    }

    /// Balance needed to burst again once drained: one step at the burst (so that a
    /// drained class does not flap between baseline and burst on crumbs of refill).
    fn resume_at(&self) -> f64 {
        ((self.spec.burst_cores - self.spec.baseline_cores) * STEP.as_secs_f64()).min(self.spec.capacity_s)
    }

    /// The cores allowed now: the burst while there is balance, else the baseline.
    pub fn allowed(&self) -> f64 {
        if self.bursting {
            self.spec.burst_cores
        } else {
            self.spec.baseline_cores
        }
    }

    /// Accounts `used_s` core-seconds of CPU over `dt_s` seconds; returns the cores allowed
    /// next.
    pub fn step(&mut self, used_s: f64, dt_s: f64) -> f64 {
        let base = self.spec.baseline_cores * dt_s;
        let delta = if used_s > base {
            base - used_s
        } else {
            (base - used_s) * self.spec.refill
        };
        self.balance_s = (self.balance_s + delta).clamp(0.0, self.spec.capacity_s);
        self.bursting = if self.bursting {
            self.balance_s > 0.0
        } else {
            self.balance_s >= self.resume_at()
        };
        self.allowed()
    }

    /// Seconds until a full-speed consumer of `use_cores` drains a balance of `balance_s`:
    /// balance ÷ (CPU used per second − baseline); `None` when it never drains.
    pub fn drain_time(balance_s: f64, use_cores: f64, baseline_cores: f64) -> Option<f64> {
        (use_cores > baseline_cores).then(|| balance_s / (use_cores - baseline_cores))
    }
}

/// Applies a [`Balance`] to a running process, every [`STEP`].
pub struct Controller {
    stop: Arc<AtomicBool>,
    trace: Arc<Mutex<BurstTrace>>,
    thread: Option<JoinHandle<()>>,
}

impl Controller {
    /// Starts controlling `pid`: reads its CPU clock each step and calls `set_quota` with
    /// the cores allowed whenever they change (and once at the start).
    pub fn start(pid: i32, spec: BurstSpec, set_quota: QuotaSetter) -> Controller {
        let stop = Arc::new(AtomicBool::new(false));
        let trace = Arc::new(Mutex::new(BurstTrace {
            baseline_cores: spec.baseline_cores,
            burst_cores: spec.burst_cores,
            capacity_s: spec.capacity_s,
            start_s: spec.start_s.clamp(0.0, spec.capacity_s),
            ..BurstTrace::default()
        }));
        let (st, tr) = (stop.clone(), trace.clone());
        let thread = std::thread::Builder::new()
            .name("burst-balance".into())
            .spawn(move || run(pid, spec, set_quota, &st, &tr))
            .ok();
        Controller { stop, trace, thread }
    }

    /// The balance over time so far.
    pub fn trace(&self) -> BurstTrace {
        self.trace.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops controlling (the quota stays as last set).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(pid: i32, spec: BurstSpec, set_quota: QuotaSetter, stop: &AtomicBool, trace: &Mutex<BurstTrace>) {
    let mut b = Balance::new(spec);
    let mut cores = b.allowed();
    if let Err(e) = set_quota(cores) {
        trace.lock().unwrap_or_else(|p| p.into_inner()).errors.push(e);
    }
    let t0 = Instant::now();
    let unix0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let Some(mut cpu) = process_cpu_ns(pid) else {
        return;
    };
    let mut last = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(STEP);
        let Some(now_cpu) = process_cpu_ns(pid) else { break };
        let now = Instant::now();
        let used = now_cpu.saturating_sub(cpu) as f64 / 1e9;
        let dt = now.duration_since(last).as_secs_f64();
        (cpu, last) = (now_cpu, now);
        let next = b.step(used, dt);
        let mut tr = trace.lock().unwrap_or_else(|p| p.into_inner());
        if next != cores {
            cores = next;
            if let Err(e) = set_quota(cores) {
                tr.errors.push(e);
            }
            if cores == spec.baseline_cores && tr.drained_at_s.is_none() {
                tr.drained_at_s = Some(now.duration_since(t0).as_secs_f64());
            }
        }
        tr.cpu_s += used;
        if tr.samples.len() < MAX_SAMPLES {
            tr.samples.push(BurstSample {
                t_s: now.duration_since(t0).as_secs_f64(),
                unix_s: unix0 + now.duration_since(t0).as_secs_f64(),
                balance_s: b.balance_s,
                cores,
                cpu_cores: used / dt.max(1e-9),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(start: f64) -> BurstSpec {
        BurstSpec {
            baseline_cores: 0.1,
            burst_cores: 1.0,
            capacity_s: 2.0,
            refill: 1.0,
            start_s: start,
        }
    }

    #[test]
    fn drains_above_the_baseline_and_refills_below() {
        let mut b = Balance::new(spec(1.0));
        assert_eq!(b.allowed(), 1.0);
        // Full speed: 0.9 core-s above the baseline per second.
        let mut t = 0.0;
        while b.step(0.1, 0.1) == 1.0 {
            t += 0.1;
        }
        let want = Balance::drain_time(1.0, 1.0, 0.1).unwrap();
        assert!((t + 0.1 - want).abs() < 0.11, "drained after {t} s, model {want}");
        assert_eq!(b.allowed(), 0.1, "held at the baseline");
        // A crumb of refill does not resume the burst; a step's worth does.
        b.step(0.005, 0.1);
        assert_eq!(b.allowed(), 0.1);
        // Idle: refills at the unused baseline, 0.1 core-s per second, up to the capacity.
        for _ in 0..10 {
            b.step(0.0, 1.0);
        }
        assert!((b.balance_s - 1.005).abs() < 1e-9);
        assert_eq!(b.allowed(), 1.0, "bursting again");
        for _ in 0..100 {
            b.step(0.0, 1.0);
        }
        assert_eq!(b.balance_s, 2.0, "capped");
        assert_eq!(Balance::new(spec(0.0)).allowed(), 0.1, "a drained start");
        assert_eq!(Balance::drain_time(1.0, 0.05, 0.1), None);
    }
}
