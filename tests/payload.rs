//! The bundled payload: it is what the generator produces for its recorded seed and size,
//! it is large and varied, and the workload's digest over it is stable.

use dynobench::workload::{self, Payload, TransformKind, generate};
use serde_json::Value;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/payloads/orders.json");

#[test]
fn committed_payload_equals_generator_output() {
    let committed = std::fs::read(COMMITTED).expect("payloads/orders.json is committed");
    let doc: Value = serde_json::from_slice(&committed).unwrap();
    let seed = doc["generator"]["seed"]
        .as_u64()
        .expect("generator.seed recorded");
    let size = doc["generator"]["size"]
        .as_u64()
        .expect("generator.size recorded") as usize;
    assert_eq!(size, 4 * 1024 * 1024, "the bundled payload is the 4 MiB one");
    let regenerated = generate::generate_orders(seed, size);
    assert!(
        regenerated == committed,
        "payloads/orders.json differs from `dynobench payload --size {size} --seed {seed}`; regenerate it"
    );
    // The embedded copy is the committed file.
    assert_eq!(Payload::bundled().bytes(), &committed[..]);
}

#[test]
fn bundled_payload_is_large_and_varied() {
    let bytes = std::fs::read(COMMITTED).unwrap();
    assert!(bytes.len() >= 4 * 1024 * 1024);
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.contains("\\\""), "escaped quotes");
    assert!(text.contains("\\n"), "escaped newlines");
    assert!(text.contains("\\\\"), "escaped backslashes");
    assert!(!text.is_ascii(), "non-ASCII text");
    assert!(text.contains("null") && text.contains("true") && text.contains("false"));
    let doc: Value = serde_json::from_str(text).unwrap();
    let orders = doc["orders"].as_array().unwrap();
    assert!(orders.len() > 1000);
    assert!(orders[0]["items"][0]["unit_price"].is_f64());
    assert!(orders[0]["items"][0]["qty"].is_u64());
    assert!(doc["customers"][0]["address"]["geo"].is_object());
}

/// The digest of the bundled payload's transform, pinned: a change here means the workload
/// (or the payload) changed and every stored result's `digest` would no longer compare.
const BUNDLED_DIGEST: &str = "afa068f1c8a1cda7a03a852238fab23f54de44b1719c4980e966a262bfef2f60";

#[test]
fn digest_is_stable_for_the_bundled_payload() {
    let p = Payload::bundled();
    let a = workload::run(p.bytes()).unwrap();
    let b = workload::run(p.bytes()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.kind, TransformKind::Orders);
    assert_eq!(a.digest, BUNDLED_DIGEST);
    assert_eq!(a.in_bytes, p.bytes().len());
}

/// Pinned digest of the small generic document below.
const GENERIC_DIGEST: &str = "4734e4cd4e386f3da9ba41f8f1cbbd238f75a096edb033b09d14086473c445da";

#[test]
fn generic_transform_digest_is_stable_and_key_order_insensitive() {
    let a = br#"{"z": [1, 2.5, "x\u00e9"], "a": {"k": null, "b": true}}"#;
    let b = br#"{"a": {"b": true, "k": null}, "z": [1, 2.5, "x\u00e9"]}"#;
    let ra = workload::run(a).unwrap();
    let rb = workload::run(b).unwrap();
    assert_eq!(ra.kind, TransformKind::Generic);
    assert_eq!(ra.digest, rb.digest, "the generic transform sorts keys");
    assert_eq!(ra.digest, GENERIC_DIGEST);
}
