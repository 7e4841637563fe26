//! The `dynobench classes` table.

use crate::class::Catalog;

/// The billing models of a catalog's classes, each once, in class order.
pub fn billing_models(c: &Catalog) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for k in &c.classes {
        if !names.contains(&k.billing.name()) {
            names.push(k.billing.name());
        }
    }
    names
}

fn billing_names(c: &Catalog) -> String {
    billing_models(c).join(", ")
}

/// Renders a catalog as a table with its sources.
pub fn classes_table(c: &Catalog) -> String {
    let width = c.classes.iter().map(|k| k.name.len()).max().unwrap_or(5).max(16);
    let mut s = format!(
        "catalog {} ({}): {}\n\n",
        c.info.name, c.origin, c.info.description
    );
    s.push_str(&format!(
        "{:<w$} {:>9} {:>9} {:>8} {:>9} {:>7} {:<10} {}\n",
        "class",
        "$/month",
        "$/hour",
        "mem MB",
        "kill MB",
        "workers",
        "compute",
        "local CPU model",
        w = width
    ));
    for k in &c.classes {
        s.push_str(&format!(
            "{:<w$} {:>9.2} {:>9.4} {:>8} {:>9} {:>7} {:<10} {}{}{}\n",
            k.name,
            k.price_usd_month,
            k.price_usd_hour(),
            k.memory_mb,
            k.memory_hard_mb,
            k.workers,
            k.compute.as_deref().unwrap_or("-"),
            k.cpu.describe(),
            k.describe_metering(),
            if k.unverified { "  (unverified)" } else { "" },
            w = width
        ));
    }
    s.push_str(&format!(
        "\nprices: USD per month of one instance provisioned all month (request billing: busy all month), $/hour over the platform's month; source: {} (recorded {})\n",
        c.info.price_source, c.info.price_date
    ));
    let mut described: Vec<String> = Vec::new();
    for k in &c.classes {
        let d = k.billing.describe();
        if !described.contains(&d) {
            let who: Vec<&str> = c
                .classes
                .iter()
                .filter(|o| o.billing.describe() == d)
                .map(|o| o.name.as_str())
                .collect();
            let whom = if who.len() == c.classes.len() {
                "every class".to_string()
            } else {
                who.join(", ")
            };
            s.push_str(&format!("billing ({whom}): {d}\n"));
            described.push(d);
        }
    }
    for k in c.classes.iter().filter(|k| k.price_note.is_some()) {
        s.push_str(&format!(
            "  {}: {}\n",
            k.name,
            k.price_note.as_deref().unwrap_or("")
        ));
    }
    for k in c.classes.iter().filter(|k| k.source.is_some()) {
        s.push_str(&format!(
            "  {} source: {}\n",
            k.name,
            k.source.as_deref().unwrap_or("")
        ));
    }
    if c.classes.iter().any(|k| k.unverified) {
        s.push_str(
            "(unverified): a figure could not be confirmed offline when the catalog was written; check it\n",
        );
    }
    s.push_str("the catalog file documents how platform compute units map to local cores\n");
    s
}

/// The embedded catalogs, one line each.
pub fn catalogs_table(cats: &[Catalog]) -> String {
    let mut s = format!(
        "{:<12} {:>7} {:>10} {:>11}  {:<14} {}\n",
        "catalog", "classes", "unverified", "prices of", "billing", "what"
    );
    for c in cats {
        s.push_str(&format!(
            "{:<12} {:>7} {:>10} {:>11}  {:<14} {}\n",
            c.info.name,
            c.classes.len(),
            c.classes.iter().filter(|k| k.unverified).count(),
            c.info.price_date,
            billing_names(c),
            c.info.description
        ));
    }
    s.push_str(
        "\ndynobench classes --classes NAME shows one (with every source); run --classes a,b,c mixes them\n",
    );
    s
}
