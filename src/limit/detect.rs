//! Which limiter backends work on this machine (mountinfo, filesystem magic, write access)
//! and what `--limiter` resolves to; stale groups of dead dynobench processes are removed.

use std::str::FromStr;

use super::backend::{LimitError, remove_stale};
use super::cgroup1::Cgroup1Site;
use super::cgroup2::Cgroup2Site;
use super::{cgroupfs, dutycycle};
use crate::record::LimiterKind;

/// What `--limiter` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimiterChoice {
    /// The best available backend.
    Auto,
    /// Exactly this backend (an error if unavailable).
    Exactly(LimiterKind),
}

impl FromStr for LimiterChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(LimiterChoice::Auto);
        }
        LimiterKind::ALL
            .iter()
            .find(|k| k.name() == s)
            .map(|k| LimiterChoice::Exactly(*k))
            .ok_or_else(|| format!("unknown limiter '{s}'; valid: auto, cgroup2, cgroup1, dutycycle, none"))
    }
}

/// What auto-detection found, per backend.
#[derive(Debug, Clone)]
pub struct Detection {
    /// cgroup v2 site, or why not.
    pub cgroup2: Result<Cgroup2Site, String>,
    /// cgroup v1 site, or why not.
    pub cgroup1: Result<Cgroup1Site, String>,
}

impl Detection {
    /// Probes this machine (mountinfo, statfs magic, write access by creating and removing a
    /// probe group).
    pub fn probe() -> Detection {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = cgroupfs::parse_mountinfo(&mountinfo);
        let members = cgroupfs::parse_proc_cgroup(&own);
        Detection {
            cgroup2: Cgroup2Site::detect(&mounts, &members),
            cgroup1: Cgroup1Site::detect(&mounts, &members),
        }
    }

    /// No probing (remote runs need no limiter and must not touch cgroups).
    pub fn unprobed() -> Detection {
        let why = "not probed: the run drives a remote endpoint";
        Detection {
            cgroup2: Err(why.into()),
            cgroup1: Err(why.into()),
        }
    }

    /// Whether `kind` is usable, or why not.
    pub fn available(&self, kind: LimiterKind) -> Result<(), String> {
        match kind {
            LimiterKind::Cgroup2 => self.cgroup2.as_ref().map(|_| ()).map_err(Clone::clone),
            LimiterKind::Cgroup1 => self.cgroup1.as_ref().map(|_| ()).map_err(Clone::clone),
            LimiterKind::Dutycycle => dutycycle::available(),
            LimiterKind::None => Ok(()),
        }
    }

    /// Resolves `--limiter`: auto picks cgroup2, then cgroup1, then dutycycle.
    pub fn choose(&self, choice: LimiterChoice) -> Result<LimiterKind, LimitError> {
        match choice {
            LimiterChoice::Exactly(kind) => self
                .available(kind)
                .map(|()| kind)
                .map_err(|reason| LimitError::Unavailable { kind, reason }),
            LimiterChoice::Auto => [LimiterKind::Cgroup2, LimiterKind::Cgroup1, LimiterKind::Dutycycle]
                .into_iter()
                .find(|k| self.available(*k).is_ok())
                .ok_or_else(|| LimitError::Unavailable {
                    kind: LimiterKind::Dutycycle,
                    reason: "no limiter backend works on this machine".into(),
                }),
        }
    }

    /// Removes groups left by earlier dynobench processes that are no longer alive.
    /// Returns the directories removed.
    pub fn remove_stale_groups(&self) -> Vec<String> {
        let mut bases = Vec::new();
        if let Ok(s) = &self.cgroup1 {
            bases.extend(s.bases());
        }
        if let Ok(s) = &self.cgroup2 {
            bases.push(s.base.clone());
        }
        remove_stale(&bases)
    }
}
