//! Merging measurements of one class (rounds of `run --repeat`, or shards of one run) into
//! one result (pure): histograms are added exactly, counters summed, and every summary,
//! interval and derived figure recomputed from the merged data.

use super::histogram::{Hist, decode, encode, new_hist};
use super::limits::Counters;
use super::result::{ClassResult, ClassStatus, HostSpeed, LatencyBreakdown, RoundResult};
use super::runtime::memory_quota;
use super::summary::{Summary, summarize};

/// Adds the encoded histograms; `Err` names the one that does not decode.
fn add_encoded<'a>(parts: impl Iterator<Item = Option<&'a str>>) -> Result<Option<Hist>, String> {
    let mut acc: Option<Hist> = None;
    for p in parts.flatten().filter(|s| !s.trim().is_empty()) {
        let h = decode(p)?;
        let m = acc.get_or_insert_with(new_hist);
        m.add(&h).map_err(|e| format!("adding histograms: {e:?}"))?;
    }
    Ok(acc)
}

fn sum_opt(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.fold(None, |acc, v| match (acc, v) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    })
}

fn sum_counters(parts: &[&Counters]) -> Counters {
    Counters {
        cpu_usage_us: sum_opt(parts.iter().map(|c| c.cpu_usage_us)),
        nr_periods: sum_opt(parts.iter().map(|c| c.nr_periods)),
        nr_throttled: sum_opt(parts.iter().map(|c| c.nr_throttled)),
        throttled_us: sum_opt(parts.iter().map(|c| c.throttled_us)),
        memory_peak_bytes: parts.iter().filter_map(|c| c.memory_peak_bytes).max(),
        oom_kills: sum_opt(parts.iter().map(|c| c.oom_kills)),
        neighbour_cpu_us: sum_opt(parts.iter().map(|c| c.neighbour_cpu_us)),
        stopped_us: sum_opt(parts.iter().map(|c| c.stopped_us)),
    }
}

/// The round figures of one measurement.
pub fn round_of(r: &ClassResult, round: u32, host_speed: Vec<HostSpeed>) -> RoundResult {
    RoundResult {
        round,
        status: r.status,
        attempted: r.calls.attempted,
        ok: r.calls.ok,
        throughput_rps: r.throughput_rps,
        p50_us: r.latency.value(50.0),
        p90_us: r.latency.value(90.0),
        p95_us: r.latency.value(95.0),
        p99_us: r.latency.value(99.0),
        latency: r.histograms.client_latency.clone(),
        host_speed,
    }
}

fn weighted_breakdown(parts: &[&ClassResult]) -> Option<LatencyBreakdown> {
    let with: Vec<(&LatencyBreakdown, f64)> = parts
        .iter()
        .filter_map(|c| c.breakdown.as_ref().map(|b| (b, c.calls.ok as f64)))
        .collect();
    let total: f64 = with.iter().map(|(_, w)| w).sum();
    if with.is_empty() || total <= 0.0 {
        return None;
    }
    let avg = |f: fn(&LatencyBreakdown) -> f64| with.iter().map(|(b, w)| f(b) * w).sum::<f64>() / total;
    Some(LatencyBreakdown {
        latency_ms: avg(|b| b.latency_ms),
        cpu_ms: avg(|b| b.cpu_ms),
        cpu_wait_ms: avg(|b| b.cpu_wait_ms),
        io_ms: avg(|b| b.io_ms),
        queue_ms: avg(|b| b.queue_ms),
        steal_ms: avg(|b| b.steal_ms),
        server_blocked_ms: avg(|b| b.server_blocked_ms),
        major_faults_per_request: avg(|b| b.major_faults_per_request),
        voluntary_switches_per_request: avg(|b| b.voluntary_switches_per_request),
        other_ms: avg(|b| b.other_ms),
    })
}

/// Merges measurements of one class taken one after another (rounds), in order. The first
/// part gives the class, limits and load facts; a part that failed makes the whole failed
/// (its cause kept), but what the other parts measured stays. `rounds` is filled from the
/// parts' own rounds (or one round per part). `Err` when a histogram does not decode.
pub fn merge(parts: &[ClassResult]) -> Result<ClassResult, String> {
    merge_parts(parts, "round", 1)
}

/// Merges measurements of one class taken at the same time by several drivers (shards of
/// one run): histograms and counts add as for rounds, but the load adds up (rates, callers)
/// and time does not: the duration is the span of the shards' measured windows on the
/// server's clock (each shard's start corrected by its clock offset, when known), and the
/// result is one round.
pub fn merge_concurrent(parts: &[ClassResult]) -> Result<ClassResult, String> {
    let mut m = merge_parts(parts, "shard", 0)?;
    let refs: Vec<&ClassResult> = parts.iter().collect();
    let windows: Vec<(f64, f64)> = refs
        .iter()
        .filter(|c| c.measured_start_unix_s > 0.0)
        .map(|c| {
            let start = c.measured_start_unix_s + c.clock.map_or(0.0, |k| k.offset_ms / 1000.0);
            (start, start + c.duration_s)
        })
        .collect();
    let span = match (
        windows.iter().map(|w| w.0).reduce(f64::min),
        windows.iter().map(|w| w.1).reduce(f64::max),
    ) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => refs.iter().map(|c| c.duration_s).fold(0.0, f64::max),
    };
    m.duration_s = span;
    m.throughput_rps = if span > 0.0 { m.calls.ok as f64 / span } else { 0.0 };
    m.load.achieved_rps = m.throughput_rps;
    m.load.concurrency = refs.iter().map(|c| c.load.concurrency).sum();
    m.load.target_rps = refs
        .iter()
        .map(|c| c.load.target_rps)
        .try_fold(0.0, |acc, r| r.map(|r| acc + r));
    m.measured_start_unix_s = windows.iter().map(|w| w.0).reduce(f64::min).unwrap_or(0.0);
    m.load_start_unix_s = refs
        .iter()
        .map(|c| c.load_start_unix_s)
        .filter(|t| *t > 0.0)
        .reduce(f64::min)
        .unwrap_or(0.0);
    m.clock = None;
    m.rounds = vec![round_of(&m, 1, Vec::new())];
    Ok(m)
}

/// The parts' histograms added up.
struct MergedHists {
    latency: Hist,
    uncorrected: Option<Hist>,
    wall: Option<Hist>,
    cpu: Option<Hist>,
    wait: Option<Hist>,
    queue: Option<Hist>,
    io: Option<Hist>,
    steal: Option<Hist>,
}

impl MergedHists {
    /// Adds every part's histograms; `Err` names the one that does not decode.
    fn of(refs: &[&ClassResult]) -> Result<MergedHists, String> {
        let hist = |f: fn(&ClassResult) -> Option<&str>| add_encoded(refs.iter().map(|c| f(c)));
        Ok(MergedHists {
            latency: hist(|c| Some(c.histograms.client_latency.as_str()))?.unwrap_or_else(new_hist),
            uncorrected: hist(|c| c.histograms.client_latency_uncorrected.as_deref())?,
            wall: hist(|c| c.histograms.server_wall.as_deref())?,
            cpu: hist(|c| c.histograms.server_cpu.as_deref())?,
            wait: hist(|c| c.histograms.cpu_wait.as_deref())?,
            queue: hist(|c| c.histograms.queue.as_deref())?,
            io: hist(|c| c.histograms.io.as_deref())?,
            steal: hist(|c| c.histograms.steal.as_deref())?,
        })
    }

    /// Sets `m`'s summaries, per-request means and encoded histograms from the merged
    /// histograms (an empty optional histogram leaves its figures out).
    fn apply(&self, m: &mut ClassResult) {
        let summ = |h: &Option<Hist>| h.as_ref().filter(|h| !h.is_empty()).map(summarize);
        let enc = |h: &Option<Hist>| h.as_ref().filter(|h| !h.is_empty()).map(encode);
        m.latency = summarize(&self.latency);
        m.latency_uncorrected = self.uncorrected.as_ref().map(summarize);
        m.server_wall = summ(&self.wall);
        m.server_cpu = summ(&self.cpu);
        m.cpu_wait = summ(&self.wait);
        m.queue = summ(&self.queue);
        m.io = summ(&self.io);
        m.steal = summ(&self.steal);
        m.cpu_per_request_us = m.server_cpu.as_ref().map(|s: &Summary| s.mean_us);
        m.cpu_wait_per_request_us = m.cpu_wait.as_ref().map(|s: &Summary| s.mean_us);
        m.histograms.client_latency = encode(&self.latency);
        m.histograms.client_latency_uncorrected = self.uncorrected.as_ref().map(encode);
        m.histograms.server_wall = enc(&self.wall);
        m.histograms.server_cpu = enc(&self.cpu);
        m.histograms.cpu_wait = enc(&self.wait);
        m.histograms.queue = enc(&self.queue);
        m.histograms.io = enc(&self.io);
        m.histograms.steal = enc(&self.steal);
    }
}

/// Calls: counts, errors and status codes summed, the error rate recomputed.
fn merge_calls(m: &mut ClassResult, refs: &[&ClassResult]) {
    m.calls.attempted = refs.iter().map(|c| c.calls.attempted).sum();
    m.calls.ok = refs.iter().map(|c| c.calls.ok).sum();
    m.calls.response_bytes = refs.iter().map(|c| c.calls.response_bytes).sum();
    m.calls.digest_mismatches = refs.iter().map(|c| c.calls.digest_mismatches).sum();
    m.calls.reconnects = refs.iter().map(|c| c.calls.reconnects).sum();
    m.calls.errors.clear();
    m.calls.status_codes.clear();
    for c in refs {
        for (k, v) in &c.calls.errors {
            *m.calls.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &c.calls.status_codes {
            *m.calls.status_codes.entry(k.clone()).or_default() += v;
        }
    }
    let failed: u64 = m.calls.errors.values().sum();
    m.calls.error_rate = if m.calls.attempted > 0 {
        failed as f64 / m.calls.attempted as f64
    } else {
        0.0
    };
}

/// Warm-up: counts summed, the mean weighted by successful calls, the worst kept.
fn merge_warmup(m: &mut ClassResult, refs: &[&ClassResult]) {
    m.warmup.calls = refs.iter().map(|c| c.warmup.calls).sum();
    m.warmup.ok = refs.iter().map(|c| c.warmup.ok).sum();
    m.warmup.mean_us = if m.warmup.ok > 0 {
        refs.iter()
            .map(|c| c.warmup.mean_us * c.warmup.ok as f64)
            .sum::<f64>()
            / m.warmup.ok as f64
    } else {
        0.0
    };
    m.warmup.max_us = refs.iter().map(|c| c.warmup.max_us).max().unwrap_or(0);
}

/// Time and rate: durations add (one part after another), the rate is the merged calls
/// over that time.
fn merge_time(m: &mut ClassResult, refs: &[&ClassResult]) {
    m.duration_s = refs.iter().map(|c| c.duration_s).sum();
    m.throughput_rps = if m.duration_s > 0.0 {
        m.calls.ok as f64 / m.duration_s
    } else {
        0.0
    };
    m.load.achieved_rps = m.throughput_rps;
    m.load.late_sends = refs.iter().map(|c| c.load.late_sends).sum();
}

/// Kernel and host: counters summed, peak memory the largest, steal weighted by time.
fn merge_host(m: &mut ClassResult, refs: &[&ClassResult]) {
    let counters: Vec<&Counters> = refs.iter().map(|c| &c.kernel).collect();
    m.kernel = sum_counters(&counters);
    m.throttled_ratio = m.kernel.throttled_ratio();
    m.throttled_us_per_request = m
        .kernel
        .throttled_us
        .filter(|_| m.calls.ok > 0)
        .map(|t| t as f64 / m.calls.ok as f64);
    m.peak_rss_bytes = refs.iter().filter_map(|c| c.peak_rss_bytes).max();
    let steal_w: f64 = refs
        .iter()
        .filter(|c| c.steal_pct.is_some())
        .map(|c| c.duration_s)
        .sum();
    m.steal_pct = (steal_w > 0.0).then(|| {
        refs.iter()
            .filter_map(|c| c.steal_pct.map(|s| s * c.duration_s))
            .sum::<f64>()
            / steal_w
    });
}

/// Samples and logs: runtime samples, intervals and call logs concatenated in order.
fn merge_logs(m: &mut ClassResult, refs: &[&ClassResult]) {
    let first = refs[0];
    m.runtime = refs.iter().flat_map(|c| c.runtime.iter().cloned()).collect();
    m.memory_quota = first
        .memory_quota
        .as_ref()
        .map(|q| memory_quota(&m.runtime, q.quota_bytes));
    m.intervals = first.intervals.clone();
    for c in refs.iter().skip(1) {
        m.intervals.append(&c.intervals);
    }
    m.call_log = refs.iter().flat_map(|c| c.call_log.iter().cloned()).collect();
    m.call_log_dropped = refs.iter().map(|c| c.call_log_dropped).sum();
}

/// Validity and warnings: a part whose driver was the bottleneck makes the whole invalid
/// (the one rule); the driver's figures are per part and do not add up; each distinct
/// warning once.
fn merge_validity(m: &mut ClassResult, refs: &[&ClassResult], part: &str, first_number: usize) {
    let bound: Vec<String> = refs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            super::driver_load::driver_bound_reason(c).map(|w| format!("{part} {}: {w}", i + first_number))
        })
        .collect();
    m.invalid = (!bound.is_empty()).then(|| bound.join("; "));
    m.driver = None;
    m.warnings.clear();
    for w in refs.iter().flat_map(|c| c.warnings.iter()) {
        if !m.warnings.contains(w) {
            m.warnings.push(w.clone());
        }
    }
}

/// Demand: every part's sample, thinned evenly back to the cap.
fn merge_demand(m: &mut ClassResult, refs: &[&ClassResult]) {
    let cpu: Vec<u32> = refs
        .iter()
        .flat_map(|c| c.demand.cpu_us.iter().copied())
        .collect();
    let other: Vec<u32> = refs
        .iter()
        .flat_map(|c| c.demand.other_us.iter().copied())
        .collect();
    let step = cpu.len().div_ceil(super::recorder::DEMAND_SAMPLES).max(1);
    m.demand.cpu_us = cpu.iter().step_by(step).copied().collect();
    m.demand.other_us = other.iter().step_by(step).copied().collect();
}

/// Rounds: the parts' own rounds (or one per part), numbered in order.
fn merge_rounds(m: &mut ClassResult, refs: &[&ClassResult]) {
    m.rounds = refs
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            if c.rounds.is_empty() {
                vec![round_of(c, i as u32 + 1, Vec::new())]
            } else {
                c.rounds.clone()
            }
        })
        .collect();
    for (i, r) in m.rounds.iter_mut().enumerate() {
        r.round = i as u32 + 1;
    }
}

/// Status: the first failure or interruption names the whole.
fn merge_status(m: &mut ClassResult, refs: &[&ClassResult], part: &str, first_number: usize) {
    if let Some(bad) = refs.iter().find(|c| c.status != ClassStatus::Ok) {
        m.status = bad.status;
        let i = refs.iter().position(|c| std::ptr::eq(*c, *bad)).unwrap_or(0);
        m.failure = Some(format!(
            "{part} {}: {}",
            i + first_number,
            bad.failure.as_deref().unwrap_or("failed")
        ));
    }
}

/// Merges `parts` (named `part` in messages, numbered from `first_number`): the first gives
/// the class, limits and load facts; everything measured is recombined.
fn merge_parts(parts: &[ClassResult], part: &str, first_number: usize) -> Result<ClassResult, String> {
    let Some(first) = parts.first() else {
        return Err("nothing to merge".into());
    };
    if parts.len() == 1 {
        return Ok(first.clone());
    }
    let refs: Vec<&ClassResult> = parts.iter().collect();
    let mut m = first.clone();
    let hists = MergedHists::of(&refs)?;
    merge_calls(&mut m, &refs);
    merge_warmup(&mut m, &refs);
    merge_time(&mut m, &refs);
    hists.apply(&mut m);
    m.breakdown = weighted_breakdown(&refs);
    merge_host(&mut m, &refs);
    merge_logs(&mut m, &refs);
    merge_validity(&mut m, &refs, part, first_number);
    merge_demand(&mut m, &refs);
    merge_rounds(&mut m, &refs);
    merge_status(&mut m, &refs, part, first_number);
    // Cost: per-dollar figures are recomputed for the whole run (apply_value).
    m.cost = super::cost::Cost {
        usd_month: first.cost.usd_month,
        usd_hour: first.cost.usd_hour,
        ..Default::default()
    };
    Ok(m)
}
