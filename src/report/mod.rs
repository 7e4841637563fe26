//! Presentation: reads plain result data and renders it — the terminal table, run.json,
//! summary.md, summary.csv, .hgrm, .hlog and SVG plots — and writes results directories
//! atomically. Nothing here measures or starts processes.

mod classes;
pub mod export;
pub mod model;
mod slo;
pub mod table;
pub mod writer;

pub use crate::record::sweep::worker_sweeps;
pub use classes::classes_table;
pub use model::RunReport;
pub use slo::slo_verdicts;
