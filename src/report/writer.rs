//! The results directory: `results/<YYYYmmdd-HHMMSS>-<label>/`, written class by class with
//! atomic renames, so an interrupted run keeps every finished class and a reader never sees
//! a half-written file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::export::{csv, hgrm, hlog, html, json, markdown, runtime_log, svg};
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

    /// Writes everything the report holds so far: new classes' .hgrm/.hlog, then summary.md,
    /// summary.csv, the plots, index.html and run.json (each replaced atomically).
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
        let charts = svg::charts(r)?;
        for c in &charts {
            write_atomic(&self.dir, c.file, c.svg.as_bytes()).map_err(|e| io(c.file, e))?;
        }
        write_atomic(&self.dir, html::INDEX, html::run_page(r, &charts).as_bytes())
            .map_err(|e| io(html::INDEX, e))?;
        // run.json last: when it says a class is there, its files are there too.
        write_atomic(&self.dir, "run.json", json::run_json(r).as_bytes()).map_err(|e| io("run.json", e))?;
        Ok(())
    }
}
