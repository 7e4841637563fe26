//! One load phase against one endpoint: warm-up and measured calls driven on the async
//! runtime (watched by `watch`), kernel counters read around the measured calls, and the
//! class's plain result built from the recorder.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use super::client::Target;
use super::host::steal_pct;
use super::load::{LoadSpec, SendStats};
use super::observer::Observer;
use super::plan::Phase;
use super::watch::{Watch, Watched, look};
use crate::class::DynoClass;
use crate::limit::Sandbox;
use crate::procfs::cpu_jiffies;
use crate::record::group::{GroupReading, apply_group, group_figures};
use crate::record::{
    AppliedLimits, ClassContext, ClassRecorder, ClassResult, ClassStatus, Counters, LimiterKind, LoadFacts,
};

/// Bytes per MiB.
pub(crate) const MIB: u64 = 1024 * 1024;

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Where one class's calls go, and what watches it.
pub(crate) struct Endpoint<'a> {
    pub(crate) rt: &'a tokio::runtime::Runtime,
    pub(crate) target: Arc<Target>,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) sandbox: Option<(&'a mut Sandbox, LimiterKind)>,
}

/// Warm-up calls for `workers`: at least one per worker (unless warm-up is off), sent by at
/// least as many callers as workers, so that every worker has served (and touched its
/// memory) before the measurement.
pub(crate) fn effective_warmup(warmup: u32, workers: u32) -> u32 {
    if warmup == 0 { 0 } else { warmup.max(workers) }
}

fn load_facts(phase: &Phase) -> LoadFacts {
    let (model, rate, arrivals) = phase.load.shape();
    LoadFacts {
        model: model.into(),
        concurrency: phase.load.concurrency(),
        target_rps: rate,
        arrivals,
        late_sends: 0,
        achieved_rps: 0.0,
        timeout_ms: phase.timeout.as_millis() as u64,
    }
}

fn context(phase: &Phase, class: &DynoClass, workers: u32, limits: Option<AppliedLimits>) -> ClassContext {
    ClassContext {
        class: class.clone(),
        workers,
        warnings: limits.as_ref().map(|l| l.warnings.clone()).unwrap_or_default(),
        limits,
        load: load_facts(phase),
        kernel: Counters::default(),
        peak_rss_bytes: None,
        steal_pct: None,
        digest: None,
        measured_start_unix_s: 0.0,
        load_start_unix_s: 0.0,
    }
}

/// A result for a class that could not be measured at all.
pub(crate) fn failed_class(
    phase: &Phase,
    class: &DynoClass,
    workers: u32,
    cause: String,
    limits: Option<AppliedLimits>,
) -> ClassResult {
    let rec = ClassRecorder::new(phase.is_open(), phase.timeout.as_micros() as u64);
    let mut r = ClassResult::from_recorder(rec, context(phase, class, workers, limits));
    r.status = ClassStatus::Failed;
    r.failure = Some(cause);
    r
}

/// A shard that started its measured calls well after the barrier (its warm-up or
/// connections took longer, or the time had passed): its share of the load came late.
fn late_barrier(phase: &Phase, measured_start: f64) -> Option<String> {
    let s = phase.shard?;
    let due = s.start_at_unix_s? + s.arrival_offset_ms / 1000.0;
    let late = measured_start - due;
    (measured_start > 0.0 && late > BARRIER_SLACK_S).then(|| {
        format!(
            "shard {}/{}: the measured calls started {late:.2} s after --start-at {} (warm-up and connecting took longer, or the time had passed); give the shards a later --start-at",
            s.index,
            s.count,
            s.start_at.as_deref().unwrap_or("?")
        )
    })
}

/// How late a shard may start its measured calls before it is reported, s.
const BARRIER_SLACK_S: f64 = 0.05;

/// The load `phase` drives against a server with `workers`.
fn load_spec(
    phase: &Phase,
    workers: u32,
    enough: Option<Arc<AtomicBool>>,
    sends: Option<Arc<SendStats>>,
) -> LoadSpec {
    LoadSpec {
        model: phase.load,
        warmup: effective_warmup(phase.warmup, workers),
        warmup_callers: workers,
        open_warmup: phase.open_warmup,
        calls: phase.calls,
        timeout: phase.timeout,
        path: phase.path.to_string(),
        seed: phase.seed,
        start_at: phase
            .shard
            .and_then(|s| s.start_at_unix_s)
            .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t)),
        offset: Duration::from_secs_f64(phase.shard.map_or(0.0, |s| s.arrival_offset_ms / 1000.0)),
        enough,
        sends,
    }
}

/// Drives one load phase against the endpoint and builds its result. With a sandbox, the
/// kernel counters are read around the measured calls and the server is watched for exits.
pub(crate) fn run_phase(
    ep: &mut Endpoint,
    phase: &Phase,
    class: &DynoClass,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    // A server that reports nothing of its own (the user's app): read its group instead.
    let read_group = phase.own_app && ep.sandbox.is_some();
    let mut w = Watch::new(phase, workers, Some(class.memory_hard_mb * MIB), read_group);
    let sends = phase.is_open().then(|| Arc::new(SendStats::default()));
    let spec = load_spec(phase, workers, w.enough(), sends.clone());
    let load_start = unix_now();
    w.run(ep, spec, obs);
    let driver = w.driver_cpu0.map(|r| driver_load(&r, sends.as_deref(), phase));
    w.last_look(look(&mut ep.sandbox));
    let (attempted, ok, errors) = (w.rec.attempted(), w.rec.ok(), w.rec.errors().clone());
    let ctx = measured_context(&mut w, look(&mut ep.sandbox), phase, class, workers, load_start);
    let mut result = ClassResult::from_recorder(w.rec, ctx);
    if let Some((s, k)) = ep.sandbox.as_ref() {
        sandbox_figures(&mut result, s, *k, read_group.then_some(&w.readings));
    }
    if let Some(d) = driver {
        result.invalid = d.reason();
        result.driver = Some(d);
    }
    if let Some((rule, _)) = &w.precision {
        result.precision = Some(rule.outcome(&result));
    }
    if let Some(late) = late_barrier(phase, w.measured_start) {
        result.warnings.push(late);
    }
    if result.calls.digest_mismatches > 0 {
        result.warnings.push(format!(
            "{} responses carried a different digest than the first: the endpoint did not do the same work every call",
            result.calls.digest_mismatches
        ));
    }
    if w.interrupted {
        result.status = ClassStatus::Interrupted;
        result.failure = Some(format!(
            "interrupted after {attempted} of {} measured calls",
            phase.calls
        ));
    } else if let Some(f) = w.failure {
        result.status = ClassStatus::Failed;
        result.failure = Some(f);
    } else if ok == 0 {
        result.status = ClassStatus::Failed;
        result.failure = Some(all_failed(&result, attempted, &errors));
    }
    result
}

/// The context of a measured phase: the kernel's counters over the measured calls, steal,
/// the digest and the clock.
fn measured_context(
    w: &mut Watch,
    mut sb: Watched,
    phase: &Phase,
    class: &DynoClass,
    workers: u32,
    load_start: f64,
) -> ClassContext {
    let after = sb.as_mut().map(|(s, _)| s.counters()).unwrap_or_default();
    let limits = sb.as_ref().map(|(s, _)| s.applied());
    let mut ctx = context(phase, class, workers, limits);
    // No measured phase (a failed start): no counters "over the measured calls".
    ctx.kernel = w
        .before
        .as_ref()
        .map_or_else(Counters::default, |b| after.since(b));
    ctx.steal_pct = steal_pct(w.steal0, cpu_jiffies());
    ctx.digest = w.digest.take();
    ctx.measured_start_unix_s = w.measured_start;
    ctx.load_start_unix_s = load_start;
    if sb.is_none() {
        ctx.warnings.push(format!(
            "remote target: CPU and memory are the platform's; workers = {workers} is what the catalog (or --workers) says, not what the dyno runs"
        ));
    }
    ctx
}

/// What the sandbox saw: the user's app's group figures (`readings`), the burst balance.
fn sandbox_figures(
    result: &mut ClassResult,
    s: &Sandbox,
    kind: LimiterKind,
    readings: Option<&Vec<GroupReading>>,
) {
    if let Some(readings) = readings {
        let source = super::app::group_source(s, kind);
        apply_group(
            result,
            group_figures(readings, super::app::GROUP_WINDOW_S, source),
        );
    }
    result.burst = s.burst_trace().map(|mut t| {
        t.predict_drain();
        t
    });
    if let Some(b) = &result.burst
        && let Some(last) = b.samples.last()
        && last.balance_s > 0.0
        && b.drained_at_s.is_none()
    {
        result.warnings.push(format!(
            "burst balance: {:.1} of {:.1} core-s were left at the end, so these figures are the burst's ({} cores); sustained load holds the class at {} cores (measure that with --start-balance empty)",
            last.balance_s, b.capacity_s, b.burst_cores, b.baseline_cores
        ));
    }
}

/// Why a phase whose every measured call failed did (naming a missing token).
fn all_failed(result: &ClassResult, attempted: u64, errors: &impl std::fmt::Debug) -> String {
    let hint = if result.calls.status_codes.contains_key("401") {
        "; 401: the endpoint wants its token (run --token, or DYNOBENCH_TOKEN as the server has it)"
    } else {
        ""
    };
    format!("all {attempted} measured calls failed: {errors:?}{hint}")
}

/// The driver's figures over the measured calls, judged by the driver-bottleneck rule.
fn driver_load(
    cpu0: &super::selfcpu::CpuReading,
    sends: Option<&SendStats>,
    phase: &Phase,
) -> crate::record::driver_load::DriverLoad {
    use std::sync::atomic::Ordering::Relaxed;
    let (wall_s, cpu_s, loop_cpu_s) = cpu0.since();
    let cores = super::selfcpu::allowed_cores();
    let (_, rate, _) = phase.load.shape();
    let lateness = sends.and_then(|s| s.lateness.lock().ok().map(|h| h.clone()));
    crate::record::driver_load::DriverLoad {
        cpu_s,
        loop_cpu_s,
        wall_s,
        cores,
        cpu_share: crate::record::driver_load::cpu_share(cpu_s, loop_cpu_s, wall_s, cores),
        scheduled: sends.map_or(0, |s| s.scheduled.load(Relaxed)),
        gap_us: rate.filter(|r| *r > 0.0).map(|r| 1e6 / r),
        lateness_p99_us: lateness
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(0.99) as f64),
        lateness_limit_us: sends
            .map(|_| crate::record::driver_load::lateness_limit_us(rate.map(|r| 1e6 / r))),
        connection_waits: sends.map_or(0, |s| s.connection_waits.load(Relaxed)),
        connections: if sends.is_some() {
            phase.load.concurrency()
        } else {
            0
        },
        bound: Vec::new(),
    }
    .judged()
}
