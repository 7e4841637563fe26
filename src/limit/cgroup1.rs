//! The cgroup v1 backend (hybrid hosts): cpu.cfs_quota_us/cfs_period_us, cpu.cfs_burst_us,
//! cpu.shares, cpuset.cpus/mems, memory.limit_in_bytes; counters from cpu.stat
//! (`throttled_time` is in ns), cpuacct.usage and memory.oom_control.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::backend::{Backend, SandboxSpec, group_name, remove_tree};
use super::cgroupfs::{self, CgroupMount, Membership, cpu_list, read, read_u64, stat_field, write};
use crate::record::{AppliedLimits, Counters, LimiterKind};

/// cpu.shares of the server group; neighbours get a multiple of it.
const SERVER_SHARES: u64 = 1024;

/// Where this process's v1 groups are, per controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup1Site {
    /// This process's group in the cpu hierarchy.
    pub cpu: PathBuf,
    /// ... in the cpuacct hierarchy (may be the same directory as `cpu`).
    pub cpuacct: Option<PathBuf>,
    /// ... in the cpuset hierarchy.
    pub cpuset: Option<PathBuf>,
    /// ... in the memory hierarchy.
    pub memory: Option<PathBuf>,
}

fn own(mounts: &[CgroupMount], members: &[Membership], controller: &str) -> Option<PathBuf> {
    let m = mounts
        .iter()
        .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))?;
    let path = members
        .iter()
        .find(|x| x.id != 0 && x.controllers.iter().any(|c| c == controller))
        .map_or("/", |x| x.path.as_str());
    Some(cgroupfs::own_dir(m, path))
}

impl Cgroup1Site {
    /// Finds the v1 hierarchies and checks that the cpu one is writable.
    pub fn detect(mounts: &[CgroupMount], members: &[Membership]) -> Result<Cgroup1Site, String> {
        let cpu =
            own(mounts, members, "cpu").ok_or("no cgroup v1 hierarchy with the cpu controller is mounted")?;
        if cgroupfs::fs_magic(&cpu) != Some(cgroupfs::CGROUP_SUPER_MAGIC) {
            return Err(format!("{} is not a cgroup v1 filesystem", cpu.display()));
        }
        if !cpu.join("cpu.cfs_quota_us").exists() {
            return Err(format!(
                "{} has no cpu.cfs_quota_us (kernel without CFS bandwidth control)",
                cpu.display()
            ));
        }
        cgroupfs::probe_writable(&cpu)?;
        let usable = |d: Option<PathBuf>| d.filter(|d| cgroupfs::probe_writable(d).is_ok());
        Ok(Cgroup1Site {
            cpuacct: usable(own(mounts, members, "cpuacct")),
            cpuset: usable(own(mounts, members, "cpuset")),
            memory: usable(own(mounts, members, "memory")),
            cpu,
        })
    }

    /// The directories where this process's groups are created (for stale cleanup).
    pub fn bases(&self) -> Vec<PathBuf> {
        let mut v = vec![self.cpu.clone()];
        v.extend(self.cpuacct.iter().cloned());
        v.extend(self.cpuset.iter().cloned());
        v.extend(self.memory.iter().cloned());
        v.sort();
        v.dedup();
        v
    }
}

/// A sandbox's v1 groups.
pub(crate) struct Cgroup1 {
    parents: Vec<PathBuf>,
    cpu: (PathBuf, PathBuf),
    acct: Option<(PathBuf, PathBuf)>,
    cpuset: Option<(PathBuf, PathBuf)>,
    memory: Option<PathBuf>,
    neighbour_shares: Option<u64>,
    period_us: u64,
    burst_us: u64,
    notes: Vec<String>,
}

impl Cgroup1 {
    pub(crate) fn create(site: &Cgroup1Site, spec: &SandboxSpec) -> Result<Cgroup1, String> {
        let name = group_name(&spec.name);
        let mut g = Cgroup1 {
            parents: Vec::new(),
            cpu: (PathBuf::new(), PathBuf::new()),
            acct: None,
            cpuset: None,
            memory: None,
            neighbour_shares: None,
            period_us: spec.cpu.period_us,
            burst_us: 0,
            notes: Vec::new(),
        };
        // On failure, whatever was created is removed by Drop of the partial sandbox.
        let result = g.build(site, spec, &name);
        if let Err(e) = result {
            g.destroy();
            return Err(e);
        }
        Ok(g)
    }

    fn pair(&mut self, base: &Path, name: &str) -> Result<(PathBuf, PathBuf), String> {
        let parent = base.join(name);
        if !self.parents.contains(&parent) {
            std::fs::create_dir(&parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
            self.parents.push(parent.clone());
        }
        let (s, n) = (parent.join("server"), parent.join("neighbours"));
        for d in [&s, &n] {
            if !d.exists() {
                std::fs::create_dir(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
            }
        }
        Ok((s, n))
    }

    fn build(&mut self, site: &Cgroup1Site, spec: &SandboxSpec, name: &str) -> Result<(), String> {
        let plan = &spec.cpu;
        // cpuset first: children of a v1 cpuset start empty and must be filled top-down.
        if let Some(base) = &site.cpuset {
            let (s, n) = self.pair(base, name)?;
            let mems = read(base, "cpuset.mems")
                .or_else(|| read(base, "cpuset.effective_mems"))
                .unwrap_or_else(|| "0".into());
            let parent = s.parent().expect("server group has a parent").to_path_buf();
            let cpus = cpu_list(&plan.cpus);
            for d in [&parent, &s, &n] {
                write(d, "cpuset.mems", mems.trim())?;
                write(d, "cpuset.cpus", &cpus)?;
            }
            self.cpuset = Some((s, n));
        } else {
            self.notes
                .push("cgroup v1 cpuset controller unavailable: CPUs pinned by affinity only".into());
        }
        let (s, n) = self.pair(&site.cpu, name)?;
        write(&s, "cpu.cfs_period_us", &plan.period_us.to_string())?;
        let quota = plan.quota_us().map_or("-1".to_string(), |q| q.to_string());
        write(&s, "cpu.cfs_quota_us", &quota)?;
        if plan.burst_us > 0 {
            if !s.join("cpu.cfs_burst_us").exists() {
                self.notes.push(format!(
                    "CPU burst of {} ms not applied: this kernel has no cpu.cfs_burst_us (CFS burst needs Linux 5.14 or later)",
                    plan.burst_us as f64 / 1000.0
                ));
            } else if let Err(e) = write(&s, "cpu.cfs_burst_us", &plan.burst_us.to_string()) {
                self.notes.push(format!("CPU burst not applied ({e})"));
            } else {
                self.burst_us = plan.burst_us;
            }
        }
        write(&s, "cpu.shares", &SERVER_SHARES.to_string())?;
        if let Some(r) = plan.neighbour_weight_ratio {
            let shares = ((SERVER_SHARES as f64 * r).round() as u64).clamp(2, 262_144);
            write(&n, "cpu.shares", &shares.to_string())?;
            self.neighbour_shares = Some(shares);
        }
        self.cpu = (s, n);
        if let Some(base) = &site.cpuacct {
            self.acct = Some(self.pair(base, name)?);
        }
        if let Some(base) = &site.memory {
            let (s, _) = self.pair(base, name)?;
            if let Some(hard) = spec.memory_hard_bytes {
                write(&s, "memory.limit_in_bytes", &hard.to_string())?;
                // Without swap accounting this file is absent; the RAM limit still holds.
                let _ = write_existing(&s, "memory.memsw.limit_in_bytes", &hard.to_string());
            }
            if let Some(soft) = spec.memory_soft_bytes {
                write(&s, "memory.soft_limit_in_bytes", &soft.to_string())?;
            }
            self.memory = Some(s);
        } else if spec.memory_hard_bytes.is_some() {
            self.notes
                .push("cgroup v1 memory controller unavailable: memory limits not enforced".into());
        }
        Ok(())
    }

    fn procs(dirs: &[&Path]) -> Result<Vec<File>, String> {
        let mut v: Vec<&Path> = dirs.to_vec();
        v.dedup();
        v.iter()
            .map(|d| {
                let p = d.join("cgroup.procs");
                OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .map_err(|e| format!("opening {}: {e}", p.display()))
            })
            .collect()
    }
}

/// Writes only if the file exists (optional knobs).
fn write_existing(dir: &Path, file: &str, value: &str) -> Result<(), String> {
    if dir.join(file).exists() {
        write(dir, file, value)
    } else {
        Ok(())
    }
}

impl Backend for Cgroup1 {
    fn kind(&self) -> LimiterKind {
        LimiterKind::Cgroup1
    }

    fn server_join(&self) -> Result<Vec<File>, String> {
        let mut dirs: Vec<&Path> = vec![&self.cpu.0];
        dirs.extend(self.acct.as_ref().map(|a| a.0.as_path()));
        dirs.extend(self.cpuset.as_ref().map(|a| a.0.as_path()));
        dirs.extend(self.memory.as_deref());
        Self::procs(&dirs)
    }

    fn neighbour_join(&self) -> Result<Vec<File>, String> {
        let mut dirs: Vec<&Path> = vec![&self.cpu.1];
        dirs.extend(self.acct.as_ref().map(|a| a.1.as_path()));
        dirs.extend(self.cpuset.as_ref().map(|a| a.1.as_path()));
        Self::procs(&dirs)
    }

    fn quota_setter(&self) -> Option<super::burst::QuotaSetter> {
        let dir = self.cpu.0.clone();
        let (period, burst) = (self.period_us, self.burst_us);
        Some(Box::new(move |cores: f64| {
            let q = ((cores * period as f64).round() as u64).max(1000);
            // The kernel refuses a quota below the burst: lower the burst first.
            if burst > 0 {
                write(&dir, "cpu.cfs_burst_us", "0")?;
            }
            write(&dir, "cpu.cfs_quota_us", &q.to_string())?;
            if burst > 0 {
                write(&dir, "cpu.cfs_burst_us", &burst.min(q).to_string())?;
            }
            Ok(())
        }))
    }

    fn counters(&self, _server: Option<i32>, _neighbours: &[i32]) -> Counters {
        let stat = read(&self.cpu.0, "cpu.stat").unwrap_or_default();
        let usage = |d: &Path| read_u64(d, "cpuacct.usage").map(|ns| ns / 1000);
        Counters {
            cpu_usage_us: self.acct.as_ref().and_then(|a| usage(&a.0)),
            nr_periods: stat_field(&stat, "nr_periods"),
            nr_throttled: stat_field(&stat, "nr_throttled"),
            throttled_us: stat_field(&stat, "throttled_time").map(|ns| ns / 1000),
            memory_peak_bytes: self
                .memory
                .as_ref()
                .and_then(|m| read_u64(m, "memory.max_usage_in_bytes")),
            oom_kills: self
                .memory
                .as_ref()
                .and_then(|m| read(m, "memory.oom_control"))
                .and_then(|t| stat_field(&t, "oom_kill")),
            neighbour_cpu_us: self.acct.as_ref().and_then(|a| usage(&a.1)),
            stopped_us: None,
        }
    }

    fn describe(&self, a: &mut AppliedLimits) {
        a.period_us = self.period_us;
        a.burst_us = self.burst_us;
        a.weight = Some(SERVER_SHARES);
        a.neighbour_weight = self.neighbour_shares;
        a.group = Some(self.cpu.0.display().to_string());
        a.warnings.extend(self.notes.iter().cloned());
    }

    fn destroy(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for p in self.parents.drain(..) {
            if let Err(e) = remove_tree(&p) {
                problems.push(e);
            }
        }
        problems
    }
}
