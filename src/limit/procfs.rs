//! What `/proc` and the process CPU clocks tell about another process: its CPU time, its
//! resident memory now and at its peak (the user-space backends' counters).

use nix::unistd::Pid;

/// CPU time of process `pid`, ns (via its CPU-time clock), while it exists.
pub fn process_cpu_ns(pid: i32) -> Option<u64> {
    let clock = nix::time::clock_getcpuclockid(Pid::from_raw(pid)).ok()?;
    let t = nix::time::clock_gettime(clock).ok()?;
    Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

/// Resident set size of `pid`, bytes.
pub fn rss_bytes(pid: i32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Peak RSS (`VmHWM`) of `pid`, bytes.
pub fn peak_rss_bytes(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
