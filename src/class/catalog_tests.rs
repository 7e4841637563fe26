//! Unit tests of catalog loading: the embedded catalogs, errors naming file, line, class
//! and field, and mixed catalogs.

use super::*;

#[test]
fn embedded_catalogs_are_valid() {
    let h = Catalog::default_catalog();
    let names: Vec<_> = h.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "eco",
            "basic",
            "standard-1x",
            "standard-2x",
            "performance-m",
            "performance-l",
            "performance-l-ram",
            "performance-xl",
            "performance-2xl"
        ]
    );
    let workers: Vec<_> = h.classes.iter().map(|c| c.workers).collect();
    assert_eq!(workers, [2, 2, 2, 4, 5, 17, 8, 16, 32]);
    let mem: Vec<_> = h.classes.iter().map(|c| c.memory_mb).collect();
    assert_eq!(mem, [512, 512, 512, 1024, 2560, 14336, 30720, 63488, 129024]);
    let prices: Vec<_> = h.classes[6..].iter().map(|c| c.price_usd_month).collect();
    assert_eq!(prices, [500.0, 750.0, 1500.0]);
    // R15 at 1.2x the quota for the three largest, 2x for the rest.
    for c in &h.classes {
        let ratio = c.memory_hard_mb as f64 / c.memory_mb as f64;
        let want = if c.name.starts_with("performance-") && c.memory_mb > 20_000 {
            1.2
        } else {
            2.0
        };
        assert!((ratio - want).abs() < 0.01, "{}: {ratio}", c.name);
    }
    assert_eq!(h.classes.iter().filter(|c| c.in_default_run).count(), 6);
    // Every embedded class has a price, memory, a CPU model and a source.
    for name in embedded_names() {
        let c = Catalog::embedded(name).unwrap();
        assert!(!c.info.price_source.is_empty() && !c.classes.is_empty(), "{name}");
        for k in &c.classes {
            assert!(
                k.price_usd_month > 0.0 && k.memory_mb > 0 && k.cpu.max_cores() > 0.0,
                "{name}/{}",
                k.name
            );
        }
    }
    assert!(embedded_names().len() >= 6);
    assert_eq!(h.class("standard-1x").unwrap().memory_hard_mb, 1024);
    assert!((h.class("standard-1x").unwrap().price_usd_hour() - 25.0 / 720.0).abs() < 1e-12);
    assert!(Catalog::embedded("containers").is_some());
}

fn err(text: &str) -> String {
    Catalog::parse("t.toml", text).unwrap_err().to_string()
}

const HEAD: &str = "[catalog]\nname = \"t\"\nprice_source = \"x\"\nprice_date = \"2026-01-01\"\n";

#[test]
fn errors_name_file_line_class_and_field() {
    let bad_mem = format!(
        "{HEAD}\n[[class]]\nname = \"tiny\"\nprice_usd_month = 5.0\nmemory_mb = 0\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 0.5 }}\n"
    );
    assert_eq!(
        err(&bad_mem),
        "t.toml:9: class 'tiny', field 'memory_mb': must be between 16 and 16777216 MB, got 0"
    );
    let bad_cpu = format!(
        "{HEAD}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"shared\", floor_cores = 0.9, burst_cores = 0.5 }}\n"
    );
    let e = err(&bad_cpu);
    assert!(
        e.starts_with("t.toml:11: class 's', field 'cpu': floor_cores (0.9)"),
        "{e}"
    );
    let unknown = format!(
        "{HEAD}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncolour = \"red\"\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n"
    );
    let e = err(&unknown);
    assert!(e.starts_with("t.toml:11:") && e.contains("colour"), "{e}");
    let bad_kind = format!(
        "{HEAD}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"gpu\", cores = 1.0 }}\n"
    );
    let e = err(&bad_kind);
    assert!(e.starts_with("t.toml:11:") && e.contains("gpu"), "{e}");
    let missing = format!(
        "{HEAD}\n[[class]]\nname = \"s\"\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n"
    );
    let e = err(&missing);
    assert!(e.contains("price_usd_month"), "{e}");
    let dup = format!(
        "{HEAD}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n[[class]]\nname = \"s\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n"
    );
    assert!(
        err(&dup).starts_with("t.toml:13: class 's', field 'name': is defined twice"),
        "{}",
        err(&dup)
    );
    assert!(err("not toml [").starts_with("t.toml:1:"));
    let bad_type = format!(
        "{HEAD}\n[[class]]\nname = \"cheapo\"\nprice_usd_month = \"cheap\"\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\n"
    );
    let e = err(&bad_type);
    assert!(
        e.starts_with("t.toml:8: class 'cheapo', field 'price_usd_month': invalid type"),
        "{e}"
    );
    assert!(err(HEAD).contains("no [[class]]"));
}

#[test]
fn mixed_catalogs_qualify_clashing_names() {
    let c = Catalog::load("heroku,fly").unwrap();
    // performance-l/xl are Heroku's; fly's performance-1x-2gb does not clash.
    assert!(c.class("performance-l").is_ok());
    assert!(
        c.class("fly/performance-1x-2gb").is_ok(),
        "qualified lookups work too"
    );
    assert_eq!(
        c.class("shared-cpu-1x-1gb").unwrap().catalog.as_deref(),
        Some("fly")
    );
    let mine = std::env::temp_dir().join(format!("dynobench-mine-{}.toml", std::process::id()));
    std::fs::write(
        &mine,
        format!("{HEAD}\n[[class]]\nname = \"eco\"\nprice_usd_month = 4.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 0.5 }}\n"),
    )
    .unwrap();
    let clash = Catalog::load(&format!("heroku,{},heroku", mine.display())).unwrap();
    let _ = std::fs::remove_file(&mine);
    assert!(
        clash.classes.iter().any(|k| k.name == "heroku/eco"),
        "a clash is qualified"
    );
    assert!(clash.classes.iter().any(|k| k.name == "t/eco"));
    assert_eq!(clash.classes.len(), 10, "a repeated catalog is loaded once");
    assert!(clash.class("eco").is_err());
    assert_eq!(clash.class("t/eco").unwrap().price_usd_month, 4.0);
    assert!(Catalog::load("heroku,nope").is_err());
}

#[test]
fn missing_file_names_the_embedded_alternatives() {
    let e = Catalog::load("/nonexistent/cat.toml").unwrap_err().to_string();
    assert!(e.contains("/nonexistent/cat.toml") && e.contains("heroku"), "{e}");
}
