//! Samples a running server once a second (sysinfo for memory and CPU, schedstat for the
//! number of runnable threads) into plain data: what the platform's log-runtime-metrics
//! would report for a dyno (`record::RuntimeSample`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::record::RuntimeSample;

/// A background sampler of one process.
pub struct Monitor {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<RuntimeSample>>>,
}

/// Sum of run + wait ns over the threads of `pid` (the time its threads were runnable).
fn runnable_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        if let Some(s) = std::fs::read_to_string(e.path().join("schedstat"))
            .ok()
            .and_then(|t| crate::procfs::parse_schedstat(&t))
        {
            total += s.run_ns + s.wait_ns;
        }
    }
    Some(total)
}

fn swap_bytes(pid: u32) -> u64 {
    crate::procfs::status_bytes(pid, "VmSwap").unwrap_or(0)
}

impl Monitor {
    /// Starts sampling `pid` every `period`.
    pub fn start(pid: u32, period: Duration) -> Monitor {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || sample_loop(pid, period, &s))
            .ok();
        Monitor { stop, handle }
    }

    /// Stops sampling and returns the samples.
    pub fn finish(mut self) -> Vec<RuntimeSample> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().and_then(|h| h.join().ok()).unwrap_or_default()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn sample_loop(pid: u32, mut period: Duration, stop: &AtomicBool) -> Vec<RuntimeSample> {
    let mut out = Vec::new();
    let Ok(mut sys) = System::new() else { return out };
    let spid = Pid::from_u32(pid);
    let kind = ProcessRefreshKind::nothing().with_memory().with_cpu();
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[spid]), true, kind);
    let (mut l1, mut l5, mut l15) = (0.0f64, 0.0f64, 0.0f64);
    let mut last = (Instant::now(), runnable_ns(pid));
    let mut next = Instant::now() + period;
    while !stop.load(Ordering::SeqCst) {
        // Sleep in short steps so stopping is prompt.
        while Instant::now() < next {
            if stop.load(Ordering::SeqCst) {
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        next += period;
        sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[spid]), true, kind);
        let Some(p) = sys.process(spid) else { break };
        let now = Instant::now();
        let runnable = runnable_ns(pid);
        let dt = now.duration_since(last.0).as_secs_f64();
        let n = match (last.1, runnable) {
            (Some(a), Some(b)) if dt > 0.0 => (b.saturating_sub(a)) as f64 / 1e9 / dt,
            _ => 0.0,
        };
        // Exponentially damped averages, as the kernel computes load averages.
        let decay = |minutes: f64| (-dt / (minutes * 60.0)).exp();
        l1 = l1 * decay(1.0) + n * (1.0 - decay(1.0));
        l5 = l5 * decay(5.0) + n * (1.0 - decay(5.0));
        l15 = l15 * decay(15.0) + n * (1.0 - decay(15.0));
        last = (now, runnable);
        out.push(RuntimeSample {
            unix_s: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            // A forking server's workers count too (the server leads its process group).
            rss_bytes: p.memory().max(crate::limit::group::rss_total(
                &crate::limit::group::process_group_members(pid as i32),
            )),
            swap_bytes: swap_bytes(pid),
            cpu_pct: f64::from(p.cpu_usage()),
            load_avg_1m: l1,
            load_avg_5m: l5,
            load_avg_15m: l15,
        });
        // A long run keeps a bounded record: every other sample, at twice the period.
        if out.len() >= MAX_SAMPLES {
            out = out.into_iter().step_by(2).collect();
            period *= 2;
        }
    }
    out
}

/// Most runtime samples kept per class; beyond it the samples thin out (memory stays flat).
pub const MAX_SAMPLES: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_a_busy_process() {
        let child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let m = Monitor::start(child.id(), Duration::from_millis(200));
        std::thread::sleep(Duration::from_millis(1100));
        let samples = m.finish();
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        assert!(samples.len() >= 3, "{samples:?}");
        let last = samples.last().unwrap();
        assert!(last.rss_bytes > 0);
        assert!(last.load_avg_1m > 0.0, "a busy thread is runnable: {last:?}");
        assert!(last.load_avg_1m >= last.load_avg_15m);
    }
}
