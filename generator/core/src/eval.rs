//! Workload evaluation: what each design does to a real (or synthetic) layer. For
//! every design it runs the layer's GEMM through the engine (bit-exact to the golden
//! model) on every core and reports idle lanes, the distribution of active lanes per cycle, the share of
//! products computed at reduced precision, the output error against the exact
//! integer GEMM, and the cycles on the configured array with the speedup over the
//! baseline. Also: float tensors quantized the papers' way, convolutions lowered to
//! GEMM with K ordered input-channel-innermost, and seeded synthetic layers.

use crate::array::{gemm_cycles, Gemm};
use crate::config::{Config, Design};
use crate::error::{Error, Result};
use crate::model::MAX_LANES;
use crate::stimulus::Rng;
use serde::Serialize;

/// Quantization parameters, so results map back to real values:
/// `real ≈ q · scale` (activations), `real ≈ q · weight_scales[o]` (weights of
/// output channel o); an output is `C · act_scale · weight_scales[o]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuantParams {
    /// Per-tensor activation scale (max / 255).
    pub act_scale: f32,
    /// Per-output-channel weight scales (max |w| / 127).
    pub weight_scales: Vec<f32>,
}

/// Rounds half to even (banker's rounding), as the quantizer uses.
pub fn round_half_even(x: f32) -> f32 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// Quantizes non-negative activations per tensor to 0..=255 (scale from the
/// maximum). Negative values are rejected with their index: activations are
/// post-ReLU in both papers.
pub fn quantize_activations(x: &[f32], what: &str) -> Result<(Vec<u8>, f32)> {
    if let Some(i) = x.iter().position(|&v| v < 0.0) {
        return Err(Error::Input {
            file: what.into(),
            at: format!("flat index {i}"),
            what: format!(
                "negative activation {}; activations must be post-ReLU (>= 0)",
                x[i]
            ),
        });
    }
    let max = x.iter().copied().fold(0.0f32, f32::max);
    let scale = if max > 0.0 { max / 255.0 } else { 1.0 };
    let q = x
        .iter()
        .map(|&v| round_half_even(v / scale).clamp(0.0, 255.0) as u8)
        .collect();
    Ok((q, scale))
}

/// Quantizes weights symmetrically per output channel to −128..=127.
/// `w` is row-major with `channels` rows (one per output channel).
pub fn quantize_weights(w: &[f32], channels: usize) -> (Vec<i8>, Vec<f32>) {
    let per = w.len() / channels.max(1);
    let mut q = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(channels);
    for o in 0..channels {
        let row = &w[o * per..(o + 1) * per];
        let max = row.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        let s = if max > 0.0 { max / 127.0 } else { 1.0 };
        scales.push(s);
        q.extend(
            row.iter()
                .map(|&v| round_half_even(v / s).clamp(-128.0, 127.0) as i8),
        );
    }
    (q, scales)
}

/// A convolution layer's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl ConvShape {
    /// Output height and width.
    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad - self.kh) / self.stride + 1,
            (self.w + 2 * self.pad - self.kw) / self.stride + 1,
        )
    }
}

/// Lowers a convolution (input NCHW, weights OIHW) to `C[M×O] = A[M×K]·W[K×O]` with
/// M = N·OH·OW output pixels and K = KH·KW·C ordered kernel-tap-major,
/// input-channel-innermost (`k = (kh·KW + kw)·C + c`): adjacent lanes of a group are
/// adjacent input channels at the same tap, the pairing SPARQ uses.
pub fn lower_conv(s: &ConvShape, x: &[u8], wt: &[i8]) -> Gemm {
    let (oh, ow) = s.out_hw();
    let m = s.n * oh * ow;
    let k = s.kh * s.kw * s.c;
    let mut a = vec![0u8; m * k];
    for b in 0..s.n {
        for y in 0..oh {
            for xo in 0..ow {
                let row = ((b * oh + y) * ow + xo) * k;
                for ky in 0..s.kh {
                    for kx in 0..s.kw {
                        let iy = (y * s.stride + ky) as isize - s.pad as isize;
                        let ix = (xo * s.stride + kx) as isize - s.pad as isize;
                        if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                            continue;
                        }
                        let base = row + (ky * s.kw + kx) * s.c;
                        for c in 0..s.c {
                            a[base + c] =
                                x[((b * s.c + c) * s.h + iy as usize) * s.w + ix as usize];
                        }
                    }
                }
            }
        }
    }
    let mut w = vec![0i8; k * s.o];
    for o in 0..s.o {
        for c in 0..s.c {
            for ky in 0..s.kh {
                for kx in 0..s.kw {
                    w[((ky * s.kw + kx) * s.c + c) * s.o + o] =
                        wt[((o * s.c + c) * s.kh + ky) * s.kw + kx];
                }
            }
        }
    }
    Gemm { m, k, n: s.o, a, w }
}

/// Distribution of the nonzero synthetic activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// |N(0, 1)|: the positive half of a Gaussian, as after ReLU.
    Relu,
    /// Exponential with rate 1.
    Exp,
    /// Uniform on (0, 1].
    Uniform,
}

impl Distribution {
    /// Parses `relu`, `exp` or `uniform`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "relu" => Ok(Distribution::Relu),
            "exp" => Ok(Distribution::Exp),
            "uniform" => Ok(Distribution::Uniform),
            _ => Err(Error::config("--synthetic", s, "relu, exp, uniform")),
        }
    }
}

fn uniform01(rng: &mut Rng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

fn gaussian(rng: &mut Rng) -> f64 {
    let (u, v) = (uniform01(rng), uniform01(rng));
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// A seeded synthetic layer: activations zero with probability `zero`, otherwise
/// drawn from `dist`, then quantized per tensor; weights N(0, 1) quantized per
/// output channel. Returns the GEMM and its quantization parameters.
pub fn synthetic(
    m: usize,
    k: usize,
    n: usize,
    dist: Distribution,
    zero: f64,
    seed: u64,
) -> Result<(Gemm, QuantParams)> {
    if !(0.0..=1.0).contains(&zero) {
        return Err(Error::config("--zero", zero, "a fraction in 0..1"));
    }
    crate::guard::gemm_dims("synthetic MxKxN", m, k, n)?;
    let mut rng = Rng::new(seed);
    let x: Vec<f32> = (0..m * k)
        .map(|_| {
            if rng.chance(zero) {
                0.0
            } else {
                (match dist {
                    Distribution::Relu => gaussian(&mut rng).abs(),
                    Distribution::Exp => -uniform01(&mut rng).ln(),
                    Distribution::Uniform => uniform01(&mut rng),
                }) as f32
            }
        })
        .collect();
    // Weights as O rows of K (per output channel), then transposed to K×N.
    let wo: Vec<f32> = (0..n * k).map(|_| gaussian(&mut rng) as f32).collect();
    let (a, act_scale) = quantize_activations(&x, "synthetic")?;
    let (wq, weight_scales) = quantize_weights(&wo, n);
    let mut w = vec![0i8; k * n];
    for o in 0..n {
        for kk in 0..k {
            w[kk * n + o] = wq[o * k + kk];
        }
    }
    Ok((
        Gemm { m, k, n, a, w },
        QuantParams {
            act_scale,
            weight_scales,
        },
    ))
}

/// What one design does to the workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignEval {
    /// Preset (or config) name.
    pub design: String,
    /// Lanes per cycle.
    pub lanes: u32,
    /// Real multiply-accumulates (M·N·K).
    pub macs: u64,
    /// Lane slots over all PE cycles (M·N·G·T), padding included.
    pub lane_slots: u64,
    /// Fraction of lane slots that were idle under the design's zero test.
    pub idle_fraction: f64,
    /// PE cycles with 0, 1, ..., T active lanes.
    pub active_histogram: Vec<u64>,
    /// Fraction of active lane products computed at reduced precision.
    pub reduced_fraction: f64,
    /// Largest |C − C_exact|.
    pub max_abs_error: i64,
    /// Mean |C − C_exact|.
    pub mean_abs_error: f64,
    /// ‖C − C_exact‖₂ / ‖C_exact‖₂.
    pub rel_l2_error: f64,
    /// 10·log10(Σ C_exact² / Σ (C − C_exact)²); infinite when exact.
    pub sqnr_db: f64,
    /// Cycles on the configured array (published formula).
    pub cycles: u64,
    /// Baseline cycles on the same array divided by this design's.
    pub speedup: f64,
    /// Array (or PE) area relative to the baseline, when a compare CSV was given.
    pub area_ratio: Option<f64>,
}

#[derive(Default, Clone)]
struct Acc {
    hist: [u64; MAX_LANES + 1],
    idle: u64,
    active: u64,
    reduced: u64,
    max_abs: i64,
    sum_abs: f64,
    sum_err2: f64,
    sum_ref2: f64,
}

/// The exact integer GEMM (no accumulator wrap), the reference for error: the
/// engine's exact kernel on all cores.
pub fn exact_gemm(g: &Gemm) -> Vec<i64> {
    exact_gemm_jobs(g, 0)
}

/// [`exact_gemm`] on `jobs` threads (0: all cores).
pub fn exact_gemm_jobs(g: &Gemm, jobs: usize) -> Vec<i64> {
    match Config::preset("baseline") {
        Ok(mut cfg) => {
            cfg.pe.acc_width = 64;
            crate::engine::gemm(&Design::new(cfg), g, jobs)
        }
        // The baseline preset is built in; this arm is not reached.
        Err(_) => exact_gemm_naive(g),
    }
}

/// The exact GEMM as three plain loops.
fn exact_gemm_naive(g: &Gemm) -> Vec<i64> {
    let mut c = vec![0i64; g.m * g.n];
    for i in 0..g.m {
        let row = &mut c[i * g.n..(i + 1) * g.n];
        for k in 0..g.k {
            let a = i64::from(g.a[i * g.k + k]);
            for (j, r) in row.iter_mut().enumerate() {
                *r += a * i64::from(g.w[k * g.n + j]);
            }
        }
    }
    c
}

/// Evaluates one design on `g` (all cores), returning its report and its C.
/// `tick` is called once per finished row of A (for a progress bar).
pub fn evaluate_design(
    cfg: &Design,
    g: &Gemm,
    exact: &[i64],
    tick: &(dyn Fn() + Sync),
) -> (DesignEval, Vec<i64>) {
    evaluate_design_jobs(cfg, g, exact, 0, tick)
}

/// [`evaluate_design`] on `jobs` threads (0: all cores): C from the engine, the
/// lane statistics from the zero patterns ([`crate::engine::lane_stats`]).
pub fn evaluate_design_jobs(
    cfg: &Design,
    g: &Gemm,
    exact: &[i64],
    jobs: usize,
    tick: &(dyn Fn() + Sync),
) -> (DesignEval, Vec<i64>) {
    let t = cfg.lanes();
    let groups = g.groups(t);
    let kp = groups * t;
    let kernel = crate::engine::env_kernel();
    let c = crate::engine::gemm_with(cfg, g, jobs, kernel, &|rows| {
        for _ in 0..rows {
            tick();
        }
    });
    let st = crate::engine::lane_stats(cfg, g, jobs);
    let mut a = Acc {
        idle: st.idle,
        active: st.active,
        reduced: st.reduced,
        ..Acc::default()
    };
    a.hist.copy_from_slice(&st.hist);
    for (&out, &ex) in c.iter().zip(exact) {
        let e = out - ex;
        a.max_abs = a.max_abs.max(e.abs());
        a.sum_abs += e.abs() as f64;
        a.sum_err2 += (e as f64) * (e as f64);
        a.sum_ref2 += (ex as f64) * (ex as f64);
    }
    let (r, cc) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let tiles = g.tiles(r, cc) as u64;
    let e = cfg.pe.extra_latency();
    let cycles = gemm_cycles(r as u64, cc as u64, e, groups as u64, tiles);
    // The baseline array has no edge stage.
    let base_cycles = gemm_cycles(r as u64, cc as u64, 0, g.k.max(1) as u64, tiles);
    let outputs = (g.m * g.n).max(1) as f64;
    let eval = DesignEval {
        design: cfg.name.replace('_', "-"),
        lanes: cfg.dp().lanes,
        macs: (g.m * g.n * g.k) as u64,
        lane_slots: (g.m * g.n * kp) as u64,
        idle_fraction: a.idle as f64 / ((g.m * g.n * kp).max(1)) as f64,
        active_histogram: a.hist[..=t].to_vec(),
        reduced_fraction: if a.active > 0 {
            a.reduced as f64 / a.active as f64
        } else {
            0.0
        },
        max_abs_error: a.max_abs,
        mean_abs_error: a.sum_abs / outputs,
        rel_l2_error: if a.sum_ref2 > 0.0 {
            (a.sum_err2 / a.sum_ref2).sqrt()
        } else {
            0.0
        },
        sqnr_db: if a.sum_err2 > 0.0 {
            10.0 * (a.sum_ref2 / a.sum_err2).log10()
        } else {
            f64::INFINITY
        },
        cycles,
        speedup: base_cycles as f64 / cycles.max(1) as f64,
        area_ratio: None,
    };
    (eval, c)
}

/// What `eval --prune` did to the weights and what it cost: the rule, the weights it
/// zeroed, and the error of each result against the exact GEMM of the dense
/// (unpruned) weights. (Every [`DesignEval`] figure is against the exact GEMM of the
/// pruned weights, the ones the design ran on.)
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruneReport {
    /// The pruning rule, e.g. `2:4`.
    pub rule: String,
    /// Non-zero weights before pruning.
    pub nonzero_dense: u64,
    /// Weights pruning set to zero.
    pub zeroed: u64,
    /// The exact GEMM of the pruned weights first (`exact on pruned weights`: what
    /// pruning alone costs), then each design in order.
    pub against_dense: Vec<DenseError>,
}

/// One result's error against the exact GEMM of the dense weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DenseError {
    /// Design label, or `exact on pruned weights`.
    pub design: String,
    /// Largest |C − C_dense|.
    pub max_abs_error: i64,
    /// ‖C − C_dense‖₂ / ‖C_dense‖₂.
    pub rel_l2_error: f64,
    /// 10·log10(Σ C_dense² / Σ (C − C_dense)²); infinite when equal.
    pub sqnr_db: f64,
}

impl DenseError {
    /// The error of `c` against `dense`, the exact GEMM of the dense weights.
    pub fn of(design: &str, c: &[i64], dense: &[i64]) -> DenseError {
        let (mut max, mut err2, mut ref2) = (0i64, 0f64, 0f64);
        for (&x, &r) in c.iter().zip(dense) {
            max = max.max((x - r).abs());
            err2 += ((x - r) as f64).powi(2);
            ref2 += (r as f64).powi(2);
        }
        DenseError {
            design: design.to_string(),
            max_abs_error: max,
            rel_l2_error: if ref2 > 0.0 {
                (err2 / ref2).sqrt()
            } else {
                0.0
            },
            sqnr_db: if err2 > 0.0 {
                10.0 * (ref2 / err2).log10()
            } else {
                f64::INFINITY
            },
        }
    }
}

/// Reads area ratios from a `smtgen compare` CSV: the `array x` column when
/// present, else `PE x`; keyed by design name.
pub fn read_area_ratios(path: &std::path::Path) -> Result<Vec<(String, f64)>> {
    let bytes = crate::guard::read_file_bounded(path, 1 << 20, "a compare CSV")?;
    let text = crate::operands::text_lines(&bytes, &path.display().to_string())?.join("\n");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "array x")
        .or_else(|| header.iter().position(|h| *h == "PE x"))
        .ok_or_else(|| Error::Input {
            file: path.display().to_string(),
            at: "header".into(),
            what: "no `array x` or `PE x` column (is it a smtgen compare CSV?)".into(),
        })?;
    // Every row names a design once and holds a finite positive ratio; a row
    // that does not is an error naming its line, not skipped.
    let mut out: Vec<(String, f64, usize)> = Vec::new();
    for (i, l) in lines.enumerate() {
        let line = i + 2;
        if l.trim().is_empty() {
            continue;
        }
        let bad = |what: String| Error::Input {
            file: path.display().to_string(),
            at: format!("line {line}"),
            what,
        };
        let f: Vec<&str> = l.split(',').collect();
        let name = f.first().map_or("", |n| n.trim());
        let cell = f.get(col).map(|c| c.trim()).unwrap_or("");
        let ratio: f64 = cell
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r > 0.0)
            .ok_or_else(|| {
                bad(format!(
                    "area ratio {} of {}: allowed a finite number above 0",
                    crate::guard::shown(cell),
                    crate::guard::shown(name)
                ))
            })?;
        if let Some((_, _, first)) = out.iter().find(|(n, _, _)| n == name) {
            return Err(bad(format!(
                "design {} again (first at line {first}): one row per design",
                crate::guard::shown(name)
            )));
        }
        out.push((name.to_string(), ratio, line));
    }
    Ok(out.into_iter().map(|(n, r, _)| (n, r)).collect())
}

/// The terminal / Markdown table of an evaluation.
pub fn eval_table(evals: &[DesignEval]) -> crate::report::Table {
    let mut t = crate::report::Table::new(&[
        "design",
        "T",
        "idle lanes",
        "active lanes/cycle (0..T)",
        "reduced",
        "max |err|",
        "mean |err|",
        "rel L2",
        "SQNR dB",
        "cycles",
        "speedup",
        "area x",
    ]);
    for e in evals {
        let total: u64 = e.active_histogram.iter().sum::<u64>().max(1);
        let hist = e
            .active_histogram
            .iter()
            .map(|&h| format!("{:.0}", 100.0 * h as f64 / total as f64))
            .collect::<Vec<_>>()
            .join("/");
        t.rows.push(vec![
            e.design.clone(),
            e.lanes.to_string(),
            format!("{:.1}%", 100.0 * e.idle_fraction),
            format!("{hist} %"),
            format!("{:.1}%", 100.0 * e.reduced_fraction),
            e.max_abs_error.to_string(),
            format!("{:.2}", e.mean_abs_error),
            format!("{:.2e}", e.rel_l2_error),
            if e.sqnr_db.is_finite() {
                format!("{:.1}", e.sqnr_db)
            } else {
                "exact".into()
            },
            e.cycles.to_string(),
            format!("{:.2}", e.speedup),
            e.area_ratio.map_or("-".into(), |a| format!("{a:.2}")),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_to_even() {
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(2.4), 2.0);
        assert_eq!(round_half_even(-2.5), -2.0);
    }

    #[test]
    fn quantizers_use_the_full_range() {
        let (q, s) = quantize_activations(&[0.0, 1.0, 2.5, 3.5, 255.0], "x").unwrap();
        assert_eq!(q, vec![0, 1, 2, 4, 255]);
        assert_eq!(s, 1.0);
        assert!(quantize_activations(&[1.0, -0.5], "x.npy")
            .unwrap_err()
            .to_string()
            .contains("flat index 1"));
        let (w, sc) = quantize_weights(&[1.0, -2.0, 0.5, 0.25], 2);
        assert_eq!(w, vec![64, -127, 127, 64]);
        assert_eq!(sc.len(), 2);
    }

    #[test]
    fn conv_lowering_matches_a_direct_convolution() {
        let s = ConvShape {
            n: 1,
            c: 3,
            h: 5,
            w: 4,
            o: 2,
            kh: 3,
            kw: 3,
            stride: 2,
            pad: 1,
        };
        let mut rng = Rng::new(2);
        let x: Vec<u8> = (0..s.n * s.c * s.h * s.w).map(|_| rng.byte()).collect();
        let wt: Vec<i8> = (0..s.o * s.c * s.kh * s.kw)
            .map(|_| rng.byte() as i8)
            .collect();
        let g = lower_conv(&s, &x, &wt);
        let c = exact_gemm(&g);
        let (oh, ow) = s.out_hw();
        for o in 0..s.o {
            for y in 0..oh {
                for xo in 0..ow {
                    let mut want = 0i64;
                    for ci in 0..s.c {
                        for ky in 0..s.kh {
                            for kx in 0..s.kw {
                                let iy = (y * s.stride + ky) as isize - 1;
                                let ix = (xo * s.stride + kx) as isize - 1;
                                if iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w
                                {
                                    want +=
                                        i64::from(x[(ci * s.h + iy as usize) * s.w + ix as usize])
                                            * i64::from(
                                                wt[((o * s.c + ci) * s.kh + ky) * s.kw + kx],
                                            );
                                }
                            }
                        }
                    }
                    assert_eq!(c[(y * ow + xo) * s.o + o], want);
                }
            }
        }
    }
}
