//! run.json and its JSON schema.

use crate::record::RunReport;

/// The report as pretty JSON.
pub fn run_json(r: &RunReport) -> String {
    serde_json::to_string_pretty(r).expect("reports always serialize")
}

/// The JSON schema of run.json (committed as results/run.schema.json).
pub fn schema() -> String {
    let s = schemars::schema_for!(RunReport);
    serde_json::to_string_pretty(&s).expect("schemas always serialize") + "\n"
}
