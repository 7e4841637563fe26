//! Building a class's plain result from its recorder and the context the recorder does not
//! know (class, limits, kernel counters): summaries, breakdown, cost, encoded histograms.

use super::cost::Cost;
use super::histogram::{Hist, encode};
use super::recorder::ClassRecorder;
use super::result::{ClassContext, ClassResult, ClassStatus, Histograms, LatencyBreakdown};
use super::summary::{Summary, summarize};

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
    let (cpu_ms, cpu_wait_ms, io_ms, queue_ms, steal_ms) = (
        ms(&rec.server_cpu),
        ms(&rec.cpu_wait),
        ms(&rec.io),
        ms(&rec.queue),
        ms(&rec.steal),
    );
    let n = rec.server_wall.len() as f64;
    // Steal is counted in 10 ms ticks: a request's estimate can exceed its own gap, so the
    // blocked remainder is taken over the mean, not per request.
    let server_blocked_ms = (rec.unaccounted_us_sum / n / 1000.0).max(0.0);
    let wall_ms = ms(&rec.server_wall);
    Some(LatencyBreakdown {
        latency_ms,
        cpu_ms,
        cpu_wait_ms,
        io_ms,
        queue_ms,
        steal_ms,
        server_blocked_ms,
        major_faults_per_request: rec.major_faults as f64 / n,
        voluntary_switches_per_request: rec.voluntary_switches as f64 / n,
        other_ms: (latency_ms - wall_ms - queue_ms).max(0.0),
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
            steal: opt_summary(&rec.steal),
            breakdown: breakdown(&rec),
            throttled_ratio: ctx.kernel.throttled_ratio(),
            throttled_us_per_request: per_req(ctx.kernel.throttled_us),
            kernel: ctx.kernel,
            peak_rss_bytes: ctx.peak_rss_bytes,
            steal_pct: ctx.steal_pct,
            cost: Cost {
                usd_month: price,
                usd_hour: ctx.class.price_usd_hour(),
                ..Cost::default()
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
                steal: opt_encode(&rec.steal),
            },
            runtime: Vec::new(),
            memory_quota: None,
            capacity: None,
            burst: None,
            demand: rec.demand.clone(),
            rounds: Vec::new(),
            host_speed: None,
            clock: rec.clock.offset(),
            same_as: None,
            group: None,
            precision: None,
            driver: None,
            invalid: None,
            intervals: rec.intervals,
            call_log: rec.call_log,
            call_log_dropped: rec.call_log_dropped,
            load_start_unix_s: ctx.load_start_unix_s,
            measured_start_unix_s: ctx.measured_start_unix_s,
            calls,
            class: ctx.class,
        }
    }
}
