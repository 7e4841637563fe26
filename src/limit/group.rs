//! The whole of a server, not only its first process: the members of its cgroup or process
//! group (forking servers: Puma, Gunicorn, Unicorn, Node clusters), their CPU time, run
//! delay, memory and listening ports, CPU pressure (PSI) of a v2 group, and killing every
//! member (`cgroup.kill` on v2, every task of a v1 group, the process group otherwise).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::cgroupfs::read;
use crate::procfs::{process_cpu_ns, rss_bytes};

/// Processes whose process group is `pgid` (found by scanning `/proc`).
pub fn process_group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| stat_pgid(&s))
                == Some(pgid)
        })
        .collect()
}

/// The process group field of a `/proc/PID/stat` line.
fn stat_pgid(stat: &str) -> Option<i32> {
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
    stat.rsplit_once(") ")?.1.split_whitespace().nth(2)?.parse().ok()
}

/// Processes listed in a cgroup directory's `cgroup.procs`.
pub fn cgroup_members(dir: &Path) -> Vec<i32> {
    read(dir, "cgroup.procs")
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Total CPU time of `pids` that are still alive, ns.
pub fn cpu_ns(pids: &[i32]) -> u64 {
    pids.iter().filter_map(|&p| process_cpu_ns(p)).sum()
}

/// Total resident memory of `pids`, bytes.
pub fn rss_total(pids: &[i32]) -> u64 {
    pids.iter().filter_map(|&p| rss_bytes(p)).sum()
}

/// Total run delay (time runnable but waiting for a CPU, including CFS throttling) of every
/// thread of `pids`, ns, from `/proc/PID/task/TID/schedstat`; `None` when unreadable.
pub fn run_delay_ns(pids: &[i32]) -> Option<u64> {
    let mut total = None;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Some(wait) = std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            {
                *total.get_or_insert(0) += wait;
            }
        }
    }
    total
}

/// CPU pressure stall information of a v2 group (`cpu.pressure`), cumulative.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pressure {
    /// Time some runnable task of the group waited for a CPU, µs.
    pub some_us: u64,
    /// Time every runnable task of the group waited, µs (0 where the kernel gives none).
    pub full_us: u64,
}

/// Parses `cpu.pressure` (`some avg10=… total=N` and optionally `full …`).
pub fn parse_pressure(text: &str) -> Option<Pressure> {
    let total = |kind: &str| {
        text.lines()
            .find(|l| l.starts_with(kind))?
            .split_whitespace()
            .find_map(|f| f.strip_prefix("total="))?
            .parse::<u64>()
            .ok()
    };
    Some(Pressure {
        some_us: total("some")?,
        full_us: total("full").unwrap_or(0),
    })
}

/// A v2 group's CPU pressure, if the kernel reports it.
pub fn cpu_pressure(dir: &Path) -> Option<Pressure> {
    read(dir, "cpu.pressure").and_then(|t| parse_pressure(&t))
}

/// TCP ports on which any of `pids` listens (from their socket inodes and `/proc/net/tcp*`).
pub fn listening_ports(pids: &[i32]) -> BTreeSet<u16> {
    let mut inodes = BTreeSet::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Some(n) = std::fs::read_link(fd.path()).ok().and_then(|l| {
                l.to_str()?
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse::<u64>()
                    .ok()
            }) {
                inodes.insert(n);
            }
        }
    }
    let mut ports = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        ports.extend(listening_in(&text, &inodes));
    }
    ports
}

/// The ports of LISTEN sockets in a `/proc/net/tcp` table whose inode is in `inodes`.
fn listening_in(table: &str, inodes: &BTreeSet<u64>) -> Vec<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?.parse::<u64>().ok()?);
            if *state != "0A" || !inodes.contains(&inode) {
                return None;
            }
            u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()
        })
        .collect()
}

/// Kills every member of a server: `cgroup.kill` where the group has one (v2), else every
/// process listed in the group (v1) until none is left, and every process of its process
/// group. Returns the processes still alive after `within`, if any.
pub fn kill_all(group: Option<&Path>, pgid: Option<i32>, within: Duration) -> Vec<i32> {
    let signal_all = |pids: &[i32]| {
        for &p in pids {
            let _ = kill(Pid::from_raw(p), Signal::SIGCONT);
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    };
    let t = Instant::now();
    loop {
        let mut left = Vec::new();
        if let Some(dir) = group {
            if dir.join("cgroup.kill").exists() {
                let _ = std::fs::write(dir.join("cgroup.kill"), "1");
            }
            let m = cgroup_members(dir);
            signal_all(&m);
            left.extend(m);
        }
        if let Some(g) = pgid {
            let _ = kill(Pid::from_raw(-g), Signal::SIGCONT);
            let _ = kill(Pid::from_raw(-g), Signal::SIGKILL);
            left.extend(process_group_members(g).into_iter().filter(|&p| !zombie(p)));
        }
        left.retain(|&p| !zombie(p));
        if left.is_empty() || t.elapsed() > within {
            left.sort_unstable();
            left.dedup();
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` is a zombie (dead, waiting to be reaped: it runs nothing).
fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s.rsplit_once(") ")?.1.starts_with('Z')))
        .unwrap_or(true)
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
