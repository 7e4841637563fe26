//! `dynobench classes` and `calibrate` as users call them: the catalog table with its
//! sources, JSON output, other catalogs, precise errors for malformed catalogs and bad flags.

mod common;

use common::dynobench;

#[test]
fn classes_lists_the_default_catalog_with_sources() {
    let out = dynobench(&["classes"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "eco",
        "basic",
        "standard-1x",
        "standard-2x",
        "performance-m",
        "performance-l",
    ] {
        assert!(text.contains(name), "{name} listed:\n{text}");
    }
    assert!(text.contains("heroku.com/pricing"), "price source shown");
    assert!(text.contains("shared 0.17-0.67 cores") && text.contains("dedicated 8 cores"));
    assert!(text.contains("720 h"));
}

#[test]
fn classes_list_shows_every_embedded_catalog() {
    let out = dynobench(&["classes", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "heroku",
        "heroku-fir",
        "render",
        "fly",
        "fargate",
        "cloudrun",
        "containers",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} listed:\n{text}"
        );
    }
    let out = dynobench(&["classes", "--classes", "fly"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("burst 0.062-1.00 cores") && text.contains("(unverified)"),
        "{text}"
    );
    let out = dynobench(&["classes", "--classes", "heroku,fly", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["classes"].as_array().unwrap().len(), 16);
    assert_eq!(v["classes"][9]["catalog"], "fly");
}

#[test]
fn classes_json_and_other_catalogs() {
    let out = dynobench(&["classes", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["classes"].as_array().unwrap().len(), 9);
    assert_eq!(v["classes"][2]["name"], "standard-1x");
    assert_eq!(v["classes"][2]["cpu"]["kind"], "shared");
    let out = dynobench(&["classes", "--classes", "containers"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("quota 0.25 cores"));
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/catalogs/containers.toml");
    assert!(dynobench(&["classes", "--classes", file]).status.success());
}

#[test]
fn malformed_catalogs_exit_2_with_file_line_class_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(
        &f,
        "[catalog]\nname = \"x\"\nprice_source = \"me\"\nprice_date = \"2026-01-01\"\n\n[[class]]\nname = \"tiny\"\n\
         price_usd_month = -3\nmemory_mb = 512\nworkers = 1\ncpu = { kind = \"quota\", cores = 1.0 }\n",
    )
    .unwrap();
    let out = dynobench(&["classes", "--classes", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:8: class 'tiny', field 'price_usd_month': must be a positive number"),
        "{err}"
    );
    let out = dynobench(&["classes", "--classes", "/no/such/catalog.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/catalog.toml"));
}

#[test]
fn calibrate_refuses_bad_flags_and_unavailable_backends() {
    let out = dynobench(&["calibrate", "--seconds", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--seconds"));
    let out = dynobench(&["calibrate", "--limiter", "cgroup9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("valid"));
    let d = dynobench::limit::Detection::probe();
    if let Err(why) = &d.cgroup2 {
        let out = dynobench(&["calibrate", "--limiter", "cgroup2"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cgroup2") && err.contains(why.as_str()), "{err}");
    }
}
