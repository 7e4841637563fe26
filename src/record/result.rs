//! Plain result data of one class (serde + JSON schema): what run.json holds per class and
//! what every exporter, `compare` and `plan` read.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ClassRecorder;
use super::cost::{Cost, usd_per_million, value};
use super::histogram::{Hist, encode};
use super::summary::{Summary, summarize};
use crate::class::DynoClass;
use crate::limit::{AppliedLimits, Counters};

/// How a class's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClassStatus {
    /// Measured.
    Ok,
    /// Could not be measured (server crash, OOM kill, every call failing); see `failure`.
    Failed,
    /// Cut short by an interrupt.
    Interrupted,
}

/// Call counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
}

/// The warm-up calls, reported apart from the measurement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
}

/// Where the mean client latency went, per request (ms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// The rest: network, HTTP, the server outside the handler, ms.
    pub other_ms: f64,
}

/// Everything measured for one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    pub runtime: Vec<crate::driver::monitor::RuntimeSample>,
    /// Memory against the class's quota (R14 when samples exceed it).
    #[serde(default)]
    pub memory_quota: Option<crate::driver::monitor::MemoryQuotaReport>,
    /// The capacity search, with `--find-capacity`.
    #[serde(default)]
    pub capacity: Option<super::capacity::CapacityReport>,
    /// Per-second client-latency histograms (for the .hlog; not stored in run.json).
    #[serde(skip)]
    #[schemars(skip)]
    pub intervals: Vec<Hist>,
    /// Every call (for runtime.log router lines; not stored in run.json).
    #[serde(skip)]
    #[schemars(skip)]
    pub call_log: Vec<super::CallLine>,
    /// Seconds since the Unix epoch when the class's load started (call_log times are
    /// relative to it).
    #[serde(default)]
    pub load_start_unix_s: f64,
    /// Seconds since the Unix epoch when the measured calls started (for the .hlog).
    pub measured_start_unix_s: f64,
}

/// Context the recorder does not know.
#[derive(Debug, Clone)]
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

fn opt_summary(h: &Hist) -> Option<Summary> {
    (!h.is_empty()).then(|| summarize(h))
}

fn opt_encode(h: &Hist) -> Option<String> {
    (!h.is_empty()).then(|| encode(h))
}

fn breakdown(rec: &ClassRecorder) -> Option<LatencyBreakdown> {
    if rec.server_wall.is_empty() || rec.latency.is_empty() {
        return None;
    }
    let ms = |h: &Hist| h.mean() / 1000.0;
    let latency_ms = ms(&rec.latency);
    let (cpu_ms, cpu_wait_ms, io_ms, queue_ms) = (
        ms(&rec.server_cpu),
        ms(&rec.cpu_wait),
        ms(&rec.io),
        ms(&rec.queue),
    );
    Some(LatencyBreakdown {
        latency_ms,
        cpu_ms,
        cpu_wait_ms,
        io_ms,
        queue_ms,
        other_ms: (latency_ms - cpu_ms - cpu_wait_ms - io_ms - queue_ms).max(0.0),
    })
}

impl ClassResult {
    /// Builds the result from a recorder and its context. Status is `ok`; the driver marks
    /// failures. Value-per-dollar figures are filled in by [`apply_value`] once every class
    /// is known.
    pub fn from_recorder(rec: ClassRecorder, ctx: ClassContext) -> ClassResult {
        let calls = rec.call_counts();
        let duration_s = rec.duration_s();
        let throughput = if duration_s > 0.0 {
            calls.ok as f64 / duration_s
        } else {
            0.0
        };
        let cpu = opt_summary(&rec.server_cpu);
        let wait = opt_summary(&rec.cpu_wait);
        let per_req = |total: Option<u64>| total.filter(|_| calls.ok > 0).map(|t| t as f64 / calls.ok as f64);
        let price = ctx.class.price_usd_month;
        let mut load = ctx.load;
        load.achieved_rps = throughput;
        load.late_sends = rec.late_sends();
        ClassResult {
            name: ctx.class.name.clone(),
            status: ClassStatus::Ok,
            failure: None,
            workers: ctx.workers,
            price_usd_month: price,
            limits: ctx.limits,
            load,
            warmup: rec.warmup_facts(),
            duration_s,
            throughput_rps: throughput,
            latency: summarize(&rec.latency),
            latency_uncorrected: if rec.open_loop() {
                Some(summarize(&rec.latency_uncorrected))
            } else {
                None
            },
            server_wall: opt_summary(&rec.server_wall),
            cpu_per_request_us: cpu.as_ref().map(|s| s.mean_us),
            cpu_wait_per_request_us: wait.as_ref().map(|s| s.mean_us),
            server_cpu: cpu,
            cpu_wait: wait,
            queue: opt_summary(&rec.queue),
            io: opt_summary(&rec.io),
            breakdown: breakdown(&rec),
            throttled_ratio: ctx.kernel.throttled_ratio(),
            throttled_us_per_request: per_req(ctx.kernel.throttled_us),
            kernel: ctx.kernel,
            peak_rss_bytes: ctx.peak_rss_bytes,
            steal_pct: ctx.steal_pct,
            cost: Cost {
                usd_month: price,
                usd_hour: ctx.class.price_usd_hour(),
                usd_per_million_requests: usd_per_million(price, throughput),
                value_p95: None,
                value_p99: None,
            },
            digest: ctx.digest,
            warnings: ctx.warnings,
            histograms: Histograms {
                client_latency: encode(&rec.latency),
                client_latency_uncorrected: rec.open_loop().then(|| encode(&rec.latency_uncorrected)),
                server_wall: opt_encode(&rec.server_wall),
                server_cpu: opt_encode(&rec.server_cpu),
                cpu_wait: opt_encode(&rec.cpu_wait),
                queue: opt_encode(&rec.queue),
                io: opt_encode(&rec.io),
            },
            runtime: Vec::new(),
            memory_quota: None,
            capacity: None,
            intervals: rec.intervals,
            call_log: rec.call_log,
            load_start_unix_s: ctx.load_start_unix_s,
            measured_start_unix_s: ctx.measured_start_unix_s,
            calls,
            class: ctx.class,
        }
    }

    /// Whether the class was measured.
    pub fn is_ok(&self) -> bool {
        self.status == ClassStatus::Ok
    }
}

/// Fills `cost.value_p95` / `value_p99` relative to the cheapest measured class.
pub fn apply_value(classes: &mut [ClassResult]) {
    let cheapest = classes
        .iter()
        .filter(|c| c.is_ok())
        .min_by(|a, b| a.price_usd_month.total_cmp(&b.price_usd_month))
        .map(|c| (c.price_usd_month, c.latency.value(95.0), c.latency.value(99.0)));
    let Some((price0, p95_0, p99_0)) = cheapest else {
        return;
    };
    for c in classes.iter_mut().filter(|c| c.status == ClassStatus::Ok) {
        c.cost.value_p95 = p95_0
            .zip(c.latency.value(95.0))
            .and_then(|(a, b)| value(a as f64, price0, b as f64, c.price_usd_month));
        c.cost.value_p99 = p99_0
            .zip(c.latency.value(99.0))
            .and_then(|(a, b)| value(a as f64, price0, b as f64, c.price_usd_month));
    }
}
