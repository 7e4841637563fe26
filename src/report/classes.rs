//! The `dynobench classes` table.

use crate::class::{Catalog, HOURS_PER_MONTH};

/// Renders a catalog as a table with its sources.
pub fn classes_table(c: &Catalog) -> String {
    let mut s = format!(
        "catalog {} ({}): {}\n\n",
        c.info.name, c.origin, c.info.description
    );
    s.push_str(&format!(
        "{:<16} {:>9} {:>9} {:>8} {:>9} {:>7} {:<10} {}\n",
        "class", "$/month", "$/hour", "mem MB", "kill MB", "workers", "compute", "local CPU model"
    ));
    for k in &c.classes {
        s.push_str(&format!(
            "{:<16} {:>9.2} {:>9.4} {:>8} {:>9} {:>7} {:<10} {}\n",
            k.name,
            k.price_usd_month,
            k.price_usd_hour(),
            k.memory_mb,
            k.memory_hard_mb,
            k.workers,
            k.compute.as_deref().unwrap_or("-"),
            k.cpu.describe()
        ));
    }
    s.push_str(&format!(
        "\nprices: USD per month of {HOURS_PER_MONTH} h, billed per second; source: {} (recorded {})\n",
        c.info.price_source, c.info.price_date
    ));
    for k in c.classes.iter().filter(|k| k.price_note.is_some()) {
        s.push_str(&format!(
            "  {}: {}\n",
            k.name,
            k.price_note.as_deref().unwrap_or("")
        ));
    }
    s.push_str("the catalog file documents how platform compute units map to local cores\n");
    s
}
