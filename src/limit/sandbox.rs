//! The sandbox: one class's server process (and its noisy neighbours) started inside the
//! backend's limits from exec on, observed through the backend's counters, and torn down
//! (processes killed and reaped, groups removed) on every path, including panics.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::backend::{Backend, SandboxSpec};
use super::{Detection, LimitError, cgroup1, cgroup2, dutycycle, none};
use crate::record::{AppliedLimits, Counters, LimiterKind};

/// A running sandbox.
pub struct Sandbox {
    backend: Box<dyn Backend>,
    spec: SandboxSpec,
    server: Option<Child>,
    neighbours: Vec<Child>,
    last_counters: Counters,
    torn_down: bool,
    burst: Option<super::burst::Controller>,
    /// The server's cgroup directory (the CPU controller's, for v1), where there is one.
    group_dir: Option<std::path::PathBuf>,
    /// Server processes that outlived every kill (reported at teardown); `None` until the
    /// group was killed (once: a reaped leader's pid may be reused later).
    survivors: Option<Vec<i32>>,
}

impl Sandbox {
    /// Creates the sandbox's groups (nothing runs yet).
    pub fn create(
        kind: LimiterKind,
        detection: &Detection,
        spec: SandboxSpec,
    ) -> Result<Sandbox, LimitError> {
        let unavailable = |reason: &String| LimitError::Unavailable {
            kind,
            reason: reason.clone(),
        };
        let backend: Box<dyn Backend> = match kind {
            LimiterKind::Cgroup2 => {
                let site = detection.cgroup2.as_ref().map_err(unavailable)?;
                Box::new(cgroup2::Cgroup2::create(site, &spec).map_err(LimitError::Setup)?)
            }
            LimiterKind::Cgroup1 => {
                let site = detection.cgroup1.as_ref().map_err(unavailable)?;
                Box::new(cgroup1::Cgroup1::create(site, &spec).map_err(LimitError::Setup)?)
            }
            LimiterKind::Dutycycle => Box::new(dutycycle::Dutycycle::new(&spec)),
            LimiterKind::None => Box::new(none::Unlimited::new(&spec)),
        };
        let mut sb = Sandbox {
            backend,
            spec,
            server: None,
            neighbours: Vec::new(),
            last_counters: Counters::default(),
            torn_down: false,
            burst: None,
            group_dir: None,
            survivors: None,
        };
        sb.group_dir = sb.applied().group.map(std::path::PathBuf::from);
        Ok(sb)
    }

    /// The server's processes now: its cgroup's members, or its process group's (the server
    /// leads one) where there is no cgroup. Forked workers included.
    pub fn members(&self) -> Vec<i32> {
        match (&self.group_dir, &self.server) {
            (Some(dir), _) => super::group::cgroup_members(dir),
            (None, Some(c)) => super::group::process_group_members(c.id() as i32),
            (None, None) => Vec::new(),
        }
    }

    /// The server's cgroup directory, where there is one (PSI, `cgroup.kill`).
    pub fn group_dir(&self) -> Option<&std::path::Path> {
        self.group_dir.as_deref()
    }

    /// Kills whatever is left of the server (forked workers that outlived it): the whole
    /// cgroup and the whole process group.
    fn kill_rest(&mut self) {
        let pgid = self.server.as_ref().map(|c| c.id() as i32);
        let left = super::group::kill_all(self.group_dir.as_deref(), pgid, Duration::from_secs(3));
        self.survivors = Some(left);
    }

    /// Which backend enforces the limits.
    pub fn kind(&self) -> LimiterKind {
        self.backend.kind()
    }

    /// Starts the neighbours (for shared classes) and then `cmd` as the server, both inside
    /// the limits from exec on. Returns the server's pid.
    pub fn spawn(&mut self, mut cmd: Command) -> Result<u32, LimitError> {
        if self.server.is_some() {
            return Err(LimitError::Setup("this sandbox already runs a server".into()));
        }
        if let Some(load) = self.spec.neighbours
            && self.spec.cpu.neighbours > 0
            && self.neighbours.is_empty()
        {
            for i in 0..self.spec.cpu.neighbours {
                let mut n = Command::new(&self.spec.helper_exe);
                n.args(load.args(i))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                let fds = self.backend.neighbour_join().map_err(LimitError::Setup)?;
                let child = spawn_limited(&mut n, &fds, &self.spec.cpu.cpus, None)?;
                self.neighbours.push(child);
            }
        }
        let fds = self.backend.server_join().map_err(LimitError::Setup)?;
        let nice = self.backend.server_nice();
        let child = spawn_limited(cmd.stdin(Stdio::null()), &fds, &self.spec.cpu.cpus, nice)?;
        let pid = child.id();
        self.server = Some(child);
        self.backend.started(pid as i32);
        if let Some(b) = self.spec.cpu.burst
            && let Some(set) = self.backend.quota_setter()
        {
            self.burst = Some(super::burst::Controller::start(pid as i32, b, set));
        }
        Ok(pid)
    }

    /// The server child (to take its stdout/stderr pipes).
    pub fn server_mut(&mut self) -> Option<&mut Child> {
        self.server.as_mut()
    }

    /// The server's exit status if it has exited.
    pub fn server_exited(&mut self) -> Option<ExitStatus> {
        self.server.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Counters since the sandbox was created (kept from the last read once processes are gone).
    pub fn counters(&mut self) -> Counters {
        let server = self.server.as_ref().map(|c| c.id() as i32);
        let nbs: Vec<i32> = self.neighbours.iter().map(|c| c.id() as i32).collect();
        let now = self.backend.counters(server, &nbs);
        // Process-based counters vanish with the process; keep the last values seen.
        let keep = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let l = &self.last_counters;
        self.last_counters = Counters {
            cpu_usage_us: keep(now.cpu_usage_us, l.cpu_usage_us),
            nr_periods: keep(now.nr_periods, l.nr_periods),
            nr_throttled: keep(now.nr_throttled, l.nr_throttled),
            throttled_us: keep(now.throttled_us, l.throttled_us),
            memory_peak_bytes: keep(now.memory_peak_bytes, l.memory_peak_bytes),
            oom_kills: keep(now.oom_kills, l.oom_kills),
            neighbour_cpu_us: keep(now.neighbour_cpu_us, l.neighbour_cpu_us),
            stopped_us: keep(now.stopped_us, l.stopped_us),
        };
        self.last_counters.clone()
    }

    /// The limits as applied (after capping), with the backend's details.
    pub fn applied(&self) -> AppliedLimits {
        let p = &self.spec.cpu;
        let mut a = AppliedLimits {
            backend: Some(self.backend.kind()),
            cpus: p.cpus.clone(),
            quota_cores: p.quota_cores,
            period_us: p.period_us,
            burst_us: p.burst_us,
            quota_per_vcpu: !p.pooled,
            what_if: p.what_if.clone(),
            floor_cores: p.floor_cores,
            neighbours: if self.spec.neighbours.is_some() {
                p.neighbours
            } else {
                0
            },
            neighbour_pattern: self
                .spec
                .neighbours
                .filter(|_| p.neighbours > 0)
                .map(|l| format!("{} (phase {} ms, seed {})", l.pattern, l.phase_ms, l.seed)),
            memory_soft_bytes: self.spec.memory_soft_bytes,
            memory_hard_bytes: self.spec.memory_hard_bytes,
            warnings: p.warnings.clone(),
            ..AppliedLimits::default()
        };
        self.backend.describe(&mut a);
        if let Some(b) = p.burst {
            if self.backend.quota_setter().is_some() {
                a.warnings.push(format!(
                    "burst-balance CPU: {:.2} cores while the balance lasts ({:.1} of {:.1} core-s at the start), then {:.3}; the quota is set from the balance every 100 ms",
                    b.burst_cores, b.start_s, b.capacity_s, b.baseline_cores
                ));
            } else {
                a.warnings.push(format!(
                    "burst-balance CPU not applied: the {} backend cannot change the quota while the server runs",
                    self.backend.kind().name()
                ));
            }
        }
        a
    }

    /// A burst-balance CPU's balance over time so far (`None` for other CPU models).
    pub fn burst_trace(&self) -> Option<crate::record::BurstTrace> {
        self.burst.as_ref().map(super::burst::Controller::trace)
    }

    /// Stops the server: SIGTERM, up to `grace` to exit, then SIGKILL; then every process
    /// left in its group (forked workers). Returns its status.
    pub fn stop_server(&mut self, grace: Duration) -> Option<ExitStatus> {
        let st = self.stop_leader(grace);
        if self.server.is_some() && self.survivors.is_none() {
            self.kill_rest();
        }
        st
    }

    fn stop_leader(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.counters();
        if let Some(b) = self.burst.as_mut() {
            b.stop();
        }
        self.backend.before_stop();
        let child = self.server.as_mut()?;
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        // The server leads its own process group: SIGTERM reaches every process of it at
        // once (forked workers too), as the platform's dyno manager does.
        let pid = Pid::from_raw(child.id() as i32);
        let group = Pid::from_raw(-(child.id() as i32));
        let _ = kill(group, Signal::SIGCONT);
        let _ = kill(group, Signal::SIGTERM);
        let _ = kill(pid, Signal::SIGTERM);
        let t = Instant::now();
        while t.elapsed() < grace {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Stops everything and removes the groups. Returns the final counters and any
    /// problems met while cleaning up.
    pub fn teardown(mut self) -> (Counters, Vec<String>) {
        let problems = self.teardown_inner();
        (self.last_counters.clone(), problems)
    }

    fn teardown_inner(&mut self) -> Vec<String> {
        if self.torn_down {
            return Vec::new();
        }
        self.torn_down = true;
        self.stop_server(Duration::from_secs(5));
        for n in &mut self.neighbours {
            let _ = n.kill();
            let _ = n.wait();
        }
        self.neighbours.clear();
        let mut problems = Vec::new();
        if let Some(left) = self.survivors.as_ref().filter(|l| !l.is_empty()) {
            problems.push(format!(
                "server processes {left:?} were still alive after SIGKILL"
            ));
        }
        problems.extend(self.backend.destroy());
        problems
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for p in self.teardown_inner() {
            eprintln!("dynobench: cleanup: {p}");
        }
    }
}

/// Builds a `cpu_set_t` before fork (the pre-exec hook must not allocate).
fn libc_cpu_set(cpus: &[usize]) -> Option<libc::cpu_set_t> {
    if cpus.is_empty() {
        return None;
    }
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only touch the struct we own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        Some(set)
    }
}

/// Spawns `cmd` so that, between fork and exec, the child: dies with its parent
/// (PDEATHSIG), leaves the terminal's process group (Ctrl-C reaches only dynobench, which
/// then stops it in order), pins itself to `cpus`, joins the groups whose `cgroup.procs`
/// are open in `fds`, and sets its nice value.
fn spawn_limited(
    cmd: &mut Command,
    fds: &[File],
    cpus: &[usize],
    nice: Option<i32>,
) -> Result<Child, LimitError> {
    let raw: Vec<i32> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let set = libc_cpu_set(cpus);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the hook only makes async-signal-safe system calls on data prepared before
    // the fork (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
                // The parent is gone: give up (no allocation here, between fork and exec).
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            libc::setpgid(0, 0);
            if let Some(set) = &set
                && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0
            {
                return Err(io::Error::last_os_error());
            }
            for &fd in &raw {
                if libc::write(fd, b"0".as_ptr().cast(), 1) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some(n) = nice
                && libc::setpriority(libc::PRIO_PROCESS, 0, n) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let program = cmd.get_program().to_string_lossy().to_string();
    cmd.spawn()
        .map_err(|source| LimitError::Spawn { program, source })
}

/// Says how a server process ended, naming OOM kills as such rather than as a mystery crash.
pub fn describe_exit(
    status: ExitStatus,
    oom_kills: Option<u64>,
    hard_limit: Option<u64>,
    kind: LimiterKind,
) -> String {
    let limit = hard_limit.map_or(String::new(), |b| format!(" of {} MB", b / (1024 * 1024)));
    match (status.code(), status.signal()) {
        (_, Some(9)) if oom_kills.unwrap_or(0) > 0 => match kind {
            LimiterKind::Dutycycle | LimiterKind::None => {
                format!("killed by dynobench's memory watchdog at the hard memory limit{limit} (R15)")
            }
            _ => format!("killed by the kernel OOM killer at the hard memory limit{limit} (R15)"),
        },
        (_, Some(sig)) => format!(
            "killed by signal {sig} ({})",
            Signal::try_from(sig).map_or("unknown", |s| s.as_str())
        ),
        (Some(0), _) => "exited normally (code 0)".into(),
        (Some(code), _) => format!("exited with code {code}"),
        _ => format!("ended: {status}"),
    }
}
