//! What the server, driver and limiters read from `/proc` and the process CPU clocks:
//! another process's CPU time and resident memory (now and at its peak), the `kB` fields of
//! `/proc/<pid>/status`, schedstat lines, and host CPU steal from `/proc/stat` (both the
//! aggregate line and per CPU).

use std::fmt::Display;

use nix::unistd::Pid;

/// CPU time of process `pid`, ns (via its CPU-time clock), while it exists.
pub fn process_cpu_ns(pid: i32) -> Option<u64> {
    let clock = nix::time::clock_getcpuclockid(Pid::from_raw(pid)).ok()?;
    let t = nix::time::clock_gettime(clock).ok()?;
    Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

/// Resident pages of `/proc/<pid>/statm` (`pid` may be `self`).
pub fn resident_pages(pid: impl Display) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    statm.split_whitespace().nth(1)?.parse().ok()
}

/// Resident set size of `pid`, bytes.
pub fn rss_bytes(pid: i32) -> Option<u64> {
    Some(resident_pages(pid)? * 4096)
}

/// Peak RSS (`VmHWM`) of `pid`, bytes.
pub fn peak_rss_bytes(pid: i32) -> Option<u64> {
    status_bytes(pid, "VmHWM")
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, `VmSwap`, …), bytes; `pid` may
/// be `self`.
pub fn status_bytes(pid: impl Display, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_bytes(&status, field)
}

/// The `kB` field `field` of `/proc/<pid>/status` text, bytes.
pub fn parse_status_bytes(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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

fn proc_stat() -> Option<String> {
    std::fs::read_to_string("/proc/stat").ok()
}

/// Cumulative (steal, total) CPU jiffies of the host, from `/proc/stat`.
pub fn cpu_jiffies() -> Option<(u64, u64)> {
    parse_cpu_line(proc_stat()?.lines().next()?)
}

/// Parses the aggregate `cpu  user nice system idle iowait irq softirq steal …` line.
pub fn parse_cpu_line(line: &str) -> Option<(u64, u64)> {
    let mut it = line.split_whitespace();
    if it.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = it.take(8).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 8 {
        return None;
    }
    Some((v[7], v.iter().sum()))
}

/// Cumulative steal time of every CPU, µs, indexed by CPU number (from `/proc/stat`, in
/// clock ticks: `USER_HZ`, usually 100/s, so each reading has a 10 ms resolution).
pub fn steal_per_cpu_us() -> Option<Vec<u64>> {
    parse_steal_per_cpu(&proc_stat()?, clock_ticks_per_s())
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
        assert!(steal_per_cpu_us().is_some(), "this Linux host has /proc/stat");
    }

    #[test]
    fn status_fields() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nVmSwap:\t0 kB\n";
        assert_eq!(parse_status_bytes(status, "VmRSS"), Some(1024 * 1024));
        assert_eq!(parse_status_bytes(status, "VmHWM"), Some(2048 * 1024));
        assert_eq!(parse_status_bytes(status, "VmSwap"), Some(0));
        assert_eq!(parse_status_bytes(status, "VmPTE"), None);
        assert!(status_bytes("self", "VmRSS").is_some_and(|b| b > 0));
    }
}
