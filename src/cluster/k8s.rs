//! Kubernetes manifests for a run on a cluster (pure): per class a Deployment of `dynobench
//! serve` whose CPU and memory requests and limits are the class's CPU model and memory, and
//! a Service; and the driver as an Indexed Job of N shards (`run --shard I/N`), kept off the
//! servers' nodes. The mapping of CPU models:
//!
//! - dedicated N cores: requests = limits = N (a Guaranteed pod; with whole cores, the
//!   kubelet's static CPU manager gives it exclusive cores, as a dedicated dyno has);
//! - shared floor–burst: requests = the floor (the share guaranteed under contention),
//!   limits = the burst cap (the CFS quota dynobench applies locally);
//! - quota N: requests = limits = N (no neighbours are modelled);
//! - burst-balance: requests = the baseline, limits = the burst; Kubernetes has no balance,
//!   so the burst lasts for ever (an annotation says so).
//!
//! Memory: requests = limits = the class's memory; above it the container is OOM-killed
//! (a dyno swaps first and is killed at its hard limit).

use serde_json::{Value, json};

use crate::class::{CpuModel, DynoClass};

/// The port `dynobench serve` listens on in the pods ($PORT).
pub const PORT: u16 = 5000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct K8sSpec {
    /// The classes, one Deployment, Service and driver Job each.
    pub classes: Vec<DynoClass>,
    /// The catalog they come from (`--classes`), passed to the drivers for prices.
    pub catalog: String,
    /// The container image with `dynobench` on its PATH (the repository's Dockerfile).
    pub image: String,
    /// Namespace, if not the default.
    pub namespace: Option<String>,
    /// Driver shards (pods of the Indexed Job).
    pub shards: u32,
    /// The drivers' barrier, RFC 3339.
    pub start_at: Option<String>,
    /// Extra `run` flags for every driver (load, calls, profile).
    pub run_args: Vec<String>,
}

/// One manifest: its file name and the object.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// File name, `<class>-<kind>.json`.
    pub file: String,
    /// `servers` (apply first) or `drivers`.
    pub stage: &'static str,
    /// The object.
    pub object: Value,
}

/// A DNS-1123 name for `class` (lowercase letters, digits and '-', at most 63 characters).
pub fn object_name(class: &str) -> String {
    let mut s: String = class
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    s = format!("dynobench-{}", s.trim_matches('-'));
    s.truncate(63);
    s.trim_end_matches('-').to_string()
}

/// CPU as a Kubernetes quantity: whole cores as `8`, else millicores (`170m`).
pub fn cpu_quantity(cores: f64) -> String {
    let milli = (cores * 1000.0).round() as u64;
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// Memory as a Kubernetes quantity: `14Gi` when whole GiB, else `512Mi`.
pub fn memory_quantity(mb: u64) -> String {
    if mb % 1024 == 0 {
        format!("{}Gi", mb / 1024)
    } else {
        format!("{mb}Mi")
    }
}

/// The class's CPU (requests, limits) in cores, and a note when Kubernetes cannot model it.
pub fn cpu_resources(cpu: &CpuModel) -> (f64, f64, Option<String>) {
    match *cpu {
        CpuModel::Dedicated { cores } => (
            cores,
            cores,
            (cores.fract() != 0.0).then(|| {
                format!("{cores} dedicated cores is not whole: the static CPU manager gives exclusive cores only to whole-core Guaranteed pods")
            }),
        ),
        CpuModel::Shared {
            floor_cores,
            burst_cores,
            ..
        } => (floor_cores, burst_cores, None),
        CpuModel::Quota { cores } => (cores, cores, None),
        CpuModel::Burst {
            baseline_cores,
            burst_cores,
            balance_s,
            ..
        } => (
            baseline_cores,
            burst_cores,
            Some(format!(
                "burst balance of {balance_s} core-s not modelled: Kubernetes lets the pod use its limit for ever"
            )),
        ),
    }
}

fn metadata(name: &str, ns: &Option<String>, labels: Value, annotations: Value) -> Value {
    let mut m = json!({ "name": name, "labels": labels });
    if let Some(ns) = ns {
        m["namespace"] = json!(ns);
    }
    if annotations.as_object().is_some_and(|a| !a.is_empty()) {
        m["annotations"] = annotations;
    }
    m
}

fn server_labels(class: &DynoClass) -> Value {
    json!({
        "app.kubernetes.io/name": "dynobench",
        "app.kubernetes.io/component": "server",
        "dynobench/class": object_name(&class.name).trim_start_matches("dynobench-"),
    })
}

fn deployment(spec: &K8sSpec, class: &DynoClass) -> Value {
    let name = object_name(&class.name);
    let (req, lim, note) = cpu_resources(&class.cpu);
    let mem = memory_quantity(class.memory_mb);
    let mut annotations = json!({
        "dynobench/class": class.name,
        "dynobench/cpu-model": class.cpu.describe(),
    });
    if let Some(n) = note {
        annotations["dynobench/note"] = json!(n);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(&name, &spec.namespace, server_labels(class), annotations),
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": server_labels(class) },
            "template": {
                "metadata": { "labels": server_labels(class) },
                "spec": {
                    "containers": [{
                        "name": "serve",
                        "image": spec.image,
                        "command": ["dynobench"],
                        "args": ["serve"],
                        "env": [
                            { "name": "PORT", "value": PORT.to_string() },
                            { "name": "WEB_CONCURRENCY", "value": class.workers.to_string() },
                        ],
                        "ports": [{ "name": "http", "containerPort": PORT }],
                        "readinessProbe": {
                            "httpGet": { "path": "/health", "port": PORT },
                            "periodSeconds": 2,
                            "failureThreshold": 3,
                        },
                        "resources": {
                            "requests": { "cpu": cpu_quantity(req), "memory": mem },
                            "limits": { "cpu": cpu_quantity(lim), "memory": mem },
                        },
                    }],
                },
            },
        },
    })
}

fn service(spec: &K8sSpec, class: &DynoClass) -> Value {
    let name = object_name(&class.name);
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(&name, &spec.namespace, server_labels(class), json!({})),
        "spec": {
            "selector": server_labels(class),
            "ports": [{ "name": "http", "port": PORT, "targetPort": PORT }],
        },
    })
}

fn driver_job(spec: &K8sSpec, class: &DynoClass) -> Value {
    let name = format!("{}-driver", object_name(&class.name));
    let labels = json!({
        "app.kubernetes.io/name": "dynobench",
        "app.kubernetes.io/component": "driver",
    });
    let mut args: Vec<String> = [
        "run",
        "--url",
        &format!("http://{}:{PORT}", object_name(&class.name)),
        "--classes",
        &spec.catalog,
        "--class",
        &class.name,
        "--shard",
        &format!("$(JOB_COMPLETION_INDEX)/{}", spec.shards),
        "--out",
        "/tmp/results",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(t) = &spec.start_at {
        args.extend(["--start-at".to_string(), t.clone()]);
    }
    args.extend(spec.run_args.iter().cloned());
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(&name, &spec.namespace, labels.clone(), json!({ "dynobench/class": class.name })),
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.shards,
            "parallelism": spec.shards,
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "restartPolicy": "Never",
                    "affinity": {
                        // Drivers never share a node with a server: their CPU would be the
                        // server's neighbour, and their own latency the server's.
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [{
                                "labelSelector": { "matchLabels": {
                                    "app.kubernetes.io/name": "dynobench",
                                    "app.kubernetes.io/component": "server",
                                } },
                                "topologyKey": "kubernetes.io/hostname",
                            }],
                            // … and preferably not with each other.
                            "preferredDuringSchedulingIgnoredDuringExecution": [{
                                "weight": 100,
                                "podAffinityTerm": {
                                    "labelSelector": { "matchLabels": {
                                        "app.kubernetes.io/name": "dynobench",
                                        "app.kubernetes.io/component": "driver",
                                    } },
                                    "topologyKey": "kubernetes.io/hostname",
                                },
                            }],
                        },
                    },
                    "containers": [{
                        "name": "run",
                        "image": spec.image,
                        "command": ["dynobench"],
                        "args": args,
                        "env": [{
                            "name": "JOB_COMPLETION_INDEX",
                            "valueFrom": { "fieldRef": {
                                "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
                            } },
                        }],
                        "resources": {
                            "requests": { "cpu": "1", "memory": "256Mi" },
                            "limits": { "memory": "1Gi" },
                        },
                    }],
                },
            },
        },
    })
}

/// Every manifest: per class its Deployment and Service (stage `servers`), then its driver
/// Job (stage `drivers`).
pub fn manifests(spec: &K8sSpec) -> Vec<Manifest> {
    let mut out = Vec::new();
    for c in &spec.classes {
        let stem = object_name(&c.name);
        out.push(Manifest {
            file: format!("{stem}-deployment.json"),
            stage: "servers",
            object: deployment(spec, c),
        });
        out.push(Manifest {
            file: format!("{stem}-service.json"),
            stage: "servers",
            object: service(spec, c),
        });
        out.push(Manifest {
            file: format!("{stem}-driver-job.json"),
            stage: "drivers",
            object: driver_job(spec, c),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_names() {
        assert_eq!(cpu_quantity(8.0), "8");
        assert_eq!(cpu_quantity(0.17), "170m");
        assert_eq!(cpu_quantity(1.5), "1500m");
        assert_eq!(memory_quantity(14336), "14Gi");
        assert_eq!(memory_quantity(512), "512Mi");
        assert_eq!(object_name("standard-1x"), "dynobench-standard-1x");
        assert_eq!(object_name("render/Pro Plus"), "dynobench-render-pro-plus");
        assert!(object_name(&"x".repeat(100)).len() <= 63);
    }
}
