//! The workload behind `GET /work`: parse a large JSON payload, transform it, serialize
//! the result and digest it. Pure computation; the only I/O is loading a payload file.

pub mod generate;
pub mod generic;
pub mod orders;
mod payload;
pub mod profile;

pub use payload::{BUNDLED_NAME, Payload, PayloadError};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Which transform a payload gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransformKind {
    /// The orders transform (documents carrying the `dynobench.orders/` schema tag).
    Orders,
    /// The generic transform (any other JSON).
    Generic,
}

/// What one unit of work produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkOutput {
    /// Which transform ran.
    pub kind: TransformKind,
    /// Hex SHA-256 of the serialized result: equal inputs give equal digests.
    pub digest: String,
    /// Bytes of payload parsed.
    pub in_bytes: usize,
    /// Bytes of serialized result.
    pub out_bytes: usize,
}

/// Stage 1: parse the payload into a dynamic JSON tree (as a Ruby or Python app would).
pub fn parse(bytes: &[u8]) -> serde_json::Result<Value> {
    serde_json::from_slice(bytes)
}

/// Picks the transform for a parsed document.
pub fn kind_of(doc: &Value) -> TransformKind {
    match doc.get("schema").and_then(Value::as_str) {
        Some(s) if s.starts_with("dynobench.orders/") => TransformKind::Orders,
        _ => TransformKind::Generic,
    }
}

/// Stages 2 and 3: transform a parsed document and serialize the result. The returned
/// bytes are what gets digested.
pub fn transform_and_serialize(doc: &Value) -> (TransformKind, Vec<u8>) {
    match kind_of(doc) {
        TransformKind::Orders => {
            let report = orders::transform(doc);
            (
                TransformKind::Orders,
                serde_json::to_vec(&report).expect("report serializes"),
            )
        }
        TransformKind::Generic => {
            let (report, mut canonical) = generic::transform(doc);
            serde_json::to_writer(&mut canonical, &report).expect("report serializes");
            (TransformKind::Generic, canonical)
        }
    }
}

/// Hex SHA-256 of the serialized result.
pub fn digest(out: &[u8]) -> String {
    let d = Sha256::digest(out);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// One whole unit of work: parse, transform, serialize, digest.
///
/// The payload was validated when it was loaded, so a parse failure here means the bytes
/// changed underneath us; it is reported as an error rather than a panic.
pub fn run(bytes: &[u8]) -> serde_json::Result<WorkOutput> {
    let doc = parse(bytes)?;
    let (kind, out) = transform_and_serialize(&doc);
    drop(doc);
    Ok(WorkOutput {
        kind,
        digest: digest(&out),
        in_bytes: bytes.len(),
        out_bytes: out.len(),
    })
}
