//! CPU and memory limiters: a [`Sandbox`] starts a command with a dyno class's CPU and
//! memory model applied from exec on (cgroup v2, cgroup v1, a user-space duty cycle, or
//! none), runs noisy neighbours beside shared classes, reports what the kernel observed,
//! and removes every process and group it made, on every path.

mod backend;
pub mod burst;
pub mod calibrate;
mod cgroup1;
mod cgroup2;
pub mod cgroupfs;
mod detect;
mod dutycycle;
pub mod fidelity;
pub mod group;
pub mod neighbours;
mod none;
pub mod placement;
mod sandbox;

pub use backend::{LimitError, SandboxSpec};
pub use cgroup1::Cgroup1Site;
pub use cgroup2::Cgroup2Site;
pub use cgroupfs::GROUP_PREFIX;
pub use detect::{Detection, LimiterChoice};
pub use neighbours::{NeighbourLoad, Pattern};
pub use placement::{CpuAllotment, allot_cpu, allowed_cpus, pin_current_thread};
pub use sandbox::{Sandbox, describe_exit};

pub use crate::record::{AppliedLimits, Counters, LimiterKind, Placement};
