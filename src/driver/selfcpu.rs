//! The driver's own CPU: this process's CPU time (all threads) and the calling thread's
//! (the async runtime drives every call on one thread), from getrusage, and the CPUs it
//! may run on (its affinity: its own CPU when pinned).

use nix::sys::resource::{UsageWho, getrusage};

fn secs(who: UsageWho) -> Option<f64> {
    let u = getrusage(who).ok()?;
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Some(s(u.user_time()) + s(u.system_time()))
}

/// CPU time of the whole process (user + system), s.
pub(crate) fn process_cpu_s() -> Option<f64> {
    secs(UsageWho::RUSAGE_SELF)
}

/// CPU time of the calling thread (user + system), s.
pub(crate) fn thread_cpu_s() -> Option<f64> {
    secs(UsageWho::RUSAGE_THREAD)
}

/// CPUs the calling thread may run on now.
pub(crate) fn allowed_cores() -> Option<u32> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    let n = (0..nix::sched::CpuSet::count())
        .filter(|&i| set.is_set(i).unwrap_or(false))
        .count();
    (n > 0).then_some(n as u32)
}

/// The driver's CPU readings at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuReading {
    at: std::time::Instant,
    process_s: Option<f64>,
    thread_s: Option<f64>,
}

impl CpuReading {
    /// Reads now (call it on the thread that drives the calls).
    pub(crate) fn now() -> CpuReading {
        CpuReading {
            at: std::time::Instant::now(),
            process_s: process_cpu_s(),
            thread_s: thread_cpu_s(),
        }
    }

    /// (wall s, process CPU s, driving thread's CPU s) since `self`.
    pub(crate) fn since(&self) -> (f64, Option<f64>, Option<f64>) {
        let now = CpuReading::now();
        let d = |a: Option<f64>, b: Option<f64>| Some((b? - a?).max(0.0));
        (
            now.at.duration_since(self.at).as_secs_f64(),
            d(self.process_s, now.process_s),
            d(self.thread_s, now.thread_s),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work_and_cores_are_known() {
        let r = CpuReading::now();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed().as_millis() < 30 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let (wall, process, thread) = r.since();
        assert!(wall > 0.0);
        assert!(process.is_some_and(|p| p > 0.0) && thread.is_some_and(|t| t > 0.0));
        assert!(allowed_cores().is_some_and(|n| n >= 1));
    }
}
