//! The GEMM engine against the golden model (`array::gemm_functional`, the
//! table-driven reference): random shapes, every preset, both roundings, both zero
//! tests, window logic in the PE and at the edge, ACC_W 16/32/64 with wrap, extreme
//! and sparse operands, every kernel this machine runs, any thread count; the
//! statistics against a count from the model; the kernel override variable.

mod common;
use common::files::{gemm, gemm_args, write_operands};
use common::{smtgen, stderr};
use proptest::prelude::*;
use smtgen_core::array::{gemm_functional, Gemm};
use smtgen_core::config::{ConfigBuilder, Design, PRESETS};
use smtgen_core::engine::{self, Kernel};
use smtgen_core::model::PeModel;
use smtgen_core::stimulus::Rng;

/// How operands are drawn.
#[derive(Debug, Clone, Copy)]
enum Mix {
    /// Full range, uniform.
    Uniform,
    /// Only 0, 255 (activations) and −128, 127, 0 (weights).
    Extremes,
    /// Zero with the given percentage, else full range.
    Sparse(u32),
    /// Small values: activations < 16, weights in −8..7 (windows and nib4 exact).
    Small,
}

fn operands(m: usize, k: usize, n: usize, mix: Mix, seed: u64) -> Gemm {
    let mut rng = Rng::new(seed);
    let mut a = vec![0u8; m * k];
    let mut w = vec![0i8; k * n];
    for x in a.iter_mut() {
        *x = match mix {
            Mix::Uniform => rng.byte(),
            Mix::Extremes => [0u8, 255][rng.below(2) as usize],
            Mix::Sparse(p) => {
                if rng.chance(f64::from(p) / 100.0) {
                    0
                } else {
                    rng.byte()
                }
            }
            Mix::Small => rng.below(16) as u8,
        };
    }
    for x in w.iter_mut() {
        *x = match mix {
            Mix::Uniform => rng.byte() as i8,
            Mix::Extremes => [-128i8, 127, 0][rng.below(3) as usize],
            Mix::Sparse(p) => {
                if rng.chance(f64::from(p) / 100.0) {
                    0
                } else {
                    rng.byte() as i8
                }
            }
            Mix::Small => rng.below(16) as i8 - 8,
        };
    }
    Gemm { m, k, n, a, w }
}

/// The design point, or None where the combination is not a valid config.
fn design(preset: &str, sets: &[String]) -> Option<Design> {
    ConfigBuilder::new()
        .preset(Some(preset))
        .sets(sets)
        .build()
        .map(Design::new)
        .ok()
}

/// Engine = reference on every available kernel and two thread counts; a mismatch
/// names the design, the seed, the shape, the first differing output with its row
/// of A and column of W, expected and got.
fn check(cfg: &Design, g: &Gemm, seed: u64) -> Result<(), String> {
    let want = gemm_functional(cfg, g);
    for kernel in Kernel::available_all() {
        for jobs in [1, 3] {
            let got = engine::gemm_with(cfg, g, jobs, kernel, &|_| {});
            if let Some(idx) = (0..want.len()).find(|&i| want[i] != got[i]) {
                let (i, j) = (idx / g.n, idx % g.n);
                let col: Vec<i8> = (0..g.k).map(|k| g.w[k * g.n + j]).collect();
                return Err(format!(
                    "{} ({:?}) seed {seed} {}x{}x{} kernel {kernel} jobs {jobs}: C[{i}][{j}] expected {} got {}\nA row {i}: {:?}\nW col {j}: {:?}",
                    cfg.name, cfg.pe, g.m, g.k, g.n, want[idx], got[idx],
                    &g.a[i * g.k..(i + 1) * g.k], col
                ));
            }
            if got.len() != want.len() {
                return Err(format!(
                    "{}: {} outputs, want {}",
                    cfg.name,
                    got.len(),
                    want.len()
                ));
            }
        }
    }
    Ok(())
}

fn mix_strategy() -> impl Strategy<Value = Mix> {
    prop_oneof![
        Just(Mix::Uniform),
        Just(Mix::Extremes),
        (1u32..100).prop_map(Mix::Sparse),
        Just(Mix::Small),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random shapes (odd K, K not a multiple of T), every preset with random
    /// overrides of rounding, zero test, window logic and ACC_W.
    #[test]
    fn engine_equals_the_reference(
        preset in 0..PRESETS.len(),
        rounding in prop::sample::select(vec!["", "truncate", "nearest_even"]),
        zero in prop::sample::select(vec!["", "act", "act_or_weight"]),
        edge in any::<bool>(),
        acc in prop::sample::select(vec![16u32, 32, 64]),
        (m, k, n) in (1usize..=200, 1usize..=200, 1usize..=200)
            .prop_map(|(m, k, n)| (m, k, n.min((400_000 / (m * k)).max(1)))),
        mix in mix_strategy(),
        seed in any::<u64>(),
    ) {
        let p = PRESETS[preset].name;
        let mut sets = vec![format!("pe.acc_width={acc}")];
        if !rounding.is_empty() { sets.push(format!("pe.rounding={rounding}")); }
        if !zero.is_empty() { sets.push(format!("pe.zero_test={zero}")); }
        if edge { sets.push("pe.window_logic=edge".into()); }
        // Overrides the design does not take: fall back to the preset with ACC_W only.
        let cfg = design(p, &sets).or_else(|| design(p, &sets[..1])).expect("preset + acc_width");
        let g = operands(m, k, n, mix, seed);
        if let Err(e) = check(&cfg, &g, seed) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// Every preset × rounding × zero test × window logic × ACC_W that is a valid
/// design, on fixed awkward shapes and every operand mix (seed printed).
#[test]
fn every_design_point_and_operand_mix() {
    let seed = 0xE61E;
    println!("seed {seed}");
    let mut checked = 0;
    for p in PRESETS {
        for rnd in ["truncate", "nearest_even"] {
            for zt in ["act", "act_or_weight"] {
                for wl in ["in_pe", "edge"] {
                    for acc in [16, 32, 64] {
                        let sets = [
                            format!("pe.rounding={rnd}"),
                            format!("pe.zero_test={zt}"),
                            format!("pe.window_logic={wl}"),
                            format!("pe.acc_width={acc}"),
                        ];
                        // Drop the fields a policy does not take, as a user would.
                        let cfg = design(p.name, &sets)
                            .or_else(|| {
                                design(p.name, &[sets[0].clone(), sets[2].clone(), sets[3].clone()])
                            })
                            .or_else(|| design(p.name, &[sets[2].clone(), sets[3].clone()]))
                            .or_else(|| design(p.name, &[sets[3].clone()]));
                        let Some(cfg) = cfg else { continue };
                        for (mi, mix) in [
                            Mix::Uniform,
                            Mix::Extremes,
                            Mix::Sparse(50),
                            Mix::Sparse(90),
                            Mix::Small,
                        ]
                        .into_iter()
                        .enumerate()
                        {
                            let s = seed + mi as u64;
                            let g = operands(13, 67, 37, mix, s);
                            if let Err(e) = check(&cfg, &g, s) {
                                panic!("{e}");
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked >= PRESETS.len() * 5 * 3,
        "only {checked} design points checked"
    );
}

/// The wrap is exercised: with ACC_W = 16 and extreme operands some outputs differ
/// from their exact value, and the engine still equals the reference.
#[test]
fn accumulator_wrap_is_exercised() {
    let cfg = design("baseline", &["pe.acc_width=16".to_string()]).unwrap();
    let g = operands(5, 199, 7, Mix::Extremes, 3);
    let exact = engine::gemm(
        &design("baseline", &["pe.acc_width=64".to_string()]).unwrap(),
        &g,
        1,
    );
    let wrapped = engine::gemm(&cfg, &g, 1);
    assert!(
        exact.iter().zip(&wrapped).any(|(a, b)| a != b),
        "no output wrapped"
    );
    assert_eq!(wrapped, gemm_functional(&cfg, &g));
}

/// The 3136×576×64 layer (a 3×3, 64→64 convolution on 56×56, ReLU-like
/// activations with half of them zero): every preset against the reference on a
/// sample of 48 rows (all 64 columns each), and the statistics on those rows.
#[test]
fn the_resnet_layer_on_a_sample_of_outputs() {
    let seed = 0x3136;
    println!("seed {seed}");
    let (g, _) = smtgen_core::eval::synthetic(
        3136,
        576,
        64,
        smtgen_core::eval::Distribution::Relu,
        0.5,
        seed,
    )
    .unwrap();
    let mut rng = Rng::new(seed);
    let rows: Vec<usize> = (0..48).map(|_| rng.below(3136) as usize).collect();
    let mut sub = Gemm {
        m: rows.len(),
        k: g.k,
        n: g.n,
        a: Vec::new(),
        w: g.w.clone(),
    };
    for &i in &rows {
        sub.a.extend_from_slice(&g.a[i * g.k..(i + 1) * g.k]);
    }
    for p in PRESETS {
        let cfg = Design::preset(p.name).unwrap();
        let c = engine::gemm(&cfg, &g, 0);
        let want = gemm_functional(&cfg, &sub);
        for (r, &i) in rows.iter().enumerate() {
            assert_eq!(
                &c[i * g.n..(i + 1) * g.n],
                &want[r * g.n..(r + 1) * g.n],
                "{} row {i} (seed {seed})",
                p.name
            );
        }
    }
}

/// Statistics from the zero patterns = the model's cycle-by-cycle counts.
#[test]
fn lane_statistics_equal_the_models_counts() {
    let seed = 0x57a7;
    println!("seed {seed}");
    for p in PRESETS {
        for zt in ["act", "act_or_weight"] {
            let cfg = design(p.name, &[format!("pe.zero_test={zt}")])
                .unwrap_or_else(|| Design::preset(p.name).unwrap());
            for mix in [Mix::Sparse(40), Mix::Extremes, Mix::Sparse(90)] {
                let g = operands(9, 23, 11, mix, seed);
                let s = engine::lane_stats(&cfg, &g, 2);
                let t = cfg.lanes();
                let (wt, kp) = g.padded_columns(t);
                let wz = cfg.dp().rule.weight_tested();
                let model = PeModel::new(&cfg);
                let mut hist = [0u64; 5];
                let (mut active, mut reduced) = (0u64, 0u64);
                for i in 0..g.m {
                    let mut arow = vec![0u8; kp];
                    arow[..g.k].copy_from_slice(&g.a[i * g.k..(i + 1) * g.k]);
                    for j in 0..g.n {
                        let wcol = &wt[j * kp..(j + 1) * kp];
                        for (a, w) in arow.chunks_exact(t).zip(wcol.chunks_exact(t)) {
                            let cy = model.products(a, w);
                            let on = if cfg.dp().rule.has_activity_modes() {
                                cy.active
                            } else {
                                a.iter()
                                    .zip(w)
                                    .filter(|(&x, &y)| x != 0 && !(wz && y == 0))
                                    .count() as u32
                            };
                            hist[on as usize] += 1;
                            active += u64::from(on);
                            reduced += u64::from(cy.reduced);
                        }
                    }
                }
                let slots = (g.m * g.n * kp) as u64;
                assert_eq!(s.hist, hist, "{} {zt} {mix:?}", p.name);
                assert_eq!(
                    (s.active, s.idle, s.reduced),
                    (active, slots - active, reduced),
                    "{} {zt} {mix:?}",
                    p.name
                );
            }
        }
    }
}

/// `SMTGEN_ENGINE_KERNEL` forces a kernel in `smtgen gemm` (same result whichever),
/// and an unknown or unavailable one is rejected naming the variable and the value.
#[test]
fn the_kernel_variable_forces_a_kernel_and_rejects_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let g = operands(37, 91, 45, Mix::Sparse(30), 11);
    let (ap, wp) = write_operands(dir.path(), (g.m, g.k, g.n), &g.a, &g.w);
    let cfg = Design::preset("sysmt4").unwrap();
    let want = gemm_functional(&cfg, &g);
    let run = |kernel: &str, out: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smtgen"))
            .env(engine::KERNEL_ENV, kernel)
            .args(gemm_args(&ap, &wp, out, &["--preset", "sysmt4"]))
            .output()
            .unwrap()
    };
    for k in Kernel::ALL {
        let out = dir.path().join(format!("c_{k}.npy"));
        let o = run(k.name(), &out);
        if k.available() {
            assert!(o.status.success(), "{k}: {}", stderr(&o));
            assert!(
                String::from_utf8_lossy(&o.stdout).contains(&format!("kernel {k}")),
                "{k}"
            );
            let (_, c) = smtgen_core::tensors::read_int_tensor(&out, "<i4", "C").unwrap();
            assert_eq!(c, want, "kernel {k}");
        } else {
            assert!(!o.status.success(), "{k} is not available but ran");
            assert!(stderr(&o).contains(engine::KERNEL_ENV));
        }
    }
    let o = run("sse9", &dir.path().join("c.npy"));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains(engine::KERNEL_ENV) && e.contains("sse9") && e.contains("portable"),
        "{e}"
    );
    assert!(!dir.path().join("c.npy").exists(), "an output was written");
    // The plain command (no variable) agrees too.
    let o = gemm(
        &ap,
        &wp,
        &dir.path().join("d.npy"),
        &["--preset", "sysmt4", "--jobs", "1"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Wide W under `act_or_weight`: the engine plans blocks of columns separately
/// (each with its own classes); partial last blocks, sparse and dense weights.
#[test]
fn wide_weights_under_the_weight_zero_test() {
    let seed = 0x1de;
    println!("seed {seed}");
    for (p, extra) in [
        ("sysmt2", vec![]),
        ("sysmt4", vec![]),
        (
            "sysmt4",
            vec![
                "pe.window_logic=edge".to_string(),
                "pe.rounding=truncate".to_string(),
            ],
        ),
        (
            "sparq-4b5opt",
            vec!["pe.zero_test=act_or_weight".to_string()],
        ),
        ("sparq-3b", vec!["pe.zero_test=act_or_weight".to_string()]),
    ] {
        let cfg = design(p, &extra).expect("valid design");
        for (mi, mix) in [Mix::Sparse(3), Mix::Sparse(40), Mix::Uniform, Mix::Extremes]
            .into_iter()
            .enumerate()
        {
            for n in [65, 128, 197] {
                let s = seed + mi as u64 + n as u64;
                let g = operands(11, 45, n, mix, s);
                if let Err(e) = check(&cfg, &g, s) {
                    panic!("{e}");
                }
            }
        }
    }
}

/// Rare weight zero patterns computed one (group, column) pair at a time: weights
/// with about 1 % zeros spread over every column, and with zeros in one column
/// only (the layouts where the per-pair path replaces dense blocks of A', for
/// the quad and the pair rules), activations with and without zeros, M not a
/// multiple of the 16 rows the vector path takes at once and K not of the lanes;
/// every kernel (the vector and the portable per-pair code). Each design must take
/// the per-pair path on at least one layout, so the test cannot pass on the dense
/// path alone.
#[test]
fn rare_weight_patterns_per_pair_equal_the_reference() {
    let seed = 0x2a4e;
    println!("seed {seed}");
    let with = |extra: &[&str]| extra.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (p, extra) in [
        ("sysmt2", with(&[])),
        (
            "sysmt2",
            with(&["pe.window_logic=edge", "pe.rounding=truncate"]),
        ),
        ("sysmt4", with(&[])),
        (
            "sysmt4",
            with(&["pe.window_logic=edge", "pe.rounding=truncate"]),
        ),
        ("sparq-4b5opt", with(&["pe.zero_test=act_or_weight"])),
        ("sparq-3b", with(&["pe.zero_test=act_or_weight"])),
    ] {
        let cfg = design(p, &extra).expect("valid design");
        let mut per_pair = 0;
        for (li, (m, k, n)) in [(37, 130, 64), (16, 64, 96), (5, 203, 33)]
            .into_iter()
            .enumerate()
        {
            for few_columns in [false, true] {
                let s = seed + li as u64 * 2 + u64::from(few_columns);
                let mut rng = Rng::new(s);
                let mut g = operands(m, k, n, Mix::Sparse(if li == 1 { 0 } else { 45 }), s);
                for (i, w) in g.w.iter_mut().enumerate() {
                    let col = i % n;
                    let zero = if few_columns {
                        col == 3 && rng.chance(0.5)
                    } else {
                        rng.chance(0.01)
                    };
                    *w = if zero {
                        0
                    } else {
                        // Non-zero, full range.
                        match rng.byte() as i8 {
                            0 => 1,
                            v => v,
                        }
                    };
                }
                for kernel in Kernel::available_all() {
                    per_pair += engine::rare_pairs(&cfg, &g, kernel);
                }
                if let Err(e) = check(&cfg, &g, s) {
                    panic!("{e}");
                }
            }
        }
        assert!(
            per_pair > 0,
            "{p} {extra:?}: no layout took the per-pair path (seed {seed})"
        );
    }
}

/// `bench --gemm` on a tiny shape prints the float32 reference and every asked
/// design; a malformed shape is rejected naming the flag and the value.
#[test]
fn bench_gemm_runs_and_rejects_bad_shapes() {
    let o = smtgen(
        &[
            "bench",
            "--gemm",
            "--shapes",
            "9x17x5",
            "--presets",
            "baseline,sysmt4",
            "--repeat",
            "1",
            "--jobs",
            "2",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("float32 reference") && out.contains("GEMM 9x17x5"),
        "{out}"
    );
    for d in ["baseline", "sysmt4"] {
        assert!(out.lines().any(|l| l.starts_with(d)), "{d} missing:\n{out}");
    }
    for bad in ["9x17", "9x0x5", "axbxc"] {
        let o = smtgen(&["bench", "--gemm", "--shapes", bad], None);
        assert!(!o.status.success(), "{bad} accepted");
        let e = stderr(&o);
        assert!(e.contains("--shapes") && e.contains(bad), "{bad}: {e}");
    }
}
