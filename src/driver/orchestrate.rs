//! Per-class orchestration: sandbox, server start-up, warm-up and measured calls with the
//! server watched for crashes and sampled every second, kernel counters around the measured
//! phase, worker-count sweeps, capacity searches, teardown.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

use super::client::{Caller, Target, tls_config};
use super::host::{self, cpu_jiffies, steal_pct};
use super::load::{Event, LoadModel, LoadSpec, drive};
use super::monitor::{Monitor, memory_quota};
use super::{Observer, RunError, RunPlan};
use crate::class::DynoClass;
use crate::limit::{
    AppliedLimits, Counters, Detection, LimiterKind, Placement, Sandbox, SandboxSpec, describe_exit, plan_cpu,
};
use crate::record::capacity::{CapacityReport, CapacitySearch, CapacityStep};
use crate::record::{ClassContext, ClassRecorder, ClassResult, ClassStatus, LoadFacts, Phase, apply_value};
use crate::report::model::{RunConfig, SCHEMA_VERSION, compact_stamp, rfc3339};
use crate::report::{RunReport, slo_verdicts, worker_sweeps};
use crate::slo::SloMetric;

const MIB: u64 = 1024 * 1024;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Where one class's calls go, and what watches it.
struct Endpoint<'a> {
    rt: &'a tokio::runtime::Runtime,
    target: Arc<Target>,
    tls: Option<Arc<rustls::ClientConfig>>,
    sandbox: Option<(&'a mut Sandbox, LimiterKind)>,
}

/// Runs every class of the plan (and every worker count of a sweep). Per-class failures are
/// recorded in the report, not returned as errors; an interrupt ends the run with the
/// finished classes kept.
pub fn run(plan: &RunPlan, detection: &Detection, obs: &mut dyn Observer) -> Result<RunReport, RunError> {
    let started = SystemTime::now();
    let mut hostf = host::probe();
    let remote = plan.target.is_some();
    let kind = if remote {
        None
    } else {
        Some(detection.choose(plan.limiter)?)
    };
    let placement = Placement::detect();
    if !remote {
        for dir in detection.remove_stale_groups() {
            obs.note(&format!("removed a stale group left by an earlier run: {dir}"));
        }
        hostf.placement_note = placement.describe();
        if let Err(e) = placement.pin_driver() {
            obs.note(&format!("could not pin the driver: {e}"));
            hostf.placement_note = format!("driver NOT pinned ({e}); the server may share its CPU");
        }
        hostf.placement = Some(placement.clone());
    }
    hostf.limiter = kind.map_or("remote".into(), |k| k.name().to_string());
    hostf.limiter_detail = kind.map_or("remote target: the platform's own limits".into(), |k| {
        k.describe().to_string()
    });
    hostf.cgroup2 = detection.cgroup2.as_ref().map_or_else(
        |e| format!("unavailable: {e}"),
        |s| format!("usable at {}", s.base.display()),
    );
    hostf.cgroup1 = detection.cgroup1.as_ref().map_or_else(
        |e| format!("unavailable: {e}"),
        |s| format!("usable at {}", s.cpu.display()),
    );
    let label = plan.label.clone();
    let mut report = RunReport {
        schema_version: SCHEMA_VERSION.into(),
        tool: concat!("dynobench ", env!("CARGO_PKG_VERSION")).into(),
        run_id: format!("{}-{label}", compact_stamp(started)),
        label,
        started_at: rfc3339(started),
        host: hostf,
        config: config_of(plan),
        catalog: plan.catalog.info.clone(),
        catalog_origin: plan.catalog.origin.clone(),
        workload: plan.workload.clone(),
        ..RunReport::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("starting the async runtime: {e}")))?;
    let tls = plan.target.as_ref().filter(|t| t.tls).map(|_| tls_config());
    let run_steal0 = cpu_jiffies();
    let mut attempted = 0;
    let mut expected = 0;
    for class in &plan.classes {
        let counts = if plan.workers.is_empty() {
            vec![class.workers]
        } else {
            plan.workers.clone()
        };
        expected += counts.len();
        let sweep = counts.len() > 1;
        for workers in counts {
            if crate::interrupt::requested() {
                break;
            }
            let name = if sweep {
                format!("{}@{workers}", class.name)
            } else {
                class.name.clone()
            };
            // A sweep drives at least as many callers as there are workers.
            let mut p = plan.clone();
            if sweep && let LoadModel::Closed { concurrency } = p.load {
                p.load = LoadModel::Closed {
                    concurrency: concurrency.max(workers),
                };
            }
            obs.class_started(&name, effective_warmup(p.warmup, workers), p.calls);
            let mut result = match (&p.target, kind) {
                (Some(t), _) => {
                    let mut ep = Endpoint {
                        rt: &rt,
                        target: Arc::new(t.clone()),
                        tls: tls.clone(),
                        sandbox: None,
                    };
                    measure(&mut ep, &p, class, workers, obs)
                }
                (None, Some(k)) => local_class(&rt, &p, class, workers, k, detection, &placement, obs),
                (None, None) => unreachable!("local runs always have a limiter"),
            };
            result.name = name;
            attempted += 1;
            report.classes.push(result);
            apply_value(&mut report.classes);
            report.slo = slo_verdicts(&report.classes, &plan.slos);
            report.worker_sweeps = worker_sweeps(&report.classes, &plan.slos);
            report.host.steal_pct = steal_pct(run_steal0, cpu_jiffies());
            obs.class_done(&report);
        }
    }
    report.interrupted = crate::interrupt::requested();
    report.complete = !report.interrupted && attempted == expected;
    report.finished_at = Some(rfc3339(SystemTime::now()));
    Ok(report)
}

/// Warm-up calls for `workers`: at least two per worker (unless warm-up is off), so that every
/// worker has served before the measurement.
fn effective_warmup(warmup: u32, workers: u32) -> u32 {
    if warmup == 0 { 0 } else { warmup.max(2 * workers) }
}

fn load_shape(load: &LoadModel) -> (&'static str, Option<f64>, Option<String>) {
    match *load {
        LoadModel::Closed { .. } => ("closed", None, None),
        LoadModel::Open { rate, arrivals, .. } => {
            ("open", Some(rate), Some(format!("{arrivals:?}").to_lowercase()))
        }
    }
}

fn config_of(plan: &RunPlan) -> RunConfig {
    let (model, rate, arrivals) = load_shape(&plan.load);
    RunConfig {
        classes: plan.classes.iter().map(|c| c.name.clone()).collect(),
        workers: plan.workers.clone(),
        warmup: plan.warmup,
        calls: plan.calls,
        load_model: model.into(),
        concurrency: plan.load.concurrency(),
        rate,
        arrivals,
        timeout_ms: plan.timeout.as_millis() as u64,
        limiter: match plan.limiter {
            crate::limit::LimiterChoice::Auto => "auto".into(),
            crate::limit::LimiterChoice::Exactly(k) => k.name().into(),
        },
        neighbours: plan.neighbours.map_or("none".into(), |n| {
            format!("{} (phase {} ms)", n.pattern, n.phase_ms)
        }),
        seed: plan.seed,
        url: plan.target.as_ref().map(Target::url),
        path: plan.path.clone(),
        slos: plan.slos.clone(),
        find_capacity: plan.capacity.as_ref().map(|c| c.slo.text.clone()),
        worker_ballast_mb: plan.ballast_mb,
    }
}

fn load_facts(plan: &RunPlan) -> LoadFacts {
    let (model, rate, arrivals) = load_shape(&plan.load);
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
fn failed_class(
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

/// Keeps the last lines a child wrote to a pipe.
fn tail_reader(pipe: impl std::io::Read + Send + 'static, lines: usize) -> Arc<Mutex<VecDeque<String>>> {
    let buf = Arc::new(Mutex::new(VecDeque::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut q = b.lock().unwrap_or_else(|p| p.into_inner());
            if q.len() == lines {
                q.pop_front();
            }
            q.push_back(line);
        }
    });
    buf
}

fn tail_text(buf: &Arc<Mutex<VecDeque<String>>>) -> String {
    let q = buf.lock().unwrap_or_else(|p| p.into_inner());
    if q.is_empty() {
        "(no stderr output)".into()
    } else {
        q.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

/// Starts the class's server in its sandbox, measures it, stops it.
#[allow(clippy::too_many_arguments)]
fn local_class(
    rt: &tokio::runtime::Runtime,
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    kind: LimiterKind,
    detection: &Detection,
    placement: &Placement,
    obs: &mut dyn Observer,
) -> ClassResult {
    let with_neighbours = plan.neighbours.is_some() && kind != LimiterKind::None;
    let spec = SandboxSpec {
        name: class.name.clone(),
        plan: plan_cpu(&class.name, &class.cpu, &placement.server, with_neighbours),
        memory_soft_bytes: Some(class.memory_mb * MIB),
        memory_hard_bytes: Some(class.memory_hard_mb * MIB),
        neighbours: plan.neighbours,
        helper_exe: plan.exe.clone(),
    };
    let mut sb = match Sandbox::create(kind, detection, spec) {
        Ok(s) => s,
        Err(e) => {
            return failed_class(
                plan,
                class,
                workers,
                format!("could not create the sandbox: {e}"),
                None,
            );
        }
    };
    let limits = sb.applied();
    for w in &limits.warnings {
        obs.note(&format!("{}: {w}", class.name));
    }
    let mut cmd = Command::new(&plan.exe);
    cmd.args(["serve", "--port", "0", "--workers", &workers.to_string()])
        .args(["--ballast-mb", &plan.ballast_mb.to_string()])
        .env("WEB_CONCURRENCY", workers.to_string())
        .env_remove("PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = &plan.payload {
        cmd.arg("--payload").arg(p);
    }
    let pid = match sb.spawn(cmd) {
        Ok(pid) => pid,
        Err(e) => {
            return failed_class(
                plan,
                class,
                workers,
                format!("could not start the server: {e}"),
                Some(limits),
            );
        }
    };
    let monitor = Monitor::start(pid, Duration::from_secs(1));
    let child = sb.server_mut().expect("spawned");
    let stderr = tail_reader(child.stderr.take().expect("piped"), 20);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line
                .strip_prefix("listening on ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|a| a.parse().ok())
            {
                let _ = addr_tx.send(addr);
            }
        }
    });
    let hard = Some(class.memory_hard_mb * MIB);
    // Start-up: the listening line, then /health, both bounded.
    let t = Instant::now();
    let addr = loop {
        if let Ok(a) = addr_rx.try_recv() {
            break Some(a);
        }
        if sb.server_exited().is_some() || t.elapsed() > plan.startup_timeout || crate::interrupt::requested()
        {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let target = addr.map(|a| Arc::new(Target::local(a)));
    let healthy = target.as_ref().is_some_and(|target| {
        rt.block_on(async {
            let mut c = Caller::new(target.clone(), None);
            while t.elapsed() < plan.startup_timeout && !crate::interrupt::requested() {
                if c.get("/health", Duration::from_secs(2), false).await.status == Some(200) {
                    return true;
                }
                if sb.server_exited().is_some() {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        })
    });
    let (Some(target), true) = (target, healthy) else {
        let cause = match sb.server_exited() {
            Some(st) => format!(
                "the server {} during start-up; its stderr: {}",
                describe_exit(st, sb.counters().oom_kills, hard, kind),
                tail_text(&stderr)
            ),
            None => format!(
                "the server did not answer /health within {:?}; its stderr: {}",
                plan.startup_timeout,
                tail_text(&stderr)
            ),
        };
        let _ = monitor.finish();
        let mut r = failed_class(plan, class, workers, cause, Some(limits));
        if crate::interrupt::requested() {
            r.status = ClassStatus::Interrupted;
            r.failure = Some("interrupted during start-up".into());
        }
        return r;
    };
    let mut ep = Endpoint {
        rt,
        target: target.clone(),
        tls: None,
        sandbox: Some((&mut sb, kind)),
    };
    let mut result = measure(&mut ep, plan, class, workers, obs);
    // Peak RSS as the server itself saw it (getrusage), if it is still up.
    let stats = rt.block_on(async {
        let mut c = Caller::new(target.clone(), None);
        c.get_body("/stats", Duration::from_secs(5)).await
    });
    let reported = stats
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["max_rss_bytes"].as_u64());
    let samples = monitor.finish();
    let sampled = samples.iter().map(|s| s.rss_bytes).max();
    result.peak_rss_bytes = reported.max(sampled);
    let quota = memory_quota(&samples, class.memory_mb * MIB);
    if quota.samples_over > 0 {
        result.warnings.push(format!(
            "R14 memory quota exceeded: {:.0} MB = {:.0}% of the {} MB quota in {} of {} samples (WEB_CONCURRENCY={workers})",
            quota.max_bytes as f64 / MIB as f64,
            quota.max_pct,
            class.memory_mb,
            quota.samples_over,
            samples.len()
        ));
    }
    result.memory_quota = Some(quota);
    result.runtime = samples;
    let exited = sb.stop_server(Duration::from_secs(10));
    let (_, problems) = sb.teardown();
    for p in problems {
        result.warnings.push(format!("cleanup: {p}"));
    }
    if result.status == ClassStatus::Ok
        && let Some(st) = exited
        && !st.success()
    {
        result
            .warnings
            .push(format!("the server did not shut down cleanly: {st}"));
    }
    result
}

/// One class's measurement: the plain load, or the capacity search when asked for.
fn measure(
    ep: &mut Endpoint,
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    match &plan.capacity {
        None => run_phase(ep, plan, class, workers, obs),
        Some(_) => capacity_search(ep, plan, class, workers, obs),
    }
}

/// Searches the highest open-loop rate whose latency percentile holds the SLO.
fn capacity_search(
    ep: &mut Endpoint,
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    obs: &mut dyn Observer,
) -> ClassResult {
    let spec = plan.capacity.clone().expect("capacity search requested");
    let pct = match spec.slo.metric {
        SloMetric::Percentile(p) => Some(p),
        _ => None,
    };
    // A short closed-loop probe (after the warm-up) gives the first guess.
    let mut probe_plan = plan.clone();
    probe_plan.load = LoadModel::Closed { concurrency: 1 };
    probe_plan.calls = 10;
    let probe = run_phase(ep, &probe_plan, class, workers, obs);
    if !probe.is_ok() {
        return probe;
    }
    let first = (probe.throughput_rps * 0.8).max(0.1);
    // Halve at most three times below the first guess: below that, the service time alone
    // breaks the SLO, and each step would take minutes.
    let mut search = CapacitySearch::new(first, spec.max_steps, 0.1, first / 8.0);
    let mut steps = Vec::new();
    let mut best: Option<ClassResult> = None;
    let mut last = probe;
    while let Some(rate) = search.next_rate() {
        if crate::interrupt::requested() {
            break;
        }
        let mut p = plan.clone();
        let (arrivals, connections) = match plan.load {
            LoadModel::Open {
                arrivals,
                connections,
                ..
            } => (arrivals, connections),
            LoadModel::Closed { .. } => (super::Arrivals::Constant, 64),
        };
        p.load = LoadModel::Open {
            rate,
            arrivals,
            connections,
        };
        p.warmup = 0;
        obs.class_started(&format!("{} @ {rate:.1}/s", class.name), 0, p.calls);
        let r = run_phase(ep, &p, class, workers, obs);
        let x = pct.and_then(|p| r.latency.percentile(p).cloned());
        let value = match spec.slo.metric {
            SloMetric::Percentile(_) => x.as_ref().and_then(|x| x.value_us).map(|v| v as f64),
            SloMetric::Max => Some(r.latency.max_us as f64),
            SloMetric::ErrorRate => Some(r.calls.error_rate),
        };
        // A latency SLO also needs every call to succeed; an error-rate SLO is its own limit.
        let clean = spec.slo.metric == SloMetric::ErrorRate || r.calls.error_rate == 0.0;
        let held = r.is_ok() && clean && value.is_some_and(|v| spec.slo.holds(v));
        steps.push(CapacityStep {
            rate_rps: rate,
            achieved_rps: r.throughput_rps,
            value_us: value
                .filter(|_| pct.is_some() || spec.slo.metric == SloMetric::Max)
                .map(|v| v as u64),
            ci_low_us: x.as_ref().and_then(|x| x.ci_low_us),
            ci_high_us: x.as_ref().and_then(|x| x.ci_high_us),
            error_rate: r.calls.error_rate,
            held,
        });
        obs.note(&format!(
            "{}: {rate:.1} req/s -> {} {}",
            class.name,
            value.map_or("not estimable".into(), |v| {
                if spec.slo.metric == SloMetric::ErrorRate {
                    format!("error rate {:.2}%", v * 100.0)
                } else {
                    format!("{:.1} ms", v / 1000.0)
                }
            }),
            if held { "holds" } else { "breaks" }
        ));
        search.record(rate, held);
        let failed_hard = !r.is_ok() && r.calls.ok == 0;
        if held && best.as_ref().is_none_or(|b| b.load.target_rps < Some(rate)) {
            best = Some(r);
        } else {
            last = r;
        }
        if failed_hard {
            break;
        }
    }
    let (held, broke) = search.bracket();
    let mut result = best.unwrap_or(last);
    if crate::interrupt::requested() {
        result.status = ClassStatus::Interrupted;
        result.failure = Some(format!("interrupted after {} capacity steps", steps.len()));
    }
    if held.is_none() {
        result.warnings.push(format!("no rate tried held {}", spec.slo));
    }
    result.capacity = Some(CapacityReport {
        slo: spec.slo.text.clone(),
        steps,
        max_rate_rps: held,
        broke_at_rps: broke,
        converged: search.converged(),
        rps_per_100_usd_month: held.map(|h| h / (class.price_usd_month / 100.0)),
    });
    result
}

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
fn run_phase(
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
        calls: plan.calls,
        timeout: plan.timeout,
        path: plan.path.clone(),
        seed: plan.seed,
    };
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
                        measured_start = unix_now();
                        rec.measuring_from(at_us);
                    }
                    Some(Event::Call(r, d)) => {
                        if digest.is_none() && d.is_some() {
                            digest = d;
                        }
                        obs.call_done(r.phase == Phase::Measured, r.error.is_none());
                        rec.record(&r);
                    }
                },
                _ = tick.tick() => {
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
        result.failure = Some(format!("all {attempted} measured calls failed: {errors:?}"));
    }
    result
}
