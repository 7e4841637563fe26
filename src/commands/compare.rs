//! `dynobench compare A B`: both runs read through the one reader (run.json and each
//! class's .hlog for the blocks of consecutive calls), checked for compatibility, compared,
//! printed (and with --html written as a page beside both runs); exit 1 on a regression
//! (and, with --strict, on insufficient data); exit 4 when a class could not be judged
//! because its figures are invalid in either run (the driver was the bottleneck).

use std::collections::BTreeMap;

use crate::cli::{CompareArgs, CompareLimits};
use crate::compare::stats::Blocks;
use crate::compare::{CompareOptions, Comparison, RunData, check_compatible, check_what_if, compare as diff};
use crate::error::{CliError, Outcome, failed, usage};
use crate::report::reader::{RunFile, read_intervals, read_run};

fn blocks(run: &RunFile) -> Result<BTreeMap<String, Blocks>, CliError> {
    let mut out = BTreeMap::new();
    for c in &run.report.classes {
        if let Some(iv) = read_intervals(run, &c.name).map_err(usage)? {
            out.insert(c.name.clone(), Blocks::from_intervals(iv));
        }
    }
    Ok(out)
}

/// B compared with A, once both are checked to be comparable.
pub(super) fn comparison(ra: &RunFile, rb: &RunFile, limits: &CompareLimits) -> Result<Comparison, CliError> {
    check_compatible(&ra.report, &rb.report).map_err(usage)?;
    if !limits.allow_what_if {
        check_what_if(&ra.report, &rb.report).map_err(usage)?;
    }
    let (ba, bb) = (blocks(ra)?, blocks(rb)?);
    let opts = CompareOptions {
        threshold_pct: limits.threshold,
        noise_pct: limits.noise,
        run_to_run_pct: limits.run_to_run,
        ..CompareOptions::default()
    };
    Ok(diff(
        RunData {
            report: &ra.report,
            blocks: &ba,
        },
        RunData {
            report: &rb.report,
            blocks: &bb,
        },
        &opts,
    ))
}

pub(crate) fn compare(a: CompareArgs) -> Result<Outcome, CliError> {
    let ra = read_run(&a.a).map_err(usage)?;
    let rb = read_run(&a.b).map_err(usage)?;
    let c = comparison(&ra, &rb, &a.limits)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c).map_err(failed)?);
    } else {
        print!("{}", crate::report::compare::render_markdown(&c));
    }
    if let Some(path) = &a.html {
        super::report::write_runs_page(path, "--html", &[ra, rb], std::slice::from_ref(&c))?;
        // stdout may carry JSON: the page's path goes to stderr.
        eprintln!("page: {}", path.display());
    }
    Ok(if c.regressed {
        Outcome::ThresholdFailed
    } else if !c.invalid.is_empty() {
        // Neither a pass nor a regression: a class could not be judged.
        Outcome::Invalid
    } else if a.strict && !c.inconclusive.is_empty() {
        Outcome::ThresholdFailed
    } else {
        Outcome::Ok
    })
}
