//! The shards of a merged run (`dynobench merge`): per shard its calls, rate against its
//! target, late sends, start on the server's clock and clock offset; then the warnings.

use std::fmt::Write as _;

use crate::record::shards::MergeFacts;

/// The shards' table.
pub fn render(m: &MergeFacts) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "merged {} of {} shards{}; starts spread {}",
        m.merged,
        m.count,
        m.start_at
            .as_deref()
            .map_or(String::new(), |t| format!(", barrier {t}")),
        m.start_spread_ms
            .map_or("unknown".into(), |v| format!("{v:.1} ms (server clock)"))
    );
    let _ = writeln!(
        s,
        "{:>5} {:>8} {:>10} {:>10} {:>6} {:>10} {:>18}  source",
        "shard", "ok", "target/s", "achieved/s", "late", "start ms", "clock ms (±)"
    );
    for r in &m.shards {
        let _ = writeln!(
            s,
            "{:>5} {:>8} {:>10} {:>10.1} {:>6} {:>10} {:>18}  {}",
            r.index,
            r.ok,
            r.target_rps.map_or("-".into(), |t| format!("{t:.1}")),
            r.achieved_rps,
            r.late_sends,
            r.start_ms.map_or("-".into(), |v| format!("{v:.1}")),
            match (r.clock_offset_ms, r.clock_uncertainty_ms) {
                (Some(o), Some(u)) => format!("{o:+.2} ({u:.2})"),
                _ => "-".into(),
            },
            r.source
        );
    }
    s
}
