//! The layer op against independent references: a direct convolution (no lowering)
//! for the lowering, the contract's lowering of `eval::lower_conv`, and the unfused
//! path (whole A lowered, `engine::gemm`, dequantized element by element) for every
//! preset.

use super::*;
use crate::array::Gemm;
use crate::config::PRESETS;
use crate::eval::{lower_conv, ConvShape};
use crate::stimulus::Rng;

const SEED: u64 = 0x1a7e_5eed;

fn geoms() -> Vec<ConvGeom> {
    let g = |n, c, h, w, o, kh, kw, stride, pad, dilation, groups| ConvGeom {
        n,
        c,
        h,
        w,
        o,
        kh,
        kw,
        stride,
        pad,
        dilation,
        groups,
    };
    vec![
        g(2, 3, 5, 7, 4, 3, 3, (1, 1), [1, 1, 1, 1], (1, 1), 1),
        g(1, 8, 9, 6, 6, 3, 2, (2, 1), [0, 2, 1, 0], (1, 1), 1),
        g(2, 6, 7, 7, 4, 3, 3, (1, 2), [2, 2, 2, 2], (2, 2), 2),
        g(1, 8, 6, 5, 8, 3, 3, (1, 1), [1, 1, 1, 1], (1, 1), 8),
        g(3, 5, 1, 11, 7, 1, 3, (1, 2), [0, 0, 2, 1], (1, 3), 1),
        g(1, 12, 5, 5, 9, 1, 1, (1, 1), [0, 0, 0, 0], (1, 1), 3),
        g(2, 4, 13, 3, 70, 5, 1, (3, 1), [1, 3, 0, 0], (2, 1), 1),
    ]
}

fn random_ops(rng: &mut Rng, g: &ConvGeom, stc: bool) -> (Vec<f32>, Vec<i8>) {
    let x: Vec<f32> = (0..g.n * g.c * g.h * g.w)
        .map(|_| {
            if rng.chance(0.4) {
                0.0
            } else {
                (rng.below(1 << 20) as f32) / 4096.0
            }
        })
        .collect();
    let mut w: Vec<i8> = (0..g.o * g.k()).map(|_| rng.byte() as i8).collect();
    if stc {
        for gi in 0..g.groups {
            // Prune the group's lowered K x Og matrix, then write it back.
            let mut lw = lower_weights(g, &w, gi);
            crate::sparse::prune_2_4(&mut lw, g.k(), g.og());
            let taps = g.kh * g.kw;
            for o in 0..g.og() {
                for c in 0..g.cg() {
                    for tap in 0..taps {
                        w[((gi * g.og() + o) * g.cg() + c) * taps + tap] =
                            lw[(tap * g.cg() + c) * g.og() + o];
                    }
                }
            }
        }
    }
    (x, w)
}

/// A direct convolution of quantized input (NCHW) and weights, exact.
fn direct(g: &ConvGeom, xq: &[u8], w: &[i8]) -> Vec<i64> {
    let (oh, ow) = g.out_hw();
    let (cg, og) = (g.cg(), g.og());
    let mut y = vec![0i64; g.n * g.o * oh * ow];
    for b in 0..g.n {
        for o in 0..g.o {
            let gi = o / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = 0i64;
                    for c in 0..cg {
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize
                                    - g.pad[0] as isize;
                                let ix = (ox * g.stride.1 + kx * g.dilation.1) as isize
                                    - g.pad[2] as isize;
                                if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                    continue;
                                }
                                let xv = xq[((b * g.c + gi * cg + c) * g.h + iy as usize) * g.w
                                    + ix as usize];
                                let wv = w[((o * cg + c) * g.kh + ky) * g.kw + kx];
                                s += i64::from(xv) * i64::from(wv);
                            }
                        }
                    }
                    y[((b * g.o + o) * oh + oy) * ow + ox] = s;
                }
            }
        }
    }
    y
}

fn quant_ref(x: &[f32], dx: f64) -> Vec<u8> {
    x.iter()
        .map(|&v| (f64::from(v) / dx).round_ties_even().clamp(0.0, 255.0) as u8)
        .collect()
}

fn nchw_to_nhwc(g: &ConvGeom, x: &[u8]) -> Vec<u8> {
    let hw = g.h * g.w;
    let mut out = vec![0u8; x.len()];
    for b in 0..g.n {
        for c in 0..g.c {
            for p in 0..hw {
                out[(b * hw + p) * g.c + c] = x[(b * g.c + c) * hw + p];
            }
        }
    }
    out
}

fn scales(rng: &mut Rng, o: usize, bias: bool) -> (Vec<f64>, Option<Vec<f64>>) {
    let dw = (0..o)
        .map(|_| (1 + rng.below(1000)) as f64 / 77_777.0)
        .collect();
    let b = bias.then(|| {
        (0..o)
            .map(|_| (rng.below(2000) as f64 - 1000.0) / 333.0)
            .collect()
    });
    (dw, b)
}

#[test]
fn the_lowering_times_the_weights_is_the_direct_convolution() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED);
    for g in geoms() {
        let (x, w) = random_ops(&mut rng, &g, false);
        let xq = quant_ref(&x, 0.25);
        let nhwc = nchw_to_nhwc(&g, &xq);
        let want = direct(&g, &xq, &w);
        let (oh, ow) = g.out_hw();
        let p = oh * ow;
        for gi in 0..g.groups {
            let a = lower_a(&g, &nhwc, gi);
            let lw = lower_weights(&g, &w, gi);
            let c = crate::eval::exact_gemm(&Gemm {
                m: g.m(),
                k: g.k(),
                n: g.og(),
                a,
                w: lw,
            });
            for i in 0..g.m() {
                for oo in 0..g.og() {
                    let (b, pix, o) = (i / p, i % p, gi * g.og() + oo);
                    let want = want[(b * g.o + o) * p + pix];
                    assert_eq!(
                        c[i * g.og() + oo],
                        want,
                        "{g:?} group {gi} row {i} channel {o}"
                    );
                }
            }
        }
    }
}

#[test]
fn dense_symmetric_lowering_is_the_contracts_lower_conv() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 1);
    for &(n, c, h, w, o, k, stride, pad) in &[
        (2, 3, 5, 7, 4, 3, 1, 1),
        (1, 5, 8, 8, 3, 3, 2, 0),
        (2, 2, 6, 5, 2, 1, 1, 0),
    ] {
        let g = ConvGeom {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride: (stride, stride),
            pad: [pad; 4],
            dilation: (1, 1),
            groups: 1,
        };
        let xq: Vec<u8> = (0..n * c * h * w).map(|_| rng.byte()).collect();
        let wt: Vec<i8> = (0..o * c * k * k).map(|_| rng.byte() as i8).collect();
        let s = ConvShape {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride,
            pad,
        };
        let want = lower_conv(&s, &xq, &wt);
        let nhwc = nchw_to_nhwc(&g, &xq);
        assert_eq!(lower_a(&g, &nhwc, 0), want.a, "{g:?}: A");
        assert_eq!(lower_weights(&g, &wt, 0), want.w, "{g:?}: W");
    }
}

/// The fused layer (quantize, lowering inside the engine, dequantize in the sink)
/// against the unfused path for every preset and the exact mode: every output bit.
#[test]
fn fused_layer_equals_lower_gemm_dequantize_for_every_preset() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 2);
    let mut modes: Vec<Option<Design>> = vec![None];
    for p in PRESETS {
        modes.push(Some(Design::preset(p.name).expect("preset")));
    }
    for g in geoms() {
        for cfg in &modes {
            let stc = cfg.as_ref().is_some_and(|c| c.dp().requires_2_4());
            let (x, w) = random_ops(&mut rng, &g, stc);
            let dx = 0.0625 + rng.below(100) as f64 / 1000.0;
            let with_bias = rng.chance(0.5);
            let (dw, bias) = scales(&mut rng, g.o, with_bias);
            let dq = Dequant {
                dx,
                dw: &dw,
                bias: bias.as_deref(),
            };
            let (oh, ow) = g.out_hw();
            let p = oh * ow;
            let mut got = vec![f32::NAN; g.n * g.o * p];
            let mode = cfg.as_ref().map_or(Mode::Exact, Mode::Design);
            conv_forward(mode, &g, &x, &w, &dq, &mut got, "t", 2).expect("layer runs");
            // The unfused path.
            let xq = quant_ref(&x, dx);
            let nhwc = nchw_to_nhwc(&g, &xq);
            let mut want = vec![0f32; got.len()];
            for gi in 0..g.groups {
                let gm = Gemm {
                    m: g.m(),
                    k: g.k(),
                    n: g.og(),
                    a: lower_a(&g, &nhwc, gi),
                    w: lower_weights(&g, &w, gi),
                };
                let c = match cfg {
                    Some(cfg) => crate::engine::gemm(cfg, &gm, 1),
                    None => crate::eval::exact_gemm(&gm),
                };
                for i in 0..g.m() {
                    for oo in 0..g.og() {
                        let o = gi * g.og() + oo;
                        let mut v = c[i * g.og() + oo] as f64 * dx * dw[o];
                        if let Some(b) = &bias {
                            v += b[o];
                        }
                        want[((i / p) * g.o + o) * p + i % p] = v as f32;
                    }
                }
            }
            for (j, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits(),
                    "{} {g:?} output {j}: got {a} want {b} (dx {dx}, x {:?}, w {:?})",
                    cfg.as_ref().map_or("exact".into(), |c| c.name.clone()),
                    &x[..x.len().min(32)],
                    &w[..w.len().min(32)],
                );
            }
        }
    }
}

#[test]
fn linear_layer_equals_gemm_and_dequantize() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 3);
    for p in ["baseline", "sysmt2", "sysmt4", "sparq-4b5opt"] {
        let cfg = Design::preset(p).expect("preset");
        let (rows, i_f, o_f) = (5, 37, 11);
        let x: Vec<f64> = (0..rows * i_f)
            .map(|_| rng.below(3000) as f64 / 7.0)
            .collect();
        let wq: Vec<i8> = (0..o_f * i_f).map(|_| rng.byte() as i8).collect();
        let (dw, bias) = scales(&mut rng, o_f, true);
        let dx = 300.0 / 255.0;
        let dq = Dequant {
            dx,
            dw: &dw,
            bias: bias.as_deref(),
        };
        let mut got = vec![0f64; rows * o_f];
        linear_forward(
            Mode::Design(&cfg),
            (rows, i_f, o_f),
            &x,
            &wq,
            &dq,
            &mut got,
            "fc",
            2,
        )
        .expect("layer runs");
        let a: Vec<u8> = x
            .iter()
            .map(|&v| (v / dx).round_ties_even().clamp(0.0, 255.0) as u8)
            .collect();
        let mut w = vec![0i8; i_f * o_f];
        for o in 0..o_f {
            for i in 0..i_f {
                w[i * o_f + o] = wq[o * i_f + i];
            }
        }
        let c = crate::engine::gemm(
            &cfg,
            &Gemm {
                m: rows,
                k: i_f,
                n: o_f,
                a,
                w,
            },
            1,
        );
        for (j, (&g, &cv)) in got.iter().zip(&c).enumerate() {
            let want = cv as f64 * dx * dw[j % o_f] + bias.as_ref().map_or(0.0, |b| b[j % o_f]);
            assert_eq!(
                g.to_bits(),
                want.to_bits(),
                "{p} output {j}: got {g} want {want}"
            );
        }
    }
}

#[test]
fn nan_inf_and_negative_inputs_are_errors_naming_the_layer() {
    let g = geoms()[0];
    let w = vec![1i8; g.o * g.k()];
    let dw = vec![1.0; g.o];
    let dq = Dequant {
        dx: 1.0,
        dw: &dw,
        bias: None,
    };
    for (bad, what) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "infinite input"),
        (-0.5, "negative input"),
    ] {
        let mut x = vec![1.0f32; g.n * g.c * g.h * g.w];
        x[17] = bad;
        let mut out = vec![0f32; g.n * g.o * g.out_hw().0 * g.out_hw().1];
        let e = conv_forward(Mode::Exact, &g, &x, &w, &dq, &mut out, "layer2.0.conv1", 1)
            .expect_err("bad input must fail")
            .to_string();
        assert!(
            e.contains("layer2.0.conv1") && e.contains(what) && e.contains("17"),
            "{e}"
        );
    }
    // -0.0 is not negative (torch's min agrees).
    let mut x = vec![1.0f32; g.n * g.c * g.h * g.w];
    x[3] = -0.0;
    let mut out = vec![0f32; g.n * g.o * g.out_hw().0 * g.out_hw().1];
    conv_forward(Mode::Exact, &g, &x, &w, &dq, &mut out, "l", 1).expect("-0.0 is fine");
}

/// A caller's wrong argument to the layer entry points (prepared weights of another
/// shape or kind, `x`, `out`, `dw`, `bias` or `w` of the wrong length) is an error
/// naming the layer, the argument, the value received and what is allowed, and
/// nothing of `out` is written.
#[test]
fn wrong_arguments_are_errors_naming_the_argument() {
    fn check(r: Result<LayerTimes>, out: &[f32], arg: &str, value: &str, allowed: &str) {
        let e = r.expect_err(arg).to_string();
        let head = format!("layer {:?}: {arg} = {value}", "L1");
        assert!(
            e.contains(&head) && e.contains(allowed),
            "wanted {head:?} ... {allowed:?}, got {e}"
        );
        assert!(out.iter().all(|&v| v == 7.0), "{arg}: out was written");
    }
    let cfg = Design::preset("sysmt2").expect("preset");
    let mode = Mode::Design(&cfg);
    let dwv = |n: usize| vec![0.5; n];
    let dq = |dw: &'static [f64], bias: Option<&'static [f64]>| Dequant { dx: 0.1, dw, bias };
    let leak = |v: Vec<f64>| -> &'static [f64] { Box::leak(v.into_boxed_slice()) };

    // A convolution (and a depthwise one, which takes the one-pass path).
    for g in [geoms()[0], geoms()[3]] {
        let (oh, ow) = g.out_hw();
        let (nx, ny) = (g.n * g.c * g.h * g.w, g.n * g.o * oh * ow);
        let w = vec![1i8; g.o * g.k()];
        let x = vec![0.5f32; nx];
        let p = PreparedLayer::conv(mode, &g, &w, "L1", 1).expect("prepares");
        let good = dq(leak(dwv(g.o)), None);
        let mut out = vec![7.0f32; ny];
        let r = conv_forward_prepared(&p, &g, &x[1..], &good, &mut out, "L1", 1);
        check(
            r,
            &out,
            "x",
            &format!("{} values", nx - 1),
            "N x C x H x W = ",
        );
        let mut short = vec![7.0f32; ny - 1];
        let r = conv_forward_prepared(&p, &g, &x, &good, &mut short, "L1", 1);
        check(
            r,
            &short,
            "out",
            &format!("{} values", ny - 1),
            "N x O x OH x OW = ",
        );
        let bad = dq(leak(dwv(g.o + 1)), None);
        let r = conv_forward_prepared(&p, &g, &x, &bad, &mut out, "L1", 1);
        check(
            r,
            &out,
            "dw",
            &format!("{} values", g.o + 1),
            "output channel",
        );
        let bad = dq(leak(dwv(g.o)), Some(leak(dwv(g.o - 1))));
        let r = conv_forward_prepared(&p, &g, &x, &bad, &mut out, "L1", 1);
        check(
            r,
            &out,
            "bias",
            &format!("{} values", g.o - 1),
            "output channel",
        );
        // Weights prepared for another convolution, and for a linear layer.
        let other = ConvGeom { kh: 1, kw: 1, ..g };
        let q = PreparedLayer::conv(mode, &other, &vec![1i8; g.o * other.k()], "L0", 1)
            .expect("prepares");
        let r = conv_forward_prepared(&q, &g, &x, &good, &mut out, "L1", 1);
        check(
            r,
            &out,
            "prepared weights",
            "a convolution's",
            "this layer: ",
        );
        let q = PreparedLayer::linear(mode, (3, 2), &[1i8; 6], "L0", 1).expect("prepares");
        let r = conv_forward_prepared(&q, &g, &x, &good, &mut out, "L1", 1);
        check(
            r,
            &out,
            "prepared weights",
            "a linear layer's",
            "this layer: ",
        );
        // Unprepared: weights of the wrong length.
        let r = conv_forward(mode, &g, &x, &w[1..], &good, &mut out, "L1", 1);
        let want = format!("{} values", w.len() - 1);
        check(r, &out, "w", &want, "O x C/groups x KH x KW = ");
        // And the call that is right succeeds.
        conv_forward_prepared(&p, &g, &x, &good, &mut out, "L1", 1).expect("runs");
    }

    // A linear layer: rows x I = 3 x 5 to O = 4.
    let (rows, i_f, o_f) = (3, 5, 4);
    let w = vec![1i8; o_f * i_f];
    let x = vec![0.5f32; rows * i_f];
    let p = PreparedLayer::linear(mode, (i_f, o_f), &w, "L1", 1).expect("prepares");
    let good = dq(leak(dwv(o_f)), None);
    let mut out = vec![7.0f32; rows * o_f];
    let r = linear_forward_prepared(&p, rows, &x[1..], &good, &mut out, "L1", 1);
    check(r, &out, "x", "14 values", "rows x I = 3 x 5 = 15 values");
    let r = linear_forward_prepared(&p, rows + 1, &x, &good, &mut out, "L1", 1);
    check(r, &out, "x", "15 values", "rows x I = 4 x 5 = 20 values");
    let mut short = vec![7.0f32; rows * o_f - 1];
    let r = linear_forward_prepared(&p, rows, &x, &good, &mut short, "L1", 1);
    check(
        r,
        &short,
        "out",
        "11 values",
        "rows x O = 3 x 4 = 12 values",
    );
    let bad = dq(leak(dwv(o_f - 1)), None);
    let r = linear_forward_prepared(&p, rows, &x, &bad, &mut out, "L1", 1);
    check(r, &out, "dw", "3 values", "O = 4");
    let bad = dq(leak(dwv(o_f)), Some(leak(dwv(o_f + 1))));
    let r = linear_forward_prepared(&p, rows, &x, &bad, &mut out, "L1", 1);
    check(r, &out, "bias", "5 values", "O = 4");
    let g = geoms()[0];
    let q = PreparedLayer::conv(mode, &g, &vec![1i8; g.o * g.k()], "L0", 1).expect("prepares");
    let r = linear_forward_prepared(&q, rows, &x, &good, &mut out, "L1", 1);
    check(
        r,
        &out,
        "prepared weights",
        "a convolution's",
        "a linear layer's",
    );
    let r = linear_forward(
        mode,
        (rows, i_f, o_f),
        &x,
        &w[1..],
        &good,
        &mut out,
        "L1",
        1,
    );
    check(r, &out, "w", "19 values", "O x I = 4 x 5 = 20 values");
    linear_forward_prepared(&p, rows, &x, &good, &mut out, "L1", 1).expect("runs");

    // The quantization on its own.
    let e = quantize_nhwc(&x, (2, 2, 2), 0.1, "L1").expect_err("15 values for 8");
    assert!(
        e.to_string()
            .contains("x = 15 values: allowed N x C x HW = 2 x 2 x 2 = 8"),
        "{e}"
    );
}

#[test]
fn bad_geometry_is_an_error_naming_the_field() {
    let mut g = geoms()[0];
    g.groups = 2;
    let e = g
        .check("conv")
        .expect_err("3 channels in 2 groups")
        .to_string();
    assert!(e.contains("groups") && e.contains("conv"), "{e}");
    let mut g = geoms()[0];
    g.dilation = (4, 4);
    let e = g.check("conv").expect_err("kernel too large").to_string();
    assert!(e.contains("kernel"), "{e}");
}

#[test]
fn float_pruning_is_the_integer_rule() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 4);
    let (k, n) = (23, 9);
    for _ in 0..20 {
        let mut wi: Vec<i8> = (0..k * n)
            .map(|_| {
                if rng.chance(0.3) {
                    0
                } else {
                    (rng.below(7) as i8) - 3
                }
            })
            .collect();
        let mut wf: Vec<f64> = wi.iter().map(|&v| f64::from(v)).collect();
        let zi = crate::sparse::prune_2_4(&mut wi, k, n);
        let zf = prune_2_4_f64(&mut wf, n, k, |j, kk| kk * n + j).expect("no NaN");
        assert_eq!(zi, zf);
        let back: Vec<i8> = wf.iter().map(|&v| v as i8).collect();
        assert_eq!(back, wi, "ties go to the lower k in both");
    }
    let mut bad = vec![1.0, f64::NAN];
    let e = prune_2_4_f64(&mut bad, 1, 2, |_, kk| kk).expect_err("NaN");
    assert!(e.to_string().contains("NaN"), "{e}");
}

/// The depthwise pass ([`conv_forward`]) against one engine GEMM per group (the
/// exact GEMM when `cfg` is None), dequantized, bit for bit; a mismatch names
/// `what`, the shape, the group and row, got and want, and the operands.
fn assert_depthwise_is_one_gemm_per_group(
    cfg: Option<&Design>,
    gm: &ConvGeom,
    x: &[f32],
    w: &[i8],
    dq: &Dequant<'_>,
    what: &str,
) {
    let (oh, ow) = gm.out_hw();
    let p = oh * ow;
    let mut got = vec![f64::NAN; gm.n * gm.o * p];
    let mode = cfg.map_or(Mode::Exact, Mode::Design);
    conv_forward(mode, gm, x, w, dq, &mut got, "dw", 2).expect("layer runs");
    let nhwc = nchw_to_nhwc(gm, &quant_ref(x, dq.dx));
    let k = gm.k();
    for gi in 0..gm.groups {
        let gg = Gemm {
            m: gm.m(),
            k,
            n: 1,
            a: lower_a(gm, &nhwc, gi),
            w: lower_weights(gm, w, gi),
        };
        let c = match cfg {
            Some(cfg) => crate::engine::gemm(cfg, &gg, 1),
            None => crate::eval::exact_gemm(&gg),
        };
        for (i, &ci) in c.iter().enumerate() {
            let mut want = ci as f64 * dq.dx * dq.dw[gi];
            if let Some(b) = dq.bias {
                want += b[gi];
            }
            let at = ((i / p) * gm.o + gi) * p + i % p;
            let a = &gg.a[i * k..(i + 1) * k];
            assert!(
                got[at].to_bits() == want.to_bits(),
                "{what} {gm:?} group {gi} row {i}: got {} want {want} \
                 (C {ci}; dx {}, dw {}; A row: {} zeros, first {:?}; \
                 W: {} zeros, first {:?})",
                got[at],
                dq.dx,
                dq.dw[gi],
                a.iter().filter(|&&v| v == 0).count(),
                &a[..k.min(16)],
                gg.w.iter().filter(|&&v| v == 0).count(),
                &gg.w[..k.min(16)],
            );
        }
    }
}

/// Depthwise convolutions (one output channel per group), which run as one pass
/// over the pixels instead of one GEMM per group, against one engine GEMM per group
/// (the design's definition), for every preset and the exact mode, on random and
/// extreme operands (255 activations with -128 weights, all-zero channels).
#[test]
fn depthwise_pass_equals_one_gemm_per_group_for_every_preset() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 5);
    let g = |n, c, h, w, k, stride, pad, dilation| ConvGeom {
        n,
        c,
        h,
        w,
        o: c,
        kh: k,
        kw: k,
        stride,
        pad,
        dilation,
        groups: c,
    };
    let shapes = [
        g(2, 5, 9, 8, 3, (1, 1), [1, 1, 1, 1], (1, 1)),
        g(1, 7, 11, 11, 5, (2, 2), [1, 2, 2, 1], (1, 1)),
        g(3, 4, 6, 7, 3, (1, 2), [2, 2, 2, 2], (2, 1)),
        g(1, 3, 4, 4, 1, (1, 1), [0, 0, 0, 0], (1, 1)),
        g(1, 33, 5, 5, 3, (1, 1), [1, 1, 1, 1], (1, 1)),
    ];
    let mut modes: Vec<Option<Design>> = vec![None];
    for p in PRESETS {
        modes.push(Some(Design::preset(p.name).expect("preset")));
    }
    for gm in shapes {
        for cfg in &modes {
            let stc = cfg.as_ref().is_some_and(|c| c.dp().requires_2_4());
            for case in 0..4 {
                let (mut x, mut w) = random_ops(&mut rng, &gm, stc);
                if case == 3 {
                    // Sparse weights too (zeroing keeps 2:4 valid): every weight
                    // zero pattern of a group, so every class of the design's plan.
                    for v in w.iter_mut() {
                        if rng.chance(0.4) {
                            *v = 0;
                        }
                    }
                }
                if case == 1 {
                    // Extremes: every activation saturates, every weight is -128
                    // (2:4 designs: two of every four, the rest zero).
                    x.iter_mut().for_each(|v| *v = 1e6);
                    let k = gm.k();
                    for (i, v) in w.iter_mut().enumerate() {
                        *v = if stc && (i % k) % 4 >= 2 { 0 } else { -128 };
                    }
                }
                if case == 2 {
                    // Whole channels of zeros, in activations and in weights.
                    let hw = gm.h * gm.w;
                    for (i, v) in x.iter_mut().enumerate() {
                        if (i / hw) % 3 == 0 {
                            *v = 0.0;
                        }
                    }
                    let k = gm.k();
                    for (i, v) in w.iter_mut().enumerate() {
                        if (i / k) % 4 == 1 {
                            *v = 0;
                        }
                    }
                }
                let dx = 0.03 + rng.below(100) as f64 / 1000.0;
                let (dw, bias) = scales(&mut rng, gm.o, case != 1);
                let dq = Dequant {
                    dx,
                    dw: &dw,
                    bias: bias.as_deref(),
                };
                let name = cfg.as_ref().map_or("exact".into(), |c| c.name.clone());
                let what = format!("{name} case {case}");
                assert_depthwise_is_one_gemm_per_group(cfg.as_ref(), &gm, &x, &w, &dq, &what);
            }
        }
    }
}

/// A depthwise layer whose taps exceed K_SAFE (the bound for exact i32 sums): the
/// one-pass rule sums chunks of at most K_SAFE taps in i32 and widens between
/// them, the exact (all-identity) pass sums in i64. Against one engine GEMM per
/// group for the exact mode and every preset, each also with a 64-bit
/// accumulator (no wrap to hide an i32 overflow), on random, extreme (255 times
/// -128 everywhere: one i32 sum over all taps would overflow) and sparse operands.
#[test]
fn depthwise_pass_with_more_taps_than_k_safe_equals_one_gemm_per_group() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 11);
    let (kh, kw) = (300, 256);
    assert!(kh * kw > crate::engine::kernel::K_SAFE);
    // Two channels; one output pixel, then two (a second column of the input).
    let shapes = [(kh, kw), (kh, kw + 1)].map(|(h, w)| ConvGeom {
        n: 1,
        c: 2,
        h,
        w,
        o: 2,
        kh,
        kw,
        stride: (1, 1),
        pad: [0; 4],
        dilation: (1, 1),
        groups: 2,
    });
    let mut modes: Vec<Option<Design>> = vec![None];
    for p in PRESETS {
        let d = Design::preset(p.name).expect("preset");
        modes.push(Some(d.with(|c| c.pe.acc_width = 64)));
        modes.push(Some(d));
    }
    for gm in shapes {
        for cfg in &modes {
            let stc = cfg.as_ref().is_some_and(|c| c.dp().requires_2_4());
            let name = cfg.as_ref().map_or("exact".into(), |c| {
                format!("{} (acc {})", c.name, c.pe.acc_width)
            });
            for case in 0..3 {
                let (mut x, mut w) = random_ops(&mut rng, &gm, stc);
                let k = gm.k();
                if case == 1 {
                    x.iter_mut().for_each(|v| *v = 1e6);
                    for (i, v) in w.iter_mut().enumerate() {
                        *v = if stc && (i % k) % 4 >= 2 { 0 } else { -128 };
                    }
                }
                if case == 2 {
                    for v in w.iter_mut() {
                        if rng.chance(0.4) {
                            *v = 0;
                        }
                    }
                }
                let dx = 0.03 + rng.below(100) as f64 / 1000.0;
                let (dw, bias) = scales(&mut rng, gm.o, true);
                let dq = Dequant {
                    dx,
                    dw: &dw,
                    bias: bias.as_deref(),
                };
                let what = format!("{name} case {case}");
                assert_depthwise_is_one_gemm_per_group(cfg.as_ref(), &gm, &x, &w, &dq, &what);
            }
        }
    }
}

/// Prepared weights are reused only while they fit: a change of weights, design or
/// shape is seen by `matches`, and the result on prepared weights is the
/// unprepared call's.
#[test]
fn prepared_weights_match_only_their_weights_and_design() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 6);
    let sysmt2 = Design::preset("sysmt2").expect("preset");
    let sysmt4 = Design::preset("sysmt4").expect("preset");
    for gm in geoms() {
        let (x, w) = random_ops(&mut rng, &gm, false);
        let (dw, bias) = scales(&mut rng, gm.o, true);
        let dq = Dequant {
            dx: 0.1,
            dw: &dw,
            bias: bias.as_deref(),
        };
        let mode = Mode::Design(&sysmt2);
        let p = PreparedLayer::conv(mode, &gm, &w, "t", 2).expect("prepares");
        assert!(p.matches(mode, Some(&gm), (0, 0), &w));
        assert!(!p.matches(Mode::Design(&sysmt4), Some(&gm), (0, 0), &w));
        assert!(!p.matches(Mode::Exact, Some(&gm), (0, 0), &w));
        assert!(!p.matches(mode, None, (gm.k(), gm.o), &w));
        let mut w2 = w.clone();
        w2[w.len() / 2] = w2[w.len() / 2].wrapping_add(1);
        assert!(!p.matches(mode, Some(&gm), (0, 0), &w2));
        let n = gm.n * gm.o * gm.out_hw().0 * gm.out_hw().1;
        let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
        conv_forward_prepared(&p, &gm, &x, &dq, &mut a, "t", 2).expect("runs");
        conv_forward(mode, &gm, &x, &w, &dq, &mut b, "t", 1).expect("runs");
        assert!(
            a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()),
            "{gm:?}"
        );
    }
}

/// The vectorized, tiled quantization against the scalar formula on float32 and
/// float64 inputs: ties at every half (round half to even), values around 255,
/// huge values, -0.0, subnormals; channel counts and plane sizes around the tile.
#[test]
fn quantization_is_the_reference_formula_on_ties_and_extremes() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 7);
    let dx = 0.5;
    let specials = [
        0.0f64,
        -0.0,
        1e-310,
        0.25,
        0.75,
        1.25,
        126.75,
        127.25,
        127.5,
        127.75,
        128.0,
        200.0,
        254.5 * dx,
        255.0 * dx,
        255.5 * dx,
        256.0 * dx,
        1e30,
        f64::MAX,
    ];
    for (n, c, hw) in [
        (1, 1, 1),
        (2, 3, 300),
        (1, 70, 257),
        (3, 5, 513),
        (1, 1, 4096),
    ] {
        let x64: Vec<f64> = (0..n * c * hw)
            .map(|_| {
                if rng.chance(0.3) {
                    specials[rng.below(specials.len() as u64) as usize]
                } else {
                    rng.below(1 << 16) as f64 / 256.0
                }
            })
            .collect();
        let want = |v: f64| (v / dx).round_ties_even().clamp(0.0, 255.0) as u8;
        let got = quantize_nhwc(&x64, (n, c, hw), dx, "q").expect("valid");
        let x32: Vec<f32> = x64
            .iter()
            .map(|&v| v.min(f64::from(f32::MAX)) as f32)
            .collect();
        let got32 = quantize_nhwc(&x32, (n, c, hw), dx, "q").expect("valid");
        for b in 0..n {
            for ch in 0..c {
                for p in 0..hw {
                    let i = (b * c + ch) * hw + p;
                    let o = (b * hw + p) * c + ch;
                    assert_eq!(got[o], want(x64[i]), "f64 x[{i}] = {:e}", x64[i]);
                    let v32 = f64::from(x32[i]);
                    assert_eq!(got32[o], want(v32), "f32 x[{i}] = {v32:e}");
                }
            }
        }
    }
}

/// Narrow GEMMs (N of 1 to 4: W kept as columns and multiplied by dot products
/// instead of padded to a panel) against the golden model for every preset and
/// every kernel this machine runs, on random, extreme and sparse operands.
#[test]
fn narrow_gemms_equal_the_golden_model_for_every_preset() {
    println!("seed {SEED:#x}");
    let mut rng = Rng::new(SEED ^ 8);
    for p in PRESETS {
        let cfg = Design::preset(p.name).expect("preset");
        let stc = cfg.dp().requires_2_4();
        for &(m, k, n) in &[
            (13, 67, 1),
            (9, 130, 3),
            (1, 1000, 2),
            (17, 9, 4),
            (3, 1, 1),
        ] {
            for case in 0..3 {
                let a: Vec<u8> = (0..m * k)
                    .map(|_| match case {
                        0 => rng.byte(),
                        1 => 255,
                        _ => {
                            if rng.chance(0.6) {
                                0
                            } else {
                                rng.byte()
                            }
                        }
                    })
                    .collect();
                let mut w: Vec<i8> = (0..k * n)
                    .map(|_| match case {
                        0 => rng.byte() as i8,
                        1 => -128,
                        _ => {
                            if rng.chance(0.5) {
                                0
                            } else {
                                rng.byte() as i8
                            }
                        }
                    })
                    .collect();
                if stc {
                    crate::sparse::prune_2_4(&mut w, k, n);
                }
                let g = Gemm { m, k, n, a, w };
                let want = crate::array::gemm_functional(&cfg, &g);
                for kernel in crate::engine::Kernel::available_all() {
                    let got = crate::engine::gemm_with(&cfg, &g, 2, kernel, &|_| {});
                    assert!(
                        got == want,
                        "{} {kernel} {m}x{k}x{n} case {case}: got {:?} want {:?} (A {:?}, W {:?})",
                        p.name,
                        &got[..got.len().min(8)],
                        &want[..want.len().min(8)],
                        &g.a[..g.a.len().min(16)],
                        &g.w[..g.w.len().min(16)],
                    );
                }
            }
        }
    }
}
