//! The cgroup v2 backend: cpu.max (quota/period), cpu.max.burst, cpu.weight, cpuset.cpus,
//! memory.max (the kill limit); counters from cpu.stat, memory.peak and memory.events.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::backend::{Backend, SandboxSpec, group_name, remove_tree};
use super::cgroupfs::{self, CgroupMount, Membership, cpu_list, read, read_u64, stat_field, write};
use crate::record::{AppliedLimits, Counters, LimiterKind};

/// cpu.weight of the server group (the v2 default); neighbours get a multiple of it.
const SERVER_WEIGHT: u64 = 100;
/// Where dynobench creates its v2 groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup2Site {
    /// The group under which sandboxes are created (controllers enabled in its subtree).
    pub base: PathBuf,
    /// Controllers available there (`cpu`, `cpuset`, `memory`, ...).
    pub controllers: Vec<String>,
    /// `false` for a fake tree in a temp dir (tests): files are created as they are written
    /// and removal deletes files too.
    pub real: bool,
}

impl Cgroup2Site {
    /// Finds the v2 hierarchy and a group where the cpu controller can be delegated.
    pub fn detect(mounts: &[CgroupMount], members: &[Membership]) -> Result<Cgroup2Site, String> {
        let m = mounts
            .iter()
            .find(|m| m.v2)
            .ok_or("no cgroup2 filesystem is mounted")?;
        if cgroupfs::fs_magic(&m.mount_point) != Some(cgroupfs::CGROUP2_SUPER_MAGIC) {
            return Err(format!("{} is not a cgroup2 filesystem", m.mount_point.display()));
        }
        let path = members
            .iter()
            .find(|x| x.id == 0)
            .map_or("/", |x| x.path.as_str());
        let own = cgroupfs::own_dir(m, path);
        let mut candidates = vec![own.clone()];
        if own != m.mount_point {
            candidates.push(m.mount_point.clone());
        }
        let mut reasons = Vec::new();
        for base in candidates {
            match Self::try_base(&base) {
                Ok(site) => return Ok(site),
                Err(e) => reasons.push(e),
            }
        }
        Err(reasons.join("; "))
    }

    fn try_base(base: &Path) -> Result<Cgroup2Site, String> {
        let controllers: Vec<String> = read(base, "cgroup.controllers")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !controllers.iter().any(|c| c == "cpu") {
            return Err(format!(
                "cgroup2 at {} offers no cpu controller (controllers: '{}'); on hybrid hosts the \
                 controllers are bound to cgroup v1 hierarchies",
                base.display(),
                controllers.join(" ")
            ));
        }
        // Enable each controller we use for the groups below the base (each on its own: one
        // that cannot be delegated must not stop the others), then keep the ones that are
        // really on: only those exist in the sandbox groups.
        let on = |base: &Path| -> Vec<String> {
            read(base, "cgroup.subtree_control")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        for c in ["cpu", "cpuset", "memory"] {
            if controllers.iter().any(|x| x == c) && !on(base).iter().any(|x| x == c) {
                let _ = write(base, "cgroup.subtree_control", &format!("+{c}"));
            }
        }
        let controllers: Vec<String> = on(base)
            .into_iter()
            .filter(|c| ["cpu", "cpuset", "memory"].contains(&c.as_str()))
            .collect();
        if !controllers.iter().any(|c| c == "cpu") {
            return Err(format!(
                "cannot enable the cpu controller for groups under {} (cgroup.subtree_control not writable, \
                 or the group holds processes); run from a delegated group or as root",
                base.display()
            ));
        }
        cgroupfs::probe_writable(base)?;
        Ok(Cgroup2Site {
            base: base.to_path_buf(),
            controllers,
            real: true,
        })
    }

    /// A site in a fake cgroup tree (tests of what the backend writes and parses).
    pub fn fake(base: PathBuf, controllers: &[&str]) -> Cgroup2Site {
        Cgroup2Site {
            base,
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            real: false,
        }
    }

    fn has(&self, c: &str) -> bool {
        self.controllers.iter().any(|x| x == c)
    }
}

/// A sandbox's v2 groups: `<base>/dynobench-…/{server,neighbours}`.
pub(crate) struct Cgroup2 {
    parent: PathBuf,
    server: PathBuf,
    neighbours: PathBuf,
    real: bool,
    neighbour_weight: Option<u64>,
    period_us: u64,
    burst_us: u64,
    notes: Vec<String>,
}

impl Cgroup2 {
    pub(crate) fn create(site: &Cgroup2Site, spec: &SandboxSpec) -> Result<Cgroup2, String> {
        let parent = site.base.join(group_name(&spec.name));
        std::fs::create_dir(&parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
        let mut g = Cgroup2 {
            server: parent.join("server"),
            neighbours: parent.join("neighbours"),
            parent,
            real: site.real,
            neighbour_weight: None,
            period_us: spec.cpu.period_us,
            burst_us: 0,
            notes: Vec::new(),
        };
        if let Err(e) = g.build(site, spec) {
            g.destroy();
            return Err(e);
        }
        Ok(g)
    }

    fn build(&mut self, site: &Cgroup2Site, spec: &SandboxSpec) -> Result<(), String> {
        let plan = &spec.cpu;
        let enable: Vec<String> = ["cpu", "cpuset", "memory"]
            .iter()
            .filter(|c| site.has(c))
            .map(|c| format!("+{c}"))
            .collect();
        write(&self.parent, "cgroup.subtree_control", &enable.join(" "))?;
        for d in [&self.server, &self.neighbours] {
            std::fs::create_dir(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        }
        let s = &self.server;
        let quota = plan.quota_us().map_or("max".to_string(), |q| q.to_string());
        write(s, "cpu.max", &format!("{quota} {}", plan.period_us))?;
        if plan.burst_us > 0 {
            if self.real && !s.join("cpu.max.burst").exists() {
                self.notes.push(format!(
                    "CPU burst of {} ms not applied: this kernel has no cpu.max.burst (CFS burst needs Linux 5.14 or later)",
                    plan.burst_us as f64 / 1000.0
                ));
            } else if let Err(e) = write(s, "cpu.max.burst", &plan.burst_us.to_string()) {
                self.notes.push(format!("CPU burst not applied ({e})"));
            } else {
                self.burst_us = plan.burst_us;
            }
        }
        write(s, "cpu.weight", &SERVER_WEIGHT.to_string())?;
        if let Some(r) = plan.neighbour_weight_ratio {
            let w = ((SERVER_WEIGHT as f64 * r).round() as u64).clamp(1, 10_000);
            write(&self.neighbours, "cpu.weight", &w.to_string())?;
            self.neighbour_weight = Some(w);
        }
        if site.has("cpuset") {
            let cpus = cpu_list(&plan.cpus);
            write(&self.parent, "cpuset.cpus", &cpus)?;
            write(s, "cpuset.cpus", &cpus)?;
            write(&self.neighbours, "cpuset.cpus", &cpus)?;
        } else {
            self.notes
                .push("cgroup2 cpuset controller unavailable: CPUs pinned by affinity only".into());
        }
        if site.has("memory") {
            if let Some(hard) = spec.memory_hard_bytes {
                write(s, "memory.max", &hard.to_string())?;
                // Swap would turn the hard limit into a slowdown; the platform kills instead.
                if !self.real || s.join("memory.swap.max").exists() {
                    let _ = write(s, "memory.swap.max", "0");
                }
            }
            // The soft limit (the class's quota) is reported, not enforced: memory.high would
            // throttle allocations hard, which neither cgroup v1 nor dutycycle does, so the
            // same class would behave differently by backend. R14 comes from RSS samples.
        } else if spec.memory_hard_bytes.is_some() {
            self.notes
                .push("cgroup2 memory controller unavailable: memory limits not enforced".into());
        }
        Ok(())
    }

    fn procs(&self, dir: &Path) -> Result<Vec<File>, String> {
        let p = dir.join("cgroup.procs");
        OpenOptions::new()
            .write(true)
            .create(!self.real)
            .truncate(false)
            .open(&p)
            .map(|f| vec![f])
            .map_err(|e| format!("opening {}: {e}", p.display()))
    }
}

impl Backend for Cgroup2 {
    fn kind(&self) -> LimiterKind {
        LimiterKind::Cgroup2
    }

    fn server_join(&self) -> Result<Vec<File>, String> {
        self.procs(&self.server)
    }

    fn neighbour_join(&self) -> Result<Vec<File>, String> {
        self.procs(&self.neighbours)
    }

    fn quota_setter(&self) -> Option<super::burst::QuotaSetter> {
        let dir = self.server.clone();
        let (period, burst) = (self.period_us, self.burst_us);
        Some(Box::new(move |cores: f64| {
            let q = ((cores * period as f64).round() as u64).max(1000);
            // The kernel refuses a quota below the burst: lower the burst first.
            if burst > 0 {
                write(&dir, "cpu.max.burst", "0")?;
            }
            write(&dir, "cpu.max", &format!("{q} {period}"))?;
            if burst > 0 {
                write(&dir, "cpu.max.burst", &burst.min(q).to_string())?;
            }
            Ok(())
        }))
    }

    fn counters(&self, _server: Option<i32>, _neighbours: &[i32]) -> Counters {
        let stat = read(&self.server, "cpu.stat").unwrap_or_default();
        let events = read(&self.server, "memory.events").unwrap_or_default();
        Counters {
            cpu_usage_us: stat_field(&stat, "usage_usec"),
            nr_periods: stat_field(&stat, "nr_periods"),
            nr_throttled: stat_field(&stat, "nr_throttled"),
            throttled_us: stat_field(&stat, "throttled_usec"),
            memory_peak_bytes: read_u64(&self.server, "memory.peak"),
            oom_kills: stat_field(&events, "oom_kill"),
            neighbour_cpu_us: read(&self.neighbours, "cpu.stat").and_then(|t| stat_field(&t, "usage_usec")),
            stopped_us: None,
        }
    }

    fn describe(&self, a: &mut AppliedLimits) {
        a.period_us = self.period_us;
        a.burst_us = self.burst_us;
        a.weight = Some(SERVER_WEIGHT);
        a.neighbour_weight = self.neighbour_weight;
        a.group = Some(self.server.display().to_string());
        a.warnings.extend(self.notes.iter().cloned());
    }

    fn destroy(&mut self) -> Vec<String> {
        if !self.parent.exists() {
            return Vec::new();
        }
        let r = if self.real {
            remove_tree(&self.parent)
        } else {
            std::fs::remove_dir_all(&self.parent).map_err(|e| e.to_string())
        };
        r.err().into_iter().collect()
    }
}
