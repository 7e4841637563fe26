//! The results directory: `results/<YYYYmmdd-HHMMSS>-<label>/`, written class by class with
//! atomic renames, so an interrupted run keeps every finished class and a reader never sees
//! a half-written file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::export::{csv, hgrm, hlog, json, markdown, runtime_log, svg};
use crate::record::RunReport;
use crate::record::histogram::decode;

/// A class's file name stem: its name with `/` (a qualified `catalog/class`) as `__`.
pub fn file_stem(class: &str) -> String {
    class.replace('/', "__")
}

/// Writes one run's directory.
pub struct ResultsWriter {
    dir: PathBuf,
    written: BTreeMap<String, usize>,
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

impl ResultsWriter {
    /// Creates `out/<run_id>` (adding `-2`, `-3`… if it exists).
    pub fn create(out: &Path, run_id: &str) -> std::io::Result<ResultsWriter> {
        std::fs::create_dir_all(out)?;
        let mut dir = out.join(run_id);
        let mut n = 2;
        while dir.exists() {
            dir = out.join(format!("{run_id}-{n}"));
            n += 1;
        }
        std::fs::create_dir(&dir)?;
        Ok(ResultsWriter {
            dir,
            written: BTreeMap::new(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes everything the report holds so far: new classes' .hgrm/.hlog, then run.json,
    /// summary.md, summary.csv and the plots (each replaced atomically).
    pub fn write(&mut self, r: &RunReport) -> Result<(), String> {
        let io = |what: &str, e: std::io::Error| format!("writing {what} in {}: {e}", self.dir.display());
        let mut changed = false;
        for c in &r.classes {
            // A class is rewritten when it gained rounds (`--repeat`).
            let rounds = c.rounds.len().max(1);
            if self.written.get(&c.name) == Some(&rounds) {
                continue;
            }
            let h = decode(&c.histograms.client_latency)?;
            write_atomic(
                &self.dir,
                &format!("{}.hgrm", file_stem(&c.name)),
                hgrm::hgrm(&h).as_bytes(),
            )
            .map_err(|e| io("hgrm", e))?;
            write_atomic(
                &self.dir,
                &format!("{}.hlog", file_stem(&c.name)),
                &hlog::hlog(c)?,
            )
            .map_err(|e| io("hlog", e))?;
            self.written.insert(c.name.clone(), rounds);
            changed = true;
        }
        if changed {
            // runtime.log: every class's lines, class by class, each in time order.
            let log: String = r.classes.iter().map(|c| runtime_log::class_log(r, c)).collect();
            write_atomic(&self.dir, "runtime.log", log.as_bytes()).map_err(|e| io("runtime.log", e))?;
        }
        write_atomic(&self.dir, "summary.md", markdown::summary_md(r).as_bytes())
            .map_err(|e| io("summary.md", e))?;
        write_atomic(&self.dir, "summary.csv", csv::summary_csv(r).as_bytes())
            .map_err(|e| io("summary.csv", e))?;
        write_atomic(&self.dir, "latency.svg", svg::latency_svg(r)?.as_bytes())
            .map_err(|e| io("latency.svg", e))?;
        write_atomic(&self.dir, "cost.svg", svg::cost_svg(r)?.as_bytes()).map_err(|e| io("cost.svg", e))?;
        if let Some(f) = r.formation.as_ref().filter(|f| !f.points.is_empty()) {
            write_atomic(&self.dir, "formation.svg", super::formation::svg(f)?.as_bytes())
                .map_err(|e| io("formation.svg", e))?;
        }
        if r.classes.iter().any(|c| c.burst.is_some()) {
            write_atomic(&self.dir, "burst.svg", svg::burst_svg(r)?.as_bytes())
                .map_err(|e| io("burst.svg", e))?;
        }
        if !r.worker_sweeps.is_empty() {
            write_atomic(&self.dir, "workers.svg", svg::workers_svg(r)?.as_bytes())
                .map_err(|e| io("workers.svg", e))?;
        }
        // run.json last: when it says a class is there, its files are there too.
        write_atomic(&self.dir, "run.json", json::run_json(r).as_bytes()).map_err(|e| io("run.json", e))?;
        Ok(())
    }
}
