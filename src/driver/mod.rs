//! `dynobench run`: for each selected class, start `dynobench serve` in that class's
//! sandbox (or use a remote URL), warm up, drive the measured calls, collect the kernel's
//! observations, and return plain result data. Nothing here prints; an [`Observer`] gets
//! progress events and the report after each class (the command layer saves and shows it).

mod app;
mod arrivals;
mod begin;
mod call;
mod capacity;
pub mod client;
mod formation;
mod formation_point;
pub mod haproxy;
pub mod host;
pub mod hostspeed;
pub mod load;
mod local;
pub mod monitor;
mod observer;
mod phase;
mod plan;
pub mod router;
mod run;
mod selfcpu;
mod watch;

pub use client::{CallShape, Target, Token};
pub use load::LoadModel;
pub use observer::{Observer, Silent};
pub use plan::{AppSpec, CapacitySpec, FormationSpec, RunError, RunPlan};
pub use run::run;

pub use crate::record::Arrivals;

/// Detection of limiters, done once per run.
pub fn detect() -> crate::limit::Detection {
    crate::limit::Detection::probe()
}
