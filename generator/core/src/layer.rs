//! A network layer's integer work in one call (docs/numerics.md §8): the input's
//! quantization to unsigned 8 bits, the convolution's lowering in the contract's K
//! order (kernel-tap-major, input-channel-innermost) fused into the engine's
//! transform of A, the design's GEMM per group, and the dequantization into float
//! written straight into the output tensor (NCHW for a convolution).
//!
//! Every float operation is the one the reference recipe in `smtgen.torch` performs
//! in float64 (`x / Δx`, round half to even, clamp; `C · Δx · Δw[o] + bias`, then
//! one rounding to the output's type), so the result is bit-identical to lowering in
//! Python, calling `smtgen.gemm` and dequantizing there.

use crate::config::Design;
use crate::engine::rows::{gemm_rows, Rows, StageClock};
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Instant;

/// A convolution's geometry: input N×C×H×W (a 1-D convolution has H = 1, KH = 1,
/// stride, padding and dilation 1 / 0 along H), weights O×(C/groups)×KH×KW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
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
    /// Stride (along H, along W).
    pub stride: (usize, usize),
    /// Zero padding: top, bottom, left, right.
    pub pad: [usize; 4],
    /// Dilation (along H, along W).
    pub dilation: (usize, usize),
    /// Groups: input and output channels split into this many independent GEMMs.
    pub groups: usize,
}

impl ConvGeom {
    /// Checks the geometry: positive sizes, channels divisible by the groups, the
    /// dilated kernel within the padded input. Errors name the layer and the field.
    pub fn check(&self, layer: &str) -> Result<()> {
        let bad = |field: &str, v: String, allowed: &str| {
            Err(Error::config(
                format!("layer {layer:?}: {field}"),
                v,
                allowed,
            ))
        };
        if self.groups == 0
            || !self.c.is_multiple_of(self.groups)
            || !self.o.is_multiple_of(self.groups)
        {
            return bad(
                "groups",
                format!("{} (C = {}, O = {})", self.groups, self.c, self.o),
                "a positive divisor of both C and O",
            );
        }
        if self.stride.0 == 0 || self.stride.1 == 0 {
            return bad("stride", format!("{:?}", self.stride), "positive");
        }
        if self.dilation.0 == 0 || self.dilation.1 == 0 {
            return bad("dilation", format!("{:?}", self.dilation), "positive");
        }
        if self.kh == 0 || self.kw == 0 {
            return bad(
                "kernel",
                format!("{}x{}", self.kh, self.kw),
                "positive sizes",
            );
        }
        let eh = self.dilation.0 * (self.kh - 1) + 1;
        let ew = self.dilation.1 * (self.kw - 1) + 1;
        if self.h + self.pad[0] + self.pad[1] < eh || self.w + self.pad[2] + self.pad[3] < ew {
            return bad(
                "kernel",
                format!(
                    "{}x{} dilated to {eh}x{ew} on a {}x{} input padded by {:?}",
                    self.kh, self.kw, self.h, self.w, self.pad
                ),
                "a dilated kernel no larger than the padded input",
            );
        }
        Ok(())
    }

    /// Output height and width.
    pub fn out_hw(&self) -> (usize, usize) {
        let eh = self.dilation.0 * (self.kh - 1) + 1;
        let ew = self.dilation.1 * (self.kw - 1) + 1;
        (
            (self.h + self.pad[0] + self.pad[1] - eh) / self.stride.0 + 1,
            (self.w + self.pad[2] + self.pad[3] - ew) / self.stride.1 + 1,
        )
    }

    /// Input channels per group.
    pub fn cg(&self) -> usize {
        self.c / self.groups
    }

    /// Output channels per group.
    pub fn og(&self) -> usize {
        self.o / self.groups
    }

    /// The reduction length of one group's GEMM: taps × channels per group.
    pub fn k(&self) -> usize {
        self.kh * self.kw * self.cg()
    }

    /// Rows of each group's GEMM: output pixels over the batch.
    pub fn m(&self) -> usize {
        let (oh, ow) = self.out_hw();
        self.n * oh * ow
    }
}

/// Group `group`'s weights as the K×Og matrix of its GEMM (`k = tap · Cg + c`,
/// `tap = ky · KW + kx`), from O×Cg×KH×KW weights.
pub fn lower_weights(g: &ConvGeom, wq: &[i8], group: usize) -> Vec<i8> {
    let (cg, og, taps) = (g.cg(), g.og(), g.kh * g.kw);
    let mut w = vec![0i8; taps * cg * og];
    // One row of K (a tap and a channel) at a time, rows in parallel.
    w.par_chunks_mut(og.max(1))
        .enumerate()
        .for_each(|(k, row)| {
            let (tap, c) = (k / cg, k % cg);
            for (o, d) in row.iter_mut().enumerate() {
                *d = wq[((group * og + o) * cg + c) * taps + tap];
            }
        });
    w
}

/// Row `i` of group `group`'s lowered A (K bytes, every one written) from the
/// quantized input in N×H×W×C layout: output pixel `i` = (b, oy, ox), taps in
/// order, the group's channels innermost, zero where the tap falls in the padding.
pub fn lower_row(g: &ConvGeom, xq: &[u8], group: usize, i: usize, out: &mut [u8]) {
    let (oh, ow) = g.out_hw();
    let cg = g.cg();
    let (b, p) = (i / (oh * ow), i % (oh * ow));
    let (oy, ox) = (p / ow, p % ow);
    let img = &xq[b * g.h * g.w * g.c..(b + 1) * g.h * g.w * g.c];
    let c0 = group * cg;
    for ky in 0..g.kh {
        let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize - g.pad[0] as isize;
        let row_in = iy >= 0 && (iy as usize) < g.h;
        for kx in 0..g.kw {
            let dst = &mut out[(ky * g.kw + kx) * cg..(ky * g.kw + kx + 1) * cg];
            let ix = (ox * g.stride.1 + kx * g.dilation.1) as isize - g.pad[2] as isize;
            if row_in && ix >= 0 && (ix as usize) < g.w {
                let at = (iy as usize * g.w + ix as usize) * g.c + c0;
                dst.copy_from_slice(&img[at..at + cg]);
            } else {
                dst.fill(0);
            }
        }
    }
}

/// Group `group`'s whole lowered A (M×K), for tests and the unfused measurement.
pub fn lower_a(g: &ConvGeom, xq: &[u8], group: usize) -> Vec<u8> {
    let k = g.k();
    let mut a = vec![0u8; g.m() * k];
    a.par_chunks_mut(k.max(1))
        .enumerate()
        .for_each(|(i, row)| lower_row(g, xq, group, i, row));
    a
}

/// A float element the layer reads (float32 or float64 activations).
pub trait InElem: Copy + Send + Sync {
    /// The value in float64 (exact).
    fn f64(self) -> f64;
}
impl InElem for f32 {
    fn f64(self) -> f64 {
        f64::from(self)
    }
}
impl InElem for f64 {
    fn f64(self) -> f64 {
        self
    }
}

/// A float element the layer writes (float32 or float64).
pub trait OutElem: Copy + Send + Sync {
    /// The float64 value rounded to this type (nearest, ties to even).
    fn from_f64(v: f64) -> Self;
}
impl OutElem for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
impl OutElem for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// Quantizes an N×C×HW input to unsigned 8 bits, `clamp(round_half_even(x / dx),
/// 0, 255)`, laid out N×HW×C (channel innermost, the lowering's order). A NaN,
/// an infinity or a negative value is an error naming the layer, the value and its
/// index (activations are unsigned: post-ReLU).
pub fn quantize_nhwc<X: InElem>(
    x: &[X],
    (n, c, hw): (usize, usize, usize),
    dx: f64,
    layer: &str,
) -> Result<Vec<u8>> {
    assert_eq!(x.len(), n * c * hw, "x must hold N x C x HW values");
    if !(dx.is_finite() && dx > 0.0) {
        return Err(Error::config(
            format!("layer {layer:?}: activation scale"),
            dx,
            "a positive finite scale (calibrate the layer first)",
        ));
    }
    let mut out = vec![0u8; n * c * hw];
    let per = (c * hw).max(1);
    // Tiles of pixels keep the channel-innermost writes within a few KB (L1).
    const TILE: usize = 64;
    // The first bad value in flat order, if any.
    let bad = out
        .par_chunks_mut(per)
        .enumerate()
        .map(|(b, img)| {
            let src = &x[b * c * hw..(b + 1) * c * hw];
            let mut first: Option<usize> = None;
            for p0 in (0..hw).step_by(TILE) {
                let p1 = (p0 + TILE).min(hw);
                for ch in 0..c {
                    for (p, &v) in src[ch * hw + p0..ch * hw + p1].iter().enumerate() {
                        let v = v.f64();
                        // NaN fails every comparison; -0.0 passes, as it does in torch.
                        if !(0.0..f64::INFINITY).contains(&v) {
                            let i = b * c * hw + ch * hw + p0 + p;
                            first = Some(first.map_or(i, |f: usize| f.min(i)));
                            continue;
                        }
                        img[(p0 + p) * c + ch] = quantize_one(v / dx);
                    }
                }
            }
            first
        })
        .reduce(|| None, |a, b| a.or(b));
    if let Some(i) = bad {
        let v = x[i].f64();
        let what = if v.is_nan() {
            "NaN"
        } else if v.is_infinite() {
            "an infinite input"
        } else {
            "a negative input"
        };
        let (b, ch, p) = (i / (c * hw), i / hw % c, i % hw);
        return Err(Error::config(
            format!("layer {layer:?}: input"),
            format!("{what} ({v}) at flat index {i} (sample {b}, channel {ch}, position {p})"),
            "finite non-negative activations (unsigned 8-bit, post-ReLU)",
        ));
    }
    Ok(out)
}

/// `clamp(round_half_even(q), 0, 255)` for `q >= 0` (not NaN): adding and
/// subtracting 2^52 rounds a non-negative double below 2^52 to an integer, ties to
/// even, in the default rounding mode (no libm call on a baseline x86-64 target).
#[inline]
fn quantize_one(q: f64) -> u8 {
    const TWO52: f64 = 4_503_599_627_370_496.0;
    if q >= 255.0 {
        255
    } else {
        ((q + TWO52) - TWO52) as u8
    }
}

/// What a layer's dequantization needs: `y[o] = C · dx · dw[o] (+ bias[o])`.
#[derive(Debug, Clone, Copy)]
pub struct Dequant<'a> {
    /// The activation scale Δx.
    pub dx: f64,
    /// The per-output-channel weight scales Δw.
    pub dw: &'a [f64],
    /// The bias per output channel, in float64 (none: nothing is added).
    pub bias: Option<&'a [f64]>,
}

impl Dequant<'_> {
    #[inline]
    fn apply<Y: OutElem>(&self, c: i64, o: usize) -> Y {
        let v = c as f64 * self.dx * self.dw[o];
        Y::from_f64(match self.bias {
            Some(b) => v + b[o],
            None => v,
        })
    }
}

/// The design a layer runs under: the exact int8 layer (no accumulator wrap), or a
/// design point.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    /// The exact integer GEMM (the baseline design's, without its wrap).
    Exact,
    /// A design point.
    Design(&'a Design),
}

fn baseline() -> &'static Design {
    static BASE: OnceLock<Design> = OnceLock::new();
    BASE.get_or_init(|| Design::preset("baseline").expect("the baseline preset is valid"))
}

/// Time per stage of one layer call, in seconds: `quantize` and `wall` are wall
/// time; `lower`, `transform`, `gemm` and `dequantize` are CPU time summed over the
/// engine's threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerTimes {
    /// Quantizing the input (wall).
    pub quantize: f64,
    /// Producing the rows of A (CPU).
    pub lower: f64,
    /// The design's transform of A and the plan (CPU).
    pub transform: f64,
    /// The exact integer GEMM (CPU).
    pub gemm: f64,
    /// Dequantizing into the output (CPU).
    pub dequantize: f64,
    /// The whole call (wall).
    pub wall: f64,
}

impl LayerTimes {
    fn set_from_clock(&mut self, c: &StageClock) {
        let s = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64 * 1e-9;
        self.lower = s(&c.lower);
        self.transform = s(&c.transform);
        self.gemm = s(&c.gemm);
        self.dequantize = s(&c.sink);
    }
}

/// Raw output pointer shared by the engine's threads; each index is written by
/// exactly one block.
struct SharedOut<Y>(*mut Y, usize);
// SAFETY: the blocks write disjoint indices (see `put`), and the buffer outlives
// the engine call that uses it.
unsafe impl<Y: Send> Sync for SharedOut<Y> {}
impl<Y> SharedOut<Y> {
    /// # Safety
    /// `i < len`, and no other thread writes or reads index `i` meanwhile.
    #[inline]
    unsafe fn put(&self, i: usize, v: Y) {
        assert!(i < self.1);
        // SAFETY: in bounds (checked), exclusive per the contract above.
        unsafe { self.0.add(i).write(v) }
    }
}

fn two_four(mode: Mode<'_>, w: &[i8], k: usize, n: usize, what: &str) -> Result<()> {
    if let Mode::Design(cfg) = mode {
        if cfg.dp().requires_2_4() {
            crate::sparse::check_2_4(w, k, n, what)?;
        }
    }
    Ok(())
}

/// A convolution layer: `x` N×C×H×W float, `wq` O×Cg×KH×KW int8, the output
/// N×O×OH×OW written into `out` (every element). `jobs == 0`: every core. Returns
/// the time per stage.
#[allow(clippy::too_many_arguments)]
pub fn conv_forward<X: InElem, Y: OutElem>(
    mode: Mode<'_>,
    g: &ConvGeom,
    x: &[X],
    wq: &[i8],
    dq: &Dequant<'_>,
    out: &mut [Y],
    layer: &str,
    jobs: usize,
) -> Result<LayerTimes> {
    let t0 = Instant::now();
    g.check(layer)?;
    let (oh, ow) = g.out_hw();
    let (og, k, m, p) = (g.og(), g.k(), g.m(), oh * ow);
    assert_eq!(
        wq.len(),
        g.o * k,
        "w must hold O x C/groups x KH x KW values"
    );
    assert_eq!(
        out.len(),
        g.n * g.o * p,
        "out must hold N x O x OH x OW values"
    );
    assert_eq!(dq.dw.len(), g.o, "one weight scale per output channel");
    let wgs: Vec<Vec<i8>> = (0..g.groups).map(|gi| lower_weights(g, wq, gi)).collect();
    for (gi, w) in wgs.iter().enumerate() {
        let what = format!("layer {layer:?} group {gi} weights (as K x O, k = tap * C + c)");
        two_four(mode, w, k, og, &what)?;
    }
    let mut times = LayerTimes::default();
    let xq = crate::engine::run_pool(jobs, || {
        quantize_nhwc(x, (g.n, g.c, g.h * g.w), dq.dx, layer)
    })?;
    times.quantize = t0.elapsed().as_secs_f64();
    let clock = StageClock::default();
    let (cfg, exact) = match mode {
        Mode::Exact => (baseline(), true),
        Mode::Design(c) => (c, false),
    };
    let dst = SharedOut(out.as_mut_ptr(), out.len());
    for (gi, w) in wgs.iter().enumerate() {
        let fill = |i: usize, row: &mut [u8]| lower_row(g, &xq, gi, i, row);
        let sink = |r0: usize, rows: usize, c: &[i64]| {
            // Runs of consecutive pixels of one image: per channel, one contiguous
            // stretch of the output plane.
            let mut r = 0;
            while r < rows {
                let i = r0 + r;
                let (b, pix) = (i / p, i % p);
                let run = (p - pix).min(rows - r);
                for oo in 0..og {
                    let o = gi * og + oo;
                    let base = (b * g.o + o) * p + pix;
                    for j in 0..run {
                        // SAFETY: rows r0..r0 + rows (all channels) are this block's alone.
                        unsafe { dst.put(base + j, dq.apply(c[(r + j) * og + oo], o)) };
                    }
                }
                r += run;
            }
        };
        gemm_rows(
            cfg,
            exact,
            (m, k, og),
            Rows::Fill(&fill),
            w,
            jobs,
            &sink,
            Some(&clock),
        );
    }
    times.set_from_clock(&clock);
    times.wall = t0.elapsed().as_secs_f64();
    Ok(times)
}

/// A linear layer: `x` rows×I float, `wq` O×I int8 (torch's layout), the output
/// rows×O written into `out`. Returns the time per stage.
#[allow(clippy::too_many_arguments)]
pub fn linear_forward<X: InElem, Y: OutElem>(
    mode: Mode<'_>,
    (rows, i_f, o_f): (usize, usize, usize),
    x: &[X],
    wq: &[i8],
    dq: &Dequant<'_>,
    out: &mut [Y],
    layer: &str,
    jobs: usize,
) -> Result<LayerTimes> {
    let t0 = Instant::now();
    assert_eq!(x.len(), rows * i_f, "x must hold rows x I values");
    assert_eq!(wq.len(), o_f * i_f, "w must hold O x I values");
    assert_eq!(out.len(), rows * o_f, "out must hold rows x O values");
    assert_eq!(dq.dw.len(), o_f, "one weight scale per output feature");
    let mut w = vec![0i8; i_f * o_f];
    for o in 0..o_f {
        for i in 0..i_f {
            w[i * o_f + o] = wq[o * i_f + i];
        }
    }
    two_four(
        mode,
        &w,
        i_f,
        o_f,
        &format!("layer {layer:?} weights (as I x O)"),
    )?;
    let mut times = LayerTimes::default();
    let xq = crate::engine::run_pool(jobs, || quantize_nhwc(x, (rows, i_f, 1), dq.dx, layer))?;
    times.quantize = t0.elapsed().as_secs_f64();
    let clock = StageClock::default();
    let (cfg, exact) = match mode {
        Mode::Exact => (baseline(), true),
        Mode::Design(c) => (c, false),
    };
    let dst = SharedOut(out.as_mut_ptr(), out.len());
    let sink = |r0: usize, nrows: usize, c: &[i64]| {
        for (j, &v) in c[..nrows * o_f].iter().enumerate() {
            // SAFETY: rows r0..r0 + nrows are this block's alone.
            unsafe { dst.put(r0 * o_f + j, dq.apply(v, j % o_f)) };
        }
    };
    gemm_rows(
        cfg,
        exact,
        (rows, i_f, o_f),
        Rows::Slice(&xq),
        &w,
        jobs,
        &sink,
        Some(&clock),
    );
    times.set_from_clock(&clock);
    times.wall = t0.elapsed().as_secs_f64();
    Ok(times)
}

/// 2:4 pruning of float weights along K (the rule of [`crate::sparse::prune_2_4`]
/// on magnitudes): `vectors` vectors of `k` values, value `kk` of vector `v` at
/// `w[index(v, kk)]`; in each group of four consecutive `kk` the two largest |w|
/// stay (ties to the lower `kk`) and the rest become zero. Returns how many
/// non-zero weights it zeroed; a NaN weight is an error naming its index.
pub fn prune_2_4_f64(
    w: &mut [f64],
    vectors: usize,
    k: usize,
    index: impl Fn(usize, usize) -> usize,
) -> Result<usize> {
    if let Some(i) = w.iter().position(|v| v.is_nan()) {
        return Err(Error::config(
            "w",
            format!("NaN at flat index {i}"),
            "finite weights",
        ));
    }
    let mut zeroed = 0;
    for v in 0..vectors {
        for g0 in (0..k).step_by(4) {
            let mut ks: Vec<usize> = (g0..(g0 + 4).min(k)).collect();
            // Largest |w| first; the stable sort keeps lower k first among equals.
            ks.sort_by(|&a, &b| w[index(v, b)].abs().total_cmp(&w[index(v, a)].abs()));
            for &kk in ks.iter().skip(2) {
                let i = index(v, kk);
                if w[i] != 0.0 {
                    w[i] = 0.0;
                    zeroed += 1;
                }
            }
        }
    }
    Ok(zeroed)
}

/// An integer result element: the wrapped accumulator value (it fits: int32 is
/// used only when the accumulator is at most 32 bits wide).
pub trait IntOut: Copy + Send + Sync {
    /// The (already wrapped) value.
    fn from_acc(v: i64) -> Self;
}
impl IntOut for i32 {
    fn from_acc(v: i64) -> Self {
        v as i32
    }
}
impl IntOut for i64 {
    fn from_acc(v: i64) -> Self {
        v
    }
}

/// `C = A·W` under `mode` with borrowed operands (A M×K, W K×N, row-major),
/// written into `out` (M×N, row-major): [`crate::engine::gemm`]'s result without
/// an intermediate matrix. `jobs == 0`: every core.
pub fn gemm_into<Y: IntOut>(
    mode: Mode<'_>,
    (m, k, n): (usize, usize, usize),
    a: &[u8],
    w: &[i8],
    out: &mut [Y],
    jobs: usize,
) {
    assert_eq!(out.len(), m * n, "out must hold M x N values");
    let (cfg, exact) = match mode {
        Mode::Exact => (baseline(), true),
        Mode::Design(c) => (c, false),
    };
    let dst = SharedOut(out.as_mut_ptr(), out.len());
    let sink = |r0: usize, rows: usize, c: &[i64]| {
        for (j, &v) in c[..rows * n].iter().enumerate() {
            // SAFETY: rows r0..r0 + rows are this block's alone.
            unsafe { dst.put(r0 * n + j, Y::from_acc(v)) };
        }
    };
    gemm_rows(cfg, exact, (m, k, n), Rows::Slice(a), w, jobs, &sink, None);
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
