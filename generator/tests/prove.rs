//! Equivalence proofs in the suite: the one-lane PEs (baseline, bSPARQ in both
//! rounding modes) are proven equal to their behavioural reference for all inputs,
//! and a deliberately broken window is refuted with a counterexample that the
//! golden model reproduces. The two- and four-lane proofs take minutes each and run
//! under `make prove`.

mod common;
use common::require;
use smtgen::config::{Config, ConfigBuilder};
use smtgen::prove::{prove, prove_files};
use smtgen::rtl::generate_pe;

#[test]
fn one_lane_pes_are_proven_equal_to_the_reference() {
    if !require("yosys") {
        return;
    }
    for (preset, sets) in [
        ("baseline", vec![]),
        ("bsparq-4b5opt", vec![]),
        ("bsparq-4b5opt", vec!["pe.rounding=truncate"]),
        ("bsparq-4b5opt", vec!["pe.window=3b6opt"]),
        (
            "bsparq-4b5opt",
            vec!["pe.window=2b7opt", "pe.rounding=truncate"],
        ),
    ] {
        let cfg = ConfigBuilder::new()
            .preset(Some(preset))
            .sets(&sets)
            .build()
            .unwrap();
        let p = prove(&cfg, 300).unwrap();
        assert!(p.proven, "{preset} {sets:?}: {p:?}");
        assert_eq!(p.input_bits, 16);
    }
}

#[test]
fn a_broken_window_is_refuted_with_a_counterexample_the_model_reproduces() {
    if !require("yosys") {
        return;
    }
    let cfg = Config::preset("bsparq-4b5opt").unwrap();
    let mut files = generate_pe(&cfg).unwrap();
    let win = files.iter_mut().find(|f| f.name.contains("_win_")).unwrap();
    // Drop the sticky bits from the rounding decision of window position 2.
    let before = win.text.clone();
    win.text = win.text.replace(
        "(sel2 & a_i[1] & (a_i[2] | (|a_i[0:0])))",
        "(sel2 & a_i[1] & a_i[2])",
    );
    assert_ne!(before, win.text, "the mutation applies");
    let p = prove_files(&cfg, &files, 300).unwrap();
    assert!(!p.proven);
    let x = p.counterexample.expect("a counterexample");
    assert_ne!(x.optimized, x.reference);
    assert_eq!(
        x.reference, x.model,
        "the golden model reproduces the reference: {x:?}"
    );
}
