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
use crate::engine::rows::{gemm_prepared, gemm_rows, Rows, StageClock};
use crate::error::{Error, Result};
use crate::model::wrap;
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
/// index (activations are unsigned: post-ReLU). Tiles of pixels of every image run
/// in parallel on the current pool.
pub fn quantize_nhwc<X: InElem>(
    x: &[X],
    (n, c, hw): (usize, usize, usize),
    dx: f64,
    layer: &str,
) -> Result<Vec<u8>> {
    check_len(
        layer,
        "x",
        x.len(),
        n * c * hw,
        &format!("N x C x HW = {n} x {c} x {hw}"),
    )?;
    if !(dx.is_finite() && dx > 0.0) {
        return Err(Error::config(
            format!("layer {layer:?}: activation scale"),
            dx,
            "a positive finite scale (calibrate the layer first)",
        ));
    }
    let mut out = vec![0u8; n * c * hw];
    if out.is_empty() {
        return Ok(out);
    }
    // Tiles of pixels keep the transposition within a few KB (L1); every tile of
    // every image is one task.
    let tile = QTILE.min(hw);
    let simd = QuantSimd::detect();
    let any_bad = out
        .par_chunks_mut(c * hw)
        .enumerate()
        .flat_map(|(b, img)| {
            img.par_chunks_mut(tile * c)
                .enumerate()
                .map(move |(t, dst)| (b, t, dst))
        })
        .map_init(
            || vec![0u8; c * tile],
            |tmp, (b, t, dst)| {
                let p0 = t * tile;
                let np = dst.len() / c;
                let mut ok = true;
                for ch in 0..c {
                    let src = &x[(b * c + ch) * hw + p0..(b * c + ch) * hw + p0 + np];
                    ok &= quantize_run(simd, src, dx, &mut tmp[ch * tile..ch * tile + np]);
                }
                transpose_tile(tmp, tile, dst, c, np);
                !ok
            },
        )
        .reduce(|| false, |a, b| a || b);
    if any_bad {
        // The first bad value in flat order (a rare path: scan once, serially).
        let i = x
            .iter()
            .position(|v| !(0.0..f64::INFINITY).contains(&v.f64()))
            .unwrap_or(0);
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

/// An error naming the layer and the argument a caller passed wrong: its value
/// and what is allowed (the crate's [`Error::config`] form).
fn arg_error(layer: &str, arg: &str, value: impl std::fmt::Display, allowed: String) -> Error {
    Error::config(format!("layer {layer:?}: {arg}"), value, allowed)
}

/// An error unless argument `arg` holds `want` values (`what`: the shape that
/// makes them, as in `N x C x HW = 1 x 3 x 16`).
fn check_len(layer: &str, arg: &str, len: usize, want: usize, what: &str) -> Result<()> {
    if len == want {
        return Ok(());
    }
    Err(arg_error(
        layer,
        arg,
        format!("{len} values"),
        format!("{what} = {want} values"),
    ))
}

/// An error unless `dq` holds one weight scale (and, when given, one bias) per
/// output channel, `o` of them.
fn check_dequant(layer: &str, dq: &Dequant<'_>, o: usize) -> Result<()> {
    let what = format!("one per output channel: O = {o}");
    check_len(layer, "dw", dq.dw.len(), o, &what)?;
    match dq.bias {
        Some(b) => check_len(layer, "bias", b.len(), o, &what),
        None => Ok(()),
    }
}

/// Pixels per quantization tile.
const QTILE: usize = 256;

/// `dst[p·c + ch] = src[ch·stride + p]` for `p < np`, `ch < c`: a channel-major tile
/// to pixel-major (channel innermost), in blocks of 8×8 bytes transposed in two
/// 64-bit words' worth of shifts and masks; the ragged edges byte by byte.
fn transpose_tile(src: &[u8], stride: usize, dst: &mut [u8], c: usize, np: usize) {
    let (c8, p8) = (c / 8 * 8, np / 8 * 8);
    for p0 in (0..p8).step_by(8) {
        for ch0 in (0..c8).step_by(8) {
            // Row r of the block: 8 pixels of channel ch0 + r, one byte each.
            let mut r = [0u64; 8];
            for (i, v) in r.iter_mut().enumerate() {
                let o = (ch0 + i) * stride + p0;
                *v = u64::from_le_bytes(src[o..o + 8].try_into().expect("8 bytes"));
            }
            let t = transpose8(r);
            for (j, v) in t.iter().enumerate() {
                let o = (p0 + j) * c + ch0;
                dst[o..o + 8].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    for p in 0..np {
        let from = if p < p8 { c8 } else { 0 };
        for ch in from..c {
            dst[p * c + ch] = src[ch * stride + p];
        }
    }
}

/// Transposes an 8×8 byte matrix held as 8 little-endian rows: byte `j` of row
/// `i` becomes byte `i` of row `j`.
#[inline(always)]
fn transpose8(r: [u64; 8]) -> [u64; 8] {
    // Three rounds swap 4×4, 2×2 and 1×1 blocks across the diagonal.
    let mut r = r;
    for (half, mask) in [
        (4usize, 0x0000_0000_ffff_ffffu64),
        (2, 0x0000_ffff_0000_ffff),
        (1, 0x00ff_00ff_00ff_00ff),
    ] {
        let sh = (8 * half) as u32;
        for blk in (0..8).step_by(2 * half) {
            for i in blk..blk + half {
                let (a, b) = (r[i], r[i + half]);
                r[i] = (a & mask) | ((b & mask) << sh);
                r[i + half] = ((a >> sh) & mask) | (b & !mask);
            }
        }
    }
    r
}

/// Which vector unit the layer's elementwise loops (quantization, dequantization)
/// run on (detected once per call).
#[derive(Clone, Copy)]
enum QuantSimd {
    None,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl QuantSimd {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return QuantSimd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return QuantSimd::Avx2;
            }
        }
        QuantSimd::None
    }
}

/// `dst[i] = clamp(round_half_even(src[i] / dx), 0, 255)`; false when some value
/// is NaN, infinite or negative (its byte is then meaningless). The same scalar
/// code compiled for the vector unit at hand: IEEE division and additions are
/// exact-rounded in every width, so the bytes do not depend on it.
#[inline]
fn quantize_run<X: InElem>(simd: QuantSimd, src: &[X], dx: f64, dst: &mut [u8]) -> bool {
    match simd {
        // SAFETY: the features were detected at run time (QuantSimd::detect).
        #[cfg(target_arch = "x86_64")]
        QuantSimd::Avx512 => unsafe { quantize_run_avx512(src, dx, dst) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        QuantSimd::Avx2 => unsafe { quantize_run_avx2(src, dx, dst) },
        QuantSimd::None => quantize_run_body(src, dx, dst),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn quantize_run_avx512<X: InElem>(src: &[X], dx: f64, dst: &mut [u8]) -> bool {
    quantize_run_body(src, dx, dst)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_run_avx2<X: InElem>(src: &[X], dx: f64, dst: &mut [u8]) -> bool {
    quantize_run_body(src, dx, dst)
}

// The non-short-circuit `&` keeps the loop branch-free (vectorizable).
#[allow(clippy::manual_range_contains)]
#[inline(always)]
fn quantize_run_body<X: InElem>(src: &[X], dx: f64, dst: &mut [u8]) -> bool {
    let mut ok = true;
    for (d, &v) in dst.iter_mut().zip(src) {
        let v = v.f64();
        // NaN fails both comparisons; -0.0 passes, as it does in torch.
        ok &= (v >= 0.0) & (v < f64::INFINITY);
        *d = quantize_one(v / dx);
    }
    ok
}

/// `clamp(round_half_even(q), 0, 255)` for `q >= 0` (not NaN): adding 2^52 rounds a
/// non-negative double below 2^52 to an integer, ties to even, in the default
/// rounding mode, and leaves that integer in the low bits of the sum's mantissa
/// (2^52's are zero), where the byte is read. No libm call and no float-to-int
/// conversion (Rust's saturating `as` compiles to scalar code): branch-free, so it
/// vectorizes. `q` past 255 gives 255; NaN or negative (the caller reports those)
/// gives some byte.
#[inline(always)]
fn quantize_one(q: f64) -> u8 {
    const TWO52: f64 = 4_503_599_627_370_496.0;
    (q.min(255.0) + TWO52).to_bits() as u8
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
    /// `out[j] = (c[j·stride] · dx) · dw[o] (+ bias[o])` in float64, rounded once to
    /// `Y`, for every `j`: one output channel's run of pixels from a row-major block
    /// of C (`stride` values per row).
    #[inline]
    fn column<Y: OutElem>(
        &self,
        simd: QuantSimd,
        c: &[i64],
        stride: usize,
        o: usize,
        out: &mut [Y],
    ) {
        assert!(out.is_empty() || (out.len() - 1) * stride < c.len());
        let (dx, dw, b) = (self.dx, self.dw[o], self.bias.map(|b| b[o]));
        match simd {
            // SAFETY: the features were detected at run time; `c` holds the run
            // (checked above).
            #[cfg(target_arch = "x86_64")]
            QuantSimd::Avx512 => unsafe { column_avx512(c, stride, dx, dw, b, out) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            QuantSimd::Avx2 => unsafe { column_avx2(c, stride, dx, dw, b, out) },
            // SAFETY: `c` holds the run (checked above).
            QuantSimd::None => unsafe { column_body(c, stride, dx, dw, b, out) },
        }
    }

    /// `out[j] = (c[j] · dx) · dw[j] (+ bias[j])`, as [`Dequant::column`], for the
    /// `out.len()` channels of one row.
    #[inline]
    fn row<Y: OutElem>(&self, simd: QuantSimd, c: &[i64], out: &mut [Y]) {
        let n = out.len();
        let (c, dw) = (&c[..n], &self.dw[..n]);
        let b = self.bias.map(|b| &b[..n]);
        match simd {
            // SAFETY: the features were detected at run time.
            #[cfg(target_arch = "x86_64")]
            QuantSimd::Avx512 => unsafe { row_avx512(c, self.dx, dw, b, out) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            QuantSimd::Avx2 => unsafe { row_avx2(c, self.dx, dw, b, out) },
            QuantSimd::None => row_body(c, self.dx, dw, b, out),
        }
    }
}

// The same scalar code compiled for each vector unit: IEEE products, sums and
// conversions are exactly rounded in every width, so the values do not depend on
// it. The order of operations is the contract's: `(c·dx)·dw`, then the bias.

/// # Safety
/// `c` must hold `(out.len() - 1) * stride + 1` values (when `out` is not empty).
#[inline(always)]
unsafe fn column_body<Y: OutElem>(
    c: &[i64],
    stride: usize,
    dx: f64,
    dw: f64,
    bias: Option<f64>,
    out: &mut [Y],
) {
    // SAFETY (both loops): j·stride < c.len() for j < out.len(), per the contract.
    match bias {
        Some(b) => {
            for (j, y) in out.iter_mut().enumerate() {
                let v = unsafe { *c.get_unchecked(j * stride) };
                *y = Y::from_f64(v as f64 * dx * dw + b);
            }
        }
        None => {
            for (j, y) in out.iter_mut().enumerate() {
                let v = unsafe { *c.get_unchecked(j * stride) };
                *y = Y::from_f64(v as f64 * dx * dw);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn column_avx512<Y: OutElem>(
    c: &[i64],
    stride: usize,
    dx: f64,
    dw: f64,
    bias: Option<f64>,
    out: &mut [Y],
) {
    // SAFETY: the caller's contract.
    unsafe { column_body(c, stride, dx, dw, bias, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn column_avx2<Y: OutElem>(
    c: &[i64],
    stride: usize,
    dx: f64,
    dw: f64,
    bias: Option<f64>,
    out: &mut [Y],
) {
    // SAFETY: the caller's contract.
    unsafe { column_body(c, stride, dx, dw, bias, out) }
}

#[inline(always)]
fn row_body<Y: OutElem>(c: &[i64], dx: f64, dw: &[f64], bias: Option<&[f64]>, out: &mut [Y]) {
    match bias {
        Some(b) => {
            for (((y, &v), &w), &b) in out.iter_mut().zip(c).zip(dw).zip(b) {
                *y = Y::from_f64(v as f64 * dx * w + b);
            }
        }
        None => {
            for ((y, &v), &w) in out.iter_mut().zip(c).zip(dw) {
                *y = Y::from_f64(v as f64 * dx * w);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn row_avx512<Y: OutElem>(
    c: &[i64],
    dx: f64,
    dw: &[f64],
    bias: Option<&[f64]>,
    out: &mut [Y],
) {
    row_body(c, dx, dw, bias, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2<Y: OutElem>(
    c: &[i64],
    dx: f64,
    dw: &[f64],
    bias: Option<&[f64]>,
    out: &mut [Y],
) {
    row_body(c, dx, dw, bias, out)
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
    /// Preparing the weights (wall; zero when they were prepared beforehand).
    pub prepare: f64,
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
    /// Elements `i..i + len` as a slice.
    ///
    /// # Safety
    /// No other thread writes or reads those elements while the slice lives.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    unsafe fn run(&self, i: usize, len: usize) -> &mut [Y] {
        assert!(i + len <= self.1);
        // SAFETY: in bounds (checked), exclusive per the contract above.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(i), len) }
    }

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

/// What a prepared layer's weights are: a convolution's O×Cg×KH×KW with its
/// groups, or a linear layer's O×I.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeightShape {
    Conv {
        o: usize,
        cg: usize,
        kh: usize,
        kw: usize,
        groups: usize,
    },
    Linear {
        i: usize,
        o: usize,
    },
}

impl std::fmt::Display for WeightShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            WeightShape::Conv {
                o,
                cg,
                kh,
                kw,
                groups,
            } => write!(
                f,
                "a convolution's, O x C/groups x KH x KW = {o} x {cg} x {kh} x {kw}, \
                 groups = {groups}"
            ),
            WeightShape::Linear { i, o } => write!(f, "a linear layer's, O x I = {o} x {i}"),
        }
    }
}

/// One group's prepared weights: the engine's packed form, or, for a group of one
/// output channel (a depthwise convolution), the transformed weight column and the
/// plan that transforms a row of A (see [`conv_forward_prepared`]).
enum GroupW {
    Packed(crate::engine::rows::PreparedW),
    Column(Box<Column>),
}

/// A one-column GEMM's plan, whether it is the identity, and its transformed
/// weights W' (K' values; the weights themselves when the plan is the identity).
struct Column {
    plan: crate::engine::Plan,
    identity: bool,
    w: Vec<i8>,
}

/// A layer's weights prepared once for the engine under one design: lowered per
/// group, checked (2:4 when the design needs it), planned, transformed and packed.
/// [`PreparedLayer::matches`] tells whether it still fits a call's design and
/// weights (it keeps a copy of the weights to compare with), so a cache of it can
/// never give a stale result.
pub struct PreparedLayer {
    design: Option<Design>,
    kernel: crate::engine::Kernel,
    shape: WeightShape,
    wq: Vec<i8>,
    groups: Vec<GroupW>,
    /// A depthwise layer under a design whose plan is not the identity: the rule
    /// applied over channels at once (see [`DwVec`]).
    dw: Option<Box<DwVec>>,
    acc_width: u32,
}

fn mode_parts(mode: Mode<'_>) -> (&Design, bool) {
    match mode {
        Mode::Exact => (baseline(), true),
        Mode::Design(c) => (c, false),
    }
}

impl PreparedLayer {
    /// Prepares a convolution's weights (`wq` O×Cg×KH×KW int8) for `g`'s groups.
    /// `jobs == 0`: every core.
    pub fn conv(
        mode: Mode<'_>,
        g: &ConvGeom,
        wq: &[i8],
        layer: &str,
        jobs: usize,
    ) -> Result<PreparedLayer> {
        g.check(layer)?;
        let (og, k) = (g.og(), g.k());
        check_len(
            layer,
            "w",
            wq.len(),
            g.o * k,
            &format!(
                "O x C/groups x KH x KW = {} x {} x {} x {}",
                g.o,
                g.cg(),
                g.kh,
                g.kw
            ),
        )?;
        let (cfg, exact) = mode_parts(mode);
        let one_column = og == 1 && g.cg() == 1 && g.groups > 1;
        let groups = crate::engine::run_pool(jobs, || {
            (0..g.groups)
                .into_par_iter()
                .map(|gi| -> Result<GroupW> {
                    let w = lower_weights(g, wq, gi);
                    let what =
                        format!("layer {layer:?} group {gi} weights (as K x O, k = tap * C + c)");
                    two_four(mode, &w, k, og, &what)?;
                    Ok(if one_column {
                        GroupW::Column(Box::new(Column::new(cfg, &w, k)))
                    } else {
                        GroupW::Packed(crate::engine::rows::PreparedW::new(
                            cfg,
                            exact,
                            &w,
                            (k, og),
                            jobs,
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(PreparedLayer {
            design: (!exact).then(|| cfg.clone()),
            kernel: crate::engine::env_kernel(),
            shape: WeightShape::Conv {
                o: g.o,
                cg: g.cg(),
                kh: g.kh,
                kw: g.kw,
                groups: g.groups,
            },
            dw: if one_column {
                DwVec::new(&groups, wq, g.kh * g.kw)
            } else {
                None
            },
            wq: wq.to_vec(),
            groups,
            acc_width: if exact { 64 } else { cfg.pe.acc_width },
        })
    }

    /// Prepares a linear layer's weights (`wq` O×I int8, torch's layout).
    pub fn linear(
        mode: Mode<'_>,
        (i_f, o_f): (usize, usize),
        wq: &[i8],
        layer: &str,
        jobs: usize,
    ) -> Result<PreparedLayer> {
        check_len(
            layer,
            "w",
            wq.len(),
            o_f * i_f,
            &format!("O x I = {o_f} x {i_f}"),
        )?;
        let (cfg, exact) = mode_parts(mode);
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
        let p = crate::engine::rows::PreparedW::new(cfg, exact, &w, (i_f, o_f), jobs);
        Ok(PreparedLayer {
            design: (!exact).then(|| cfg.clone()),
            kernel: p.kernel(),
            shape: WeightShape::Linear { i: i_f, o: o_f },
            wq: wq.to_vec(),
            groups: vec![GroupW::Packed(p)],
            dw: None,
            acc_width: if exact { 64 } else { cfg.pe.acc_width },
        })
    }

    /// Whether this preparation is the one `mode` and these weights would give: the
    /// same design (or both exact), the same kernel, the same weight shape (a
    /// convolution's `g`, or, when `g` is None, a linear layer's I×O `io`) and the
    /// same weights.
    pub fn matches(
        &self,
        mode: Mode<'_>,
        g: Option<&ConvGeom>,
        io: (usize, usize),
        wq: &[i8],
    ) -> bool {
        let same_mode = match (mode, &self.design) {
            (Mode::Exact, None) => true,
            (Mode::Design(d), Some(e)) => d == e,
            _ => false,
        };
        let same_shape = match (g, self.shape) {
            (
                Some(g),
                WeightShape::Conv {
                    o,
                    cg,
                    kh,
                    kw,
                    groups,
                },
            ) => (g.o, g.cg(), g.kh, g.kw, g.groups) == (o, cg, kh, kw, groups),
            (None, WeightShape::Linear { i, o }) => (i, o) == io,
            _ => false,
        };
        same_mode
            && same_shape
            && self.kernel == crate::engine::env_kernel()
            && self.wq.as_slice() == wq
    }

    /// The weights (int8, as given) this preparation is for.
    pub fn weights(&self) -> &[i8] {
        &self.wq
    }
}

impl Column {
    fn new(cfg: &Design, w: &[i8], k: usize) -> Column {
        let wv = crate::engine::plan::Weights { k, n: 1, w };
        let plan = crate::engine::Plan::for_weights(cfg, &wv);
        let wt = plan.transformed_weights(&wv);
        let identity = plan.is_identity(k);
        Column {
            identity,
            plan,
            w: wt,
        }
    }
}

/// A depthwise layer's weights laid out for applying the design's rule to every
/// channel at once ([`crate::engine::plan::LaneRule`]): per group of T taps and
/// lane, each channel's weight and `nib4` of it (0 for an unselected 2:4 lane and
/// past the last tap), and per group each channel's lanes that count towards the
/// active count. Used when some channel's plan is not the identity (then for every
/// channel): it computes what the plan's transform of the row followed by the dot
/// product with the transformed weights computes, for all channels.
struct DwVec {
    t: usize,
    rule: crate::engine::plan::LaneRule,
    /// `[(gi * t + l) * c + ch]`.
    w: Vec<i16>,
    /// `[(gi * t + l) * c + ch]`.
    wn: Vec<i16>,
    /// `[gi * c + ch]`: bit `l` set when lane `l` counts.
    counted: Vec<u8>,
}

impl DwVec {
    /// None when every channel's plan is the identity (the exact dot product then
    /// runs, see [`columns_forward`]).
    fn new(groups: &[GroupW], wq: &[i8], taps: usize) -> Option<Box<DwVec>> {
        let cols: Vec<&Column> = groups
            .iter()
            .filter_map(|gw| match gw {
                GroupW::Column(c) => Some(c.as_ref()),
                GroupW::Packed(_) => None,
            })
            .collect();
        let first = cols.first()?;
        if cols.len() != groups.len() || cols.iter().all(|c| c.identity) {
            return None;
        }
        let mut rule = first.plan.lane_rule();
        let t = first.plan.lanes();
        // A lane whose activation is zero gives 0 (the plan's transform gives it the
        // zero table): the tables the pass reads the input through say so (the
        // spec's windows and the identity map 0 to 0 already).
        rule.t2[0] = 0;
        rule.t3[0] = 0;
        // Under a weight test a zero weight's lane gives 0 whatever its table: the
        // plan relies on nib4(0) = 0 (spec §4), as does this pass.
        assert_eq!(rule.nib4[0], 0, "nib4(0) is 0");
        let c = cols.len();
        let ng = taps.div_ceil(t);
        let mut w = vec![0i16; ng * t * c];
        let mut wn = vec![0i16; ng * t * c];
        let mut counted = vec![0u8; ng * c];
        for ch in 0..c {
            let wc = &wq[ch * taps..(ch + 1) * taps];
            for gi in 0..ng {
                let wk = |l: usize| wc.get(gi * t + l).copied().unwrap_or(0);
                let mw = (0..t).fold(0usize, |m, l| m | usize::from(wk(l) != 0) << l);
                let (cnt, dead) = rule.counted(mw, t);
                counted[gi * c + ch] = cnt;
                for l in 0..t {
                    let x = if dead >> l & 1 == 1 { 0 } else { wk(l) };
                    w[(gi * t + l) * c + ch] = i16::from(x);
                    wn[(gi * t + l) * c + ch] = i16::from(rule.nib4[usize::from(x as u8)]);
                }
            }
        }
        Some(Box::new(DwVec {
            t,
            rule,
            w,
            wn,
            counted,
        }))
    }
}

/// A convolution layer: `x` N×C×H×W float, `wq` O×Cg×KH×KW int8, the output
/// N×O×OH×OW written into `out` (every element). `jobs == 0`: every core. Returns
/// the time per stage. Prepares the weights on every call; [`PreparedLayer::conv`]
/// and [`conv_forward_prepared`] do it once.
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
    let p = PreparedLayer::conv(mode, g, wq, layer, jobs)?;
    let prep = t0.elapsed().as_secs_f64();
    let mut t = conv_forward_prepared(&p, g, x, dq, out, layer, jobs)?;
    t.prepare = prep;
    t.wall += prep;
    Ok(t)
}

/// [`conv_forward`] on weights prepared beforehand. Before anything is written, an
/// error names the argument when `p` is not a convolution's for `g`'s weight shape
/// or `x`, `out`, `dq.dw` or `dq.bias` does not hold `g`'s number of values.
///
/// A group of one output channel (a depthwise convolution) runs as one pass over
/// the pixels for all such groups instead of one engine call each: per pixel every
/// channel's taps lowered at once, the exact dot product with its weights (every
/// channel's plan the identity) or the design's rule applied to every channel
/// (see `columns_forward`), then the wrap: what each group's GEMM computes, bit
/// for bit.
#[allow(clippy::too_many_arguments)]
pub fn conv_forward_prepared<X: InElem, Y: OutElem>(
    p: &PreparedLayer,
    g: &ConvGeom,
    x: &[X],
    dq: &Dequant<'_>,
    out: &mut [Y],
    layer: &str,
    jobs: usize,
) -> Result<LayerTimes> {
    let t0 = Instant::now();
    g.check(layer)?;
    let want = WeightShape::Conv {
        o: g.o,
        cg: g.cg(),
        kh: g.kh,
        kw: g.kw,
        groups: g.groups,
    };
    if p.shape != want {
        return Err(arg_error(
            layer,
            "prepared weights",
            p.shape,
            format!("weights prepared for this layer: {want}"),
        ));
    }
    let (oh, ow) = g.out_hw();
    let (og, m, p_px) = (g.og(), g.m(), oh * ow);
    let (n, c, h, w) = (g.n, g.c, g.h, g.w);
    check_len(
        layer,
        "x",
        x.len(),
        n * c * h * w,
        &format!("N x C x H x W = {n} x {c} x {h} x {w}"),
    )?;
    check_len(
        layer,
        "out",
        out.len(),
        n * g.o * p_px,
        &format!("N x O x OH x OW = {n} x {} x {oh} x {ow}", g.o),
    )?;
    check_dequant(layer, dq, g.o)?;
    let mut times = LayerTimes::default();
    let xq = crate::engine::run_pool(jobs, || {
        quantize_nhwc(x, (g.n, g.c, g.h * g.w), dq.dx, layer)
    })?;
    times.quantize = t0.elapsed().as_secs_f64();
    let clock = StageClock::default();
    let dst = SharedOut(out.as_mut_ptr(), out.len());
    let simd = QuantSimd::detect();
    if matches!(p.groups.first(), Some(GroupW::Column(_))) {
        columns_forward(p, g, &xq, dq, &dst, jobs, &clock);
    }
    for (gi, gw) in p.groups.iter().enumerate() {
        let GroupW::Packed(w) = gw else { continue };
        let fill = |i: usize, row: &mut [u8]| lower_row(g, &xq, gi, i, row);
        let sink = |r0: usize, rows: usize, c: &[i64]| {
            // Runs of consecutive pixels of one image: per channel, one contiguous
            // stretch of the output plane.
            let mut r = 0;
            while r < rows {
                let i = r0 + r;
                let (b, pix) = (i / p_px, i % p_px);
                let run = (p_px - pix).min(rows - r);
                for oo in 0..og {
                    let o = gi * og + oo;
                    let base = (b * g.o + o) * p_px + pix;
                    // SAFETY: rows r0..r0 + rows (all channels) are this block's alone.
                    let out = unsafe { dst.run(base, run) };
                    dq.column(simd, &c[r * og + oo..], og, o, out);
                }
                r += run;
            }
        };
        gemm_prepared(w, m, Rows::Fill(&fill), jobs, &sink, Some(&clock));
    }
    times.set_from_clock(&clock);
    times.wall = t0.elapsed().as_secs_f64();
    Ok(times)
}

/// Every one-column group of `p` (a depthwise convolution): blocks of output
/// pixels in parallel. Per pixel, the taps of every channel are lowered at once
/// (the layer lowered as if it had one group: tap-major, channels innermost). When
/// every channel's plan is the identity, the exact dot product of each channel's
/// taps with its weights (vectorized over channels); otherwise the design's rule
/// over every channel at once ([`DwVec`], [`dw_pixel`]): i32 sums over chunks of
/// at most [`crate::engine::kernel::K_SAFE`] taps, widened to i64 between chunks.
/// Then the accumulator's wrap. This is each group's GEMM (one column), bit for
/// bit.
fn columns_forward<Y: OutElem>(
    p: &PreparedLayer,
    g: &ConvGeom,
    xq: &[u8],
    dq: &Dequant<'_>,
    dst: &SharedOut<Y>,
    jobs: usize,
    clock: &StageClock,
) {
    let (oh, ow) = g.out_hw();
    let (c, m, px, taps) = (g.c, g.m(), oh * ow, g.kh * g.kw);
    let cols: Vec<&Column> = p
        .groups
        .iter()
        .map(|gw| match gw {
            GroupW::Column(c) => c.as_ref(),
            GroupW::Packed(_) => unreachable!("a layer's groups are all of one kind"),
        })
        .collect();
    // The identity channels' weights as taps x C (i32), zero for the others.
    let mut wt = vec![0i32; taps * c];
    for (ch, col) in cols.iter().enumerate() {
        if col.identity {
            for tap in 0..taps {
                wt[tap * c + ch] = i32::from(col.w[tap]);
            }
        }
    }
    // i32 sums are exact for up to K_SAFE products.
    let narrow_sums = taps <= crate::engine::kernel::K_SAFE;
    let acc = p.acc_width;
    let g1 = ConvGeom { groups: 1, ..*g };
    // The rule over all channels at once: the input through the rule's tables once
    // (t2 for every rule but exact, t3 for the pair rule), lowered beside it.
    let dw = p.dw.as_deref();
    assert!(
        dw.is_some() || cols.iter().all(|col| col.identity),
        "DwVec covers every layer with a channel whose plan is not the identity"
    );
    // Groups of T taps per i32 chunk of the rule's sums (at most K_SAFE taps).
    let chunk = dw.map_or(1, |d| crate::engine::kernel::K_SAFE / d.t);
    let table = |lut: &[u8; 256]| -> Vec<u8> {
        let mut v = vec![0u8; xq.len()];
        crate::engine::run_pool(jobs, || {
            v.par_chunks_mut(1 << 16)
                .zip(xq.par_chunks(1 << 16))
                .for_each(|(d, s)| {
                    d.iter_mut()
                        .zip(s)
                        .for_each(|(d, &x)| *d = lut[usize::from(x)])
                });
        });
        v
    };
    use crate::engine::plan::LaneKind;
    let xq2 = dw
        .filter(|d| d.rule.kind != LaneKind::Exact)
        .map(|d| table(&d.rule.t2));
    let xq3 = dw
        .filter(|d| d.rule.kind == LaneKind::Pair)
        .map(|d| table(&d.rule.t3));
    let simd = QuantSimd::detect();
    const BLOCK: usize = 16;
    crate::engine::run_pool(jobs, || {
        (0..m.div_ceil(BLOCK)).into_par_iter().for_each_init(
            || {
                let row = |on: bool| vec![0u8; if on { taps * c } else { 0 }];
                (
                    (
                        row(true),
                        row(xq2.is_some()),
                        row(xq3.is_some()),
                        vec![0u8; c],
                    ),
                    vec![0i32; c],
                    vec![0i64; BLOCK * c],
                )
            },
            |((row, row2, row3, zero), s32, cblk), bi| {
                let (r0, r1) = (bi * BLOCK, (bi * BLOCK + BLOCK).min(m));
                let t0 = Instant::now();
                for i in r0..r1 {
                    lower_row(&g1, xq, 0, i, row);
                    let out = &mut cblk[(i - r0) * c..(i - r0 + 1) * c];
                    if let Some(dv) = dw {
                        if let Some(x2) = &xq2 {
                            lower_row(&g1, x2, 0, i, row2);
                        }
                        if let Some(x3) = &xq3 {
                            lower_row(&g1, x3, 0, i, row3);
                        }
                        let ng = taps.div_ceil(dv.t);
                        for (j, g0) in (0..ng).step_by(chunk).enumerate() {
                            let gs = g0..(g0 + chunk).min(ng);
                            dw_pixel(simd, dv, [row, row2, row3], zero, c, taps, gs, s32);
                            if j == 0 {
                                for (o, &s) in out.iter_mut().zip(s32.iter()) {
                                    *o = i64::from(s);
                                }
                            } else {
                                for (o, &s) in out.iter_mut().zip(s32.iter()) {
                                    *o += i64::from(s);
                                }
                            }
                        }
                    } else if narrow_sums {
                        s32.fill(0);
                        for tap in 0..taps {
                            let (xr, wr) =
                                (&row[tap * c..(tap + 1) * c], &wt[tap * c..(tap + 1) * c]);
                            for ((s, &x), &w) in s32.iter_mut().zip(xr).zip(wr) {
                                *s += i32::from(x) * w;
                            }
                        }
                        for (o, &s) in out.iter_mut().zip(s32.iter()) {
                            *o = i64::from(s);
                        }
                    } else {
                        out.fill(0);
                        for tap in 0..taps {
                            let (xr, wr) =
                                (&row[tap * c..(tap + 1) * c], &wt[tap * c..(tap + 1) * c]);
                            for ((o, &x), &w) in out.iter_mut().zip(xr).zip(wr) {
                                *o += i64::from(x) * i64::from(w);
                            }
                        }
                    }
                    if acc < 64 {
                        out.iter_mut().for_each(|v| *v = wrap(*v, acc));
                    }
                }
                let t1 = Instant::now();
                for ch in 0..c {
                    let mut i = r0;
                    while i < r1 {
                        let (b, pix) = (i / px, i % px);
                        let run = (px - pix).min(r1 - i);
                        let base = (b * g.o + ch) * px + pix;
                        // SAFETY: pixels r0..r1 of every channel are this block's alone.
                        let out = unsafe { dst.run(base, run) };
                        dq.column(simd, &cblk[(i - r0) * c + ch..], c, ch, out);
                        i += run;
                    }
                }
                // Lowering, transform and dot products are one loop here: GEMM time.
                clock
                    .gemm
                    .fetch_add((t1 - t0).as_nanos() as u64, Ordering::Relaxed);
                clock
                    .sink
                    .fetch_add(t1.elapsed().as_nanos() as u64, Ordering::Relaxed);
            },
        );
    });
}

/// One pixel of a depthwise layer under [`DwVec`]: `s[ch]` = channel `ch`'s sum
/// over the taps of its groups `gs` of T taps (of `taps` in all), from the lowered
/// rows of the input, of its t2 and of its t3 (`rows`; the unused ones may be
/// empty), `zero` holding `c` zeros. The i32 sums are exact for at most
/// [`crate::engine::kernel::K_SAFE`] taps.
#[allow(clippy::too_many_arguments)]
fn dw_pixel(
    simd: QuantSimd,
    dv: &DwVec,
    rows: [&[u8]; 3],
    zero: &[u8],
    c: usize,
    taps: usize,
    gs: std::ops::Range<usize>,
    s: &mut [i32],
) {
    debug_assert!(gs.len() * dv.t <= crate::engine::kernel::K_SAFE);
    match simd {
        // SAFETY: the features were detected at run time (QuantSimd::detect).
        #[cfg(target_arch = "x86_64")]
        QuantSimd::Avx512 => unsafe { dw_pixel_avx512(dv, rows, zero, c, taps, gs, s) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        QuantSimd::Avx2 => unsafe { dw_pixel_avx2(dv, rows, zero, c, taps, gs, s) },
        QuantSimd::None => dw_pixel_body(dv, rows, zero, c, taps, gs, s),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn dw_pixel_avx512(
    dv: &DwVec,
    rows: [&[u8]; 3],
    zero: &[u8],
    c: usize,
    taps: usize,
    gs: std::ops::Range<usize>,
    s: &mut [i32],
) {
    dw_pixel_body(dv, rows, zero, c, taps, gs, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dw_pixel_avx2(
    dv: &DwVec,
    rows: [&[u8]; 3],
    zero: &[u8],
    c: usize,
    taps: usize,
    gs: std::ops::Range<usize>,
    s: &mut [i32],
) {
    dw_pixel_body(dv, rows, zero, c, taps, gs, s)
}

#[inline(always)]
fn dw_pixel_body(
    dv: &DwVec,
    rows: [&[u8]; 3],
    zero: &[u8],
    c: usize,
    taps: usize,
    gs: std::ops::Range<usize>,
    s: &mut [i32],
) {
    s.fill(0);
    match dv.t {
        1 => dw_groups::<1>(dv, rows, zero, c, taps, gs, s),
        2 => dw_groups::<2>(dv, rows, zero, c, taps, gs, s),
        3 => dw_groups::<3>(dv, rows, zero, c, taps, gs, s),
        _ => dw_groups::<4>(dv, rows, zero, c, taps, gs, s),
    }
}

/// [`dw_pixel_body`] for T lanes: per group of T taps in `gs`, the rule over every
/// channel (branch-free selects, so the channel loop vectorizes).
#[inline(always)]
fn dw_groups<const T: usize>(
    dv: &DwVec,
    [row, row2, row3]: [&[u8]; 3],
    zero: &[u8],
    c: usize,
    taps: usize,
    gs: std::ops::Range<usize>,
    s: &mut [i32],
) {
    use crate::engine::plan::LaneKind;
    let s = &mut s[..c];
    let zero = &zero[..c];
    for gi in gs {
        // Lane l's activations for every channel (zeros past the last tap).
        fn lane<'a>(r: &'a [u8], zero: &'a [u8], k: usize, taps: usize, c: usize) -> &'a [u8] {
            if k < taps && !r.is_empty() {
                &r[k * c..(k + 1) * c]
            } else {
                zero
            }
        }
        let lane = |r, l| lane(r, zero, gi * T + l, taps, c);
        let a: [&[u8]; T] = std::array::from_fn(|l| lane(row, l));
        let a2: [&[u8]; T] = std::array::from_fn(|l| lane(row2, l));
        let a3: [&[u8]; T] = std::array::from_fn(|l| lane(row3, l));
        let w: [&[i16]; T] = std::array::from_fn(|l| &dv.w[(gi * T + l) * c..][..c]);
        let wn: [&[i16]; T] = std::array::from_fn(|l| &dv.wn[(gi * T + l) * c..][..c]);
        let cnt = &dv.counted[gi * c..][..c];
        match dv.rule.kind {
            LaneKind::Exact => {
                for ch in 0..c {
                    let mut v = s[ch];
                    for l in 0..T {
                        v += i32::from(a[l][ch]) * i32::from(w[l][ch]);
                    }
                    s[ch] = v;
                }
            }
            LaneKind::Single => {
                for ch in 0..c {
                    let mut v = s[ch];
                    for l in 0..T {
                        v += i32::from(a2[l][ch]) * i32::from(w[l][ch]);
                    }
                    s[ch] = v;
                }
            }
            LaneKind::Pair => {
                for ch in 0..c {
                    let mut n = 0u8;
                    for (l, al) in a.iter().enumerate() {
                        n += u8::from(al[ch] != 0) & (cnt[ch] >> l & 1);
                    }
                    let pair = n == 2;
                    let mut v = s[ch];
                    for l in 0..T {
                        let x = if pair { a3[l][ch] } else { a2[l][ch] };
                        v += i32::from(x) * i32::from(w[l][ch]);
                    }
                    s[ch] = v;
                }
            }
            LaneKind::Quad => {
                // Per block of channels: the active counts first, then one simple
                // loop per lane (zips of equal-length slices: they vectorize
                // whatever the inlining around them).
                const CB: usize = 256;
                let mut counts = [0u8; CB];
                for c0 in (0..c).step_by(CB) {
                    let cw = (c - c0).min(CB);
                    let nb = &mut counts[..cw];
                    nb.fill(0);
                    for (l, al) in a.iter().enumerate() {
                        for ((n, &x), &m) in
                            nb.iter_mut().zip(&al[c0..c0 + cw]).zip(&cnt[c0..c0 + cw])
                        {
                            *n += u8::from(x != 0) & (m >> l & 1);
                        }
                    }
                    let sb = &mut s[c0..c0 + cw];
                    for l in 0..T {
                        let (w1, w2) = (&w[l][c0..c0 + cw], &wn[l][c0..c0 + cw]);
                        let (x1, x2) = (&a[l][c0..c0 + cw], &a2[l][c0..c0 + cw]);
                        for (((((v, &n), &x1), &x2), &w1), &w2) in
                            sb.iter_mut().zip(nb.iter()).zip(x1).zip(x2).zip(w1).zip(w2)
                        {
                            let x = if n >= 2 { x2 } else { x1 };
                            let y = if n >= 3 { w2 } else { w1 };
                            *v += i32::from(x) * i32::from(y);
                        }
                    }
                }
            }
        }
    }
}

/// A linear layer: `x` rows×I float, `wq` O×I int8 (torch's layout), the output
/// rows×O written into `out`. Returns the time per stage. Prepares the weights on
/// every call; [`PreparedLayer::linear`] and [`linear_forward_prepared`] do it once.
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
    let p = PreparedLayer::linear(mode, (i_f, o_f), wq, layer, jobs)?;
    let prep = t0.elapsed().as_secs_f64();
    let mut t = linear_forward_prepared(&p, rows, x, dq, out, layer, jobs)?;
    t.prepare = prep;
    t.wall += prep;
    Ok(t)
}

/// [`linear_forward`] on weights prepared beforehand. Before anything is written, an
/// error names the argument when `p` is not a linear layer's, or `x`, `out`,
/// `dq.dw` or `dq.bias` does not hold the number of values its I×O and `rows`
/// make.
pub fn linear_forward_prepared<X: InElem, Y: OutElem>(
    p: &PreparedLayer,
    rows: usize,
    x: &[X],
    dq: &Dequant<'_>,
    out: &mut [Y],
    layer: &str,
    jobs: usize,
) -> Result<LayerTimes> {
    let t0 = Instant::now();
    let WeightShape::Linear { i: i_f, o: o_f } = p.shape else {
        return Err(arg_error(
            layer,
            "prepared weights",
            p.shape,
            "a linear layer's prepared weights (PreparedLayer::linear)".into(),
        ));
    };
    let Some(GroupW::Packed(w)) = p.groups.first() else {
        unreachable!("PreparedLayer::linear packs a linear layer's weights")
    };
    check_len(
        layer,
        "x",
        x.len(),
        rows * i_f,
        &format!("rows x I = {rows} x {i_f}"),
    )?;
    check_len(
        layer,
        "out",
        out.len(),
        rows * o_f,
        &format!("rows x O = {rows} x {o_f}"),
    )?;
    check_dequant(layer, dq, o_f)?;
    let mut times = LayerTimes::default();
    let xq = crate::engine::run_pool(jobs, || quantize_nhwc(x, (rows, i_f, 1), dq.dx, layer))?;
    times.quantize = t0.elapsed().as_secs_f64();
    let clock = StageClock::default();
    let dst = SharedOut(out.as_mut_ptr(), out.len());
    let simd = QuantSimd::detect();
    let sink = |r0: usize, nrows: usize, c: &[i64]| {
        for r in 0..nrows {
            // SAFETY: rows r0..r0 + nrows are this block's alone.
            let out = unsafe { dst.run((r0 + r) * o_f, o_f) };
            dq.row(simd, &c[r * o_f..], out);
        }
    };
    gemm_prepared(w, rows, Rows::Slice(&xq), jobs, &sink, Some(&clock));
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
