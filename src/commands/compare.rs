//! `dynobench compare A B`: both runs read through the one reader (run.json and each
//! class's .hlog for the blocks of consecutive calls), checked for compatibility, compared,
//! printed; exit 1 on a regression (and, with --strict, on insufficient data).

use std::collections::BTreeMap;

use crate::cli::CompareArgs;
use crate::compare::stats::Blocks;
use crate::compare::{CompareOptions, RunData, check_compatible, compare as diff};
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

pub(crate) fn compare(a: CompareArgs) -> Result<Outcome, CliError> {
    let ra = read_run(&a.a).map_err(usage)?;
    let rb = read_run(&a.b).map_err(usage)?;
    check_compatible(&ra.report, &rb.report).map_err(usage)?;
    let (ba, bb) = (blocks(&ra)?, blocks(&rb)?);
    let opts = CompareOptions {
        threshold_pct: a.threshold,
        noise_pct: a.noise,
        run_to_run_pct: a.run_to_run,
        ..CompareOptions::default()
    };
    let c = diff(
        RunData {
            report: &ra.report,
            blocks: &ba,
        },
        RunData {
            report: &rb.report,
            blocks: &bb,
        },
        &opts,
    );
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c).map_err(failed)?);
    } else {
        print!("{}", crate::report::compare::render_markdown(&c));
    }
    Ok(if c.regressed || (a.strict && !c.inconclusive.is_empty()) {
        Outcome::ThresholdFailed
    } else {
        Outcome::Ok
    })
}
