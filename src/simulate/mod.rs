//! Routing and queueing simulation over many dynos, and capacity planning (pure, seeded).
//!
//! Two engines answer "what does the routing policy cost, from my own service times":
//! [`tick`] is the classic experiment (every dyno does one job per tick, `util`% of capacity
//! arrives each tick), [`event`] is continuous time (Poisson arrivals, service times from a
//! distribution or a measured histogram, workers per dyno, a backlog limit and the router
//! timeout). [`plan`] searches the smallest number of dynos that holds an SLO; [`sweep`]
//! holds a sweep's points and what they find. Everything here is pure and deterministic
//! given a seed; it takes distributions, never paths (`report::service` reads them);
//! [`measured`] turns a measured class into them, [`plan_input`] into the classes to plan.

pub mod capacity_check;
mod common;
pub mod cpu;
mod cpu_dyno;
mod demand;
pub mod event;
pub mod measured;
pub mod plan;
pub mod plan_input;
mod plan_model;
mod plan_range;
pub mod policy;
mod routing;
pub mod service;
pub mod sweep;
mod theory;
pub mod tick;

pub use common::{MAX_UTIL, SimError, SimRng, UtilList, UtilRange, task_rng};
pub use policy::Policy;

pub use crate::record::Arrivals;
