//! The spec's per-cycle rule (docs/numerics.md §5) and GEMM written out directly,
//! shared by the integration tests of every crate (the CLI's and the HDL crate's
//! include this file by path).
#![allow(dead_code)]

use smtgen_core::config::{Design, Rule};
use smtgen_core::numerics::{nib4, win};

/// Whether a lane is active under the PE's zero test (spec §1).
pub fn active(cfg: &Design, a: u8, w: i8) -> bool {
    a != 0 && !(cfg.dp().rule.weight_tested() && w == 0)
}

/// Spec §5 written out directly from `win` and `nib4`, without tables, on the
/// elaborated datapath's rule (which `config::datapath`'s tests pin to the spec).
pub fn spec_products(cfg: &Design, acts: &[u8], wgts: &[i8]) -> Vec<i32> {
    let t = cfg.lanes();
    let dp = cfg.dp();
    let rnd = dp.rounding;
    let exact = |i: usize| i32::from(acts[i]) * i32::from(wgts[i]);
    if dp.select.is_some() {
        // Spec §5.1: the first two lanes with a non-zero weight, in lane order, go
        // through the two-lane rule (zero test act); every other lane gives 0.
        let chosen: Vec<usize> = (0..t).filter(|&i| wgts[i] != 0).take(2).collect();
        let pair = cfg.core();
        let (mut a2, mut w2) = ([0u8; 2], [0i8; 2]);
        for (s, &i) in chosen.iter().enumerate() {
            a2[s] = acts[i];
            w2[s] = wgts[i];
        }
        let p2 = spec_products(pair, &a2, &w2);
        let mut out = vec![0; t];
        for (s, &i) in chosen.iter().enumerate() {
            out[i] = p2[s];
        }
        return out;
    }
    let on: Vec<bool> = (0..t).map(|i| active(cfg, acts[i], wgts[i])).collect();
    let c = on.iter().filter(|&&x| x).count();
    match dp.rule {
        Rule::Exact { .. } => (0..t).map(exact).collect(),
        Rule::Single { window } => {
            vec![i32::from(win(acts[0], window, rnd)) * i32::from(wgts[0])]
        }
        Rule::Pair { pair, solo, .. } => (0..t)
            .map(|i| {
                if !on[i] {
                    return 0;
                }
                let a = acts[i];
                let a_eff = match (c, solo) {
                    (2, _) => win(a, pair, rnd),
                    (_, None) => a,
                    (_, Some(s)) => win(a, s, rnd),
                };
                i32::from(a_eff) * i32::from(wgts[i])
            })
            .collect(),
        Rule::Quad { window, .. } => (0..t)
            .map(|i| {
                if !on[i] {
                    return 0;
                }
                let (a, w) = (acts[i], wgts[i]);
                match c {
                    0 | 1 => exact(i),
                    2 => i32::from(win(a, window, rnd)) * i32::from(w),
                    _ => i32::from(win(a, window, rnd)) * i32::from(nib4(w, rnd)),
                }
            })
            .collect(),
    }
}

/// C = A·W computed straight from the spec: every output is the PE rule applied to
/// each group of T consecutive reduction indices (K zero-padded), summed and wrapped
/// to the accumulator width. Independent of the library's GEMM and tables.
pub fn spec_gemm(cfg: &Design, m: usize, k: usize, n: usize, a: &[u8], w: &[i8]) -> Vec<i64> {
    let t = cfg.lanes();
    let mut c = vec![0i64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc: i128 = 0;
            for g in 0..k.div_ceil(t) {
                let idx = |l: usize| g * t + l;
                let acts: Vec<u8> = (0..t)
                    .map(|l| if idx(l) < k { a[i * k + idx(l)] } else { 0 })
                    .collect();
                let wgts: Vec<i8> = (0..t)
                    .map(|l| if idx(l) < k { w[idx(l) * n + j] } else { 0 })
                    .collect();
                acc += spec_products(cfg, &acts, &wgts)
                    .iter()
                    .map(|&p| i128::from(p))
                    .sum::<i128>();
            }
            let sh = 128 - cfg.pe.acc_width;
            c[i * n + j] = ((acc << sh) >> sh) as i64;
        }
    }
    c
}
