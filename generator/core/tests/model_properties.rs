//! Properties of the golden model against the spec: the table-driven model equals a
//! direct transcription of spec §5, is exact whenever the lanes fit the multiplier,
//! never errs beyond the reduction's bound, leaves idle lanes at zero and wraps the
//! accumulator in two's complement.

use proptest::prelude::*;
use smtgen_core::config::{Design, Rounding, Rule, ZeroTest, PRESETS};
use smtgen_core::model::{wrap, Cycle, PeModel};
use smtgen_core::numerics::{nib4, win_error_bound};

mod spec;
use spec::{active, spec_products};

fn presets() -> Vec<Design> {
    let mut v: Vec<Design> = PRESETS
        .iter()
        .map(|p| Design::preset(p.name).unwrap())
        .collect();
    // Both roundings and both zero tests of the sharing policies.
    for p in [
        "sparq-4b5opt",
        "sparq-3b",
        "sparq-2b",
        "sysmt2",
        "sysmt4",
        "bsparq-4b5opt",
    ] {
        let c = Design::preset(p)
            .unwrap()
            .with(|c| c.pe.rounding = Some(Rounding::Truncate));
        v.push(c.clone());
        if c.pe.zero_test.is_some() {
            v.push(c.with(|c| {
                c.pe.zero_test = Some(match c.pe.zero_test {
                    Some(ZeroTest::Act) => ZeroTest::ActOrWeight,
                    _ => ZeroTest::Act,
                })
            }));
        }
    }
    v
}

/// Whether the weights are ones the design is defined for: any, except that a 2:4-sparse
/// design (spec §5.1) takes at most two non-zero weights per group.
fn two_of_four(cfg: &Design, wgts: &[i8]) -> bool {
    !cfg.dp().requires_2_4() || wgts.iter().filter(|&&w| w != 0).count() <= 2
}

/// Every design of [`presets`] that `wgts` are defined for (see [`two_of_four`]),
/// with its lane count and the model's products on the first lanes.
fn defined_runs(acts: &[u8], wgts: &[i8]) -> Vec<(Design, usize, Cycle)> {
    presets()
        .into_iter()
        .filter(|cfg| two_of_four(cfg, wgts))
        .map(|cfg| {
            let t = cfg.lanes();
            let c = PeModel::new(&cfg).products(&acts[..t], &wgts[..t]);
            (cfg, t, c)
        })
        .collect()
}

/// Lanes with a zero fraction near one half, so every active count appears.
fn lanes() -> impl Strategy<Value = (Vec<u8>, Vec<i8>)> {
    let a = prop_oneof![Just(0u8), Just(255u8), any::<u8>(), any::<u8>()];
    let w = prop_oneof![
        Just(0i8),
        Just(-128i8),
        Just(127i8),
        any::<i8>(),
        any::<i8>()
    ];
    (prop::collection::vec(a, 4), prop::collection::vec(w, 4))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn model_equals_the_spec_transcription((acts, wgts) in lanes()) {
        for cfg in presets() {
            let t = cfg.lanes();
            let m = PeModel::new(&cfg);
            let c = m.products(&acts[..t], &wgts[..t]);
            let want = spec_products(&cfg, &acts[..t], &wgts[..t]);
            prop_assert_eq!(&c.products[..t], &want[..], "{:?}", cfg);
            prop_assert_eq!(c.sum, want.iter().sum::<i32>());
        }
    }

    #[test]
    fn exact_when_the_lanes_fit_and_idle_lanes_add_nothing((acts, wgts) in lanes()) {
        for (cfg, t, c) in defined_runs(&acts, &wgts) {
            let on: Vec<bool> = (0..t).map(|i| active(&cfg, acts[i], wgts[i])).collect();
            let n_on = on.iter().filter(|&&x| x).count();
            for i in 0..t {
                let exact = i32::from(acts[i]) * i32::from(wgts[i]);
                if !on[i] {
                    prop_assert_eq!(c.products[i], 0, "idle lane {} of {:?}", i, cfg);
                }
                // Exact rules always; pair and quad when at most one lane is active
                // and the lone lane's mode is exact (quad, and pairs of 4-bit units).
                let exact_rule = match cfg.dp().rule {
                    Rule::Exact { .. } => true,
                    Rule::Single { .. } => false,
                    Rule::Pair { solo, .. } => n_on <= 1 && solo.is_none(),
                    Rule::Quad { .. } => n_on <= 1,
                };
                if exact_rule {
                    prop_assert_eq!(c.products[i], exact, "lane {} of {:?}", i, cfg);
                }
            }
        }
    }

    #[test]
    fn error_never_exceeds_the_reduction_bound((acts, wgts) in lanes()) {
        for (cfg, t, c) in defined_runs(&acts, &wgts) {
            let dp = cfg.dp();
            let rnd = dp.rounding;
            // The loosest window any mode of this PE uses, and nib4's bound.
            let sets = dp.rule.windows();
            let ba = sets.iter().map(|&s| win_error_bound(s, rnd)).max().unwrap_or(0) as i64;
            let bw = (-128..=127i32).map(|w| (i32::from(nib4(w as i8, rnd)) - w).unsigned_abs()).max().unwrap() as i64;
            for i in 0..t {
                let exact = i64::from(acts[i]) * i64::from(wgts[i]);
                let err = (i64::from(c.products[i]) - exact).abs();
                let w = i64::from(wgts[i]).abs();
                let nibbles = match dp.rule {
                    Rule::Quad { .. } => true,
                    Rule::Exact { .. } | Rule::Single { .. } | Rule::Pair { .. } => false,
                };
                let bound = if nibbles { ba * w + 255 * bw } else { ba * w };
                prop_assert!(err <= bound, "lane {} err {} > bound {} for {:?}", i, err, bound, cfg);
            }
        }
    }

    #[test]
    fn accumulator_wraps_in_twos_complement(
        seq in prop::collection::vec((lanes(), any::<bool>()), 1..200),
        acc_width in 16u32..=64,
    ) {
        for cfg in presets() {
            let cfg = cfg.with(|c| c.pe.acc_width = acc_width);
            let t = cfg.lanes();
            let mut m = PeModel::new(&cfg);
            let mut wide: i128 = 0;
            for ((acts, wgts), valid) in &seq {
                let c = m.step(&acts[..t], &wgts[..t], *valid, false);
                if *valid {
                    wide += i128::from(c.sum);
                }
                let sh = 128 - acc_width;
                let want = ((wide << sh) >> sh) as i64;
                prop_assert_eq!(m.acc(), want);
                prop_assert_eq!(m.acc(), wrap(m.acc(), acc_width));
            }
        }
    }
}

#[test]
fn clear_with_valid_restarts_clear_alone_zeroes_neither_holds() {
    let cfg = Design::preset("baseline").unwrap();
    let mut m = PeModel::new(&cfg);
    m.step(&[10], &[3], true, false);
    assert_eq!(m.acc(), 30);
    m.step(&[10], &[3], false, false);
    assert_eq!(m.acc(), 30);
    m.step(&[2], &[2], true, true);
    assert_eq!(m.acc(), 4);
    m.step(&[2], &[2], false, true);
    assert_eq!(m.acc(), 0);
}

#[test]
fn sixteen_bit_accumulator_wraps_at_the_first_overflow() {
    let cfg = Design::preset("baseline")
        .unwrap()
        .with(|c| c.pe.acc_width = 16);
    let mut m = PeModel::new(&cfg);
    m.step(&[255], &[127], true, false);
    assert_eq!(m.acc(), 32385);
    m.step(&[255], &[127], true, false);
    assert_eq!(m.acc(), 2 * 32385 - 65536);
}
