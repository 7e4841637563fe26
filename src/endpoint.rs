//! The endpoint contract (DESIGN §4), shared by the server that answers it and the driver
//! that measures it: what `GET /work` and `GET /stats` return, and the line `dynobench
//! serve` prints once it listens. Plain serde data, no web framework.

use std::fmt::Display;

use serde::{Deserialize, Serialize};

/// The line `dynobench serve` prints to stdout once bound, followed by the address (the
/// driver reads it to find the port of a server it started on port 0).
pub const LISTENING_PREFIX: &str = "listening on ";

/// The whole listening line: the prefix, the address, then `(about)`.
pub fn listening_line(addr: impl Display, about: &str) -> String {
    format!("{LISTENING_PREFIX}{addr} ({about})")
}

/// The address text of a listening line (`None` for any other line).
pub fn listening_addr(line: &str) -> Option<&str> {
    line.strip_prefix(LISTENING_PREFIX)
        .and_then(|r| r.split_whitespace().next())
}

/// What `GET /work` returns: the server-side timings of one unit of work. The driver reads
/// the same type back; only `wall_us` and `cpu_us` are required, so any endpoint reporting
/// those two can be measured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkResponse {
    /// Handler wall time in the worker, microseconds.
    pub wall_us: u64,
    /// Worker thread CPU time, microseconds.
    pub cpu_us: u64,
    /// Time the worker thread was runnable but not running (schedstat run_delay), µs.
    #[serde(default)]
    pub wait_us: u64,
    /// Time the request waited for a free worker, µs.
    #[serde(default)]
    pub queue_us: u64,
    /// Time spent in the simulated downstream call (io profile), µs.
    #[serde(default)]
    pub io_us: u64,
    /// Hypervisor steal of the worker's CPU during the handler, µs (an estimate with the
    /// 10 ms resolution of `/proc/stat`): time the worker was running as far as the guest
    /// knows, but not as far as its CPU clock knows.
    #[serde(default)]
    pub steal_us: u64,
    /// Major page faults of the worker thread during the handler.
    #[serde(default)]
    pub major_faults: u64,
    /// Voluntary context switches of the worker thread during the handler (it blocked).
    #[serde(default)]
    pub voluntary_switches: u64,
    /// Index of the worker that ran it.
    #[serde(default)]
    pub worker: usize,
    /// Digest of the transform's serialized output.
    #[serde(default)]
    pub digest: String,
    /// Payload bytes processed.
    #[serde(default)]
    pub bytes: u64,
    /// Bytes of serialized output.
    #[serde(default)]
    pub out_bytes: u64,
    /// Which transform ran (`orders` or `generic`).
    #[serde(default)]
    pub kind: String,
    /// Which profile ran (`cpu`, `decrypt`, `io`; a mixed call says which it was).
    #[serde(default)]
    pub profile: String,
    /// Server process id.
    #[serde(default)]
    pub pid: u32,
    /// The server's wall clock when the handler finished, µs since the Unix epoch: lets a
    /// driver bound its clock's offset from the server's (shards of one run share the server
    /// as their reference clock).
    #[serde(default)]
    pub at_unix_us: u64,
    /// Why `wait_us` is unavailable, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What `GET /stats` returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatsResponse {
    /// Server process id.
    pub pid: u32,
    /// Resident set size now, bytes.
    pub rss_bytes: u64,
    /// Peak resident set size, bytes.
    pub max_rss_bytes: u64,
    /// User + system CPU time of the process, microseconds.
    pub cpu_us: u64,
    /// Seconds since the server started.
    pub uptime_s: f64,
    /// `/work` requests completed.
    pub requests_served: u64,
    /// `/work` requests queued or being worked on now (0: the server is idle).
    #[serde(default)]
    pub in_flight: u64,
    /// `/work` requests dropped unworked because their client had gone away.
    #[serde(default)]
    pub requests_abandoned: u64,
    /// Worker threads.
    pub workers: usize,
    /// CPUs this process may run on (its `available_parallelism`).
    pub available_parallelism: usize,
    /// Payload name.
    pub payload: String,
    /// Payload size, bytes.
    pub payload_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line_round_trips() {
        let line = listening_line("127.0.0.1:8080", "workers 4, pid 7");
        assert_eq!(line, "listening on 127.0.0.1:8080 (workers 4, pid 7)");
        assert_eq!(listening_addr(&line), Some("127.0.0.1:8080"));
        assert_eq!(listening_addr("127.0.0.1:8080"), None);
    }
}
