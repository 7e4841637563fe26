//! `dynobench validate --aa`: `compare`'s error rate on real runs. Pairs of back-to-back
//! runs of one class (a 1-core quota, one round of `--calls` each) are compared as CI would
//! compare them; since both runs of a pair measure the same thing, every "slower" or
//! "faster" is a false alarm and every REGRESSION a false CI failure. It also estimates this
//! host's run-to-run spread per percentile — the part of a pair's difference that the
//! within-run bootstrap does not explain — against the default `compare` assumes.

use std::collections::BTreeMap;

use anyhow::anyhow;
use clap::Parser;

use super::common::own_exe;
use super::run::plan as run_plan;
use crate::cli::{Cli, Command, ValidateArgs};
use crate::compare::family::RUN_TO_RUN;
use crate::compare::stats::{Blocks, bootstrap_replicates};
use crate::compare::verdict::Verdict;
use crate::compare::{CompareOptions, METRICS, RunData, compare};
use crate::driver::{self, Silent};
use crate::error::{CliError, Outcome, failed, usage};
use crate::record::{ClassResult, RunReport};

fn one_run(
    a: &ValidateArgs,
    payload: &std::path::Path,
    seed: u64,
) -> Result<(RunReport, BTreeMap<String, Blocks>), CliError> {
    if crate::interrupt::requested() {
        return Err(CliError::Interrupted(anyhow!("interrupted")));
    }
    let argv: Vec<String> = [
        "dynobench",
        "run",
        "--classes",
        "containers",
        "--class",
        "cpu-1",
        "--warmup",
        "10",
        "--no-save",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "--calls".into(),
        a.calls.to_string(),
        "--payload".into(),
        payload.display().to_string(),
        "--seed".into(),
        seed.to_string(),
    ])
    .collect();
    let cli = Cli::try_parse_from(argv).map_err(|e| usage(anyhow!("{e}")))?;
    let Command::Run(args) = cli.command else {
        unreachable!("a run command line")
    };
    let plan = run_plan(&args, own_exe()?)?;
    let r = driver::run(&plan, &driver::detect(), &mut Silent).map_err(|e| failed(anyhow!("{e}")))?;
    let c: &ClassResult = r
        .classes
        .first()
        .ok_or_else(|| failed(anyhow!("the run measured nothing")))?;
    if !c.is_ok() {
        return Err(failed(anyhow!(
            "{}: {}",
            c.name,
            c.failure.as_deref().unwrap_or("failed")
        )));
    }
    let mut blocks = BTreeMap::new();
    blocks.insert(c.name.clone(), Blocks::from_series(&c.intervals));
    Ok((r, blocks))
}

fn sd(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt()
}

/// What the pairs showed: false alarms, per percentile, and each pair's difference against
/// its within-run bootstrap variance.
#[derive(Default)]
struct Tally {
    called: usize,
    regressions: usize,
    invalid: usize,
    per: [usize; 4],
    diffs: [Vec<f64>; 4],
    boot_var: [Vec<f64>; 4],
}

type Run = (RunReport, BTreeMap<String, Blocks>);

impl Tally {
    /// Compares one pair of runs as CI would.
    fn add(&mut self, i: u32, x: &Run, y: &Run) {
        let ps: Vec<f64> = METRICS.iter().map(|p| p / 100.0).collect();
        let c = compare(
            RunData {
                report: &x.0,
                blocks: &x.1,
            },
            RunData {
                report: &y.0,
                blocks: &y.1,
            },
            &CompareOptions::default(),
        );
        let d = &c.classes[0];
        let mut any = false;
        for (j, m) in d.metrics.iter().enumerate() {
            if matches!(m.verdict, Verdict::Slower | Verdict::Faster) {
                self.per[j] += 1;
                any = true;
            }
        }
        self.called += usize::from(any);
        self.regressions += usize::from(c.regressed);
        // Not judged (the driver was the bottleneck): counted, not taken as a pass.
        self.invalid += usize::from(!c.invalid.is_empty());
        let (bx, by) = (x.1.values().next(), y.1.values().next());
        if let (Some(bx), Some(by)) = (bx, by)
            && let Some((center, reps)) = bootstrap_replicates(bx, by, &ps, u64::from(i))
        {
            for j in 0..4 {
                if let Some(cj) = center[j] {
                    self.diffs[j].push(cj);
                    self.boot_var[j].push(sd(&reps[j]).powi(2));
                }
            }
        }
    }
}

/// The payload: --payload, else a small generated one (a few ms of CPU per call) in `tmp`.
fn aa_payload(a: &ValidateArgs, tmp: &std::path::Path) -> Result<std::path::PathBuf, CliError> {
    if let Some(p) = &a.payload {
        return Ok(p.clone());
    }
    // A small payload (a few ms of CPU per call) so that 1000 calls take seconds.
    let p = tmp.join("aa.json");
    std::fs::write(&p, crate::workload::generate::generate_orders(5, 128 * 1024))
        .map_err(|e| failed(anyhow!("writing {}: {e}", p.display())))?;
    Ok(p)
}

/// The error rates and the run-to-run spread, in words.
fn render_aa(a: &ValidateArgs, t: &Tally) -> String {
    let Tally {
        called,
        regressions,
        invalid,
        per,
        ..
    } = *t;
    let n = a.pairs as f64;
    let mut s = format!(
        "compare on {} pairs of back-to-back real runs of one class (containers/cpu-1: a 1-core quota), {} calls each, one round\n\n",
        a.pairs, a.calls
    );
    s.push_str(&format!(
        "false REGRESSION (exit 1): {:.1}% ({regressions} of {})   goal <= 5%   {}\n",
        100.0 * regressions as f64 / n,
        a.pairs,
        if regressions as f64 / n <= 0.05 {
            "within"
        } else {
            "OUTSIDE"
        }
    ));
    if invalid > 0 {
        s.push_str(&format!(
            "not judged (exit 4): {invalid} of {} pairs, a run's driver was the bottleneck; their verdicts are missing from the rates below, so re-run with fewer calls per second or a driver CPU of its own\n",
            a.pairs
        ));
    }
    s.push_str(&format!(
        "any percentile called slower/faster: {:.1}%; per percentile: {}\n\n",
        100.0 * called as f64 / n,
        METRICS
            .iter()
            .zip(per)
            .map(|(p, k)| format!("p{p} {:.1}%", 100.0 * k as f64 / n))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push_str(
        "run-to-run spread per run (log SD beyond the within-run bootstrap) against compare's default:\n",
    );
    for j in 0..4 {
        if t.diffs[j].len() < 3 {
            continue;
        }
        let total = sd(&t.diffs[j]).powi(2);
        let within = t.boot_var[j].iter().sum::<f64>() / t.boot_var[j].len() as f64;
        let rr = ((total - within).max(0.0) / 2.0).sqrt();
        s.push_str(&format!(
            "  p{}: pair differences SD {:.1}%, within-run {:.1}%, run-to-run {:.1}% per run (default {:.1}%)\n",
            METRICS[j],
            total.sqrt() * 100.0,
            within.sqrt() * 100.0,
            rr * 100.0,
            RUN_TO_RUN[j] * 100.0
        ));
    }
    s
}

/// The generated payload's directory, removed on every way out (an error half way too).
struct TmpDir(std::path::PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `dynobench validate --aa`.
pub(crate) fn validate_aa(a: &ValidateArgs) -> Result<Outcome, CliError> {
    crate::interrupt::install();
    let tmp = TmpDir(std::env::temp_dir().join(format!("dynobench-aa-{}", std::process::id())));
    std::fs::create_dir_all(&tmp.0).map_err(|e| failed(anyhow!("creating {}: {e}", tmp.0.display())))?;
    let payload = aa_payload(a, &tmp.0)?;
    let mut tally = Tally::default();
    for i in 0..a.pairs {
        eprintln!("validate --aa: pair {} of {}", i + 1, a.pairs);
        let x = one_run(a, &payload, 2 * i as u64 + 1)?;
        let y = one_run(a, &payload, 2 * i as u64 + 2)?;
        tally.add(i, &x, &y);
    }
    print!("{}", render_aa(a, &tally));
    Ok(Outcome::Ok)
}
