//! `smtgen eval`: its error figures agree with `smtgen gemm`'s output against the
//! exact product, a layer whose lanes never collide is exact on every SMT design,
//! float tensors are quantized and the parameters saved, convolutions lower
//! correctly, bad inputs are rejected with the file and what is wrong, and under
//! `--prune 2:4` the 2:4 designs' collisions and errors are reported against the
//! exact GEMM of the pruned weights and of the dense ones.

mod common;
use common::files::{gemm, s, write_operands};
use common::{active, smtgen, spec_gemm, stderr};
use serde_json::Value;
use smtgen_core::stimulus::Rng;
use smtgen_core::tensors::{read_int_tensor, write_npy};
use std::path::Path;

/// Runs `smtgen` with `args` (an `eval` command) and returns its `--json` report.
fn eval_json(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("r.json");
    let mut all = args.to_vec();
    all.extend_from_slice(&["--json", s(&j)]);
    let o = smtgen(&all, None);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(j).unwrap()).unwrap()
}

/// The arguments of `smtgen eval --presets P --a A --w W`.
fn eval_args<'a>(presets: &'a str, a: &'a Path, w: &'a Path) -> Vec<&'a str> {
    vec!["eval", "--presets", presets, "--a", s(a), "--w", s(w)]
}

/// `len` random activations, each zero with probability `zeros`.
fn sparse_acts(rng: &mut Rng, len: usize, zeros: f64) -> Vec<u8> {
    (0..len)
        .map(|_| if rng.chance(zeros) { 0 } else { rng.byte() })
        .collect()
}

/// The exact product C = A·W of `a` (`m`×`k`) and `w` (`k`×`n`), row-major.
fn exact_gemm((m, k, n): (usize, usize, usize), a: &[u8], w: &[i8]) -> Vec<i64> {
    (0..m * n)
        .map(|x| {
            (0..k)
                .map(|kk| i64::from(a[(x / n) * k + kk]) * i64::from(w[kk * n + x % n]))
                .sum()
        })
        .collect()
}

/// Asserts that report entry `d` gives `max` as its largest |error| and `rel` as
/// its relative L2 error (`what` names the design in the messages).
fn assert_errors(d: &Value, (max, rel): (i64, f64), what: &str) {
    assert_eq!(d["max_abs_error"].as_i64().unwrap(), max, "{what}");
    assert!(
        (d["rel_l2_error"].as_f64().unwrap() - rel).abs() < 1e-12,
        "{what}"
    );
}

#[test]
fn eval_errors_equal_those_of_gemm_output_against_the_exact_product() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(5);
    let (m, k, n) = (9, 37, 7);
    let a = sparse_acts(&mut rng, m * k, 0.3);
    let w: Vec<i8> = (0..k * n).map(|_| rng.byte() as i8).collect();
    let (ap, wp) = write_operands(dir.path(), (m, k, n), &a, &w);
    let exact = exact_gemm((m, k, n), &a, &w);
    let presets = [
        "sysmt2",
        "sysmt4",
        "sparq-4b5opt",
        "sparq-2b",
        "bsparq-4b5opt",
    ];
    let v = eval_json(&eval_args(&presets.join(","), &ap, &wp));
    for (i, p) in presets.iter().enumerate() {
        let cp = dir.path().join("c.npy");
        let o = gemm(&ap, &wp, &cp, &["--preset", p]);
        assert!(o.status.success(), "{}", stderr(&o));
        let c = read_int_tensor(&cp, "<i4", "C").unwrap().1;
        let err: Vec<i64> = c.iter().zip(&exact).map(|(x, y)| x - y).collect();
        let mean = err.iter().map(|e| e.abs() as f64).sum::<f64>() / err.len() as f64;
        let d = &v["designs"][i];
        assert_eq!(d["design"], *p);
        assert_errors(d, errors(&c, &exact), p);
        assert!(
            (d["mean_abs_error"].as_f64().unwrap() - mean).abs() < 1e-9,
            "{p}"
        );
        assert_eq!(d["macs"].as_u64().unwrap(), (m * n * k) as u64);
    }
}

#[test]
fn a_layer_whose_lanes_never_collide_is_exact_on_every_smt_design() {
    // 75 % zeros: exactly one nonzero activation in every group of four lanes, so no
    // two-lane or four-lane group ever has more than one active lane.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(6);
    let (m, k, n) = (12, 64, 9);
    let mut a = vec![0u8; m * k];
    for i in 0..m {
        for g in 0..k / 4 {
            a[i * k + 4 * g + rng.below(4) as usize] = rng.byte().max(1);
        }
    }
    let w: Vec<i8> = (0..k * n).map(|_| rng.byte() as i8).collect();
    let (ap, wp) = write_operands(dir.path(), (m, k, n), &a, &w);
    // Design points beyond the presets too (window logic at the edge).
    let presets = "sysmt2,sysmt4,sparq-4b5opt,sparq-4b3opt,sparq-4b2opt,ideal2,ideal4,sysmt2-edge,sysmt4+pe.window_logic=edge,sysmt4+pe.pipeline=1";
    let v = eval_json(&eval_args(presets, &ap, &wp));
    for d in v["designs"].as_array().unwrap() {
        assert_eq!(d["max_abs_error"].as_i64().unwrap(), 0, "{}", d["design"]);
        assert_eq!(
            d["reduced_fraction"].as_f64().unwrap(),
            0.0,
            "{}",
            d["design"]
        );
        assert!((d["idle_fraction"].as_f64().unwrap() - 0.75).abs() < 0.01);
    }
    // The edge adds one cycle to the same tiles; labels are the points as written.
    let cycles = |name: &str| {
        v["designs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["design"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["cycles"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(cycles("sysmt2-edge"), cycles("sysmt2") + 1);
    assert_eq!(cycles("sysmt4+pe.window_logic=edge"), cycles("sysmt4") + 1);
    assert_eq!(cycles("sysmt4+pe.pipeline=1"), cycles("sysmt4") + 1);
}

#[test]
fn float_tensors_are_quantized_and_the_parameters_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(7);
    let (m, k, n) = (5, 11, 3);
    let a: Vec<f32> = (0..m * k)
        .map(|i| {
            if i % 3 == 0 {
                0.0
            } else {
                (rng.byte() as f32) / 37.0
            }
        })
        .collect();
    let w: Vec<f32> = (0..k * n)
        .map(|_| (rng.byte() as i8) as f32 / 50.0)
        .collect();
    let (ap, wp, out) = (
        dir.path().join("a.npy"),
        dir.path().join("w.npy"),
        dir.path().join("rep"),
    );
    write_npy(&ap, &[m, k], &a).unwrap();
    write_npy(&wp, &[k, n], &w).unwrap();
    let mut args = eval_args("sysmt2", &ap, &wp);
    args.extend(["--report", s(&out)]);
    let o = smtgen(&args, None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("quantization: activations per tensor, scale")
    );
    let q: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("quant.json")).unwrap()).unwrap();
    let amax = a.iter().copied().fold(0.0f32, f32::max);
    assert!((q["act_scale"].as_f64().unwrap() - f64::from(amax / 255.0)).abs() < 1e-6);
    assert_eq!(q["weight_scales"].as_array().unwrap().len(), n);
    for f in ["report.md", "report.svg", "report.json"] {
        assert!(out.join(f).exists(), "{f}");
    }
}

#[test]
fn a_convolution_evaluates_through_its_lowered_gemm() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(8);
    let x = sparse_acts(&mut rng, 2 * 4 * 6 * 6, 0.5);
    let w: Vec<i8> = (0..5 * 4 * 3 * 3).map(|_| rng.byte() as i8).collect();
    let (xp, wp) = (dir.path().join("x.npy"), dir.path().join("k.npy"));
    write_npy(&xp, &[2, 4, 6, 6], &x).unwrap();
    write_npy(&wp, &[5, 4, 3, 3], &w).unwrap();
    let v = eval_json(&[
        "eval",
        "--presets",
        "baseline,sysmt2",
        "--input",
        s(&xp),
        "--weights",
        s(&wp),
        "--stride",
        "2",
        "--padding",
        "1",
    ]);
    // 2 images of 3x3 outputs, K = 3*3*4, 5 output channels.
    assert_eq!(
        (v["m"].as_u64(), v["k"].as_u64(), v["n"].as_u64()),
        (Some(18), Some(36), Some(5))
    );
    assert_eq!(v["designs"][0]["max_abs_error"].as_i64(), Some(0));
}

#[test]
fn bad_inputs_are_rejected_with_the_file_and_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s);
    write_npy(&p("a.npy"), &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    write_npy(&p("neg.npy"), &[2, 3], &[1.0f32, -2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    write_npy(
        &p("nan.npy"),
        &[2, 3],
        &[1.0f32, f32::NAN, 3.0, 4.0, 5.0, 6.0],
    )
    .unwrap();
    write_npy(&p("w.npy"), &[4, 2], &[1i8; 8]).unwrap();
    write_npy(&p("w3.npy"), &[3, 2], &[1i8; 6]).unwrap();
    write_npy(&p("i32.npy"), &[3, 2], &[1i32; 6]).unwrap();
    let run = |a: &str, w: &str| {
        let (a, w) = (p(a), p(w));
        stderr(&smtgen(&eval_args("sysmt2", &a, &w), None))
    };
    let e = run("a.npy", "w.npy");
    assert!(e.contains("A is 2x3 and W is 4x2"), "{e}");
    let e = run("neg.npy", "w3.npy");
    assert!(
        e.contains("neg.npy") && e.contains("negative activation"),
        "{e}"
    );
    let e = run("nan.npy", "w3.npy");
    assert!(
        e.contains("nan.npy") && e.contains("flat index 1") && e.contains("NaN"),
        "{e}"
    );
    let e = run("a.npy", "i32.npy");
    assert!(e.contains("i32.npy") && e.contains("<i4"), "{e}");
    let e = stderr(&smtgen(&["eval", "--synthetic", "gauss"], None));
    assert!(
        e.contains("--synthetic = gauss") && e.contains("relu"),
        "{e}"
    );
    let e = stderr(&smtgen(&["eval"], None));
    assert!(e.contains("exactly one of"), "{e}");
}

/// Largest |err|, relative L2 error of `c` against `r`.
fn errors(c: &[i64], r: &[i64]) -> (i64, f64) {
    let max = c.iter().zip(r).map(|(x, y)| (x - y).abs()).max().unwrap();
    let e2: f64 = c.iter().zip(r).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let r2: f64 = r.iter().map(|&y| (y as f64).powi(2)).sum();
    (max, (e2 / r2).sqrt())
}

#[test]
fn pruned_weights_report_collisions_and_errors_against_pruned_and_dense_exact_gemms() {
    let dir = tempfile::tempdir().unwrap();
    let seed = 15;
    let mut rng = Rng::new(seed);
    // K = 38: nine full groups of four and a partial one.
    let (m, k, n) = (11, 38, 6);
    let a = sparse_acts(&mut rng, m * k, 0.3);
    let w: Vec<i8> = (0..k * n)
        .map(|_| if rng.chance(0.1) { 0 } else { rng.byte() as i8 })
        .collect();
    let (ap, wp) = write_operands(dir.path(), (m, k, n), &a, &w);
    let mut pruned = w.clone();
    let zeroed = smtgen_core::sparse::prune_2_4(&mut pruned, k, n);
    assert!(zeroed > 0);
    let exact_pruned = exact_gemm((m, k, n), &a, &pruned);
    let exact_dense = exact_gemm((m, k, n), &a, &w);
    let presets = ["sparq-stc-4b5opt", "sparq-stc-4b2opt", "sparq-4b5opt"];
    let joined = presets.join(",");
    let mut args = eval_args(&joined, &ap, &wp);
    args.extend(["--prune", "2:4"]);
    let v = eval_json(&args);
    let p = &v["prune"];
    assert_eq!(p["rule"], "2:4");
    assert_eq!(p["zeroed"].as_u64().unwrap(), zeroed as u64, "seed {seed}");
    assert_eq!(
        p["nonzero_dense"].as_u64().unwrap(),
        w.iter().filter(|&&x| x != 0).count() as u64
    );
    let dense = p["against_dense"].as_array().unwrap();
    assert_eq!(dense.len(), presets.len() + 1);
    // What pruning alone costs: the exact GEMM of the pruned weights against the dense.
    let (max, rel) = errors(&exact_pruned, &exact_dense);
    assert!(max > 0);
    assert_eq!(dense[0]["design"], "exact on pruned weights");
    assert_errors(&dense[0], (max, rel), "exact on pruned weights");
    for (i, name) in presets.iter().enumerate() {
        let cfg = smtgen_core::config::Design::point(name, &[] as &[&str]).unwrap();
        // The design's C from the spec, on the pruned weights it ran on.
        let c = spec_gemm(&cfg, m, k, n, &a, &pruned);
        let d = &v["designs"][i];
        assert_eq!(d["design"], *name);
        let against_pruned = errors(&c, &exact_pruned);
        assert!(against_pruned.0 > 0, "{name}: a test that cannot fail");
        assert_errors(d, against_pruned, &format!("{name} seed {seed}"));
        assert_eq!(dense[i + 1]["design"], *name);
        assert_errors(&dense[i + 1], errors(&c, &exact_dense), name);
        // Collisions: per output and group of T lanes, the active lanes (under stc the
        // selected lanes, those of non-zero weight, at most two in a 2:4 group, with a
        // non-zero act; else the zero test); two active lanes collide on the pair and
        // both go through a window (4-bit windows: a lone lane is exact).
        let t = cfg.lanes();
        let mut hist = vec![0u64; t + 1];
        let (mut on_lanes, mut reduced) = (0u64, 0u64);
        for i in 0..m {
            for j in 0..n {
                for g in 0..k.div_ceil(t) {
                    let on = (g * t..(g * t + t).min(k))
                        .filter(|&kk| {
                            let (x, y) = (a[i * k + kk], pruned[kk * n + j]);
                            if cfg.pe.stc {
                                x != 0 && y != 0
                            } else {
                                active(&cfg, x, y)
                            }
                        })
                        .count();
                    hist[on] += 1;
                    on_lanes += on as u64;
                    if on == 2 {
                        reduced += 2;
                    }
                }
            }
        }
        let got: Vec<u64> = d["active_histogram"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(got, hist, "{name}");
        let want = reduced as f64 / on_lanes as f64;
        assert!(want > 0.0);
        assert!(
            (d["reduced_fraction"].as_f64().unwrap() - want).abs() < 1e-12,
            "{name}"
        );
        // G = ⌈K/T⌉ groups per tile: the 2:4 designs take half the pair's cycles' groups.
        assert_eq!(d["lanes"].as_u64().unwrap(), t as u64);
        assert_eq!(
            d["lane_slots"].as_u64().unwrap(),
            (m * n * k.div_ceil(t) * t) as u64
        );
    }
    // Without --prune the JSON says so.
    let v = eval_json(&eval_args("sparq-4b5opt", &ap, &wp));
    assert!(v["prune"].is_null());
}
