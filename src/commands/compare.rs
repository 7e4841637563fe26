//! `dynobench compare A B`: both runs read through the one reader, checked for
//! compatibility, compared, printed; exit 1 on a regression.

use crate::cli::CompareArgs;
use crate::error::{CliError, Outcome, failed, usage};
use crate::report::reader::read_run;

pub(crate) fn compare(a: CompareArgs) -> Result<Outcome, CliError> {
    let ra = read_run(&a.a).map_err(usage)?.report;
    let rb = read_run(&a.b).map_err(usage)?.report;
    crate::compare::check_compatible(&ra, &rb).map_err(usage)?;
    let c = crate::compare::compare(&ra, &rb, a.threshold);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c).map_err(failed)?);
    } else {
        print!("{}", crate::report::compare::render_markdown(&c));
    }
    Ok(if c.regressed {
        Outcome::ThresholdFailed
    } else {
        Outcome::Ok
    })
}
