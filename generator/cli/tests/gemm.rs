//! `smtgen gemm` end to end: random .npy and .csv operands of awkward shapes for every
//! preset, the result checked against a straightforward computation of the spec
//! written here (not the library's fast path), the printed cycle count against the
//! latency formula, and clear errors for bad inputs.

mod common;
use common::files::{gemm, write_operands};
use common::{spec_gemm, stderr};
use smtgen_core::array::gemm_cycles;
use smtgen_core::config::{ConfigBuilder, Design, PRESETS};
use smtgen_core::stimulus::Rng;
use smtgen_core::tensors::{read_int_tensor, write_npy};

#[test]
fn gemm_equals_the_spec_for_every_preset_and_prints_the_formula_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(77);
    for (pi, p) in PRESETS.iter().enumerate() {
        let (m, k, n) = (1 + pi % 7, 1 + (pi * 13) % 41, 1 + (pi * 5) % 11);
        let a: Vec<u8> = (0..m * k)
            .map(|_| if rng.chance(0.4) { 0 } else { rng.byte() })
            .collect();
        let mut w: Vec<i8> = (0..k * n).map(|_| rng.byte() as i8).collect();
        if Design::preset(p.name).unwrap().dp().requires_2_4() {
            // 2:4-sparse designs take 2:4-sparse weights only.
            smtgen_core::sparse::prune_2_4(&mut w, k, n);
        }
        let (ap, wp) = write_operands(dir.path(), (m, k, n), &a, &w);
        let cp = dir.path().join("c.npy");
        let o = gemm(
            &ap,
            &wp,
            &cp,
            &[
                "--preset",
                p.name,
                "--rows",
                "3",
                "--cols",
                "4",
                "--cycle-accurate",
            ],
        );
        assert!(o.status.success(), "{}: {}", p.name, stderr(&o));
        let cfg = ConfigBuilder::new()
            .preset(Some(p.name))
            .sets(&["array.rows=3", "array.cols=4"])
            .build()
            .map(Design::new)
            .unwrap();
        let (shape, c) = read_int_tensor(&cp, "<i4", "C").unwrap();
        assert_eq!(shape, vec![m, n]);
        assert_eq!(c, spec_gemm(&cfg, m, k, n, &a, &w), "{}", p.name);
        let t = cfg.lanes();
        let cycles = gemm_cycles(
            3,
            4,
            cfg.pe.extra_latency(),
            k.div_ceil(t) as u64,
            (m.div_ceil(3) * n.div_ceil(4)) as u64,
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains(&format!("{cycles} cycles")), "{out}");
    }
}

#[test]
fn gemm_reads_csv_and_writes_int64_for_wide_accumulators() {
    let dir = tempfile::tempdir().unwrap();
    let (ap, wp, cp) = (
        dir.path().join("a.csv"),
        dir.path().join("w.csv"),
        dir.path().join("c.npy"),
    );
    std::fs::write(&ap, "255,0,3\n1,2,3\n").unwrap();
    std::fs::write(&wp, "-128\n127\n5\n").unwrap();
    let o = gemm(
        &ap,
        &wp,
        &cp,
        &["--preset", "sysmt2", "--set", "pe.acc_width=40"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, c) = read_int_tensor(&cp, "<i8", "C").unwrap();
    // Lane pairs (255,0) then (3,pad): row 0 has one active lane per group -> exact.
    assert_eq!(c, vec![255 * -128 + 3 * 5, -128 + 2 * 127 + 15]);
}

#[test]
fn gemm_rejects_bad_shapes_dtypes_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s);
    write_npy(&p("a.npy"), &[2, 3], &[1u8; 6]).unwrap();
    write_npy(&p("w.npy"), &[4, 2], &[1i8; 8]).unwrap();
    write_npy(&p("f.npy"), &[3, 2], &[1.0f32; 6]).unwrap();
    write_npy(&p("a3.npy"), &[1, 2, 3], &[1u8; 6]).unwrap();
    let run = |a: &str, w: &str| gemm(&p(a), &p(w), &p("c.npy"), &[]);
    let e = stderr(&run("a.npy", "w.npy"));
    assert!(e.contains("A is 2x3 and W is 4x2"), "{e}");
    let e = stderr(&run("a.npy", "f.npy"));
    assert!(
        e.contains("f.npy") && e.contains("<f4") && e.contains("|i1"),
        "{e}"
    );
    let e = stderr(&run("a3.npy", "w.npy"));
    assert!(e.contains("a3.npy") && e.contains("2-D"), "{e}");
    std::fs::write(p("bad.csv"), "1,2,3\n4,-1,6\n").unwrap();
    let e = stderr(&run("bad.csv", "w.npy"));
    assert!(
        e.contains("bad.csv") && e.contains("line 2, column 2") && e.contains("-1"),
        "{e}"
    );
    assert!(!p("c.npy").exists(), "nothing written on error");
}

#[test]
fn two_four_designs_reject_dense_weights_and_prune_says_what_it_zeroed() {
    let dir = tempfile::tempdir().unwrap();
    // K = 8, N = 2; column 1's second group (k = 4..7) has three non-zero weights.
    let a: Vec<u8> = (0..3 * 8).map(|i| (i * 37 % 256) as u8).collect();
    let w: Vec<i8> = vec![
        1, 0, 0, 0, 2, 0, 0, 0, // k = 0..3
        0, 5, 0, -7, 0, 9, 0, 0, // k = 4..7
    ];
    let (ap, wp) = write_operands(dir.path(), (3, 8, 2), &a, &w);
    let cp = dir.path().join("c.npy");
    let run = |extra: &[&str]| {
        let mut v = vec!["--preset", "sparq-stc-4b5opt"];
        v.extend_from_slice(extra);
        gemm(&ap, &wp, &cp, &v)
    };
    let o = run(&[]);
    let e = stderr(&o);
    assert!(!o.status.success() && !cp.exists(), "{e}");
    assert!(
        e.contains("w.npy")
            && e.contains("column 1")
            && e.contains("group 1")
            && e.contains("3 non-zero"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    let o = run(&["--prune", "2:4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("zeroed 1 of 5 non-zero weights"), "{out}");
    // The pruned column keeps its two largest |w| (9 and -7) and drops 5 (k = 4).
    let mut pruned = w.clone();
    smtgen_core::sparse::prune_2_4(&mut pruned, 8, 2);
    assert_eq!(
        (pruned[4 * 2 + 1], pruned[5 * 2 + 1], pruned[6 * 2 + 1]),
        (0, -7, 9)
    );
    let cfg = Design::preset("sparq-stc-4b5opt").unwrap();
    let (_, c) = read_int_tensor(&cp, "<i4", "C").unwrap();
    assert_eq!(c, spec_gemm(&cfg, 3, 8, 2, &a, &pruned));
    let o = run(&["--prune", "1:4"]);
    assert!(
        !o.status.success() && stderr(&o).contains("allowed 2:4"),
        "{}",
        stderr(&o)
    );
}
