//! `dynobench k8s` without a cluster: every manifest for every class of the heroku catalog
//! validates against the Kubernetes API's JSON schema (generated from its OpenAPI spec by
//! the k8s-openapi crate, v1.33) and survives a round trip through the API's own types
//! unchanged (so no field is misspelt or unknown), and the limits are the class's.

mod common;

use dynobench::class::{Catalog, CpuModel};
use dynobench::cluster::k8s::{K8sSpec, cpu_quantity, manifests, memory_quantity};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Validates `obj` as a `T`: the JSON schema of the API type, then the round trip.
fn check<T: DeserializeOwned + Serialize + schemars::JsonSchema>(obj: &Value) -> Result<(), String> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the API's schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(obj)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if !errors.is_empty() {
        return Err(format!("{errors:#?}"));
    }
    let typed: T = serde_json::from_value(obj.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).unwrap();
    if &back != obj {
        return Err(format!("a field the API does not know was dropped: {back:#}"));
    }
    Ok(())
}

fn checked(kind: &str, obj: &Value) -> Result<(), String> {
    match kind {
        "Deployment" => check::<Deployment>(obj),
        "Service" => check::<Service>(obj),
        "Job" => check::<Job>(obj),
        k => Err(format!("unexpected kind {k}")),
    }
}

fn validate(kind: &str, obj: &Value, what: &str) {
    if let Err(e) = checked(kind, obj) {
        panic!("{what}: {e}");
    }
}

#[test]
fn the_check_catches_a_misspelt_field_a_wrong_type_and_a_missing_one() {
    let cat = Catalog::load("heroku").unwrap();
    let ms = manifests(&spec(vec![cat.class("standard-1x").unwrap().clone()], 2));
    let dep = ms
        .iter()
        .find(|m| m.object["kind"] == "Deployment")
        .unwrap()
        .object
        .clone();
    assert!(checked("Deployment", &dep).is_ok());
    let mut typo = dep.clone();
    let c = &mut typo["spec"]["template"]["spec"]["containers"][0];
    let r = c.as_object_mut().unwrap().remove("resources").unwrap();
    c["resourcez"] = r;
    let e = checked("Deployment", &typo).unwrap_err();
    assert!(e.contains("does not know"), "{e}");
    let mut wrong = dep.clone();
    wrong["spec"]["replicas"] = Value::from("two");
    assert!(checked("Deployment", &wrong).is_err());
    let mut missing = dep;
    missing["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert!(checked("Deployment", &missing).is_err());
}

fn spec(classes: Vec<dynobench::class::DynoClass>, shards: u32) -> K8sSpec {
    K8sSpec {
        classes,
        catalog: "heroku".into(),
        image: "registry.example/dynobench:1".into(),
        namespace: Some("bench".into()),
        shards,
        start_at: Some("2026-12-01T12:00:00Z".into()),
        run_args: vec!["--rate".into(), "400".into()],
    }
}

#[test]
fn manifests_validate_for_every_heroku_class_with_the_class_limits() {
    let cat = Catalog::load("heroku").unwrap();
    let ms = manifests(&spec(cat.classes.clone(), 4));
    assert_eq!(ms.len(), 3 * cat.classes.len());
    for m in &ms {
        validate(m.object["kind"].as_str().unwrap(), &m.object, &m.file);
    }
    for c in &cat.classes {
        let dep = ms
            .iter()
            .find(|m| {
                m.object["kind"] == "Deployment"
                    && m.object["metadata"]["annotations"]["dynobench/class"] == c.name.as_str()
            })
            .unwrap();
        let container = &dep.object["spec"]["template"]["spec"]["containers"][0];
        let res = &container["resources"];
        assert_eq!(
            res["limits"]["cpu"],
            cpu_quantity(c.cpu.max_cores()),
            "{}",
            c.name
        );
        assert_eq!(
            res["limits"]["memory"],
            memory_quantity(c.memory_mb),
            "{}",
            c.name
        );
        assert_eq!(res["requests"]["memory"], res["limits"]["memory"]);
        match c.cpu {
            CpuModel::Dedicated { .. } => assert_eq!(
                res["requests"]["cpu"], res["limits"]["cpu"],
                "{}: Guaranteed",
                c.name
            ),
            CpuModel::Shared { floor_cores, .. } => {
                assert_eq!(res["requests"]["cpu"], cpu_quantity(floor_cores))
            }
            _ => {}
        }
        let env = container["env"].as_array().unwrap();
        assert!(
            env.iter().any(|e| e["name"] == "WEB_CONCURRENCY"
                && e["value"].as_str() == Some(c.workers.to_string().as_str()))
        );
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/health");
    }
    // performance-l: 8 whole dedicated CPUs (the static CPU manager's exclusive cores), 14 GB.
    let perf = ms
        .iter()
        .find(|m| m.file == "dynobench-performance-l-deployment.json")
        .unwrap();
    let res = &perf.object["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(
        (res["limits"]["cpu"].as_str(), res["limits"]["memory"].as_str()),
        (Some("8"), Some("14Gi"))
    );
    assert_eq!(res["requests"], res["limits"]);
}

#[test]
fn the_driver_is_an_indexed_job_of_shards_kept_off_the_servers() {
    let cat = Catalog::load("heroku").unwrap();
    let ms = manifests(&spec(vec![cat.class("standard-2x").unwrap().clone()], 6));
    let job = &ms.iter().find(|m| m.object["kind"] == "Job").unwrap().object;
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(
        (
            job["spec"]["completions"].as_u64(),
            job["spec"]["parallelism"].as_u64()
        ),
        (Some(6), Some(6))
    );
    let pod = &job["spec"]["template"]["spec"];
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let after = |flag: &str| args[args.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(after("--shard"), "$(JOB_COMPLETION_INDEX)/6");
    assert_eq!(after("--url"), "http://dynobench-standard-2x:5000");
    assert_eq!(after("--start-at"), "2026-12-01T12:00:00Z");
    assert_eq!(after("--rate"), "400");
    let anti = &pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(
        anti["labelSelector"]["matchLabels"]["app.kubernetes.io/component"],
        "server"
    );
    assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
    // The Service selects the Deployment's pods.
    let dep = &ms
        .iter()
        .find(|m| m.object["kind"] == "Deployment")
        .unwrap()
        .object;
    let svc = &ms.iter().find(|m| m.object["kind"] == "Service").unwrap().object;
    assert_eq!(
        svc["spec"]["selector"],
        dep["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(svc["metadata"]["name"], "dynobench-standard-2x");
}

#[test]
fn the_command_writes_valid_files_and_checks_the_drivers_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .args([
            "k8s",
            "--class",
            "performance-l",
            "--class",
            "standard-1x",
            "--shards",
            "4",
            "--out",
        ])
        .arg(tmp.path())
        .args(["--", "--rate", "40", "--calls", "400", "--profile", "io"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dynobench merge"));
    let mut n = 0;
    for stage in ["servers", "drivers"] {
        for f in std::fs::read_dir(tmp.path().join(stage)).unwrap() {
            let path = f.unwrap().path();
            let obj: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            validate(obj["kind"].as_str().unwrap(), &obj, &path.display().to_string());
            n += 1;
        }
    }
    assert_eq!(n, 6);
    // A driver flag that cannot work fails now, naming it.
    let bad = std::process::Command::new(common::bin())
        .args(["k8s", "--class", "standard-1x", "--shards", "8", "--out"])
        .arg(tmp.path())
        .args(["--", "--concurrency", "4"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot be split 8 ways"));
    let owned = std::process::Command::new(common::bin())
        .args(["k8s", "--class", "standard-1x", "--", "--shard", "0/2"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&owned.stderr).contains("the manifests set it"));
    // Shards without run flags: one caller each (the default closed loop of one caller
    // would not split).
    let plain = tmp.path().join("plain");
    let o = std::process::Command::new(common::bin())
        .args(["k8s", "--class", "standard-1x", "--shards", "2", "--out"])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let args = common::run_args(&[
        "--url",
        "http://127.0.0.1:9",
        "--class",
        "standard-1x",
        "--shard",
        "1/2",
    ]);
    let plan = dynobench::run_plan(&args, common::bin()).unwrap();
    assert_eq!(plan.load.concurrency(), 1, "one caller per shard");
    // A namespace Kubernetes would refuse is refused now, naming the flag.
    let o = std::process::Command::new(common::bin())
        .args([
            "k8s",
            "--class",
            "standard-1x",
            "--namespace",
            "Bad_Name!",
            "--out",
        ])
        .arg(tmp.path().join("bad"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--namespace") && err.contains("DNS-1123"), "{err}");
    assert!(!tmp.path().join("bad").exists(), "nothing written");
}
