//! `dynobench k8s`: the classes looked up, the drivers' `run` flags checked as a shard's plan
//! (so a bad flag fails here, not on the cluster), the manifests written to
//! DIR/servers/ and DIR/drivers/, and the loop to run them printed.

use std::time::SystemTime;

use anyhow::anyhow;
use clap::Parser;

use super::common::own_exe;
use crate::class::Catalog;
use crate::cli::{Cli, Command, K8sArgs};
use crate::cluster::k8s::{K8sSpec, PORT, manifests, object_name};
use crate::error::{CliError, Outcome, failed, usage};
use crate::record::model::rfc3339;

/// Flags a driver sets itself (the manifests own them).
const OWNED: [&str; 8] = [
    "--url",
    "--class",
    "--classes",
    "--shard",
    "--start-at",
    "--out",
    "--json",
    "--label",
];

pub(crate) fn k8s(a: K8sArgs) -> Result<Outcome, CliError> {
    let catalog = Catalog::load(&a.catalog).map_err(usage)?;
    let classes = super::common::named_classes(&catalog, &a.class)?;
    if let Some(f) = a
        .run_args
        .iter()
        .find(|f| OWNED.iter().any(|o| f.split('=').next() == Some(*o)))
    {
        return Err(usage(anyhow!(
            "{f}: the manifests set it for every driver; give the class with --class, the shards with --shards, the barrier with --start-at"
        )));
    }
    let start_at = rfc3339(a.start_at.unwrap_or_else(|| SystemTime::now() + a.start_in));
    // Each driver's command line, checked as shard 0's plan would be.
    for c in &classes {
        let mut argv: Vec<String> = vec![
            "dynobench".into(),
            "run".into(),
            "--url".into(),
            format!("http://{}:{PORT}", object_name(&c.name)),
            "--classes".into(),
            a.catalog.clone(),
            "--class".into(),
            c.name.clone(),
            "--shard".into(),
            format!("0/{}", a.shards),
            "--start-at".into(),
            start_at.clone(),
        ];
        argv.extend(a.run_args.iter().cloned());
        let cli = Cli::try_parse_from(&argv).map_err(|e| usage(anyhow!("the drivers' run flags: {e}")))?;
        let Command::Run(args) = cli.command else {
            unreachable!("a run command line")
        };
        super::run_plan(&args, own_exe()?).map_err(|e| usage(anyhow!("the drivers' run flags: {e}")))?;
    }
    let spec = K8sSpec {
        classes,
        catalog: a.catalog.clone(),
        image: a.image.clone(),
        namespace: a.namespace.clone(),
        shards: a.shards,
        start_at: Some(start_at.clone()),
        run_args: a.run_args.clone(),
    };
    let ms = manifests(&spec);
    for m in &ms {
        let dir = a.out.join(m.stage);
        std::fs::create_dir_all(&dir).map_err(|e| failed(anyhow!("creating {}: {e}", dir.display())))?;
        let text = serde_json::to_string_pretty(&m.object).map_err(failed)? + "\n";
        let path = dir.join(&m.file);
        std::fs::write(&path, text).map_err(|e| failed(anyhow!("writing {}: {e}", path.display())))?;
    }
    let d = a.out.display();
    let ns = a.namespace.as_ref().map_or(String::new(), |n| format!(" -n {n}"));
    println!(
        "wrote {} manifests to {d}/ (drivers' barrier {start_at}); then:",
        ms.len()
    );
    println!("  kubectl apply{ns} -f {d}/servers/");
    for c in &spec.classes {
        println!("  kubectl rollout status{ns} deployment/{}", object_name(&c.name));
    }
    println!("  kubectl apply{ns} -f {d}/drivers/        # before {start_at}");
    for c in &spec.classes {
        let job = format!("{}-driver", object_name(&c.name));
        println!("  kubectl wait{ns} --for=condition=complete --timeout=1h job/{job}");
        println!(
            "  for i in $(seq 0 {}); do mkdir -p shards/{job}-$i; kubectl logs{ns} --tail=-1 -l job-name={job},batch.kubernetes.io/job-completion-index=$i > shards/{job}-$i/run.json; done",
            spec.shards - 1
        );
        println!("  dynobench merge shards/{job}-*");
    }
    Ok(Outcome::Ok)
}
