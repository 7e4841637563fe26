//! HDR histograms as dynobench uses them: microseconds from 1 µs to an hour at 3
//! significant digits, rank lookups, and the V2+deflate base64 encoding of run.json.

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// Highest trackable value, µs (one hour: well above any timeout).
pub const HIGHEST_US: u64 = 3_600_000_000;
/// Significant digits kept.
pub const SIGFIG: u8 = 3;

/// A latency histogram in microseconds.
pub type Hist = Histogram<u64>;

/// A new empty histogram with dynobench's bounds.
pub fn new_hist() -> Hist {
    Histogram::new_with_bounds(1, HIGHEST_US, SIGFIG).expect("constant bounds are valid")
}

/// Records `us`, clamped into the trackable range (0 µs counts as 1 µs).
pub fn record(h: &mut Hist, us: u64) {
    h.saturating_record(us.clamp(1, HIGHEST_US));
}

/// The k-th smallest recorded value (1-based), as the highest value equivalent to its
/// bucket (HdrHistogram's reporting convention), or `None` if `k` is out of range.
pub fn value_at_rank(h: &Hist, k: u64) -> Option<u64> {
    if k == 0 || k > h.len() {
        return None;
    }
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen += v.count_at_value();
        if seen >= k {
            return Some(h.highest_equivalent(v.value_iterated_to()));
        }
    }
    None
}

/// Encodes a histogram as base64 (standard alphabet, padded) of its V2+deflate serialization.
pub fn encode(h: &Hist) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes [`encode`]'s output.
pub fn decode(s: &str) -> Result<Hist, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("not an HdrHistogram V2 serialization: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_round_trip() {
        let mut h = new_hist();
        for v in [5, 1, 3, 2, 4] {
            record(&mut h, v * 1000);
        }
        record(&mut h, 0);
        assert_eq!(h.len(), 6);
        assert_eq!(value_at_rank(&h, 1), Some(1));
        assert_eq!(value_at_rank(&h, 2), Some(h.highest_equivalent(1000)));
        assert_eq!(value_at_rank(&h, 6), Some(h.highest_equivalent(5000)));
        assert_eq!(value_at_rank(&h, 7), None);
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 6);
        assert_eq!(back.max(), h.max());
        assert!(decode("!!!").unwrap_err().contains("base64"));
        assert!(decode("aGVsbG8=").is_err());
    }
}
