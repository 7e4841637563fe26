//! A local, sandboxed target: the class's `dynobench serve` started in its sandbox, found
//! by its readiness line and `/health`, measured, sampled every second, asked for its
//! `/stats`, and stopped with its sandbox torn down.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::capacity::measure;
use super::client::{Caller, Target};
use super::monitor::Monitor;
use super::observer::Observer;
use super::phase::{Endpoint, MIB, failed_class};
use super::plan::{Phase, RunPlan};
use crate::class::DynoClass;
use crate::endpoint::{StatsResponse, listening_addr};
use crate::limit::{Detection, Sandbox, SandboxSpec, allot_cpu, describe_exit};
use crate::record::{
    AppliedLimits, ClassResult, ClassStatus, LimiterKind, Placement, RuntimeSample, memory_quota,
};

/// Keeps the last lines a child wrote to a pipe.
fn tail_reader(pipe: impl std::io::Read + Send + 'static, lines: usize) -> Tail {
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

fn tail_text(buf: &Tail) -> String {
    let q = buf.lock().unwrap_or_else(|p| p.into_inner());
    if q.is_empty() {
        "(no stderr output)".into()
    } else {
        q.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

/// A class's server running in its own sandbox, answering at `target`.
pub(crate) struct LocalServer {
    pub(crate) sb: Sandbox,
    pub(crate) target: Arc<Target>,
    monitor: Monitor,
    /// `dynobench serve` (it has `/stats`), not the user's server.
    own_endpoint: bool,
}

/// Why a server could not be started: the cause, the limits that were applied, and whether
/// the user interrupted it.
pub(crate) struct StartFailure {
    pub(crate) cause: String,
    pub(crate) limits: Option<AppliedLimits>,
    pub(crate) interrupted: bool,
}

/// How local servers are sandboxed here: the limiter, what was detected, and the CPUs
/// they run on.
pub(crate) struct Sandboxing<'a> {
    /// The limiter chosen for the run.
    pub(crate) kind: LimiterKind,
    /// What the host supports.
    pub(crate) detection: &'a Detection,
    /// The CPUs of the servers (and of the driver).
    pub(crate) placement: &'a Placement,
}

/// The last lines a child wrote to a pipe.
type Tail = Arc<Mutex<VecDeque<String>>>;

/// What a starting server writes: its stderr, and the user's app's stdout (ours only says
/// where it listens).
struct Output {
    stderr: Tail,
    app_out: Option<Tail>,
}

/// Starts `dynobench serve` for `class` in a sandbox labelled `label`, waits for its
/// listening line and `/health`, and returns it running (or why it is not).
pub(crate) fn start_local(
    rt: &tokio::runtime::Runtime,
    plan: &RunPlan,
    class: &DynoClass,
    label: &str,
    workers: u32,
    sx: &Sandboxing,
    obs: &mut dyn Observer,
) -> Result<LocalServer, Box<StartFailure>> {
    let fail = |cause: String, limits: Option<AppliedLimits>| {
        Box::new(StartFailure {
            cause,
            limits,
            interrupted: crate::interrupt::requested(),
        })
    };
    let mut sb = Sandbox::create(sx.kind, sx.detection, sandbox_spec(plan, class, label, sx))
        .map_err(|e| fail(format!("could not create the sandbox: {e}"), None))?;
    let limits = sb.applied();
    for w in &limits.warnings {
        obs.note(&format!("{label}: {w}"));
    }
    // The user's own server listens on a port chosen here ($PORT); ours says where it listens.
    let app_port = match &plan.app {
        Some(_) => match super::app::free_port() {
            Ok(p) => Some(p),
            Err(e) => {
                let (_, _) = sb.teardown();
                return Err(fail(
                    format!("could not find a free port for $PORT: {e}"),
                    Some(limits),
                ));
            }
        },
        None => None,
    };
    let pid = match sb.spawn(server_command(plan, class, workers, app_port)) {
        Ok(pid) => pid,
        Err(e) => {
            let (_, _) = sb.teardown();
            let what = plan.app.as_ref().map_or("the server".into(), |a| {
                format!("class {}: your server {}", class.name, super::app::describe(a))
            });
            return Err(fail(format!("could not start {what}: {e}"), Some(limits)));
        }
    };
    let monitor = Monitor::start(pid, Duration::from_secs(1));
    let (addr_rx, out) = read_output(&mut sb, app_port);
    // Start-up: the listening line, then /health, both bounded.
    let t = Instant::now();
    let target = listening(plan, &mut sb, &addr_rx, t);
    let healthy = target
        .as_ref()
        .is_some_and(|target| answers_health(rt, plan, target, &mut sb, t));
    match (target, healthy) {
        (Some(target), true) => Ok(LocalServer {
            sb,
            target,
            monitor,
            own_endpoint: plan.app.is_none(),
        }),
        _ => {
            let cause = not_started(plan, class, &mut sb, sx.kind, app_port, &out, t.elapsed());
            let _ = monitor.finish();
            let _ = sb.stop_server(Duration::from_secs(5));
            let (_, problems) = sb.teardown();
            let mut f = fail(cause, Some(limits));
            if !problems.is_empty() {
                f.cause.push_str(&format!("; cleanup: {}", problems.join("; ")));
            }
            if f.interrupted {
                f.cause = "interrupted during start-up".into();
            }
            Err(f)
        }
    }
}

/// The class's sandbox: its CPU share on the server CPUs (with the what-if and start
/// balance applied), its memory limits and its neighbours.
fn sandbox_spec(plan: &RunPlan, class: &DynoClass, label: &str, sx: &Sandboxing) -> SandboxSpec {
    let with_neighbours = plan.neighbours.is_some() && sx.kind != LimiterKind::None;
    let mut cpu = allot_cpu(
        &class.name,
        &class.cpu,
        class.bandwidth(),
        &sx.placement.server,
        with_neighbours,
    );
    cpu.apply_what_if(&class.name, &plan.what_if);
    if let (Some(b), Some(start)) = (cpu.burst.as_mut(), plan.start_balance_s) {
        b.start_s = start.min(b.capacity_s);
    }
    SandboxSpec {
        name: label.to_string(),
        cpu,
        memory_soft_bytes: Some(class.memory_mb * MIB),
        memory_hard_bytes: Some(class.memory_hard_mb * MIB),
        neighbours: plan.neighbours,
        helper_exe: plan.exe.clone(),
    }
}

/// The server's command: `dynobench serve`, or the user's app on `app_port`.
fn server_command(plan: &RunPlan, class: &DynoClass, workers: u32, app_port: Option<u16>) -> Command {
    if let (Some(app), Some(port)) = (&plan.app, app_port) {
        return super::app::app_command(app, port, workers, class.memory_mb);
    }
    let mut cmd = Command::new(&plan.exe);
    cmd.args(["serve", "--port", "0", "--workers", &workers.to_string()])
        .args(["--ballast-mb", &plan.ballast_mb.to_string()])
        // A local server is not public: no token, and the run's own io_ms limit.
        .args(["--max-io-ms", "600000"])
        .env("WEB_CONCURRENCY", workers.to_string())
        .env_remove("PORT")
        .env_remove("DYNOBENCH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = &plan.payload {
        cmd.arg("--payload").arg(p);
    }
    cmd
}

/// Reads the spawned server's output: where it listens (its listening line; the app's is
/// `$PORT`), and the last lines it wrote, for errors.
fn read_output(sb: &mut Sandbox, app_port: Option<u16>) -> (Receiver<SocketAddr>, Output) {
    let child = sb.server_mut().expect("spawned");
    let stderr = tail_reader(child.stderr.take().expect("piped"), 20);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let stdout = child.stdout.take().expect("piped");
    // The app's output is kept for errors; its address is $PORT.
    let (app_out, stdout) = match app_port {
        Some(p) => {
            let _ = addr_tx.send(super::app::app_addr(p));
            (Some(tail_reader(stdout, 20)), None)
        }
        None => (None, Some(stdout)),
    };
    std::thread::spawn(move || {
        let Some(stdout) = stdout else { return };
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = listening_addr(&line).and_then(|a| a.parse().ok()) {
                let _ = addr_tx.send(addr);
            }
        }
    });
    (addr_rx, Output { stderr, app_out })
}

/// The server's target once it says where it listens (`None`: it exited, the start-up
/// timeout since `t` passed, or the user interrupted).
fn listening(
    plan: &RunPlan,
    sb: &mut Sandbox,
    addr_rx: &Receiver<SocketAddr>,
    t: Instant,
) -> Option<Arc<Target>> {
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
    addr.map(|a| Arc::new(Target::local(a).with_call(plan.call.clone())))
}

/// Whether the server answers its health path (ours: 200; the app: any answer below 500)
/// within the start-up timeout since `t`.
fn answers_health(
    rt: &tokio::runtime::Runtime,
    plan: &RunPlan,
    target: &Arc<Target>,
    sb: &mut Sandbox,
    t: Instant,
) -> bool {
    let health = plan.app.as_ref().map_or("/health", |a| a.health_path.as_str());
    let ready = |s: Option<u16>| match &plan.app {
        Some(_) => s.is_some_and(|s| s < 500),
        None => s == Some(200),
    };
    rt.block_on(async {
        let mut c = Caller::new(target.clone(), None);
        while t.elapsed() < plan.startup_timeout && !crate::interrupt::requested() {
            if ready(c.get(health, Duration::from_secs(2)).await.status) {
                return true;
            }
            if sb.server_exited().is_some() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    })
}

/// Why a server did not start, after `waited`: the app's own diagnosis, its exit, or no
/// answer in time; with its last output.
fn not_started(
    plan: &RunPlan,
    class: &DynoClass,
    sb: &mut Sandbox,
    kind: LimiterKind,
    app_port: Option<u16>,
    out: &Output,
    waited: Duration,
) -> String {
    let hard = Some(class.memory_hard_mb * MIB);
    let app_cause = plan.app.as_ref().zip(app_port).map(|(app, port)| {
        let listening: Vec<u16> = crate::limit::group::listening_ports(&sb.members())
            .into_iter()
            .collect();
        let exited = sb
            .server_exited()
            .map(|st| describe_exit(st, sb.counters().oom_kills, hard, kind));
        let text = match &out.app_out {
            Some(o) => format!("{} | {}", tail_text(o), tail_text(&out.stderr)),
            None => tail_text(&out.stderr),
        };
        super::app::not_ready(&class.name, app, port, exited, &listening, waited, &text)
    });
    match sb.server_exited() {
        _ if let Some(c) = app_cause => c,
        Some(st) => format!(
            "the server {} during start-up; its stderr: {}",
            describe_exit(st, sb.counters().oom_kills, hard, kind),
            tail_text(&out.stderr)
        ),
        None => format!(
            "the server did not answer /health within {:?}; its stderr: {}",
            plan.startup_timeout,
            tail_text(&out.stderr)
        ),
    }
}

impl LocalServer {
    /// The server's peak RSS as it saw it itself (getrusage), if it still answers.
    pub(crate) fn reported_rss(&self, rt: &tokio::runtime::Runtime) -> Option<u64> {
        if !self.own_endpoint {
            return None;
        }
        let target = self.target.clone();
        let stats = rt.block_on(async move {
            let mut c = Caller::new(target, None);
            c.get_body("/stats", Duration::from_secs(5)).await
        });
        stats
            .and_then(|b| serde_json::from_slice::<StatsResponse>(&b).ok())
            .map(|s| s.max_rss_bytes)
    }

    /// Stops the server and tears its sandbox down: the runtime samples taken, how it
    /// exited, and any cleanup problems.
    pub(crate) fn stop(mut self) -> (Vec<RuntimeSample>, Option<std::process::ExitStatus>, Vec<String>) {
        let samples = self.monitor.finish();
        let exited = self.sb.stop_server(Duration::from_secs(10));
        let (_, problems) = self.sb.teardown();
        (samples, exited, problems)
    }
}

/// Starts the class's server in its sandbox, measures it, stops it.
pub(crate) fn local_class(
    rt: &tokio::runtime::Runtime,
    plan: &RunPlan,
    phase: &Phase,
    class: &DynoClass,
    workers: u32,
    sx: &Sandboxing,
    obs: &mut dyn Observer,
) -> ClassResult {
    let mut server = match start_local(rt, plan, class, &class.name, workers, sx, obs) {
        Ok(s) => s,
        Err(f) => {
            let mut r = failed_class(phase, class, workers, f.cause, f.limits);
            if f.interrupted {
                r.status = ClassStatus::Interrupted;
            }
            return r;
        }
    };
    let mut ep = Endpoint {
        rt,
        target: server.target.clone(),
        tls: None,
        sandbox: Some((&mut server.sb, sx.kind)),
    };
    let mut result = measure(&mut ep, phase, plan.capacity.as_ref(), class, workers, obs);
    let reported = server.reported_rss(rt);
    let (samples, exited, problems) = server.stop();
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
