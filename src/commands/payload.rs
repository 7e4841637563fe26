//! `dynobench payload`: the deterministic orders generator (how payloads/orders.json was made).

use std::io::Write;

use anyhow::Context;

use crate::cli::PayloadArgs;
use crate::error::{CliError, Outcome, failed};
use crate::workload::generate;

pub(crate) fn payload(a: PayloadArgs) -> Result<Outcome, CliError> {
    let bytes = generate::generate_orders(a.seed, a.size);
    match a.out {
        Some(path) => std::fs::write(&path, &bytes)
            .with_context(|| format!("writing {}", path.display()))
            .map_err(failed)?,
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .context("writing to stdout")
            .map_err(failed)?,
    }
    Ok(Outcome::Ok)
}
