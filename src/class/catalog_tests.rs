//! Unit tests of catalog loading: the embedded catalogs, errors naming file, line, class
//! and field, and mixed catalogs.

use super::*;
use crate::class::CpuModel;

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

#[test]
fn billing_errors_name_the_class_and_the_field() {
    // Rates that disagree with the price: the error says what the price would be.
    let mismatch = format!(
        "{HEAD}\n[[class]]\nname = \"task\"\nprice_usd_month = 10.0\nmemory_mb = 2048\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\nbilling = {{ model = \"per-second\", usd_per_vcpu_hour = 0.04048, usd_per_gb_hour = 0.004445, hours_per_month = 730 }}\n"
    );
    let e = err(&mismatch);
    assert!(
        e.starts_with("t.toml:12: class 'task', field 'billing': price_usd_month 10 disagrees")
            && e.contains("set price_usd_month = 36.04"),
        "{e}"
    );
    // A catalog-wide billing applies to every class and is checked against each.
    let month = "[catalog]\nname = \"t\"\nprice_source = \"x\"\nprice_date = \"2026-01-01\"\nbilling = { model = \"monthly\", hours_per_month = 9000 }\n\n[[class]]\nname = \"m\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = { kind = \"quota\", cores = 1.0 }\n".to_string();
    let e = err(&month);
    assert!(
        e.contains("class 'm', field 'billing': hours_per_month must be between 1 and 744"),
        "{e}"
    );
    let unknown_model = format!(
        "{HEAD}\n[[class]]\nname = \"u\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"quota\", cores = 1.0 }}\nbilling = {{ model = \"yearly\" }}\n"
    );
    let e = err(&unknown_model);
    assert!(e.starts_with("t.toml:12:") && e.contains("yearly"), "{e}");
    let balance = format!(
        "{HEAD}\n[[class]]\nname = \"b\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\ncpu = {{ kind = \"burst\", baseline_cores = 0.1, burst_cores = 1.0, balance_s = 10.0, initial_balance_s = 20.0 }}\n"
    );
    let e = err(&balance);
    assert!(
        e.contains("initial_balance_s must be between 0 and balance_s (10)"),
        "{e}"
    );
}

#[test]
fn every_embedded_class_names_its_billing_and_per_second_prices_match_their_rates() {
    for name in embedded_names() {
        let c = Catalog::embedded(name).unwrap();
        for k in &c.classes {
            let h = k.billing.hours_per_month();
            assert!((672.0..=744.0).contains(&h), "{name}/{}: {h}", k.name);
            if let Some(rate) = k.billing.rate_per_hour(k.vcpus(), k.memory_mb as f64) {
                assert!(
                    (k.price_usd_month - rate * h).abs() <= 0.02 * rate * h,
                    "{name}/{}",
                    k.name
                );
            }
        }
    }
    // Fly's shared CPUs: a 500-s balance a new machine starts 5 s into.
    let fly = Catalog::embedded("fly").unwrap();
    let CpuModel::Burst {
        balance_s,
        initial_balance_s,
        ..
    } = fly.class("shared-cpu-1x-256mb").unwrap().cpu
    else {
        panic!("fly's shared CPUs are burst-balance CPUs")
    };
    assert_eq!((balance_s, initial_balance_s), (500.0, Some(5.0)));
    for (cat, model) in [
        ("heroku", "monthly"),
        ("fargate", "per-second"),
        ("cloudrun", "request"),
        ("railway", "per-second"),
        ("aws-t3", "burst-surplus"),
    ] {
        let c = Catalog::embedded(cat).unwrap();
        assert!(c.classes.iter().all(|k| k.billing.name() == model), "{cat}");
    }
}

#[test]
fn period_and_burst_are_validated_with_the_field_named() {
    let class = |extra: &str, cpu: &str| {
        format!(
            "[catalog]\nname = \"t\"\nprice_source = \"x\"\nprice_date = \"2026-01-01\"\n\n[[class]]\nname = \"c\"\nprice_usd_month = 5.0\nmemory_mb = 512\nworkers = 1\n{extra}cpu = {cpu}\n"
        )
    };
    let quota = "{ kind = \"quota\", cores = 0.5 }";
    let ok = Catalog::parse(
        "t.toml",
        &class("period_ms = 80\nburst_ms = 40\nquota_pooled = false\n", quota),
    )
    .unwrap();
    let c = &ok.classes[0];
    assert_eq!(
        (c.period_us(), c.burst_us(), c.quota_pooled),
        (80_000, 40_000, false)
    );
    let dflt = Catalog::parse("t.toml", &class("", quota)).unwrap();
    assert_eq!(
        (dflt.classes[0].period_us(), dflt.classes[0].burst_us()),
        (100_000, 0)
    );
    for (extra, cpu, field, says) in [
        ("period_ms = 0.5\n", quota, "period_ms", "between 1 and 1000"),
        ("period_ms = 2000\n", quota, "period_ms", "between 1 and 1000"),
        ("burst_ms = 60\n", quota, "burst_ms", "quota of one period (50 ms"),
        ("burst_ms = -1\n", quota, "burst_ms", "between 0"),
        (
            "burst_ms = 5\n",
            "{ kind = \"dedicated\", cores = 1.0 }",
            "burst_ms",
            "needs a CPU quota",
        ),
    ] {
        let e = Catalog::parse("t.toml", &class(extra, cpu))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("field '{field}'")) && e.contains(says),
            "{extra}: {e}"
        );
    }
}
