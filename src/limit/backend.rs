//! What every limiter backend provides, and the group helpers they share: the sandbox
//! spec a backend enforces, the [`Backend`] trait, unique group names, and removal of group
//! trees (this one's, or stale ones left by dead dynobench processes).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::kill;
use nix::unistd::Pid;
use thiserror::Error;

use super::cgroupfs::{self, GROUP_PREFIX};
use super::neighbours::NeighbourLoad;
use super::placement::CpuAllotment;
use crate::record::{AppliedLimits, Counters, LimiterKind};

/// Why a limiter cannot be used or failed.
#[derive(Debug, Error)]
pub enum LimitError {
    /// The backend is not available on this machine.
    #[error("limiter {kind} is not available here: {reason}")]
    Unavailable {
        /// The backend.
        kind: LimiterKind,
        /// Why.
        reason: String,
    },
    /// Setting up or using the sandbox failed.
    #[error("{0}")]
    Setup(String),
    /// Starting the command failed.
    #[error("starting {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What a sandbox should enforce.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// A label for the group name (the class name).
    pub name: String,
    /// The CPU allotment (from [`super::allot_cpu`]).
    pub cpu: CpuAllotment,
    /// Soft memory limit, bytes (the class's memory: R14 above it).
    pub memory_soft_bytes: Option<u64>,
    /// Hard memory limit, bytes (killed above it: R15).
    pub memory_hard_bytes: Option<u64>,
    /// How neighbours load their CPUs, when the plan has neighbours.
    pub neighbours: Option<NeighbourLoad>,
    /// The dynobench binary, which runs the neighbour processes.
    pub helper_exe: PathBuf,
}

/// What a backend does for a sandbox.
pub(crate) trait Backend: Send {
    /// Which backend this is.
    fn kind(&self) -> LimiterKind;
    /// Open `cgroup.procs` files the server child writes "0" into before exec.
    fn server_join(&self) -> Result<Vec<File>, String>;
    /// The same for neighbour processes.
    fn neighbour_join(&self) -> Result<Vec<File>, String>;
    /// A nice value for the server (backends without group weights approximate the
    /// server/neighbour weight ratio by lowering the server's priority).
    fn server_nice(&self) -> Option<i32> {
        None
    }
    /// Called once the server runs.
    fn started(&mut self, _pid: i32) {}
    /// Called before the server is stopped (dutycycle resumes it and stops duty cycling).
    fn before_stop(&mut self) {}
    /// Something that sets the server's CPU quota (cores) while it runs, for a burst-balance
    /// CPU; `None` when this backend cannot change it.
    fn quota_setter(&self) -> Option<super::burst::QuotaSetter> {
        None
    }
    /// Current counters; `server` and `neighbours` are the live pids.
    fn counters(&self, server: Option<i32>, neighbours: &[i32]) -> Counters;
    /// Fills backend-specific fields of the applied limits.
    fn describe(&self, applied: &mut AppliedLimits);
    /// Removes everything the backend created; returns problems.
    fn destroy(&mut self) -> Vec<String>;
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A unique group name: `dynobench-<pid>-<seq>-<label>`.
pub(crate) fn group_name(label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!(
        "{}{}-{}-{clean}",
        GROUP_PREFIX,
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes `dynobench-<pid>-*` groups under `bases` whose pid is no longer alive.
pub(crate) fn remove_stale(bases: &[PathBuf]) -> Vec<String> {
    let me = std::process::id();
    let mut removed = Vec::new();
    for base in bases {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(rest) = name.strip_prefix(GROUP_PREFIX) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            let alive = pid == me || kill(Pid::from_raw(pid as i32), None).is_ok();
            if alive || !e.path().is_dir() {
                continue;
            }
            if remove_tree(&e.path()).is_ok() {
                removed.push(e.path().display().to_string());
            }
        }
    }
    removed
}

/// Kills the members of a group tree and removes it, leaves first.
pub(crate) fn remove_tree(dir: &Path) -> Result<(), String> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                remove_tree(&e.path())?;
            }
        }
    }
    cgroupfs::kill_members(dir);
    cgroupfs::remove_group(dir)
}
