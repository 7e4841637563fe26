//! One load phase against one endpoint: warm-up and measured calls driven on the async
//! runtime, the server watched for crashes and OOM kills, kernel counters read around the
//! measured calls, and the class's plain result built from the recorder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

use super::client::Target;
use super::host::steal_pct;
use super::load::{Event, LoadModel, LoadSpec, drive};
use super::observer::Observer;
use super::plan::RunPlan;
use crate::class::DynoClass;
use crate::limit::{Sandbox, describe_exit};
use crate::procfs::cpu_jiffies;
use crate::record::group::{GroupReading, apply_group, group_figures};
use crate::record::{
    AppliedLimits, ClassContext, ClassRecorder, ClassResult, ClassStatus, Counters, LimiterKind, LoadFacts,
    Phase,
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

fn load_facts(plan: &RunPlan) -> LoadFacts {
    let (model, rate, arrivals) = plan.load.shape();
    LoadFacts {
        model: model.into(),
        concurrency: plan.load.concurrency(),
        target_rps: rate,
        arrivals,
        late_sends: 0,
        achieved_rps: 0.0,
        timeout_ms: plan.timeout.as_millis() as u64,
    }
}

fn context(plan: &RunPlan, class: &DynoClass, workers: u32, limits: Option<AppliedLimits>) -> ClassContext {
    ClassContext {
        class: class.clone(),
        workers,
        warnings: limits.as_ref().map(|l| l.warnings.clone()).unwrap_or_default(),
        limits,
        load: load_facts(plan),
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
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    cause: String,
    limits: Option<AppliedLimits>,
) -> ClassResult {
    let rec = ClassRecorder::new(
        matches!(plan.load, LoadModel::Open { .. }),
        plan.timeout.as_micros() as u64,
    );
    let mut r = ClassResult::from_recorder(rec, context(plan, class, workers, limits));
    r.status = ClassStatus::Failed;
    r.failure = Some(cause);
    r
}

/// A shard that started its measured calls well after the barrier (its warm-up or
/// connections took longer, or the time had passed): its share of the load came late.
fn late_barrier(plan: &RunPlan, measured_start: f64) -> Option<String> {
    let s = plan.shard.as_ref()?;
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

/// If the server has exited, why (naming OOM kills), after `calls` measured calls.
fn server_failure(s: &mut Sandbox, kind: LimiterKind, hard: Option<u64>, calls: u64) -> Option<String> {
    let st = s.server_exited()?;
    let c = s.counters();
    Some(format!(
        "the server {} after {calls} measured calls",
        describe_exit(st, c.oom_kills, hard, kind)
    ))
}

/// Drives one load phase against the endpoint and builds its result. With a sandbox, the
/// kernel counters are read around the measured calls and the server is watched for exits.
pub(crate) fn run_phase(
    ep: &mut Endpoint,
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    let open = matches!(plan.load, LoadModel::Open { .. });
    let mut rec = ClassRecorder::new(open, plan.timeout.as_micros() as u64);
    let warmup = effective_warmup(plan.warmup, workers);
    let spec = LoadSpec {
        model: plan.load,
        warmup,
        warmup_callers: workers,
        open_warmup: plan.open_warmup,
        calls: plan.calls,
        timeout: plan.timeout,
        path: plan.path.clone(),
        seed: plan.seed,
        start_at: plan
            .shard
            .as_ref()
            .and_then(|s| s.start_at_unix_s)
            .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t)),
        offset: Duration::from_secs_f64(plan.shard.as_ref().map_or(0.0, |s| s.arrival_offset_ms / 1000.0)),
        enough: None,
        sends: None,
    };
    // `--precision`: checked as measured calls come in; raising `enough` ends the class.
    let mut precision = plan.precision.as_ref().map(|p| {
        (
            crate::record::precision::PrecisionRule::new(p),
            Arc::new(AtomicBool::new(false)),
        )
    });
    let sends = open.then(|| Arc::new(super::load::SendStats::default()));
    let spec = LoadSpec {
        enough: precision.as_ref().map(|(_, e)| e.clone()),
        sends: sends.clone(),
        ..spec
    };
    // A precision check under way on another thread: its calls and interval come back here.
    let mut checking: Option<PendingCheck> = None;
    // The driver's own CPU over the measured calls (read on the thread that drives them).
    let mut driver_cpu0: Option<super::selfcpu::CpuReading> = None;
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut digest: Option<String> = None;
    let mut before: Option<Counters> = None;
    let mut steal0 = None;
    let mut measured_start = 0.0;
    let mut failure: Option<String> = None;
    let interrupted = AtomicBool::new(false);
    let hard = Some(class.memory_hard_mb * MIB);
    let load_start = unix_now();
    let (target, tls) = (ep.target.clone(), ep.tls.clone());
    let sandbox = &mut ep.sandbox;
    // A server that reports nothing of its own (the user's app): read its group instead.
    let read_group = plan.app.is_some() && sandbox.is_some();
    let mut readings = Vec::new();
    let mut measuring_at: Option<Instant> = None;
    ep.rt.block_on(async {
        let load = tokio::spawn(drive(target, tls, spec, tx, stop_rx));
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                got = rx.recv() => match got {
                    None => break,
                    Some(Event::Measuring(at_us)) => {
                        // The boundary of the measured phase: counters, steal and clock.
                        before = Some(sandbox.as_mut().map(|(s, _)| s.counters()).unwrap_or_default());
                        steal0 = cpu_jiffies();
                        driver_cpu0 = Some(super::selfcpu::CpuReading::now());
                        measured_start = unix_now();
                        rec.measuring_from(at_us);
                        if read_group && let Some((s, _)) = sandbox.as_mut() {
                            measuring_at = Some(Instant::now());
                            readings.push(super::app::read_group(s, 0.0, 0));
                        }
                    }
                    Some(Event::Call(r)) => {
                        if digest.is_none()
                            && r.phase == Phase::Measured
                            && let Some(s) = r.server.as_ref().filter(|s| !s.digest.is_empty())
                        {
                            digest = Some(s.digest.clone());
                        }
                        obs.call_done(r.phase == Phase::Measured, r.error.is_none());
                        rec.record(&r);
                        if let Some((rule, _)) = precision.as_ref()
                            && r.phase == Phase::Measured
                            && checking.is_none()
                            && rule.due(rec.attempted())
                        {
                            // Off this thread: the interval expands the whole run's
                            // intervals, and this thread times the calls.
                            let snap = rule.snapshot(&rec);
                            let (done_tx, done_rx) = std::sync::mpsc::channel();
                            std::thread::spawn(move || {
                                let _ = done_tx.send((snap.calls(), snap.interval()));
                            });
                            checking = Some(done_rx);
                        }
                        precision_judged(&mut precision, &mut checking);
                        // Every caller (warm-up uses at least one per worker) timed out with
                        // no response in between: nothing is coming back.
                        if failure.is_none() && rec.timeouts_in_a_row() >= u64::from(plan.load.concurrency().max(workers).max(1)) {
                            failure = Some(format!(
                                "the server stopped answering: {} call(s) in a row got no response within the {} timeout (hung, stopped, or overloaded beyond the timeout)",
                                rec.timeouts_in_a_row(),
                                crate::units::fmt_secs(plan.timeout.as_secs_f64())
                            ));
                            let _ = stop_tx.send(true);
                        }
                    }
                    Some(Event::Abandoned(n)) => rec.abandoned(n),
                },
                _ = tick.tick() => {
                    precision_judged(&mut precision, &mut checking);
                    if let (Some(t0), Some((s, _))) = (measuring_at, sandbox.as_mut())
                        && readings.last().is_some_and(|r: &GroupReading| t0.elapsed().as_secs_f64() - r.t_s >= super::app::GROUP_READ_S)
                    {
                        readings.push(super::app::read_group(s, t0.elapsed().as_secs_f64(), rec.ok()));
                    }
                    if crate::interrupt::requested() {
                        interrupted.store(true, Ordering::SeqCst);
                        let _ = stop_tx.send(true);
                    }
                    if failure.is_none()
                        && let Some((s, k)) = sandbox.as_mut()
                        && let Some(f) = server_failure(s, *k, hard, rec.attempted())
                    {
                        failure = Some(f);
                        let _ = stop_tx.send(true);
                    }
                }
            }
        }
        let _ = load.await;
    });
    let driver = driver_cpu0.map(|r| driver_load(&r, sends.as_deref(), plan));
    // Calls can fail faster than the watch above notices a dead server: look once more,
    // giving a just-killed process a moment to be reaped, so the cause is named.
    if failure.is_none()
        && rec.ok() < rec.attempted()
        && let Some((s, k)) = sandbox.as_mut()
    {
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(500) && rec.ok() == 0 {
            failure = server_failure(s, *k, hard, rec.attempted());
            if failure.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    if let (Some(t0), Some((s, _))) = (measuring_at, sandbox.as_mut()) {
        readings.push(super::app::read_group(s, t0.elapsed().as_secs_f64(), rec.ok()));
    }
    let after = sandbox.as_mut().map(|(s, _)| s.counters()).unwrap_or_default();
    // No measured phase (a failed start): no counters "over the measured calls".
    let kernel = before.as_ref().map_or_else(Counters::default, |b| after.since(b));
    let limits = sandbox.as_ref().map(|(s, _)| s.applied());
    let mut ctx = context(plan, class, workers, limits);
    ctx.kernel = kernel;
    ctx.steal_pct = steal_pct(steal0, cpu_jiffies());
    ctx.digest = digest;
    ctx.measured_start_unix_s = measured_start;
    ctx.load_start_unix_s = load_start;
    if sandbox.is_none() {
        ctx.warnings.push(format!(
            "remote target: CPU and memory are the platform's; workers = {workers} is what the catalog (or --workers) says, not what the dyno runs"
        ));
    }
    let (attempted, ok, errors) = (rec.attempted(), rec.ok(), rec.errors().clone());
    let mut result = ClassResult::from_recorder(rec, ctx);
    if let Some((s, k)) = sandbox.as_ref().filter(|_| read_group) {
        let source = super::app::group_source(s, *k);
        apply_group(
            &mut result,
            group_figures(&readings, super::app::GROUP_WINDOW_S, source),
        );
    }
    result.burst = sandbox.as_ref().and_then(|(s, _)| s.burst_trace()).map(|mut t| {
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
    if let Some(d) = driver {
        result.invalid = d.reason();
        result.driver = Some(d);
    }
    if let Some((rule, _)) = &precision {
        result.precision = Some(rule.outcome(&result));
    }
    if let Some(w) = late_barrier(plan, measured_start) {
        result.warnings.push(w);
    }
    if result.calls.digest_mismatches > 0 {
        result.warnings.push(format!(
            "{} responses carried a different digest than the first: the endpoint did not do the same work every call",
            result.calls.digest_mismatches
        ));
    }
    if interrupted.load(Ordering::SeqCst) {
        result.status = ClassStatus::Interrupted;
        result.failure = Some(format!(
            "interrupted after {attempted} of {} measured calls",
            plan.calls
        ));
    } else if let Some(f) = failure {
        result.status = ClassStatus::Failed;
        result.failure = Some(f);
    } else if ok == 0 {
        result.status = ClassStatus::Failed;
        let hint = if result.calls.status_codes.contains_key("401") {
            "; 401: the endpoint wants its token (run --token, or DYNOBENCH_TOKEN as the server has it)"
        } else {
            ""
        };
        result.failure = Some(format!("all {attempted} measured calls failed: {errors:?}{hint}"));
    }
    result
}

/// The driver's figures over the measured calls, judged by the driver-bottleneck rule.
fn driver_load(
    cpu0: &super::selfcpu::CpuReading,
    sends: Option<&super::load::SendStats>,
    plan: &RunPlan,
) -> crate::record::driver_load::DriverLoad {
    use std::sync::atomic::Ordering::Relaxed;
    let (wall_s, cpu_s, loop_cpu_s) = cpu0.since();
    let cores = super::selfcpu::allowed_cores();
    let (_, rate, _) = plan.load.shape();
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
            plan.load.concurrency()
        } else {
            0
        },
        bound: Vec::new(),
    }
    .judged()
}

/// A `--precision` check computing on another thread: its snapshot's calls and interval.
type PendingCheck = std::sync::mpsc::Receiver<(u64, crate::record::verdict::PercentileInterval)>;

/// Judges a finished precision check, if one is, and raises `enough` when the target is met.
fn precision_judged(
    precision: &mut Option<(crate::record::precision::PrecisionRule, Arc<AtomicBool>)>,
    checking: &mut Option<PendingCheck>,
) {
    let (Some((rule, enough)), Some(rx)) = (precision.as_mut(), checking.as_ref()) else {
        return;
    };
    match rx.try_recv() {
        Ok((calls, iv)) => {
            *checking = None;
            if rule.judge(calls, &iv) {
                enough.store(true, Ordering::Relaxed);
            }
        }
        Err(std::sync::mpsc::TryRecvError::Empty) => {}
        Err(std::sync::mpsc::TryRecvError::Disconnected) => *checking = None,
    }
}
