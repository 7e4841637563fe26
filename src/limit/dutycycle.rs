//! The user-space fallback (`dutycycle`): it holds the server
//! to its CPU quota by SIGSTOP/SIGCONT, checked every 5 ms against the process CPU clock
//! (a token bucket: like cpulimit, but charged by CPU actually used, so multi-threaded
//! servers are held to cores, not to wall-clock slots), approximates the neighbour weight by
//! lowering the server's nice value, and kills the server at the hard memory limit.
//! Coarser than cgroups: stalls stop the whole process and last at least one tick.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::backend::{Backend, SandboxSpec};
use super::procfs::{peak_rss_bytes, process_cpu_ns, rss_bytes};
use crate::record::{AppliedLimits, Counters, LimiterKind};

/// How often the controller looks at the server.
pub const TICK: Duration = Duration::from_millis(5);
/// The most unused quota that can be saved up for a burst.
const MAX_CREDIT: Duration = Duration::from_millis(100);

/// CFS weights by nice value -20..=19 (kernel `sched_prio_to_weight`).
const NICE_WEIGHTS: [u64; 40] = [
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904, 3906, 3121,
    2501, 1991, 1586, 1277, 1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87, 70, 56, 45, 36, 29,
    23, 18, 15,
];

/// The non-negative nice value whose weight against nice-0 neighbours best gives the
/// server `1 / (1 + ratio)` of a contended CPU.
pub fn nice_for_ratio(ratio: f64) -> i32 {
    let target = 1024.0 / ratio.max(1e-6);
    (0..20)
        .min_by(|&a, &b| {
            let da = (NICE_WEIGHTS[(a + 20) as usize] as f64 / target).ln().abs();
            let db = (NICE_WEIGHTS[(b + 20) as usize] as f64 / target).ln().abs();
            da.total_cmp(&db)
        })
        .unwrap_or(0)
}

/// Whether the dutycycle backend works here: it needs to read a process CPU clock.
pub fn available() -> Result<(), String> {
    process_cpu_ns(std::process::id() as i32)
        .map(|_| ())
        .ok_or_else(|| "cannot read process CPU clocks (clock_getcpuclockid)".into())
}

#[derive(Default)]
struct Shared {
    stopped_ns: AtomicU64,
    peak_rss: AtomicU64,
    kills: AtomicU64,
}

/// The dutycycle backend.
pub(crate) struct Dutycycle {
    quota: Option<f64>,
    hard: Option<u64>,
    nice: Option<i32>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Dutycycle {
    pub(crate) fn new(spec: &SandboxSpec) -> Dutycycle {
        Dutycycle {
            quota: spec.cpu.quota_cores,
            hard: spec.memory_hard_bytes,
            nice: spec.cpu.neighbour_weight_ratio.map(nice_for_ratio),
            shared: Arc::new(Shared::default()),
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
        }
    }

    fn stop_controller(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

fn control(pid: i32, quota: Option<f64>, hard: Option<u64>, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    let p = Pid::from_raw(pid);
    let Some(mut last_cpu) = process_cpu_ns(pid) else {
        return;
    };
    let mut last = Instant::now();
    let mut credit_ns = 0.0f64;
    let mut stopped_since: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(TICK);
        let now = Instant::now();
        let Some(cpu) = process_cpu_ns(pid) else { break };
        if let Some(q) = quota {
            let dt = now.duration_since(last).as_nanos() as f64;
            credit_ns += q * dt - cpu.saturating_sub(last_cpu) as f64;
            credit_ns = credit_ns.min(q * MAX_CREDIT.as_nanos() as f64);
            match stopped_since {
                None if credit_ns < 0.0 => {
                    if kill(p, Signal::SIGSTOP).is_err() {
                        break;
                    }
                    stopped_since = Some(now);
                }
                Some(t) if credit_ns >= 0.0 => {
                    let _ = kill(p, Signal::SIGCONT);
                    shared
                        .stopped_ns
                        .fetch_add(now.duration_since(t).as_nanos() as u64, Ordering::Relaxed);
                    stopped_since = None;
                }
                _ => {}
            }
        }
        if let Some(limit) = hard
            && let Some(rss) = rss_bytes(pid)
        {
            shared.peak_rss.fetch_max(rss, Ordering::Relaxed);
            if rss > limit {
                let _ = kill(p, Signal::SIGKILL);
                shared.kills.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        last = now;
        last_cpu = cpu;
    }
    if let Some(t) = stopped_since {
        let _ = kill(p, Signal::SIGCONT);
        shared
            .stopped_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

impl Backend for Dutycycle {
    fn kind(&self) -> LimiterKind {
        LimiterKind::Dutycycle
    }

    fn server_join(&self) -> Result<Vec<File>, String> {
        Ok(Vec::new())
    }

    fn neighbour_join(&self) -> Result<Vec<File>, String> {
        Ok(Vec::new())
    }

    fn server_nice(&self) -> Option<i32> {
        self.nice.filter(|&n| n > 0)
    }

    fn started(&mut self, pid: i32) {
        if self.quota.is_none() && self.hard.is_none() {
            return;
        }
        let (q, h, sh, st) = (self.quota, self.hard, self.shared.clone(), self.stop.clone());
        let t = std::thread::Builder::new()
            .name("dutycycle".into())
            .spawn(move || control(pid, q, h, sh, st))
            .ok();
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }

    fn before_stop(&mut self) {
        self.stop_controller();
    }

    fn counters(&self, server: Option<i32>, neighbours: &[i32]) -> Counters {
        let nb: Option<u64> = if neighbours.is_empty() {
            None
        } else {
            Some(neighbours.iter().filter_map(|&p| process_cpu_ns(p)).sum::<u64>() / 1000)
        };
        let peak = server
            .and_then(peak_rss_bytes)
            .max(Some(self.shared.peak_rss.load(Ordering::Relaxed)).filter(|&b| b > 0));
        Counters {
            cpu_usage_us: server.and_then(process_cpu_ns).map(|ns| ns / 1000),
            nr_periods: None,
            nr_throttled: None,
            throttled_us: None,
            memory_peak_bytes: peak,
            oom_kills: Some(self.shared.kills.load(Ordering::Relaxed)),
            neighbour_cpu_us: nb,
            stopped_us: self
                .quota
                .map(|_| self.shared.stopped_ns.load(Ordering::Relaxed) / 1000),
        }
    }

    fn describe(&self, a: &mut AppliedLimits) {
        a.period_us = TICK.as_micros() as u64;
        a.weight = self.nice.map(|n| NICE_WEIGHTS[(n + 20) as usize]);
        a.neighbour_weight = self.nice.map(|_| 1024);
        a.warnings.push(
            "dutycycle limiter: quota enforced in user space by SIGSTOP/SIGCONT every 5 ms (coarser than cgroups); \
             the neighbour share is approximated with nice"
                .into(),
        );
        if a.burst_us > 0 {
            a.warnings
                .push("dutycycle limiter: CFS burst is not emulated".into());
            a.burst_us = 0;
        }
    }

    fn destroy(&mut self) -> Vec<String> {
        self.stop_controller();
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_approximates_weight_ratios() {
        // Floor 1/6 of a CPU: neighbours weigh 5x the server -> nice 7 (215 vs 1024, 1:4.8).
        assert_eq!(nice_for_ratio(5.0), 7);
        // Floor 1/3: 2x -> nice 3 (526 vs 1024, 1:1.95).
        assert_eq!(nice_for_ratio(2.0), 3);
        assert_eq!(nice_for_ratio(1.0), 0);
    }

    #[test]
    fn reads_own_cpu_clock_and_memory() {
        use crate::limit::procfs::{peak_rss_bytes, process_cpu_ns, rss_bytes};
        let me = std::process::id() as i32;
        assert!(process_cpu_ns(me).unwrap() > 0);
        assert!(rss_bytes(me).unwrap() > 0);
        assert!(peak_rss_bytes(me).unwrap() >= rss_bytes(me).unwrap() / 2);
        assert!(available().is_ok());
    }
}
