//! Workload profiles: what one `/work` call does. `cpu` parses and transforms the payload;
//! `decrypt` first decrypts it (ChaCha20-Poly1305, as the original dyno experiment decrypted
//! its blob); `io` waits on a simulated downstream call and does a small transform over the
//! worker's resident working set; `mixed` is io for a given share of calls, cpu otherwise.

use std::fmt;
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde_json::Value;

/// Default simulated downstream wait of the io profile.
pub const DEFAULT_IO_MS: u64 = 50;
/// Default share of io calls in the mixed profile.
pub const DEFAULT_IO_SHARE: f64 = 0.5;

/// What a call does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    /// Parse + transform the payload.
    Cpu,
    /// Decrypt, then parse + transform.
    Decrypt,
    /// A downstream wait, then a small transform.
    Io {
        /// The wait.
        wait: Duration,
    },
    /// io for `io_share` of calls, cpu for the rest.
    Mixed {
        /// Share of io calls.
        io_share: f64,
        /// The io wait.
        wait: Duration,
    },
}

impl Profile {
    /// Builds a profile from its name and parameters, checking them.
    pub fn new(name: &str, io_ms: Option<u64>, io_share: Option<f64>) -> Result<Profile, String> {
        let io_ms = io_ms.unwrap_or(DEFAULT_IO_MS);
        if io_ms > 600_000 {
            return Err(format!("io_ms {io_ms} must be at most 600000 (10 minutes)"));
        }
        let wait = Duration::from_millis(io_ms);
        let share = io_share.unwrap_or(DEFAULT_IO_SHARE);
        if !(0.0..=1.0).contains(&share) {
            return Err(format!("io_share {share} must be between 0 and 1"));
        }
        match name {
            "cpu" => Ok(Profile::Cpu),
            "decrypt" => Ok(Profile::Decrypt),
            "io" => Ok(Profile::Io { wait }),
            "mixed" => Ok(Profile::Mixed {
                io_share: share,
                wait,
            }),
            other => Err(format!(
                "unknown profile '{other}'; valid: cpu, decrypt, io, mixed"
            )),
        }
    }

    /// The profile's name.
    pub fn name(&self) -> &'static str {
        match self {
            Profile::Cpu => "cpu",
            Profile::Decrypt => "decrypt",
            Profile::Io { .. } => "io",
            Profile::Mixed { .. } => "mixed",
        }
    }

    /// The query string that selects this profile on `/work` (empty for cpu).
    pub fn query(&self) -> String {
        match *self {
            Profile::Cpu => String::new(),
            Profile::Decrypt => "profile=decrypt".into(),
            Profile::Io { wait } => format!("profile=io&io_ms={}", wait.as_millis()),
            Profile::Mixed { io_share, wait } => {
                format!("profile=mixed&io_share={io_share}&io_ms={}", wait.as_millis())
            }
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Profile::Io { wait } => write!(f, "io ({} ms wait)", wait.as_millis()),
            Profile::Mixed { io_share, wait } => {
                write!(
                    f,
                    "mixed ({:.0}% io with {} ms wait, rest cpu)",
                    io_share * 100.0,
                    wait.as_millis()
                )
            }
            _ => f.write_str(self.name()),
        }
    }
}

/// Whether call number `n` of a mixed profile is an io call: a fixed pseudo-random
/// sequence (SplitMix64), so a run's mix is reproducible.
pub fn mixed_is_io(n: u64, io_share: f64) -> bool {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 / (1u64 << 53) as f64) < io_share
}

fn cipher() -> (ChaCha20Poly1305, Nonce) {
    // A fixed key and nonce: the point is the decryption work, not secrecy.
    let key = Key::from([0x42u8; 32]);
    (ChaCha20Poly1305::new(&key), Nonce::from([7u8; 12]))
}

/// Encrypts a payload for the decrypt profile.
pub fn seal(plain: &[u8]) -> Vec<u8> {
    let (c, n) = cipher();
    c.encrypt(&n, plain).expect("encryption into a Vec cannot fail")
}

/// Decrypts (and authenticates) a sealed payload.
pub fn open(sealed: &[u8]) -> Result<Vec<u8>, String> {
    let (c, n) = cipher();
    c.decrypt(&n, sealed)
        .map_err(|_| "the sealed payload failed authentication".to_string())
}

/// Orders by customer id (indices into the working set's `orders`): the index an app keeps
/// next to its data, built once per worker so that the io profile's lookup costs microseconds
/// of CPU, not a scan.
pub fn orders_by_customer(working_set: &Value) -> std::collections::HashMap<String, Vec<usize>> {
    let mut idx: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
    if let Some(orders) = working_set.get("orders").and_then(Value::as_array) {
        for (i, o) in orders.iter().enumerate() {
            if let Some(id) = o.get("customer_id").and_then(Value::as_str) {
                idx.entry(id.to_string()).or_default().push(i);
            }
        }
    }
    idx
}

/// The io profile's small transform: look one customer (chosen by `n`) up in the worker's
/// working set and sum that customer's orders (found through `index`, from
/// [`orders_by_customer`]). Returns a short digestable text.
pub fn small_transform(
    working_set: &Value,
    index: &std::collections::HashMap<String, Vec<usize>>,
    n: u64,
) -> String {
    let empty = Vec::new();
    let customers = working_set
        .get("customers")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let orders = working_set
        .get("orders")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if customers.is_empty() {
        // A generic payload: report its top-level shape instead.
        return format!("{}:{}", n, working_set.as_object().map_or(0, |m| m.len()));
    }
    let c = &customers[(n as usize) % customers.len()];
    let id = c.get("id").and_then(Value::as_str).unwrap_or("");
    let mine = index.get(id).map_or(&[][..], Vec::as_slice);
    let (count, total) = mine
        .iter()
        .filter_map(|&i| orders.get(i))
        .fold((0u64, 0.0f64), |(k, t), o| {
            let sum: f64 = o
                .get("items")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            i.get("qty").and_then(Value::as_f64).unwrap_or(0.0)
                                * i.get("unit_price").and_then(Value::as_f64).unwrap_or(0.0)
                        })
                        .sum()
                })
                .unwrap_or(0.0);
            (k + 1, t + sum)
        });
    format!("{id}:{count}:{total:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_round_trip_to_queries() {
        assert_eq!(Profile::new("cpu", None, None).unwrap(), Profile::Cpu);
        let io = Profile::new("io", Some(20), None).unwrap();
        assert_eq!(io.query(), "profile=io&io_ms=20");
        let m = Profile::new("mixed", None, Some(0.25)).unwrap();
        assert_eq!(m.query(), "profile=mixed&io_share=0.25&io_ms=50");
        assert!(Profile::new("gpu", None, None).unwrap_err().contains("valid"));
        assert!(Profile::new("mixed", None, Some(1.5)).is_err());
    }

    #[test]
    fn mixed_share_is_respected() {
        let io = (0..10_000).filter(|&n| mixed_is_io(n, 0.3)).count();
        assert!((2800..3200).contains(&io), "{io}");
        assert!(!(0..100).any(|n| mixed_is_io(n, 0.0)));
        assert!((0..100).all(|n| mixed_is_io(n, 1.0)));
    }

    #[test]
    fn seal_and_open() {
        let s = seal(b"{\"a\":1}");
        assert_ne!(&s[..], b"{\"a\":1}");
        assert_eq!(open(&s).unwrap(), b"{\"a\":1}");
        let mut bad = s.clone();
        bad[0] ^= 1;
        assert!(open(&bad).is_err());
    }

    #[test]
    fn the_indexed_lookup_sums_what_a_scan_sums() {
        let ws: Value =
            serde_json::from_slice(&crate::workload::generate::generate_orders(3, 200_000)).unwrap();
        let idx = orders_by_customer(&ws);
        let customers = ws["customers"].as_array().unwrap();
        for n in [0u64, 1, 7, 42] {
            let c = &customers[n as usize % customers.len()];
            let id = c["id"].as_str().unwrap();
            let (mut k, mut t) = (0u64, 0.0f64);
            for o in ws["orders"].as_array().unwrap() {
                if o["customer_id"].as_str() == Some(id) {
                    k += 1;
                    for i in o["items"].as_array().unwrap() {
                        t += i["qty"].as_f64().unwrap_or(0.0) * i["unit_price"].as_f64().unwrap_or(0.0);
                    }
                }
            }
            assert_eq!(small_transform(&ws, &idx, n), format!("{id}:{k}:{t:.2}"));
        }
    }
}
