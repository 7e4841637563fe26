//! Running beyond one machine: manifests for a cluster (pure data; the `k8s` command writes
//! them). Shards and their merge live with the results model (`record::shard`,
//! `record::shards`).

pub mod k8s;
