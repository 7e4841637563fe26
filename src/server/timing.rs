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

/// The three numbers of a schedstat line: time on CPU, time waiting to run, timeslices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchedStat {
    /// Nanoseconds spent running.
    pub run_ns: u64,
    /// Nanoseconds spent runnable but waiting for a CPU.
    pub wait_ns: u64,
    /// Number of timeslices run.
    pub slices: u64,
}

/// Parses a `/proc/.../schedstat` line.
pub fn parse_schedstat(s: &str) -> Option<SchedStat> {
    let mut it = s.split_ascii_whitespace().map(|x| x.parse::<u64>());
    Some(SchedStat {
        run_ns: it.next()?.ok()?,
        wait_ns: it.next()?.ok()?,
        slices: it.next()?.ok()?,
    })
}

/// Reads the calling thread's schedstat, or why it cannot.
pub fn thread_schedstat() -> Result<SchedStat, String> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .map_err(|e| format!("/proc/thread-self/schedstat unreadable ({e}); wait_us is 0"))?;
    parse_schedstat(&text).ok_or_else(|| {
        format!("/proc/thread-self/schedstat has an unexpected format ({text:?}); wait_us is 0")
    })
}

/// Cumulative steal time of every CPU, µs, indexed by CPU number (from `/proc/stat`, in
/// clock ticks: `USER_HZ`, usually 100/s, so each reading has a 10 ms resolution).
pub fn steal_per_cpu_us() -> Option<Vec<u64>> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_steal_per_cpu(&text, clock_ticks_per_s())
}

/// Parses the `cpuN` lines of `/proc/stat` text into steal µs per CPU number.
pub fn parse_steal_per_cpu(text: &str, ticks_per_s: u64) -> Option<Vec<u64>> {
    let mut out: Vec<u64> = Vec::new();
    for line in text.lines() {
        // `cpuN ...` lines only: the aggregate line is `cpu  ...`.
        let Some(rest) = line
            .strip_prefix("cpu")
            .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        else {
            continue;
        };
        let mut it = rest.split_ascii_whitespace();
        let Some(Ok(n)) = it.next().map(str::parse::<usize>) else {
            continue;
        };
        let steal: u64 = it.nth(7)?.parse().ok()?;
        if out.len() <= n {
            out.resize(n + 1, 0);
        }
        out[n] = steal * 1_000_000 / ticks_per_s.max(1);
    }
    (!out.is_empty()).then_some(out)
}

fn clock_ticks_per_s() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
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
    fn parses_schedstat() {
        assert_eq!(
            parse_schedstat("534731310 134441 47\n"),
            Some(SchedStat {
                run_ns: 534_731_310,
                wait_ns: 134_441,
                slices: 47
            })
        );
        assert_eq!(parse_schedstat("1 2"), None);
        assert_eq!(parse_schedstat("a b c"), None);
    }

    #[test]
    fn steal_per_cpu_from_proc_stat() {
        let text =
            "cpu  10 0 5 100 0 0 0 9 0 0\ncpu0 5 0 2 50 0 0 0 4 0 0\ncpu1 5 0 3 50 0 0 0 5 0 0\nintr 1 2\n";
        assert_eq!(parse_steal_per_cpu(text, 100), Some(vec![40_000, 50_000]));
        assert_eq!(parse_steal_per_cpu("intr 1\n", 100), None);
        let (b, a) = ([40_000u64, 50_000], [60_000u64, 50_000]);
        assert_eq!(steal_between(Some(0), Some(0), Some(&b), Some(&a)), 20_000);
        assert_eq!(steal_between(Some(0), Some(1), Some(&b), Some(&a)), 10_000);
        assert_eq!(steal_between(None, Some(1), Some(&b), Some(&a)), 0);
        assert!(steal_per_cpu_us().is_some(), "this Linux host has /proc/stat");
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
