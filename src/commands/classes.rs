//! `dynobench classes`: the class catalog as a table or JSON.

use crate::class::Catalog;
use crate::cli::ClassesArgs;
use crate::error::{CliError, Outcome, failed, usage};

pub(crate) fn classes(a: ClassesArgs) -> Result<Outcome, CliError> {
    if a.list {
        let cats: Vec<Catalog> = crate::class::embedded_names()
            .into_iter()
            .filter_map(Catalog::embedded)
            .collect();
        if a.json {
            let list: Vec<_> = cats
                .iter()
                .map(|c| serde_json::json!({"name": c.info.name, "description": c.info.description, "classes": c.classes.len(), "price_source": c.info.price_source, "price_date": c.info.price_date, "billing": crate::report::billing_models(c), "unverified_classes": c.classes.iter().filter(|k| k.unverified).count()}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&list).map_err(failed)?);
        } else {
            print!("{}", crate::report::catalogs_table(&cats));
        }
        return Ok(Outcome::Ok);
    }
    let catalog = Catalog::load(&a.classes).map_err(usage)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&catalog).map_err(failed)?);
    } else {
        print!("{}", crate::report::classes_table(&catalog));
    }
    Ok(Outcome::Ok)
}
