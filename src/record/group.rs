//! Server-side figures of a server that does not report its own (the user's app): taken
//! from its sandbox — the group's CPU over the measured calls and per window, run delay,
//! throttling, CPU pressure and memory peak — and put where every downstream use reads
//! them (CPU per request, CPU wait, the server CPU histogram, the planner's demand), marked
//! as per-window figures where a per-call figure is unknown.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::histogram::{encode, new_hist};
use super::result::{ClassResult, LatencyBreakdown};
use super::summary::summarize;
use crate::record::Counters;

/// One reading of the server's group during the measured calls (what the driver samples).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupReading {
    /// Seconds since the measured calls started.
    pub t_s: f64,
    /// Calls answered OK so far (measured).
    pub ok: u64,
    /// The sandbox's counters (cumulative).
    pub counters: Counters,
    /// Run delay of the group's threads, µs (cumulative over the threads alive), if readable.
    pub run_delay_us: Option<u64>,
    /// CPU pressure (PSI) `some` total, µs, on cgroup v2.
    pub pressure_some_us: Option<u64>,
    /// CPU pressure `full` total, µs.
    pub pressure_full_us: Option<u64>,
    /// Processes in the group.
    pub processes: usize,
}

/// One window of the group's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GroupWindow {
    /// End of the window, seconds since the measured calls started.
    pub end_s: f64,
    /// Calls answered OK in the window.
    pub calls: u64,
    /// CPU the group used in the window, µs.
    pub cpu_us: u64,
    /// CPU per answered call in the window, µs (`None` without calls).
    pub cpu_per_request_us: Option<f64>,
    /// CFS periods throttled in the window.
    pub nr_throttled: Option<u64>,
    /// Time throttled in the window, µs.
    pub throttled_us: Option<u64>,
}

/// What the sandbox saw of a server that does not report per-call timings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct GroupFigures {
    /// Where the figures come from (the cgroup, or the process group for dutycycle).
    pub source: String,
    /// Most processes seen in the group at once (a forking server's master and workers).
    pub processes: u64,
    /// Group CPU over the measured calls, µs.
    pub cpu_us: Option<u64>,
    /// That per answered call, µs (the whole window's mean: per call it is unknown).
    pub cpu_per_request_us: Option<f64>,
    /// Run delay of the group's threads (waiting for a CPU: quota, neighbours) per answered
    /// call, µs, where `/proc/*/schedstat` is readable.
    pub run_delay_per_request_us: Option<f64>,
    /// CPU pressure (PSI, cgroup v2): share of the window some task of the group waited
    /// for a CPU, percent.
    pub cpu_pressure_some_pct: Option<f64>,
    /// CPU pressure: share of the window every task of the group waited, percent.
    pub cpu_pressure_full_pct: Option<f64>,
    /// Peak memory of the group, bytes.
    pub memory_peak_bytes: Option<u64>,
    /// Window length of `windows`, seconds.
    pub window_s: f64,
    /// The figures window by window.
    pub windows: Vec<GroupWindow>,
    /// Figures that are per window, not per call (the endpoint would give them per call).
    pub per_window: Vec<String>,
}

fn delta(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(b?.saturating_sub(a?))
}

/// The group's figures from its readings (in time order), cut into windows of `window_s`.
pub fn group_figures(readings: &[GroupReading], window_s: f64, source: String) -> GroupFigures {
    let mut g = GroupFigures {
        source,
        window_s,
        processes: readings.iter().map(|r| r.processes as u64).max().unwrap_or(0),
        ..GroupFigures::default()
    };
    let (Some(first), Some(last)) = (readings.first(), readings.last()) else {
        return g;
    };
    let ok = last.ok.saturating_sub(first.ok);
    let per = |v: Option<u64>| v.filter(|_| ok > 0).map(|v| v as f64 / ok as f64);
    g.cpu_us = delta(first.counters.cpu_usage_us, last.counters.cpu_usage_us);
    g.cpu_per_request_us = per(g.cpu_us);
    g.run_delay_per_request_us = per(delta(first.run_delay_us, last.run_delay_us));
    let span_us = (last.t_s - first.t_s) * 1e6;
    let pct = |v: Option<u64>| v.filter(|_| span_us > 0.0).map(|v| v as f64 / span_us * 100.0);
    g.cpu_pressure_some_pct = pct(delta(first.pressure_some_us, last.pressure_some_us));
    g.cpu_pressure_full_pct = pct(delta(first.pressure_full_us, last.pressure_full_us));
    g.memory_peak_bytes = last.counters.memory_peak_bytes;
    let mut start = first;
    for r in readings.iter().skip(1) {
        let is_last = std::ptr::eq(r, last);
        if r.t_s - start.t_s < window_s && !is_last {
            continue;
        }
        let calls = r.ok.saturating_sub(start.ok);
        let cpu = delta(start.counters.cpu_usage_us, r.counters.cpu_usage_us).unwrap_or(0);
        g.windows.push(GroupWindow {
            end_s: r.t_s,
            calls,
            cpu_us: cpu,
            cpu_per_request_us: (calls > 0).then(|| cpu as f64 / calls as f64),
            nr_throttled: delta(start.counters.nr_throttled, r.counters.nr_throttled),
            throttled_us: delta(start.counters.throttled_us, r.counters.throttled_us),
        });
        start = r;
    }
    g.per_window = vec![
        "server_cpu: each window's group CPU / calls answered in it, recorded once per call".into(),
        "cpu_wait: the group's run delay over the measured calls / calls".into(),
        "queue and server wall time: unknown (the server does not report them)".into(),
    ];
    g
}

/// Puts the group's figures where every downstream use reads them — CPU and CPU wait per
/// request, the server CPU histogram (per-window values), the planner's demand (per-window
/// CPU, the rest of the mean latency as non-CPU time when calls did not queue) and the
/// breakdown — unless the server reported its own per-call figures.
pub fn apply_group(c: &mut ClassResult, g: GroupFigures) {
    if c.server_cpu.is_none() {
        let mut h = new_hist();
        for w in &g.windows {
            if let Some(v) = w.cpu_per_request_us {
                let _ = h.record_n(v.round().max(1.0) as u64, w.calls);
            }
        }
        let cpu = g.cpu_per_request_us;
        let wait = g.run_delay_per_request_us;
        if !h.is_empty() {
            let s = summarize(&h);
            c.histograms.server_cpu = Some(encode(&h));
            c.server_cpu = Some(s);
        }
        c.cpu_per_request_us = cpu;
        if wait.is_some() {
            c.cpu_wait_per_request_us = wait;
        }
        // Calls queue inside the server when there are more callers than workers: then the
        // latency is not the service time, and the non-CPU part is unknown (0).
        let queued = c.load.model != "closed" || c.load.concurrency > c.workers;
        let lat = c.latency.mean_us;
        let cpu_ms = cpu.unwrap_or(0.0) / 1000.0;
        let wait_ms = wait.unwrap_or(0.0) / 1000.0;
        let other_us = if queued {
            0.0
        } else {
            (lat - cpu.unwrap_or(0.0) - wait.unwrap_or(0.0)).max(0.0)
        };
        if cpu.is_some() && c.demand.cpu_us.is_empty() {
            let cap = super::recorder::DEMAND_SAMPLES;
            let total: u64 = g.windows.iter().map(|w| w.calls).sum();
            let step = (total as usize).div_ceil(cap).max(1);
            let mut i = 0usize;
            for w in &g.windows {
                let Some(v) = w.cpu_per_request_us else { continue };
                for _ in 0..w.calls {
                    if i % step == 0 && c.demand.cpu_us.len() < cap {
                        c.demand.cpu_us.push(v.round() as u32);
                        c.demand.other_us.push(other_us.round() as u32);
                    }
                    i += 1;
                }
            }
        }
        if cpu.is_some() && c.breakdown.is_none() {
            let latency_ms = lat / 1000.0;
            c.breakdown = Some(LatencyBreakdown {
                latency_ms,
                cpu_ms,
                cpu_wait_ms: wait_ms,
                other_ms: (latency_ms - cpu_ms - wait_ms).max(0.0),
                ..LatencyBreakdown::default()
            });
        }
    }
    if c.group.is_none() && c.cpu_per_request_us.is_some() {
        c.warnings.push(format!(
            "server figures from the sandbox ({}): CPU and CPU wait per request are per-window means (group usage / calls), not per call; queue time is unknown",
            g.source
        ));
    }
    c.group = Some(g);
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
