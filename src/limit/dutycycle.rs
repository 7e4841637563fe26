//! The user-space fallback (`dutycycle`): it holds the server to its CPU quota the way CFS
//! bandwidth control does — per period (the class's, 100 ms by default), run until the
//! period's quota of CPU (by the process CPU clock, so multi-threaded servers are held to
//! cores) is used, then stop (SIGSTOP) until the period ends — so a class shows the same
//! stalls, and the same tail, as under a kernel quota. CPU burst follows the kernel's
//! refill rule (sched-bwc): each period adds the quota to what is left, up to quota + burst,
//! so usage over any span of periods is at most burst + quota × periods. It approximates the
//! neighbour weight by lowering the server's
//! nice value and kills the server at the hard memory limit. Unlike cgroups, a stall stops
//! the whole process — and its whole process group: a forking server's workers are stopped,
//! counted (CPU, memory) and killed with it.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::backend::{Backend, SandboxSpec};
use super::group;
use crate::procfs::{peak_rss_bytes, process_cpu_ns};
use crate::record::{AppliedLimits, Counters, LimiterKind};

/// The shortest sleep between CPU checks while quota remains.
const MIN_NAP: Duration = Duration::from_micros(500);
/// The longest sleep between memory checks.
const MEMORY_CHECK: Duration = Duration::from_millis(10);

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
    /// The quota in cores as f64 bits (a burst-balance CPU changes it while the server runs).
    quota: Option<Arc<AtomicU64>>,
    period: Duration,
    burst_us: u64,
    hard: Option<u64>,
    cpus: usize,
    nice: Option<i32>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Dutycycle {
    pub(crate) fn new(spec: &SandboxSpec) -> Dutycycle {
        Dutycycle {
            quota: spec
                .cpu
                .quota_cores
                .map(|q| Arc::new(AtomicU64::new(q.to_bits()))),
            period: Duration::from_micros(spec.cpu.period_us.max(1000)),
            burst_us: spec.cpu.burst_us,
            hard: spec.memory_hard_bytes,
            cpus: spec.cpu.cpus.len(),
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

/// How the controller meters CPU: the period and the burst.
#[derive(Debug, Clone, Copy)]
struct Meter {
    period: Duration,
    burst_ns: f64,
}

/// The runtime a period starts with, as the kernel refills it: what was left (negative: an
/// overrun to repay) plus the period's quota, at most quota + burst.
fn refill(left_ns: f64, budget_ns: f64, burst_ns: f64) -> f64 {
    (left_ns.max(-budget_ns) + budget_ns).min(budget_ns + burst_ns)
}

/// Holds `pid` to `quota` cores the way CFS bandwidth control does: in each period the
/// process runs until it has used the period's runtime (`quota × period`, plus what burst
/// carried over), then it is stopped until the period ends. The controller sleeps for as
/// long as the remaining runtime must last at the most (all `cpus` busy), so it stops the
/// process within a fraction of a millisecond of the runtime running out; it looks at
/// memory at least every 10 ms.
fn control(
    pid: i32,
    quota: Option<Arc<AtomicU64>>,
    meter: Meter,
    cpus: usize,
    hard: Option<u64>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) {
    // Signals go to the server's process group (it leads one): forked workers too.
    let p = Pid::from_raw(-pid);
    let period_ns = meter.period.as_nanos() as f64;
    let cpus = cpus.max(1) as f64;
    let mut stopped_since: Option<Instant> = None;
    // Runtime left from the previous period: unused quota accrues up to the burst; CPU used
    // beyond the runtime is repaid from the next period's, as CFS carries a group's overrun,
    // so the average holds even when the stop lands late.
    let mut left_ns = 0.0f64;
    'periods: while !stop.load(Ordering::SeqCst) {
        let start = Instant::now();
        let end = start + meter.period;
        if let Some(t) = stopped_since.take() {
            let _ = kill(p, Signal::SIGCONT);
            shared
                .stopped_ns
                .fetch_add(start.duration_since(t).as_nanos() as u64, Ordering::Relaxed);
        }
        // The group's members, looked up once a period (a forking server's workers).
        let members = group::process_group_members(pid);
        if process_cpu_ns(pid).is_none() || members.is_empty() {
            break;
        }
        let cpu_now = || group::cpu_ns(&members);
        let cpu0 = cpu_now();
        // This period's budget (the quota may have changed: burst balance).
        let budget_ns = quota.as_ref().map(|q| {
            let b = f64::from_bits(q.load(Ordering::Relaxed)) * period_ns;
            refill(left_ns, b, meter.burst_ns)
        });
        loop {
            if stop.load(Ordering::SeqCst) {
                break 'periods;
            }
            if let Some(limit) = hard
                && let rss = group::rss_total(&members)
                && rss > 0
            {
                shared.peak_rss.fetch_max(rss, Ordering::Relaxed);
                if rss > limit {
                    let _ = kill(p, Signal::SIGKILL);
                    shared.kills.fetch_add(1, Ordering::Relaxed);
                    break 'periods;
                }
            }
            let now = Instant::now();
            if now >= end {
                if let Some(budget) = budget_ns {
                    let used = cpu_now().saturating_sub(cpu0) as f64;
                    left_ns = budget - used;
                }
                break;
            }
            let left = end - now;
            let nap = match budget_ns {
                Some(budget) => {
                    if process_cpu_ns(pid).is_none() {
                        break 'periods;
                    }
                    let cpu = cpu_now();
                    let remaining = budget - cpu.saturating_sub(cpu0) as f64;
                    if remaining <= 0.0 {
                        // Quota used up: hold the process until the period ends.
                        if kill(p, Signal::SIGSTOP).is_err() {
                            break 'periods;
                        }
                        stopped_since = Some(Instant::now());
                        // The stop lands when the process next enters the kernel (up to a
                        // scheduler tick later): charge what it really used by then.
                        wait_stopped(pid);
                        let used = cpu_now().max(cpu).saturating_sub(cpu0) as f64;
                        left_ns = budget - used;
                        sleep_until(end, &stop);
                        break;
                    }
                    // Half of the shortest time the rest can last: the checks close in on
                    // the moment the quota runs out.
                    Duration::from_nanos((remaining / cpus / 2.0) as u64).max(MIN_NAP)
                }
                None => MEMORY_CHECK,
            };
            std::thread::sleep(nap.min(MEMORY_CHECK).min(left));
        }
    }
    if let Some(t) = stopped_since {
        let _ = kill(p, Signal::SIGCONT);
        shared
            .stopped_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// Waits (at most 20 ms) until every thread of `pid` is stopped.
fn wait_stopped(pid: i32) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(20) {
        let stopped = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| {
                d.flatten().all(|e| {
                    std::fs::read_to_string(e.path().join("stat"))
                        .ok()
                        .and_then(|s| {
                            s.rsplit_once(") ")
                                .map(|(_, r)| r.starts_with('T') || r.starts_with('t'))
                        })
                        .unwrap_or(true)
                })
            })
            .unwrap_or(true);
        if stopped {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Sleeps until `t`, waking early when `stop` is set.
fn sleep_until(t: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= t {
            return;
        }
        std::thread::sleep((t - now).min(MEMORY_CHECK));
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
        let (q, n, h) = (self.quota.clone(), self.cpus, self.hard);
        let (sh, st) = (self.shared.clone(), self.stop.clone());
        let meter = Meter {
            period: self.period,
            burst_ns: self.burst_us as f64 * 1000.0,
        };
        let t = std::thread::Builder::new()
            .name("dutycycle".into())
            .spawn(move || control(pid, q, meter, n, h, sh, st))
            .ok();
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }

    fn before_stop(&mut self) {
        self.stop_controller();
    }

    fn quota_setter(&self) -> Option<super::burst::QuotaSetter> {
        let q = self.quota.clone()?;
        Some(Box::new(move |cores: f64| {
            q.store(cores.to_bits(), Ordering::Relaxed);
            Ok(())
        }))
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
        let members = server.map(group::process_group_members).unwrap_or_default();
        let peak = peak.max(Some(group::rss_total(&members)).filter(|&b| b > 0));
        Counters {
            cpu_usage_us: server
                .and_then(process_cpu_ns)
                .map(|ns| ns.max(group::cpu_ns(&members)) / 1000),
            nr_periods: None,
            nr_throttled: None,
            throttled_us: None,
            memory_peak_bytes: peak,
            oom_kills: Some(self.shared.kills.load(Ordering::Relaxed)),
            neighbour_cpu_us: nb,
            stopped_us: self
                .quota
                .as_ref()
                .map(|_| self.shared.stopped_ns.load(Ordering::Relaxed) / 1000),
        }
    }

    fn describe(&self, a: &mut AppliedLimits) {
        a.period_us = self.period.as_micros() as u64;
        a.burst_us = self.burst_us;
        a.weight = self.nice.map(|n| NICE_WEIGHTS[(n + 20) as usize]);
        a.neighbour_weight = self.nice.map(|_| 1024);
        a.warnings.push(format!(
            "dutycycle limiter: quota enforced per {} ms period in user space by SIGSTOP/SIGCONT, as CFS does \
             (a stall stops the whole process){}; the neighbour share is approximated with nice",
            self.period.as_secs_f64() * 1000.0,
            if self.burst_us > 0 {
                ", with the kernel's burst rule (unused quota accrues up to the burst)"
            } else {
                ""
            }
        ));
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
    fn refill_accrues_unused_quota_up_to_the_burst() {
        // No burst: every period starts with its quota, an overrun is repaid.
        assert_eq!(refill(30.0, 50.0, 0.0), 50.0);
        assert_eq!(refill(-10.0, 50.0, 0.0), 40.0);
        // Burst 50: idle periods accrue up to quota + burst, never more.
        assert_eq!(refill(50.0, 50.0, 50.0), 100.0);
        assert_eq!(refill(100.0, 50.0, 50.0), 100.0);
        assert_eq!(refill(20.0, 50.0, 50.0), 70.0);
        // Usage over k periods never exceeds burst + quota x k.
        let (mut left, mut used) = (0.0, 0.0);
        for k in 1..=20 {
            let avail = refill(left, 50.0, 50.0);
            let u = if k % 3 == 0 { avail } else { 10.0 };
            used += u;
            left = avail - u;
            assert!(used <= 50.0 + 50.0 * k as f64 + 1e-9);
        }
    }

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
        use crate::procfs::{peak_rss_bytes, process_cpu_ns, rss_bytes};
        let me = std::process::id() as i32;
        assert!(process_cpu_ns(me).unwrap() > 0);
        assert!(rss_bytes(me).unwrap() > 0);
        assert!(peak_rss_bytes(me).unwrap() >= rss_bytes(me).unwrap() / 2);
        assert!(available().is_ok());
    }
}
