//! `dynobench classes`: the class catalog as a table or JSON.

use crate::class::Catalog;
use crate::cli::ClassesArgs;
use crate::error::{CliError, Outcome, failed, usage};

pub(crate) fn classes(a: ClassesArgs) -> Result<Outcome, CliError> {
    let catalog = Catalog::load(&a.classes).map_err(usage)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&catalog).map_err(failed)?);
    } else {
        print!("{}", crate::report::classes_table(&catalog));
    }
    Ok(Outcome::Ok)
}
