//! `dynobench report DIR…`: each run read through the one reader and its index.html
//! (re)written; with several, one page of them side by side (with --compare, each compared
//! with the first). `compare --html` writes the same side-by-side page.

use std::path::{Component, Path, PathBuf};

use anyhow::anyhow;

use super::common::write_file;
use crate::cli::ReportArgs;
use crate::compare::Comparison;
use crate::error::{CliError, Outcome, failed, usage};
use crate::report::export::html::{INDEX, RunEntry, files_of, run_page_with, runs_page};
use crate::report::export::svg::{Chart, charts};
use crate::report::reader::{RunFile, read_run};
use crate::report::writer::write_atomic;

pub(crate) fn report(a: ReportArgs) -> Result<Outcome, CliError> {
    if a.compare && a.runs.len() < 2 {
        return Err(usage(anyhow!(
            "--compare compares each run with the first: give two or more results directories"
        )));
    }
    let runs: Vec<RunFile> = a
        .runs
        .iter()
        .map(|d| read_run(d).map_err(usage))
        .collect::<Result<_, _>>()?;
    let comparisons: Vec<Comparison> = if a.compare {
        runs[1..]
            .iter()
            .map(|b| super::compare::comparison(&runs[0], b, &a.limits))
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    for r in &runs {
        println!("page: {}", write_index(r)?.display());
    }
    if runs.len() > 1 {
        let out = match &a.out {
            Some(o) => o.clone(),
            None => absolute(runs[0].dir())
                .parent()
                .map_or_else(|| PathBuf::from("report.html"), |p| p.join("report.html")),
        };
        write_runs_page(&out, "--out", &runs, &comparisons)?;
        println!("side by side: {}", out.display());
    }
    Ok(Outcome::Ok)
}

/// The run's charts: each as its directory holds it (drawn when the run was: a burst chart
/// holds every call, which run.json does not keep), else drawn from run.json.
fn run_charts(run: &RunFile) -> Result<Vec<Chart>, CliError> {
    let mut out = charts(&run.report)
        .map_err(|e| failed(anyhow!("{}: drawing its charts: {e}", run.path.display())))?;
    for c in &mut out {
        if let Ok(svg) = std::fs::read_to_string(run.dir().join(c.file))
            && svg.trim_start().starts_with("<svg")
            && svg.trim_end().ends_with("</svg>")
        {
            c.svg = svg;
        }
    }
    Ok(out)
}

/// Writes `run`'s index.html into its directory, linking the raw files that are there.
fn write_index(run: &RunFile) -> Result<PathBuf, CliError> {
    let charts = run_charts(run)?;
    let dir = run.dir();
    let files: Vec<String> = files_of(&run.report, &charts)
        .into_iter()
        .filter(|f| dir.join(f).is_file())
        .collect();
    let path = dir.join(INDEX);
    write_atomic(dir, INDEX, run_page_with(&run.report, &charts, &files).as_bytes())
        .map_err(|e| failed(anyhow!("writing {}: {e}", path.display())))?;
    Ok(path)
}

/// Writes the page of `runs` side by side (with `comparisons`) to `out`, named by `flag`
/// when that fails; links to each run's files are relative to the page.
pub(super) fn write_runs_page(
    out: &Path,
    flag: &str,
    runs: &[RunFile],
    comparisons: &[Comparison],
) -> Result<(), CliError> {
    let page_dir = absolute(out.parent().unwrap_or(Path::new("")));
    std::fs::create_dir_all(&page_dir).map_err(|e| {
        usage(anyhow!(
            "{flag} {}: cannot create its directory: {e}",
            out.display()
        ))
    })?;
    let entries: Vec<RunEntry<'_>> = runs
        .iter()
        .map(|r| {
            Ok(RunEntry {
                report: &r.report,
                href: relative(&page_dir, &absolute(r.dir())),
                charts: run_charts(r)?,
            })
        })
        .collect::<Result<_, CliError>>()?;
    write_file(out, flag, &runs_page(&entries, comparisons))
}

/// `p` made absolute and canonical where it exists (else joined to the working directory).
fn absolute(p: &Path) -> PathBuf {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    p.canonicalize()
        .unwrap_or_else(|_| std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p)))
}

/// The relative URL of directory `to` from directory `from` (both absolute), with a
/// trailing `/` (empty when they are the same).
fn relative(from: &Path, to: &Path) -> String {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts
        .iter()
        .map(|p| {
            let enc: String = p
                .chars()
                .map(|ch| match ch {
                    '%' => "%25".into(),
                    ' ' => "%20".into(),
                    '#' => "%23".into(),
                    '?' => "%3F".into(),
                    c => c.to_string(),
                })
                .collect();
            enc + "/"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::relative;
    use std::path::Path;

    #[test]
    fn relative_links() {
        assert_eq!(
            relative(Path::new("/a/results"), Path::new("/a/results/r1")),
            "r1/"
        );
        assert_eq!(relative(Path::new("/a/results"), Path::new("/a/results")), "");
        assert_eq!(
            relative(Path::new("/a/x/y"), Path::new("/a/my runs/r#1")),
            "../../my%20runs/r%231/"
        );
    }
}
