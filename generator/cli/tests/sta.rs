//! The real-library flow: a PE and a 2x2 array map onto OSU018, OpenSTA times them,
//! the gate-level array replays a small ReLU layer bit-exactly and its power comes
//! back; the same input gives the same numbers; a missing library or `sta` is a
//! clear error naming what to install.

mod common;
use common::{require, smtgen, stderr};
use smtgen_core::config::Design;
use smtgen_hdl::sta::{self, LibArgs, Library};
use std::path::Path;

fn osu018() -> Option<Library> {
    if !require("yosys") || !require("iverilog") || !require("sta") {
        return None;
    }
    if !Path::new(sta::OSU018_LIB).is_file() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{} missing and CI=true forbids skipping", sta::OSU018_LIB);
        }
        eprintln!("SKIPPED: {} not installed", sta::OSU018_LIB);
        return None;
    }
    Some(
        Library::from_args(None, Some("osu018"), None)
            .expect("osu018 opens")
            .expect("a library"),
    )
}

fn workload(layer: &str) -> sta::Workload {
    LibArgs {
        liberty: None,
        library: Some("osu018".into()),
        cell_models: None,
        clock_ps: None,
        layer: layer.into(),
        layer_zero: 0.5,
        layer_seed: 3,
        layer_a: None,
        layer_w: None,
        skip_mask: None,
        skip_density: None,
    }
    .workload()
    .expect("a workload")
}

#[test]
fn a_pe_and_a_small_array_are_mapped_timed_and_powered_the_same_twice() {
    let Some(lib) = osu018() else { return };
    assert!(
        lib.models.is_some(),
        "osu018's Verilog cell models are found"
    );
    let cfg = Design::point("sysmt2", &["array.rows=2", "array.cols=2"]).unwrap();
    let w = workload("2x16x2");
    let a = sta::cost(&cfg, "sysmt2", &lib, Some(&w), sta::UNCONSTRAINED_PS).unwrap();
    let b = sta::cost(&cfg, "sysmt2", &lib, Some(&w), sta::UNCONSTRAINED_PS).unwrap();
    assert_eq!(a.pe, b.pe, "PE mapping repeats");
    assert_eq!(a.pe_timing, b.pe_timing, "PE timing repeats");
    assert_eq!(a.array, b.array, "array mapping, timing and energy repeat");
    // Sane magnitudes for a 0.18 um PE with two 4x8 multipliers and a 32-bit adder.
    assert!(
        (20_000.0..200_000.0).contains(&a.pe.area),
        "PE area {} um2",
        a.pe.area
    );
    assert!((a.pe.nand2_eq - a.pe.area / 24.0).abs() < 1e-9);
    let crit = a.pe_timing.critical.ps;
    assert!(
        (2_000.0..20_000.0).contains(&crit),
        "critical path {crit} ps"
    );
    assert!(
        a.pe_timing.critical.end.contains("_reg"),
        "{:?}",
        a.pe_timing
    );
    let (arr, t, e) = a.array.as_ref().expect("array measured");
    assert!(arr.area > 4.0 * a.pe.area * 0.9, "array {} um2", arr.area);
    assert!(
        t.critical.ps >= crit * 0.9,
        "array path {} ps",
        t.critical.ps
    );
    let e = e.as_ref().expect("energy measured");
    assert_eq!(e.macs, 2 * 16 * 2);
    assert!(e.cycles > 16, "{} cycles", e.cycles);
    let p = e.power;
    assert!(
        p.internal > 0.0 && p.switching > 0.0 && p.leakage > 0.0,
        "{p:?}"
    );
    let pj = e.per_mac(t.critical.ps) * 1e12;
    assert!((0.5..1000.0).contains(&pj), "{pj} pJ/MAC");
    // Dynamic energy per cycle does not depend on the clock; leakage does.
    assert!(e.layer(2.0 * t.critical.ps) > e.layer(t.critical.ps));
}

#[test]
fn a_broken_liberty_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.lib");
    std::fs::write(&junk, "not a library\n").unwrap();
    let junk = junk.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "synth",
                "--preset",
                "baseline",
                "--liberty",
                "/no/such/cells.lib",
            ],
            &["--liberty", "/no/such/cells.lib", "does not exist"],
        ),
        (
            &["compare", "--presets", "sysmt2", "--liberty", junk],
            &["not a Liberty library"],
        ),
        (
            &["synth", "--preset", "baseline", "--clock-ps", "5000"],
            &["--clock-ps = given without a library"],
        ),
        (
            &["synth", "--preset", "baseline", "--library", "nangate45"],
            &["--library = nangate45: allowed osu018"],
        ),
    ];
    for (args, needles) in cases {
        let o = smtgen(args, None);
        assert!(!o.status.success(), "{args:?} succeeded");
        let e = stderr(&o);
        for n in *needles {
            assert!(e.contains(n), "{args:?}: `{n}` not in: {e}");
        }
    }
}

#[test]
fn a_missing_sta_is_a_clear_error_naming_the_package() {
    if osu018().is_none() {
        return;
    }
    let run = |env: (&str, &str)| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smtgen"))
            .args(["synth", "--preset", "baseline", "--library", "osu018"])
            .env(env.0, env.1)
            .output()
            .unwrap()
    };
    for env in [(sta::STA_ENV, "/no/such/sta"), ("PATH", "/nonexistent")] {
        let o = run(env);
        assert!(!o.status.success(), "{env:?}");
        let e = stderr(&o);
        assert!(
            e.contains("sta") && e.contains(sta::STA_PACKAGE),
            "{env:?}: {e}"
        );
    }
}

#[test]
fn compare_on_a_real_library_writes_its_columns() {
    if osu018().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let o = smtgen(
        &[
            "compare",
            "--library",
            "osu018",
            "--pe-only",
            "--presets",
            "sysmt2",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    let head = csv.lines().next().unwrap();
    for col in [
        "PE um2",
        "PE NAND2",
        "crit ps",
        "fmax MHz",
        "in->reg ps",
        "reg->reg ps",
    ] {
        assert!(head.contains(col), "{col} missing: {head}");
    }
    assert_eq!(csv.lines().count(), 3, "baseline and sysmt2: {csv}");
    assert!(
        csv.lines().nth(1).unwrap().starts_with("baseline,1,"),
        "{csv}"
    );
    assert!(out.join("compare.md").is_file() && out.join("compare.svg").is_file());
}
