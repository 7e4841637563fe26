//! Recording (pure): one [`RequestRecord`] per call goes into a [`ClassRecorder`], which
//! keeps HDR histograms and counters that `ClassResult::from_recorder` turns into plain
//! result data.

use std::collections::BTreeMap;

use super::histogram::{Hist, new_hist, record};
use super::result::{CallCounts, CallLine, DemandSamples, ErrorKind, WarmupFacts};
use crate::endpoint::WorkResponse;

/// Most demand samples kept per class.
pub const DEMAND_SAMPLES: usize = 4096;

pub use super::intervals::INTERVAL_US;
/// Calls kept in a class's call log (for runtime.log and plots); later calls are counted.
pub const CALL_LOG_MAX: usize = 20_000;

/// Which part of a class's run a call belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Warm-up (reported apart).
    Warmup,
    /// Measured.
    Measured,
}

/// One call, as the driver saw it. Times are µs since the class's load started.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Warm-up or measured.
    pub phase: Phase,
    /// When the call should have been sent (open loop), else `None`.
    pub intended_us: Option<u64>,
    /// When it was sent.
    pub sent_us: u64,
    /// When it completed (or failed, or timed out).
    pub done_us: u64,
    /// Connection set-up time, if this call opened a connection.
    pub connect_us: Option<u64>,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<ErrorKind>,
    /// The `/work` response with the server's own timings, when the body carried them.
    pub server: Option<WorkResponse>,
    /// Response body bytes.
    pub bytes: u64,
    /// The driver's wall clock at completion, µs since the Unix epoch (0: unknown): with
    /// the server's stamp it bounds the clocks' offset.
    pub done_unix_us: u64,
    /// Kept-alive connections found closed by the server and replaced during the call.
    pub reconnects: u32,
}

impl RequestRecord {
    /// A measured call sent at `sent_us` that answered 200 with one byte at `done_us`, and
    /// nothing else known: the call synthetic runs (simulations, benches, tests) record.
    pub fn measured_ok(sent_us: u64, done_us: u64) -> Self {
        RequestRecord {
            phase: Phase::Measured,
            intended_us: None,
            sent_us,
            done_us,
            connect_us: None,
            status: Some(200),
            error: None,
            server: None,
            bytes: 1,
            done_unix_us: 0,
            reconnects: 0,
        }
    }
}

/// Histograms and counters of one class.
#[derive(Debug)]
pub struct ClassRecorder {
    open_loop: bool,
    timeout_us: u64,
    late_threshold_us: u64,
    /// Client latency of measured calls (from the intended send time in open loop).
    pub latency: Hist,
    /// Open loop only: latency from the actual send time (what a naive tool reports).
    pub latency_uncorrected: Hist,
    /// Server wall time.
    pub server_wall: Hist,
    /// Server CPU time.
    pub server_cpu: Hist,
    /// Server CPU wait.
    pub cpu_wait: Hist,
    /// Worker-queue time.
    pub queue: Hist,
    /// Time in the simulated downstream call.
    pub io: Hist,
    /// Hypervisor steal during the handler.
    pub steal: Hist,
    /// Server wall time not explained by CPU, CPU wait, IO or steal (blocked), summed, µs.
    pub unaccounted_us_sum: f64,
    /// A uniform sample (reservoir, at most [`DEMAND_SAMPLES`]) of the calls' demand: CPU µs
    /// and the rest of the handler's time (IO, blocked, steal), µs; what the capacity model
    /// draws requests from, jointly, so a mixed workload keeps its CPU/IO pairing.
    pub demand: DemandSamples,
    demand_seen: u64,
    /// Major page faults of the handlers, summed.
    pub major_faults: u64,
    /// Voluntary context switches of the handlers, summed.
    pub voluntary_switches: u64,
    /// Connection set-up time.
    pub connect: Hist,
    /// Client latency per interval of [`INTERVAL_US`] of the measured phase (by completion
    /// time): the .hlog, and the blocks of consecutive calls `compare` resamples.
    pub intervals: super::intervals::IntervalSeries,
    /// Every call, warm-up included, for router-style log lines (the first
    /// [`CALL_LOG_MAX`]; the rest are counted in `call_log_dropped`).
    pub call_log: Vec<CallLine>,
    /// Calls beyond [`CALL_LOG_MAX`], not in `call_log`.
    pub call_log_dropped: u64,
    /// The server's clock against the driver's, bounded by the answered calls.
    pub clock: super::clock::ClockBounds,
    warmup: Hist,
    warmup_calls: u64,
    warmup_ok: u64,
    attempted: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    statuses: BTreeMap<String, u64>,
    late_sends: u64,
    reconnects: u64,
    timeouts_in_a_row: u64,
    last_done_us: u64,
    measure_start_us: Option<u64>,
    digest_first: BTreeMap<u64, u64>,
    digest_mismatches: u64,
    bytes: u64,
}

impl ClassRecorder {
    /// A recorder for a closed-loop (`open_loop = false`) or open-loop run.
    pub fn new(open_loop: bool, timeout_us: u64) -> ClassRecorder {
        ClassRecorder {
            open_loop,
            timeout_us,
            late_threshold_us: 1_000,
            latency: new_hist(),
            latency_uncorrected: new_hist(),
            server_wall: new_hist(),
            server_cpu: new_hist(),
            cpu_wait: new_hist(),
            queue: new_hist(),
            io: new_hist(),
            steal: new_hist(),
            unaccounted_us_sum: 0.0,
            demand: DemandSamples::default(),
            demand_seen: 0,
            major_faults: 0,
            voluntary_switches: 0,
            connect: new_hist(),
            intervals: Default::default(),
            call_log: Vec::new(),
            call_log_dropped: 0,
            clock: Default::default(),
            warmup: new_hist(),
            warmup_calls: 0,
            warmup_ok: 0,
            attempted: 0,
            ok: 0,
            errors: BTreeMap::new(),
            statuses: BTreeMap::new(),
            late_sends: 0,
            reconnects: 0,
            timeouts_in_a_row: 0,
            last_done_us: 0,
            measure_start_us: None,
            digest_first: BTreeMap::new(),
            digest_mismatches: 0,
            bytes: 0,
        }
    }

    /// Records one call. Nothing is dropped: failures are counted by kind, and in open loop
    /// a timed-out call enters the latency histograms at the timeout value.
    pub fn record(&mut self, r: &RequestRecord) {
        let elapsed = r.done_us.saturating_sub(r.sent_us);
        if self.call_log.len() >= CALL_LOG_MAX {
            self.call_log_dropped += 1;
        } else {
            self.call_log.push(CallLine {
                done_us: r.done_us,
                connect_us: r.connect_us.unwrap_or(0),
                service_us: elapsed,
                status: r.status,
                error: r.error,
                bytes: r.bytes,
            });
        }
        if r.status.is_some() {
            self.timeouts_in_a_row = 0;
        } else if r.error == Some(ErrorKind::Timeout) {
            self.timeouts_in_a_row += 1;
        }
        if r.phase == Phase::Warmup {
            self.warmup_calls += 1;
            if r.error.is_none() {
                self.warmup_ok += 1;
                record(&mut self.warmup, elapsed);
            }
            return;
        }
        self.attempted += 1;
        self.reconnects += u64::from(r.reconnects);
        let start = r.intended_us.unwrap_or(r.sent_us);
        self.measure_start_us.get_or_insert(start);
        self.last_done_us = self.last_done_us.max(r.done_us);
        if let Some(c) = r.connect_us {
            record(&mut self.connect, c);
        }
        if let Some(s) = r.status {
            *self.statuses.entry(s.to_string()).or_default() += 1;
        }
        if let Some(i) = r.intended_us
            && r.sent_us.saturating_sub(i) > self.late_threshold_us
        {
            self.late_sends += 1;
        }
        let corrected = r.done_us.saturating_sub(start);
        match r.error {
            None => {
                self.ok += 1;
                self.bytes += r.bytes;
                record(&mut self.latency, corrected);
                if self.open_loop {
                    record(&mut self.latency_uncorrected, elapsed);
                }
                self.record_interval(r.done_us, corrected);
                if let Some(s) = &r.server {
                    if r.done_unix_us > 0 {
                        let sent = r.done_unix_us.saturating_sub(elapsed);
                        self.clock
                            .observe(sent, r.done_unix_us, s.at_unix_us, s.queue_us + s.wall_us);
                    }
                    record(&mut self.server_wall, s.wall_us);
                    record(&mut self.server_cpu, s.cpu_us);
                    record(&mut self.cpu_wait, s.wait_us);
                    record(&mut self.queue, s.queue_us);
                    record(&mut self.io, s.io_us);
                    record(&mut self.steal, s.steal_us);
                    let other = s.wall_us.saturating_sub(s.cpu_us + s.wait_us);
                    self.keep_demand(s.cpu_us, other);
                    self.unaccounted_us_sum +=
                        s.wall_us as f64 - (s.cpu_us + s.wait_us + s.io_us + s.steal_us) as f64;
                    self.major_faults += s.major_faults;
                    self.voluntary_switches += s.voluntary_switches;
                    let digest = digest_hash(&s.digest);
                    if digest != 0 {
                        // Each profile does its own work: compare digests within a profile.
                        let key = digest_hash(&s.profile);
                        match self.digest_first.get(&key) {
                            None => {
                                self.digest_first.insert(key, digest);
                            }
                            Some(&d) if d != digest => self.digest_mismatches += 1,
                            _ => {}
                        }
                    }
                }
            }
            Some(kind) => {
                *self.errors.entry(kind.name().to_string()).or_default() += 1;
                if kind == ErrorKind::Timeout && self.open_loop {
                    let at = self.timeout_us.max(corrected);
                    record(&mut self.latency, at);
                    record(&mut self.latency_uncorrected, self.timeout_us.max(elapsed));
                    self.record_interval(r.done_us, at);
                }
            }
        }
    }

    /// Reservoir sampling (Algorithm R) with a deterministic generator, so a run's sample is
    /// reproducible from its calls.
    fn keep_demand(&mut self, cpu_us: u64, other_us: u64) {
        let (cpu, other) = (
            cpu_us.min(u64::from(u32::MAX)) as u32,
            other_us.min(u64::from(u32::MAX)) as u32,
        );
        self.demand_seen += 1;
        if self.demand.cpu_us.len() < DEMAND_SAMPLES {
            self.demand.cpu_us.push(cpu);
            self.demand.other_us.push(other);
            return;
        }
        // splitmix64 of the call count: a fixed, seedless stream.
        let mut z = self.demand_seen.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let j = ((z ^ (z >> 31)) % self.demand_seen) as usize;
        if j < DEMAND_SAMPLES {
            self.demand.cpu_us[j] = cpu;
            self.demand.other_us[j] = other;
        }
    }

    fn record_interval(&mut self, done_us: u64, value: u64) {
        let base = self.measure_start_us.unwrap_or(0);
        self.intervals.record(done_us.saturating_sub(base), value);
    }

    /// Marks the start of the measured phase (µs since the load started): the base of the
    /// intervals and of the measured duration.
    pub fn measuring_from(&mut self, at_us: u64) {
        self.measure_start_us = Some(at_us);
    }

    /// Calls (warm-up or measured) that timed out since the last response of any status.
    pub fn timeouts_in_a_row(&self) -> u64 {
        self.timeouts_in_a_row
    }

    /// `n` measured calls were still in flight when the load stopped early: attempted, and
    /// failed as abandoned.
    pub fn abandoned(&mut self, n: u64) {
        self.attempted += n;
        *self
            .errors
            .entry(ErrorKind::Abandoned.name().to_string())
            .or_default() += n;
    }

    /// Whether this recorder is for an open-loop run.
    pub fn open_loop(&self) -> bool {
        self.open_loop
    }

    /// Measured calls attempted so far.
    pub fn attempted(&self) -> u64 {
        self.attempted
    }

    /// Measured calls that succeeded.
    pub fn ok(&self) -> u64 {
        self.ok
    }

    /// Calls that failed, by kind.
    pub fn errors(&self) -> &BTreeMap<String, u64> {
        &self.errors
    }

    /// Counts for the result.
    pub fn call_counts(&self) -> CallCounts {
        let failed: u64 = self.errors.values().sum();
        CallCounts {
            attempted: self.attempted,
            ok: self.ok,
            errors: self.errors.clone(),
            status_codes: self.statuses.clone(),
            error_rate: if self.attempted > 0 {
                failed as f64 / self.attempted as f64
            } else {
                0.0
            },
            response_bytes: self.bytes,
            digest_mismatches: self.digest_mismatches,
            reconnects: self.reconnects,
        }
    }

    /// Warm-up facts.
    pub fn warmup_facts(&self) -> WarmupFacts {
        WarmupFacts {
            calls: self.warmup_calls,
            ok: self.warmup_ok,
            mean_us: if self.warmup_ok > 0 {
                self.warmup.mean()
            } else {
                0.0
            },
            max_us: if self.warmup_ok > 0 { self.warmup.max() } else { 0 },
        }
    }

    /// Seconds from the first (intended) send to the last completion of the measured calls.
    pub fn duration_s(&self) -> f64 {
        match self.measure_start_us {
            Some(s) if self.last_done_us > s => (self.last_done_us - s) as f64 / 1e6,
            _ => 0.0,
        }
    }

    /// Late sends (open loop: sent more than 1 ms after the intended time).
    pub fn late_sends(&self) -> u64 {
        self.late_sends
    }
}

/// FNV-1a hash of a digest string (0 for none), cheap enough for the hot path.
pub fn digest_hash(s: &str) -> u64 {
    if s.is_empty() {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

#[cfg(test)]
#[path = "recorder_tests.rs"]
mod tests;
