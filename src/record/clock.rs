//! The driver's clock against the server's: every answered call bounds the offset (the
//! server stamped its answer between the client's send and receipt), and the bounds of all
//! calls intersect, as NTP's best samples do. Shards of one run share the server as their
//! reference clock, so `merge` can tell how far apart their barriers really were.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The offset of the server's clock from the driver's (server − driver), from the calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClockOffset {
    /// Best estimate, ms (the middle of the interval every call allows).
    pub offset_ms: f64,
    /// Half the width of that interval, ms: the true offset is within ± this (if the clocks
    /// did not step during the class).
    pub uncertainty_ms: f64,
    /// Calls that bounded it.
    pub calls: u64,
    /// False when the calls' bounds contradict each other (a clock stepped or drifted
    /// during the class): the estimate is then only the middle of the widest bounds.
    pub consistent: bool,
}

/// Running bounds on the offset, µs.
#[derive(Debug, Clone, Default)]
pub struct ClockBounds {
    lo: Option<i64>,
    hi: Option<i64>,
    calls: u64,
}

impl ClockBounds {
    /// One call: sent and received at these driver times, stamped at `server_us` by the
    /// server (all µs since the Unix epoch) after `server_elapsed_us` of its own queueing
    /// and work on it, which all happened after the send. Calls without a stamp (0) are
    /// ignored.
    pub fn observe(&mut self, sent_us: u64, done_us: u64, server_us: u64, server_elapsed_us: u64) {
        if server_us == 0 || done_us < sent_us {
            return;
        }
        let (s, c0, c1) = (server_us as i64, sent_us as i64, done_us as i64);
        let lo = s - c1;
        let hi = (s - server_elapsed_us as i64 - c0).max(lo);
        self.lo = Some(self.lo.map_or(lo, |v| v.max(lo)));
        self.hi = Some(self.hi.map_or(hi, |v| v.min(hi)));
        self.calls += 1;
    }

    /// The offset, if any call carried a stamp.
    pub fn offset(&self) -> Option<ClockOffset> {
        let (lo, hi) = (self.lo?, self.hi?);
        Some(ClockOffset {
            offset_ms: (lo + hi) as f64 / 2.0 / 1000.0,
            uncertainty_ms: (hi - lo).unsigned_abs() as f64 / 2.0 / 1000.0,
            calls: self.calls,
            consistent: lo <= hi,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_intersect_to_the_true_offset() {
        // The server's clock is 250 ms ahead; calls of various lengths.
        let mut b = ClockBounds::default();
        let ahead = 250_000u64;
        for (sent, served_after, done_after) in [
            (1_000_000, 30_000, 60_000),
            (2_000_000, 1_000, 1_500),
            (3_000_000, 400, 2_000),
        ] {
            b.observe(sent, sent + done_after, sent + served_after + ahead, 0);
        }
        // The server's own time narrows a long call's bound: 30 ms of work ending at +30.2 ms.
        let mut w = ClockBounds::default();
        w.observe(0, 30_500, 30_200 + ahead, 30_000);
        let o = w.offset().unwrap();
        assert!(
            (o.offset_ms - 250.0).abs() <= o.uncertainty_ms && o.uncertainty_ms < 0.3,
            "{o:?}"
        );
        let o = b.offset().unwrap();
        assert!(o.consistent);
        assert!((o.offset_ms - 250.0).abs() <= o.uncertainty_ms, "{o:?}");
        assert!(o.uncertainty_ms <= 0.8, "the tightest call bounds it: {o:?}");
        assert_eq!(o.calls, 3);
        // A stamp outside the call contradicts the others.
        b.observe(4_000_000, 4_000_100, 4_000_050, 0);
        assert!(!b.offset().unwrap().consistent);
        assert!(ClockBounds::default().offset().is_none());
    }
}
