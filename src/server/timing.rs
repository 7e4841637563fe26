//! Per-thread clocks for server-side timings: wall (monotonic), CPU (the thread CPU-time
//! clock), CPU wait (`run_delay` from `/proc/thread-self/schedstat`: time runnable but not
//! running, which includes CFS throttling and time lost to neighbours), hypervisor steal of
//! the CPU the thread ran on (`/proc/stat`), and the thread's page faults and voluntary
//! context switches (`getrusage(RUSAGE_THREAD)`).
//!
//! Why steal: on a virtual machine whose kernel accounts steal (`PARAVIRT_TIME_ACCOUNTING`),
//! time the hypervisor takes from a running vCPU is in neither the thread's CPU clock nor
//! its run delay, so wall − CPU − wait is mostly steal. What is left after steal is time the
//! thread was blocked (major page faults, lock waits: see the fault and switch counts).

use std::time::Instant;

use crate::procfs::{SchedStat, steal_per_cpu_us, thread_schedstat};

/// CPU time consumed by the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The CPU the calling thread runs on now.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no arguments and only returns a number.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).ok()
}

/// Page faults and context switches of the calling thread so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadUsage {
    /// Major page faults (the thread waited for I/O to bring a page in).
    pub major_faults: u64,
    /// Voluntary context switches (the thread blocked: I/O, a lock, a sleep).
    pub voluntary_switches: u64,
}

/// The calling thread's usage (`getrusage(RUSAGE_THREAD)`).
pub fn thread_usage() -> ThreadUsage {
    // SAFETY: getrusage writes into the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return ThreadUsage::default();
    }
    ThreadUsage {
        major_faults: ru.ru_majflt as u64,
        voluntary_switches: ru.ru_nvcsw as u64,
    }
}

/// A snapshot of the calling thread's clocks.
#[derive(Debug, Clone)]
pub struct ThreadClocks {
    wall: Instant,
    cpu_ns: u64,
    sched: Result<SchedStat, String>,
    cpu: Option<usize>,
    steal: Option<Vec<u64>>,
    usage: ThreadUsage,
}

/// Elapsed wall, CPU and wait time of a thread between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elapsed {
    /// Wall-clock microseconds.
    pub wall_us: u64,
    /// Thread CPU microseconds.
    pub cpu_us: u64,
    /// Runnable-but-not-running microseconds (0 when unavailable).
    pub wait_us: u64,
    /// Hypervisor steal of the CPU(s) the thread ran on, µs (an estimate with the 10 ms
    /// resolution of `/proc/stat`; 0 when unavailable).
    pub steal_us: u64,
    /// Major page faults during the interval.
    pub major_faults: u64,
    /// Voluntary context switches during the interval.
    pub voluntary_switches: u64,
    /// Why `wait_us` is unavailable, if it is.
    pub note: Option<String>,
}

impl ThreadClocks {
    /// Takes a snapshot. Wall time is read first and CPU time last so the wall interval
    /// encloses the CPU and wait intervals.
    /// Steal and usage are read outside the wall interval, so reading them costs the
    /// measured work nothing.
    pub fn start() -> ThreadClocks {
        let cpu = current_cpu();
        let steal = steal_per_cpu_us();
        let usage = thread_usage();
        let wall = Instant::now();
        let sched = thread_schedstat();
        let cpu_ns = thread_cpu_ns();
        ThreadClocks {
            wall,
            cpu_ns,
            sched,
            cpu,
            steal,
            usage,
        }
    }

    /// Time elapsed since `start`, on the same thread.
    pub fn elapsed(&self) -> Elapsed {
        let cpu_ns = thread_cpu_ns();
        let sched = thread_schedstat();
        let wall = self.wall.elapsed();
        let usage = thread_usage();
        let steal = steal_per_cpu_us();
        let cpu = current_cpu();
        let (wait_us, note) = match (&self.sched, &sched) {
            (Ok(a), Ok(b)) => (b.wait_ns.saturating_sub(a.wait_ns) / 1000, None),
            (Err(e), _) | (_, Err(e)) => (0, Some(e.clone())),
        };
        Elapsed {
            wall_us: wall.as_micros() as u64,
            cpu_us: cpu_ns.saturating_sub(self.cpu_ns) / 1000,
            wait_us,
            steal_us: steal_between(self.cpu, cpu, self.steal.as_deref(), steal.as_deref()),
            major_faults: usage.major_faults.saturating_sub(self.usage.major_faults),
            voluntary_switches: usage
                .voluntary_switches
                .saturating_sub(self.usage.voluntary_switches),
            note,
        }
    }
}

/// Steal over an interval on the CPU a thread ran on: that CPU's change when the thread
/// started and ended on the same CPU, else the mean of the two CPUs' changes.
pub fn steal_between(
    cpu0: Option<usize>,
    cpu1: Option<usize>,
    before: Option<&[u64]>,
    after: Option<&[u64]>,
) -> u64 {
    let (Some(b), Some(a)) = (before, after) else {
        return 0;
    };
    let delta = |c: usize| a.get(c).zip(b.get(c)).map_or(0, |(x, y)| x.saturating_sub(*y));
    match (cpu0, cpu1) {
        (Some(x), Some(y)) if x == y => delta(x),
        (Some(x), Some(y)) => (delta(x) + delta(y)) / 2,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_between_cpus() {
        let (b, a) = ([40_000u64, 50_000], [60_000u64, 50_000]);
        assert_eq!(steal_between(Some(0), Some(0), Some(&b), Some(&a)), 20_000);
        assert_eq!(steal_between(Some(0), Some(1), Some(&b), Some(&a)), 10_000);
        assert_eq!(steal_between(None, Some(1), Some(&b), Some(&a)), 0);
    }

    #[test]
    fn cpu_clock_advances_when_busy() {
        let c = ThreadClocks::start();
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed().as_millis() < 20 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let e = c.elapsed();
        assert!(e.cpu_us > 5_000, "{e:?}");
        assert!(e.wall_us >= e.cpu_us, "{e:?}");
    }
}
