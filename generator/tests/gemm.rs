//! `smtgen gemm` end to end: random .npy and .csv operands of awkward shapes for every
//! preset, the result checked against a straightforward computation of the spec
//! written here (not the library's fast path), the printed cycle count against the
//! latency formula, and clear errors for bad inputs.

mod common;
use common::{smtgen, spec_gemm, stderr};
use smtgen::array::gemm_cycles;
use smtgen::config::{Config, ConfigBuilder, PRESETS};
use smtgen::stimulus::Rng;
use smtgen::tensors::{read_int_tensor, write_npy};

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
        if Config::preset(p.name).unwrap().pe.stc {
            // 2:4-sparse designs take 2:4-sparse weights only.
            smtgen::sparse::prune_2_4(&mut w, k, n);
        }
        let (ap, wp, cp) = (
            dir.path().join("a.npy"),
            dir.path().join("w.npy"),
            dir.path().join("c.npy"),
        );
        write_npy(&ap, &[m, k], &a).unwrap();
        write_npy(&wp, &[k, n], &w).unwrap();
        let o = smtgen(
            &[
                "gemm",
                "--preset",
                p.name,
                "--rows",
                "3",
                "--cols",
                "4",
                "--a",
                ap.to_str().unwrap(),
                "--w",
                wp.to_str().unwrap(),
                "--out",
                cp.to_str().unwrap(),
                "--cycle-accurate",
            ],
            None,
        );
        assert!(o.status.success(), "{}: {}", p.name, stderr(&o));
        let cfg = ConfigBuilder::new()
            .preset(Some(p.name))
            .sets(&["array.rows=3", "array.cols=4"])
            .build()
            .unwrap();
        let (shape, c) = read_int_tensor(&cp, "<i4", "C").unwrap();
        assert_eq!(shape, vec![m, n]);
        assert_eq!(c, spec_gemm(&cfg.pe, m, k, n, &a, &w), "{}", p.name);
        let t = cfg.pe.lanes();
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
    let o = smtgen(
        &[
            "gemm",
            "--preset",
            "sysmt2",
            "--set",
            "pe.acc_width=40",
            "--a",
            ap.to_str().unwrap(),
            "--w",
            wp.to_str().unwrap(),
            "--out",
            cp.to_str().unwrap(),
        ],
        None,
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
    let run = |a: &str, w: &str| {
        smtgen(
            &[
                "gemm",
                "--a",
                p(a).to_str().unwrap(),
                "--w",
                p(w).to_str().unwrap(),
                "--out",
                p("c.npy").to_str().unwrap(),
            ],
            None,
        )
    };
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
