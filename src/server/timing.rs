//! Per-thread clocks for server-side timings: wall (monotonic), CPU (the thread CPU-time
//! clock) and CPU wait (`run_delay` from `/proc/thread-self/schedstat`: time runnable but
//! not running, which includes CFS throttling and time lost to neighbours).

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

/// A snapshot of the calling thread's clocks.
#[derive(Debug, Clone)]
pub struct ThreadClocks {
    wall: Instant,
    cpu_ns: u64,
    sched: Result<SchedStat, String>,
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
    /// Why `wait_us` is unavailable, if it is.
    pub note: Option<String>,
}

impl ThreadClocks {
    /// Takes a snapshot. Wall time is read first and CPU time last so the wall interval
    /// encloses the CPU and wait intervals.
    pub fn start() -> ThreadClocks {
        let wall = Instant::now();
        let sched = thread_schedstat();
        let cpu_ns = thread_cpu_ns();
        ThreadClocks { wall, cpu_ns, sched }
    }

    /// Time elapsed since `start`, on the same thread.
    pub fn elapsed(&self) -> Elapsed {
        let cpu_ns = thread_cpu_ns();
        let sched = thread_schedstat();
        let wall = self.wall.elapsed();
        let (wait_us, note) = match (&self.sched, &sched) {
            (Ok(a), Ok(b)) => (b.wait_ns.saturating_sub(a.wait_ns) / 1000, None),
            (Err(e), _) | (_, Err(e)) => (0, Some(e.clone())),
        };
        Elapsed {
            wall_us: wall.as_micros() as u64,
            cpu_us: cpu_ns.saturating_sub(self.cpu_ns) / 1000,
            wait_us,
            note,
        }
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
