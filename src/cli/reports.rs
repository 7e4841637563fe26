//! The flags of the commands that read results: `compare`, `report` and `merge`.

use std::path::PathBuf;

use clap::Args;

use super::parse::parse_percent;

/// `dynobench merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' results directories (or their run.json), any order.
    #[arg(required = true, num_args = 1..)]
    pub shards: Vec<PathBuf>,
    /// Merge even when shards are missing (the merged load is then less than the run's).
    #[arg(long)]
    pub partial: bool,
    /// Where the merged results directory goes.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Label of the merged directory (default: the shards' label, or merged).
    #[arg(long)]
    pub label: Option<String>,
    /// Do not write a results directory.
    #[arg(long)]
    pub no_save: bool,
    /// Print the merged run.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// What counts as a change when runs are compared (`compare`, `report --compare`).
#[derive(Debug, Clone, Args)]
pub struct CompareLimits {
    /// A significant slow-down beyond this many percent is a regression (exit 1).
    #[arg(long, default_value = "10%", value_parser = parse_percent)]
    pub threshold: f64,
    /// Changes smaller than this are "no change" (noise), percent.
    #[arg(long, default_value = "2%", value_parser = parse_percent)]
    pub noise: f64,
    /// Run-to-run spread of one round's percentiles on your hosts, percent per run (default:
    /// this project's measured figures, 4-6%; measure yours with `dynobench validate --aa`).
    /// Used only when a run has one round; with --repeat the rounds show their own spread.
    #[arg(long, value_parser = parse_percent)]
    pub run_to_run: Option<f64>,
    /// Compare a what-if run (`run --cfs-period`, `--cfs-burst`) with a run metered
    /// otherwise (refused by default: the difference would be the metering, not the app).
    #[arg(long)]
    pub allow_what_if: bool,
}

/// `dynobench compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline results directory (or its run.json).
    pub a: PathBuf,
    /// The results directory compared with it.
    pub b: PathBuf,
    /// Thresholds.
    #[command(flatten)]
    pub limits: CompareLimits,
    /// Also exit 1 when a metric's verdict is "insufficient data" (inconclusive is not a pass).
    #[arg(long)]
    pub strict: bool,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the comparison and both runs side by side to this HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `dynobench report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Results directories (or their run.json): each gets its index.html (re)written; with
    /// several, a page shows them side by side.
    #[arg(required = true, num_args = 1.., value_name = "DIR")]
    pub runs: Vec<PathBuf>,
    /// With several runs: compare each with the first (as `dynobench compare FIRST RUN`) on
    /// the side-by-side page.
    #[arg(long)]
    pub compare: bool,
    /// Thresholds of --compare.
    #[command(flatten)]
    pub limits: CompareLimits,
    /// With several runs: where the side-by-side page goes (default: report.html beside the
    /// first run's directory).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}
