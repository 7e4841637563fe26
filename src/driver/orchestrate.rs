//! Per-class orchestration: sandbox, server start-up, warm-up and measured calls with the
//! server watched for crashes, kernel counters around the measured phase, teardown.

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
use super::load::{LoadModel, LoadSpec, Sample, drive};
use super::{Observer, RunError, RunPlan};
use crate::class::DynoClass;
use crate::limit::{
    Counters, Detection, LimiterKind, Placement, Sandbox, SandboxSpec, describe_exit, plan_cpu,
};
use crate::record::{ClassContext, ClassRecorder, ClassResult, ClassStatus, LoadFacts, Phase, apply_value};
use crate::report::model::{RunConfig, SCHEMA_VERSION, compact_stamp, rfc3339};
use crate::report::{RunReport, slo_verdicts};

const MIB: u64 = 1024 * 1024;

/// Runs every class of the plan. Per-class failures are recorded in the report, not
/// returned as errors; an interrupt ends the run with the finished classes kept.
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
        if let Err(e) = placement.pin_driver() {
            obs.note(&format!("could not pin the driver: {e}"));
        }
        hostf.placement = Some(placement.clone());
        hostf.placement_note = placement.describe();
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
        finished_at: None,
        complete: false,
        interrupted: false,
        host: hostf,
        config: config_of(plan),
        catalog: plan.catalog.info.clone(),
        catalog_origin: plan.catalog.origin.clone(),
        workload: plan.workload.clone(),
        classes: Vec::new(),
        slo: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("starting the async runtime: {e}")))?;
    let tls = plan.target.as_ref().filter(|t| t.tls).map(|_| tls_config());
    let run_steal0 = cpu_jiffies();
    for class in &plan.classes {
        if crate::interrupt::requested() {
            break;
        }
        let workers = plan.workers.unwrap_or(class.workers);
        obs.class_started(&class.name, plan.warmup, plan.calls);
        let result = match (&plan.target, kind) {
            (Some(t), _) => run_class(
                &rt,
                plan,
                class,
                workers,
                None,
                Arc::new(t.clone()),
                tls.clone(),
                obs,
            ),
            (None, Some(k)) => local_class(&rt, plan, class, workers, k, detection, &placement, obs),
            (None, None) => unreachable!("local runs always have a limiter"),
        };
        report.classes.push(result);
        apply_value(&mut report.classes);
        report.slo = slo_verdicts(&report.classes, &plan.slos);
        report.host.steal_pct = steal_pct(run_steal0, cpu_jiffies());
        obs.class_done(&report);
    }
    report.interrupted = crate::interrupt::requested();
    report.complete = !report.interrupted && report.classes.len() == plan.classes.len();
    report.finished_at = Some(rfc3339(SystemTime::now()));
    Ok(report)
}

fn config_of(plan: &RunPlan) -> RunConfig {
    let (model, rate, arrivals) = match plan.load {
        LoadModel::Closed { .. } => ("closed", None, None),
        LoadModel::Open { rate, arrivals, .. } => {
            ("open", Some(rate), Some(format!("{arrivals:?}").to_lowercase()))
        }
    };
    RunConfig {
        classes: plan.classes.iter().map(|c| c.name.clone()).collect(),
        workers: plan.workers,
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
    }
}

fn load_facts(plan: &RunPlan) -> LoadFacts {
    let (model, rate, arrivals) = match plan.load {
        LoadModel::Closed { .. } => ("closed", None, None),
        LoadModel::Open { rate, arrivals, .. } => {
            ("open", Some(rate), Some(format!("{arrivals:?}").to_lowercase()))
        }
    };
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

/// A result for a class that could not be measured at all.
fn failed_class(
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    cause: String,
    limits: Option<crate::limit::AppliedLimits>,
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

fn context(
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    limits: Option<crate::limit::AppliedLimits>,
) -> ClassContext {
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
    }
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
        .env("WEB_CONCURRENCY", workers.to_string())
        .env_remove("PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = &plan.payload {
        cmd.arg("--payload").arg(p);
    }
    if let Err(e) = sb.spawn(cmd) {
        return failed_class(
            plan,
            class,
            workers,
            format!("could not start the server: {e}"),
            Some(limits),
        );
    }
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
    // Start-up: the listening line, then /health, both bounded.
    let t = Instant::now();
    let addr = loop {
        if let Ok(a) = addr_rx.try_recv() {
            break a;
        }
        if let Some(st) = sb.server_exited() {
            let c = sb.counters();
            let cause = format!(
                "the server {} during start-up; its stderr: {}",
                describe_exit(st, c.oom_kills, Some(class.memory_hard_mb * MIB), kind),
                tail_text(&stderr)
            );
            return failed_class(plan, class, workers, cause, Some(limits));
        }
        if t.elapsed() > plan.startup_timeout || crate::interrupt::requested() {
            let cause = format!(
                "the server did not start listening within {:?}; its stderr: {}",
                plan.startup_timeout,
                tail_text(&stderr)
            );
            return failed_class(plan, class, workers, cause, Some(limits));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let target = Arc::new(Target::local(addr));
    let healthy = rt.block_on(async {
        let mut c = Caller::new(target.clone(), None);
        while t.elapsed() < plan.startup_timeout {
            if c.get("/health", Duration::from_secs(2), false).await.status == Some(200) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    });
    if !healthy {
        let cause = format!(
            "/health did not answer 200 within {:?}; server stderr: {}",
            plan.startup_timeout,
            tail_text(&stderr)
        );
        return failed_class(plan, class, workers, cause, Some(limits));
    }
    let mut result = run_class(
        rt,
        plan,
        class,
        workers,
        Some((&mut sb, kind)),
        target.clone(),
        None,
        obs,
    );
    // Peak RSS as the server itself saw it (getrusage), if it is still up.
    let stats = rt.block_on(async {
        let mut c = Caller::new(target.clone(), None);
        c.get_body("/stats", Duration::from_secs(5)).await
    });
    if let Some(max_rss) = stats
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["max_rss_bytes"].as_u64())
    {
        result.peak_rss_bytes = Some(max_rss);
    }
    result.limits = Some(sb.applied());
    let exited = sb.stop_server(Duration::from_secs(10));
    let (_, problems) = sb.teardown();
    for p in problems {
        result.warnings.push(format!("cleanup: {p}"));
    }
    if result.status == ClassStatus::Ok
        && let Some(st) = exited
        && !st.success()
        && st.code() != Some(0)
    {
        result
            .warnings
            .push(format!("the server did not shut down cleanly: {st}"));
    }
    let _ = stderr;
    result
}

/// Drives one class's load against `target` and builds its result. With a sandbox, the
/// kernel counters are read around the measured phase and the server is watched for exits.
#[allow(clippy::too_many_arguments)]
fn run_class(
    rt: &tokio::runtime::Runtime,
    plan: &RunPlan,
    class: &DynoClass,
    workers: u32,
    mut sandbox: Option<(&mut Sandbox, LimiterKind)>,
    target: Arc<Target>,
    tls: Option<Arc<rustls::ClientConfig>>,
    obs: &mut dyn Observer,
) -> ClassResult {
    let open = matches!(plan.load, LoadModel::Open { .. });
    let mut rec = ClassRecorder::new(open, plan.timeout.as_micros() as u64);
    let spec = LoadSpec {
        model: plan.load,
        warmup: plan.warmup,
        calls: plan.calls,
        timeout: plan.timeout,
        path: plan.path.clone(),
        seed: plan.seed,
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut digest: Option<String> = None;
    let mut before: Option<Counters> = None;
    let mut steal0 = None;
    let mut measured_start = 0.0;
    let mut failure: Option<String> = None;
    let interrupted = AtomicBool::new(false);
    rt.block_on(async {
        let load = tokio::spawn(drive(target, tls, spec, tx, stop_rx));
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                got = rx.recv() => {
                    let Some((r, d)) = got else { break };
                    if r.phase == Phase::Measured && before.is_none() {
                        // First measured call: the boundary of the measured phase.
                        before = Some(sandbox.as_mut().map(|(s, _)| s.counters()).unwrap_or_default());
                        steal0 = cpu_jiffies();
                        measured_start = SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .map_or(0.0, |d| d.as_secs_f64());
                    }
                    if digest.is_none() && d.is_some() {
                        digest = d;
                    }
                    obs.call_done(r.phase == Phase::Measured, r.error.is_none());
                    rec.record(&r);
                }
                _ = tick.tick() => {
                    if crate::interrupt::requested() {
                        interrupted.store(true, Ordering::SeqCst);
                        let _ = stop_tx.send(true);
                    }
                    if let Some((s, k)) = sandbox.as_mut()
                        && failure.is_none()
                        && let Some(st) = s.server_exited()
                    {
                        let c = s.counters();
                        failure = Some(format!(
                            "the server {} after {} measured calls",
                            describe_exit(st, c.oom_kills, class_hard_limit(class), *k),
                            rec.attempted()
                        ));
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
        while t.elapsed() < Duration::from_millis(500) {
            if let Some(st) = s.server_exited() {
                let c = s.counters();
                failure = Some(format!(
                    "the server {} after {} measured calls",
                    describe_exit(st, c.oom_kills, class_hard_limit(class), *k),
                    rec.attempted()
                ));
                break;
            }
            if rec.ok() > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let after = sandbox.as_mut().map(|(s, _)| s.counters()).unwrap_or_default();
    let kernel = after.since(&before.clone().unwrap_or_default());
    let limits = sandbox.as_ref().map(|(s, _)| s.applied());
    let mut ctx = context(plan, class, workers, limits);
    ctx.kernel = kernel;
    ctx.steal_pct = steal_pct(steal0, cpu_jiffies());
    ctx.digest = digest;
    ctx.measured_start_unix_s = measured_start;
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

fn class_hard_limit(class: &DynoClass) -> Option<u64> {
    Some(class.memory_hard_mb * MIB)
}
