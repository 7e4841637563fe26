//! Client latency per interval of a class's measured phase, in bounded memory: the newest
//! intervals are live histograms, older ones are kept compressed (HdrHistogram V2+deflate,
//! tens of bytes each), and when a long run has more than [`MAX_INTERVALS`] of them,
//! neighbours are merged pairwise and the interval doubles (100 ms, 200 ms, …). Counts are
//! exact at every width; an hour-long run holds a few hundred KiB instead of one full
//! histogram (~180 KiB) per 100 ms.

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use super::histogram::{Hist, new_hist, record};

/// Length of the recorded latency intervals, µs (100 ms: short enough that even a run of a
/// few seconds has enough blocks of consecutive calls for `compare`).
pub const INTERVAL_US: u64 = 100_000;
/// Most intervals kept; beyond it the width doubles.
pub const MAX_INTERVALS: usize = 4096;
/// Live (uncompressed) intervals kept for calls that complete out of order.
const LIVE: usize = 2;

fn compress(h: &Hist) -> Vec<u8> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into a Vec cannot fail");
    buf.shrink_to_fit();
    buf
}

fn expand(bytes: &[u8]) -> Hist {
    if bytes.is_empty() {
        return new_hist();
    }
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("intervals this module compressed decode")
}

/// A series of equal-width intervals (the first starts at the measured phase's start).
#[derive(Debug, Clone)]
pub struct IntervalSeries {
    width_us: u64,
    /// Closed intervals, compressed (empty bytes: no calls).
    closed: Vec<Vec<u8>>,
    /// The newest intervals, by index (`closed.len()` onwards).
    live: Vec<Hist>,
}

impl Default for IntervalSeries {
    fn default() -> IntervalSeries {
        IntervalSeries::new(INTERVAL_US)
    }
}

impl IntervalSeries {
    /// An empty series of `width_us` intervals.
    pub fn new(width_us: u64) -> IntervalSeries {
        IntervalSeries {
            width_us: width_us.max(1),
            closed: Vec::new(),
            live: Vec::new(),
        }
    }

    /// A series from whole histograms (e.g. read back from an .hlog).
    pub fn from_hists(width_us: u64, hists: impl IntoIterator<Item = Hist>) -> IntervalSeries {
        let mut s = IntervalSeries::new(width_us);
        for h in hists {
            s.closed.push(compress(&h));
            s.coarsen_if_full();
        }
        s
    }

    /// The interval width, µs.
    pub fn width_us(&self) -> u64 {
        self.width_us
    }

    /// Intervals held.
    pub fn len(&self) -> usize {
        self.closed.len() + self.live.len()
    }

    /// Whether no interval is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the compressed intervals take (for the memory bench).
    pub fn compressed_bytes(&self) -> usize {
        self.closed.iter().map(Vec::capacity).sum()
    }

    /// Records `value` in the interval holding time `at_us` (µs from the series' start).
    pub fn record(&mut self, at_us: u64, value: u64) {
        let i = (at_us / self.width_us) as usize;
        let first_live = self.closed.len();
        if i < first_live {
            // A call that completed long out of order: reopen its interval.
            let mut h = expand(&self.closed[i]);
            record(&mut h, value);
            self.closed[i] = compress(&h);
            return;
        }
        while first_live + self.live.len() <= i {
            self.live.push(new_hist());
        }
        record(&mut self.live[i - first_live], value);
        while self.live.len() > LIVE {
            let h = self.live.remove(0);
            self.closed.push(compress(&h));
        }
        self.coarsen_if_full();
    }

    /// Merges neighbours pairwise when the series is full (two histograms expanded at a
    /// time); true if it did.
    fn coarsen_if_full(&mut self) -> bool {
        if self.len() <= MAX_INTERVALS {
            return false;
        }
        let closed: Vec<Vec<u8>> = self.grouped(2).map(|h| compress(&h)).collect();
        self.closed = closed;
        self.live.clear();
        self.width_us *= 2;
        true
    }

    /// Every interval as a histogram, in order (expanded one at a time).
    pub fn iter(&self) -> impl Iterator<Item = Hist> + '_ {
        self.closed
            .iter()
            .map(|b| expand(b))
            .chain(self.live.iter().cloned())
    }

    /// Every `k` consecutive intervals added into one, in order (expanded one at a time).
    pub fn grouped(&self, k: usize) -> impl Iterator<Item = Hist> + '_ {
        let k = k.max(1);
        let mut it = self.iter().peekable();
        std::iter::from_fn(move || {
            let mut acc = it.next()?;
            for _ in 1..k {
                match it.next() {
                    Some(h) => acc.add(&h).expect("same bounds"),
                    None => break,
                }
            }
            Some(acc)
        })
    }

    /// Every interval as a histogram (short series only: each is ~180 KiB expanded).
    pub fn hists(&self) -> Vec<Hist> {
        self.iter().collect()
    }

    /// This series at `width_us` (a multiple of its width), compressed.
    pub fn regrouped(&self, width_us: u64) -> IntervalSeries {
        let k = (width_us / self.width_us).max(1) as usize;
        IntervalSeries {
            width_us: self.width_us * k as u64,
            closed: self.grouped(k).map(|h| compress(&h)).collect(),
            live: Vec::new(),
        }
    }

    /// Adds `h` into interval `i` (growing the series with empty intervals as needed).
    pub fn add_at(&mut self, i: usize, h: &Hist) {
        self.close_live();
        while self.closed.len() <= i {
            self.closed.push(Vec::new());
        }
        let mut acc = expand(&self.closed[i]);
        acc.add(h).expect("same bounds");
        self.closed[i] = compress(&acc);
    }

    fn close_live(&mut self) {
        for h in self.live.drain(..) {
            self.closed.push(compress(&h));
        }
    }

    /// Appends `other` (a later measurement) after this one, at the coarser of the widths.
    pub fn append(&mut self, other: &IntervalSeries) {
        let width = self.width_us.max(other.width_us);
        let mut a = self.regrouped(width);
        let b = other.regrouped(width);
        a.closed.extend(b.closed);
        *self = a;
        while self.coarsen_if_full() {}
    }
}

impl PartialEq for IntervalSeries {
    fn eq(&self, other: &IntervalSeries) -> bool {
        self.width_us == other.width_us && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_stay_exact_and_bounded_over_a_long_run() {
        let mut s = IntervalSeries::new(100_000);
        let calls = 200_000u64;
        // 20 calls a second for ~2.8 hours of measured time, a few out of order.
        for i in 0..calls {
            let at = i * 50_000 + if i % 97 == 0 { 0 } else { 1000 };
            let at = if i % 1000 == 999 {
                at.saturating_sub(400_000)
            } else {
                at
            };
            s.record(at, 10_000 + i % 5000);
        }
        assert!(s.len() <= MAX_INTERVALS, "{}", s.len());
        assert!(s.width_us() > 100_000, "coarsened to {}", s.width_us());
        let total: u64 = s.iter().map(|h| h.len()).sum();
        assert_eq!(total, calls, "no call lost");
        assert!(
            s.compressed_bytes() < 2 * 1024 * 1024,
            "{} bytes",
            s.compressed_bytes()
        );
        // Appending a finer series regroups it to the coarser width.
        let mut t = IntervalSeries::new(100_000);
        t.record(0, 5);
        t.record(150_000, 6);
        let before = s.len();
        s.append(&t);
        assert_eq!(s.iter().map(|h| h.len()).sum::<u64>(), calls + 2);
        assert!(s.len() <= before + 1);
    }
}
