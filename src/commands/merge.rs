//! `dynobench merge DIR…`: the shards of one run read through the one reader, checked,
//! merged (histograms added, figures and verdicts recomputed), their .hlog intervals
//! aligned, written as one results directory and printed; exit 1 when an SLO breaks.

use std::time::SystemTime;

use anyhow::anyhow;

use crate::cli::MergeArgs;
use crate::error::{CliError, Outcome, failed, usage};
use crate::record::model::compact_stamp;
use crate::record::shards::{ShardRun, merge_intervals, merge_shards};
use crate::report::reader::{read_interval_histograms, read_run};
use crate::report::writer::ResultsWriter;

/// The label shards were run with (`X-shard0of4` → `X`; `shard0of4` → none).
fn base_label(label: &str) -> Option<&str> {
    match label.rsplit_once("-shard") {
        Some((base, _)) => Some(base),
        None if label.starts_with("shard") => None,
        None => Some(label),
    }
}

pub(crate) fn merge(a: MergeArgs) -> Result<Outcome, CliError> {
    let mut files = Vec::new();
    let mut shards = Vec::new();
    for dir in &a.shards {
        let f = read_run(dir).map_err(usage)?;
        shards.push(ShardRun {
            source: dir.display().to_string(),
            report: f.report.clone(),
        });
        files.push(f);
    }
    let label = match &a.label {
        Some(l) => l.clone(),
        None => shards
            .first()
            .and_then(|s| base_label(&s.report.label))
            .map_or("merged".into(), |b| format!("{b}-merged")),
    };
    super::common::check_label(&label)?;
    let run_id = format!("{}-{label}", compact_stamp(SystemTime::now()));
    let mut report = merge_shards(shards, a.partial, &run_id).map_err(usage)?;
    // The per-second intervals (for compare's blocks and the .hlog), aligned by start time.
    let starts = report
        .merged
        .as_ref()
        .map(|m| m.shards.clone())
        .unwrap_or_default();
    for c in &mut report.classes {
        let mut parts = Vec::new();
        for f in &files {
            let Some(idx) = f.report.config.shard.as_ref().map(|s| s.index) else {
                continue;
            };
            let start_ms = starts
                .iter()
                .find(|s| s.index == idx)
                .and_then(|s| s.start_ms)
                .unwrap_or(0.0);
            if let Some(iv) = read_interval_histograms(f, &c.name).map_err(usage)? {
                parts.push((start_ms / 1000.0, iv));
            }
        }
        c.intervals = merge_intervals(&parts);
    }
    let dir = if a.no_save {
        None
    } else {
        std::fs::create_dir_all(&a.out)
            .map_err(|e| failed(anyhow!("creating the results directory {}: {e}", a.out.display())))?;
        let mut w = ResultsWriter::create(&a.out, &report.run_id).map_err(|e| {
            failed(anyhow!(
                "creating a results directory under {}: {e}",
                a.out.display()
            ))
        })?;
        w.write(&report).map_err(|e| failed(anyhow!(e)))?;
        Some(w.dir().display().to_string())
    };
    if a.json {
        println!("{}", crate::report::export::json::run_json(&report));
    } else {
        println!("{}", crate::report::table::render(&report));
        if let Some(m) = &report.merged {
            println!("{}", crate::report::merge::render(m));
        }
        if let Some(d) = &dir {
            println!(
                "results: {d}/ (merged from {} shards)",
                report.merged.as_ref().map_or(0, |m| m.merged)
            );
            println!("page:    {d}/{}", crate::report::export::html::INDEX);
        }
    }
    Ok(super::common::slo_outcome(&report))
}

#[cfg(test)]
mod tests {
    use super::base_label;

    #[test]
    fn labels_lose_their_shard_suffix() {
        assert_eq!(base_label("shard0of4"), None);
        assert_eq!(base_label("ci-shard3of4"), Some("ci"));
        assert_eq!(base_label("nightly"), Some("nightly"));
    }
}
