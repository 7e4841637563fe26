//! Plain result data of one class (serde + JSON schema): what run.json holds per class and
//! what every exporter, `compare` and `plan` read.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::capacity::CapacityReport;
use super::cost::Cost;
use super::limits::{AppliedLimits, Counters};
use super::runtime::{MemoryQuotaReport, RuntimeSample};
use super::summary::Summary;
use crate::class::DynoClass;

/// How a class's run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClassStatus {
    /// Measured.
    #[default]
    Ok,
    /// Could not be measured (server crash, OOM kill, every call failing); see `failure`.
    Failed,
    /// Cut short by an interrupt.
    Interrupted,
}

impl ClassStatus {
    /// The status as run.json spells it (`ok`, `failed`, `interrupted`).
    pub fn name(self) -> &'static str {
        match self {
            ClassStatus::Ok => "ok",
            ClassStatus::Failed => "failed",
            ClassStatus::Interrupted => "interrupted",
        }
    }
}

/// The host's speed at one moment: how long fixed, seeded reference work took outside any
/// quota (best of several tries). Lower is faster; compare runs by the ratio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct HostSpeed {
    /// The CPU-bound item (SHA-256 of 8 MiB), µs.
    pub cpu_ref_us: f64,
    /// The memory-bound item (200 000 dependent loads across 16 MiB), µs.
    pub mem_ref_us: f64,
}

/// A class's host-speed index: the reference timings around its measurements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct HostSpeedIndex {
    /// Mean CPU reference time around the class's rounds, µs.
    pub cpu_ref_us: f64,
    /// Mean memory reference time, µs.
    pub mem_ref_us: f64,
    /// `cpu_ref_us` relative to the run's first reading: 1.00 = as fast as when the run
    /// started, 1.05 = 5% slower.
    pub index: f64,
    /// Largest relative difference between the class's readings (before vs after each
    /// round), percent: how much the host moved while the class was measured.
    pub spread_pct: f64,
    /// Every reading, in order (before and after each round).
    pub readings: Vec<HostSpeed>,
}

/// One round of a class (`run --repeat K`): the figures `compare` uses to see the spread
/// between rounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RoundResult {
    /// 1-based round.
    pub round: u32,
    /// Ok, failed or interrupted.
    pub status: ClassStatus,
    /// Measured calls attempted.
    pub attempted: u64,
    /// Of which succeeded.
    pub ok: u64,
    /// Completed calls per second.
    pub throughput_rps: f64,
    /// p50, µs.
    pub p50_us: Option<u64>,
    /// p90, µs.
    pub p90_us: Option<u64>,
    /// p95, µs.
    pub p95_us: Option<u64>,
    /// p99, µs.
    pub p99_us: Option<u64>,
    /// The round's client-latency histogram (HDR V2+deflate, base64, µs).
    pub latency: String,
    /// Reference timings before and after the round.
    pub host_speed: Vec<HostSpeed>,
}

/// Per-request demand, sampled from the calls (a uniform sample of at most 4096): CPU time
/// and the rest of the handler's time (IO, blocked, steal: wall − CPU − CPU wait), paired
/// call by call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DemandSamples {
    /// CPU time of each sampled call, µs.
    pub cpu_us: Vec<u32>,
    /// Its non-CPU handler time, µs.
    pub other_us: Vec<u32>,
}

/// Call counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct CallCounts {
    /// Measured calls attempted.
    pub attempted: u64,
    /// Calls that returned a usable 200.
    pub ok: u64,
    /// Failed calls by kind: connect, timeout, http, status.
    pub errors: BTreeMap<String, u64>,
    /// Responses by HTTP status code.
    pub status_codes: BTreeMap<String, u64>,
    /// Failed / attempted.
    pub error_rate: f64,
    /// Response body bytes received.
    pub response_bytes: u64,
    /// Responses whose `digest` differed from the first one (should be 0: same work every call).
    pub digest_mismatches: u64,
    /// Measured calls that found their kept-alive connection closed by the server (its idle
    /// timeout) and reconnected; a request lost that way was sent again.
    #[serde(default)]
    pub reconnects: u64,
}

/// The warm-up calls, reported apart from the measurement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct WarmupFacts {
    /// Warm-up calls made.
    pub calls: u64,
    /// Of which succeeded.
    pub ok: u64,
    /// Their mean latency, µs.
    pub mean_us: f64,
    /// Their slowest latency, µs.
    pub max_us: u64,
}

/// How load was applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LoadFacts {
    /// `closed` (fixed concurrency) or `open` (fixed arrival rate).
    pub model: String,
    /// Concurrent callers (closed loop) or connections (open loop).
    pub concurrency: u32,
    /// Target arrival rate, req/s (open loop).
    pub target_rps: Option<f64>,
    /// Arrival process: `constant` or `poisson` (open loop).
    pub arrivals: Option<String>,
    /// Calls sent more than 1 ms after their intended time (open loop).
    pub late_sends: u64,
    /// Achieved rate of completed measured calls, req/s.
    pub achieved_rps: f64,
    /// Per-call timeout, ms.
    pub timeout_ms: u64,
}

/// Histograms of a class, each HDR V2+deflate, base64 (standard alphabet), values in µs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Histograms {
    /// Client latency of measured calls (from the intended send time in open loop).
    pub client_latency: String,
    /// Open loop only: latency from the actual send time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_latency_uncorrected: Option<String>,
    /// Server wall time.
    pub server_wall: Option<String>,
    /// Server CPU time.
    pub server_cpu: Option<String>,
    /// Server CPU wait (schedstat run_delay).
    pub cpu_wait: Option<String>,
    /// Worker-queue time.
    pub queue: Option<String>,
    /// Simulated downstream (io) time.
    #[serde(default)]
    pub io: Option<String>,
    /// Hypervisor steal during the handler.
    #[serde(default)]
    pub steal: Option<String>,
}

/// Where the mean client latency went, per request (ms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct LatencyBreakdown {
    /// Mean client latency, ms.
    pub latency_ms: f64,
    /// Mean server CPU time, ms.
    pub cpu_ms: f64,
    /// Mean time runnable but not running (quota throttling, neighbours), ms.
    pub cpu_wait_ms: f64,
    /// Mean time in the simulated downstream call, ms.
    pub io_ms: f64,
    /// Mean time queued for a free worker, ms.
    pub queue_ms: f64,
    /// Mean hypervisor steal during the handler, ms (an estimate: `/proc/stat` counts steal
    /// in 10 ms ticks; unbiased over many requests).
    #[serde(default)]
    pub steal_ms: f64,
    /// Mean handler time explained by none of the above, ms: the worker was blocked (major
    /// page faults, locks) — see the fault and switch counts.
    #[serde(default)]
    pub server_blocked_ms: f64,
    /// Mean major page faults per request in the handler.
    #[serde(default)]
    pub major_faults_per_request: f64,
    /// Mean voluntary context switches per request in the handler (times it blocked).
    #[serde(default)]
    pub voluntary_switches_per_request: f64,
    /// The rest, outside the handler: network, HTTP, the server's own I/O thread, ms.
    pub other_ms: f64,
}

/// Everything measured for one class. Fields a file lacks take their defaults (files of
/// another 1.x version).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ClassResult {
    /// Class name.
    pub name: String,
    /// Ok, failed or interrupted.
    pub status: ClassStatus,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// The catalog entry.
    pub class: DynoClass,
    /// `WEB_CONCURRENCY` used.
    pub workers: u32,
    /// List price, USD per month (copied from the class for readers of this object alone).
    pub price_usd_month: f64,
    /// The limits applied locally (absent for remote targets).
    pub limits: Option<AppliedLimits>,
    /// Load model and achieved rate.
    pub load: LoadFacts,
    /// Calls and errors.
    pub calls: CallCounts,
    /// Warm-up, reported apart.
    pub warmup: WarmupFacts,
    /// Seconds from the first measured send to the last completion.
    pub duration_s: f64,
    /// Completed measured calls per second.
    pub throughput_rps: f64,
    /// Client latency (coordinated-omission-corrected in open loop).
    pub latency: Summary,
    /// Open loop only: latency from the actual send time (uncorrected).
    pub latency_uncorrected: Option<Summary>,
    /// Server wall time per request.
    pub server_wall: Option<Summary>,
    /// Server CPU time per request.
    pub server_cpu: Option<Summary>,
    /// Server CPU wait per request.
    pub cpu_wait: Option<Summary>,
    /// Worker-queue time per request.
    pub queue: Option<Summary>,
    /// Simulated downstream (io) time per request.
    #[serde(default)]
    pub io: Option<Summary>,
    /// Hypervisor steal during the handler per request.
    #[serde(default)]
    pub steal: Option<Summary>,
    /// Where the mean latency went: CPU, CPU wait, IO, queue, other.
    #[serde(default)]
    pub breakdown: Option<LatencyBreakdown>,
    /// Mean server CPU per request, µs.
    pub cpu_per_request_us: Option<f64>,
    /// Mean CPU wait per request, µs.
    pub cpu_wait_per_request_us: Option<f64>,
    /// Kernel counters over the measured calls (throttling, CPU, memory, OOM, neighbours).
    pub kernel: Counters,
    /// Throttled CFS periods / periods, over the measured calls.
    pub throttled_ratio: Option<f64>,
    /// Throttled time per measured request, µs.
    pub throttled_us_per_request: Option<f64>,
    /// Peak resident memory of the server, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Host CPU steal during the class, percent of CPU time.
    pub steal_pct: Option<f64>,
    /// Cost and value per dollar.
    pub cost: Cost,
    /// The `digest` of the responses (equal for every call unless `calls.digest_mismatches`).
    pub digest: Option<String>,
    /// Caps, approximations and anything else the reader should know.
    pub warnings: Vec<String>,
    /// The histograms behind the summaries.
    pub histograms: Histograms,
    /// Server samples, one per second (log-runtime-metrics).
    #[serde(default)]
    pub runtime: Vec<RuntimeSample>,
    /// Memory against the class's quota (R14 when samples exceed it).
    #[serde(default)]
    pub memory_quota: Option<MemoryQuotaReport>,
    /// The capacity search, with `--find-capacity`.
    #[serde(default)]
    pub capacity: Option<CapacityReport>,
    /// A burst-balance CPU's balance over the run, and when it ran out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<crate::record::BurstTrace>,
    /// Per-request demand (CPU, non-CPU), sampled: what `plan` models requests with.
    pub demand: DemandSamples,
    /// Each round's figures (`--repeat K`); one entry for a single round.
    pub rounds: Vec<RoundResult>,
    /// The host's speed around this class's measurements.
    pub host_speed: Option<HostSpeedIndex>,
    /// Per-second client-latency histograms (for the .hlog; not stored in run.json).
    #[serde(skip)]
    #[schemars(skip)]
    pub intervals: crate::record::intervals::IntervalSeries,
    /// Every call (for runtime.log router lines; not stored in run.json).
    #[serde(skip)]
    #[schemars(skip)]
    pub call_log: Vec<CallLine>,
    /// Calls beyond the call log's bound (not in `call_log`; not stored in run.json).
    #[serde(skip)]
    #[schemars(skip)]
    pub call_log_dropped: u64,
    /// Seconds since the Unix epoch when the class's load started (call_log times are
    /// relative to it).
    #[serde(default)]
    pub load_start_unix_s: f64,
    /// Seconds since the Unix epoch when the measured calls started (for the .hlog).
    pub measured_start_unix_s: f64,
    /// Not measured on its own: its local emulation (CPU model, memory, workers) is this
    /// class's, whose measurement it reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
    /// The server's clock against the driver's (server − driver), bounded by the calls;
    /// `None` when the endpoint does not stamp its answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<crate::record::ClockOffset>,
    /// Server-side figures taken from the sandbox for a server that does not report its own
    /// (`run --server`/`--procfile`): group CPU, run delay, throttling and pressure, per window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<crate::record::group::GroupFigures>,
    /// With `run --precision`: whether the class's percentile interval reached the target
    /// before `--max-calls`, and how wide it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<crate::record::precision::PrecisionOutcome>,
    /// The driver's own figures over the measured calls (its CPU, open-loop send lateness
    /// and connection waits) and what bounded the run from its side; absent for runs
    /// before schema 1.4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<crate::record::driver_load::DriverLoad>,
    /// Why the class's figures are invalid, not slow (`the driver was the bottleneck: …`):
    /// its SLO verdicts are `invalid` and `compare` does not judge it. Absent when valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
}

/// Context the recorder does not know.
#[derive(Debug, Clone, Default)]
pub struct ClassContext {
    /// The catalog entry.
    pub class: DynoClass,
    /// Workers used.
    pub workers: u32,
    /// Applied limits (local runs).
    pub limits: Option<AppliedLimits>,
    /// Load facts (model, concurrency, targets) without the achieved rate.
    pub load: LoadFacts,
    /// Kernel counters over the measured phase.
    pub kernel: Counters,
    /// Peak RSS, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Host steal, percent.
    pub steal_pct: Option<f64>,
    /// The first digest seen.
    pub digest: Option<String>,
    /// Warnings so far.
    pub warnings: Vec<String>,
    /// Wall-clock start of the measured calls.
    pub measured_start_unix_s: f64,
    /// Wall-clock start of the load (warm-up included).
    pub load_start_unix_s: f64,
}

impl ClassResult {
    /// Whether the class was measured.
    pub fn is_ok(&self) -> bool {
        self.status == ClassStatus::Ok
    }
}

/// Why a call did not return a usable 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The TCP (or TLS) connection could not be made.
    Connect,
    /// No complete response within the timeout.
    Timeout,
    /// The connection broke or the response was not valid HTTP.
    Http,
    /// A response with a status other than 200.
    Status,
    /// Still in flight when the run stopped early (interrupt, failed server), unanswered
    /// after the stop's grace.
    Abandoned,
}

impl ErrorKind {
    /// The key used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Http => "http",
            ErrorKind::Status => "status",
            ErrorKind::Abandoned => "abandoned",
        }
    }
}

/// One call as the platform's router would log it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallLine {
    /// Completion time, µs since the load started.
    pub done_us: u64,
    /// Connection set-up, µs (0 on a kept-alive connection).
    pub connect_us: u64,
    /// Time from send to completion, µs.
    pub service_us: u64,
    /// HTTP status, if any.
    pub status: Option<u16>,
    /// Failure kind, if any.
    pub error: Option<ErrorKind>,
    /// Response bytes.
    pub bytes: u64,
}
