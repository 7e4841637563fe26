//! Presentation and files: reads plain result data and renders it — the terminal tables,
//! run.json, summary.md, summary.csv, .hgrm, .hlog, runtime.log and SVG plots, and the
//! outputs of `compare`, `simulate`, `plan`, `calibrate` and `classes` — writes results
//! directories atomically, and holds THE one reader of results. Nothing here measures or
//! starts processes.

pub mod calibration;
mod classes;
pub mod compare;
pub mod export;
pub mod formation;
pub mod merge;
pub mod model_check;
pub mod palette;
pub mod plan;
pub mod reader;
pub mod service;
pub mod simulate;
pub mod soak;
pub mod table;
mod table_notes;
pub mod writer;

pub use classes::{billing_models, catalogs_table, classes_table};
