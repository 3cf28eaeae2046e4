//! Exact integer GEMM kernels: `C (i64) = A (u8, M×K) · W (s8, K×N)`, with no
//! rounding, saturation or wrap anywhere. Three implementations share one packed
//! weight layout per kernel and one blocking scheme:
//!
//! - `avx512`: AVX-512 VNNI `vpdpbusd` (u8 × s8, four products summed into each
//!   i32 lane, exact: the non-saturating form), 8 rows × 32 columns per micro-tile;
//! - `avx2`: u8 and s8 widened to i16, then `vpmaddwd` (i16 × i16, two products
//!   summed into i32, exact), 4 rows × 16 columns (the saturating u8 × s8
//!   `vpmaddubsw` is deliberately not used);
//! - `portable`: plain Rust, 4 rows × 16 columns.
//!
//! Partial sums live in i32 for at most [`K_SAFE`] reduction indices
//! (|u8 · s8| ≤ 255 · 128 = 32640, and 65536 · 32640 < 2³¹) and are widened into
//! the i64 result before they could overflow.

use std::fmt;

/// Reduction indices an i32 partial sum may take before it is widened to i64.
pub const K_SAFE: usize = 65536;
/// Reduction indices per cache block (a divisor of [`K_SAFE`], a multiple of 4).
const KC: usize = 1024;
/// Columns per cache block, in multiples of every kernel's panel width.
const NC: usize = 256;

/// One exact kernel implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Plain Rust; any machine.
    Portable,
    /// AVX2 widening multiply-add (`vpmaddwd`).
    Avx2,
    /// AVX-512 VNNI (`vpdpbusd`).
    Avx512,
}

/// The environment variable that forces a kernel: `portable`, `avx2` or `avx512`.
pub const KERNEL_ENV: &str = "SMTGEN_ENGINE_KERNEL";

impl Kernel {
    /// Every kernel, slowest first.
    pub const ALL: [Kernel; 3] = [Kernel::Portable, Kernel::Avx2, Kernel::Avx512];

    /// The kernel's name as [`KERNEL_ENV`] spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// Parses a kernel name.
    pub fn parse(s: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether this machine can run the kernel (checked at run time).
    pub fn available(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The kernels this machine can run, slowest first.
    pub fn available_all() -> Vec<Kernel> {
        Kernel::ALL.into_iter().filter(|k| k.available()).collect()
    }

    /// The fastest kernel this machine runs.
    pub fn best() -> Kernel {
        *Kernel::available_all().last().unwrap_or(&Kernel::Portable)
    }

    /// The kernel [`KERNEL_ENV`] asks for, or the fastest available when it is unset.
    /// An unknown name, or a kernel this machine cannot run, is an error naming the
    /// variable, the value and what is allowed.
    pub fn from_env() -> crate::Result<Kernel> {
        match std::env::var(KERNEL_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(Kernel::best()),
            Err(std::env::VarError::NotUnicode(v)) => Err(crate::Error::config(
                KERNEL_ENV,
                crate::guard::shown(&v.to_string_lossy()),
                "portable, avx2 or avx512 (the value is not UTF-8)",
            )),
            Ok(v) if v.is_empty() => Ok(Kernel::best()),
            Ok(v) => {
                let allowed = Kernel::available_all()
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ");
                match Kernel::parse(&v) {
                    Some(k) if k.available() => Ok(k),
                    _ => Err(crate::Error::config(
                        KERNEL_ENV,
                        v,
                        format!("{allowed} (on this machine)"),
                    )),
                }
            }
        }
    }

    /// Columns per packed panel.
    fn nr(self) -> usize {
        match self {
            Kernel::Avx512 => 32,
            Kernel::Avx2 | Kernel::Portable => 16,
        }
    }

    /// Rows per micro-tile.
    pub(crate) fn mr(self) -> usize {
        match self {
            Kernel::Avx512 => 8,
            Kernel::Avx2 | Kernel::Portable => 4,
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// W (K×N, s8) packed for one kernel: column panels of `nr` columns, each panel
/// K-major in steps of four reduction indices (`[k/4][column][k%4]`; the AVX2
/// kernel holds the same bytes widened to i16). K is zero-padded to a multiple of 4
/// and N to a multiple of `nr`. A narrow W (N at most an eighth of a panel) is kept
/// column by column instead (`[column][k]`, no padding of N) and multiplied by
/// exact dot products: padding one column to a panel would take 16–32× its bytes.
pub struct PackedW {
    kernel: Kernel,
    /// Columns stored whole (`[column][kp]`) for dot products.
    narrow: bool,
    /// K rounded up to a multiple of 4.
    kp: usize,
    n: usize,
    panels: usize,
    bytes: Vec<i8>,
    words: Vec<i16>,
}

impl PackedW {
    /// Packs row-major `w` (K×N) for `kernel`.
    pub fn new(kernel: Kernel, w: &[i8], k: usize, n: usize) -> PackedW {
        let nr = kernel.nr();
        let kp = k.div_ceil(4) * 4;
        if n * 8 <= nr {
            let mut bytes = vec![0i8; n * kp];
            for (j, col) in bytes.chunks_exact_mut(kp.max(1)).enumerate().take(n) {
                for (kk, d) in col[..k].iter_mut().enumerate() {
                    *d = w[kk * n + j];
                }
            }
            return PackedW {
                kernel,
                narrow: true,
                kp,
                n,
                panels: 0,
                bytes,
                words: Vec::new(),
            };
        }
        let panels = n.div_ceil(nr);
        let mut bytes = vec![0i8; panels * kp * nr];
        {
            use rayon::prelude::*;
            bytes
                .par_chunks_mut(kp * nr)
                .enumerate()
                .for_each(|(p, panel)| {
                    let (j0, j1) = (p * nr, (p * nr + nr).min(n));
                    for kk in 0..k {
                        let cols = &w[kk * n + j0..kk * n + j1];
                        let (q, r) = (kk / 4, kk % 4);
                        let base = q * nr * 4;
                        // The portable kernel keeps each reduction index's columns
                        // together (`[k/4][k%4][column]`), so its inner loop runs
                        // over contiguous columns.
                        if kernel == Kernel::Portable {
                            panel[base + r * nr..base + r * nr + cols.len()].copy_from_slice(cols);
                        } else {
                            for (c, &v) in cols.iter().enumerate() {
                                panel[base + c * 4 + r] = v;
                            }
                        }
                    }
                });
        }
        let words = if kernel == Kernel::Avx2 {
            use rayon::prelude::*;
            // Per four reduction indices of a 16-column panel: the (k0, k1) i16 pairs
            // of columns 0-7 and of 8-15, then the (k2, k3) pairs of both halves,
            // each group of eight columns one ymm for `vpmaddwd`.
            let mut v = vec![0i16; bytes.len()];
            v.par_chunks_mut(64)
                .zip(bytes.par_chunks(64))
                .for_each(|(d, src)| {
                    for c in 0..16 {
                        for r in 0..4 {
                            d[(r / 2) * 32 + (c / 8) * 16 + (c % 8) * 2 + r % 2] =
                                i16::from(src[c * 4 + r]);
                        }
                    }
                });
            v
        } else {
            Vec::new()
        };
        PackedW {
            kernel,
            narrow: false,
            kp,
            n,
            panels,
            bytes: if kernel == Kernel::Avx2 {
                Vec::new()
            } else {
                bytes
            },
            words,
        }
    }

    /// K rounded up to a multiple of 4: the row stride A must have.
    pub fn kp(&self) -> usize {
        self.kp
    }

    /// The kernel this packing is for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Rows A must be padded to (a multiple of): the kernel's micro-tile rows, or 1
    /// for a narrow W.
    pub(crate) fn mr(&self) -> usize {
        if self.narrow {
            1
        } else {
            self.kernel.mr()
        }
    }

    /// `out[rows×N] = a[rows×kp] · W` exactly. `a` is row-major with stride `kp`
    /// and holds a multiple of `mr()` rows (zero rows past `rows`); `out` holds
    /// `rows·N` values and is overwritten.
    pub fn gemm_rows(&self, a: &[u8], rows: usize, out: &mut [i64]) {
        if self.narrow {
            let (kp, n) = (self.kp, self.n);
            assert!(a.len() >= rows * kp && out.len() >= rows * n);
            for r in 0..rows {
                let ar = &a[r * kp..(r + 1) * kp];
                for j in 0..n {
                    out[r * n + j] = dot_exact(ar, &self.bytes[j * kp..(j + 1) * kp]);
                }
            }
            return;
        }
        let (kernel, nr, mr, kp, n) = (
            self.kernel,
            self.kernel.nr(),
            self.kernel.mr(),
            self.kp,
            self.n,
        );
        let rows_p = rows.div_ceil(mr) * mr;
        assert!(a.len() >= rows_p * kp && out.len() >= rows * n);
        out[..rows * n].fill(0);
        let ncp = NC / nr;
        let kq = kp / 4;
        // i32 partial sums of one block of columns; all zero between uses (each
        // flush zeroes what it widened, and the padding rows only ever add zeros).
        thread_local! {
            static CBUF: std::cell::RefCell<(Vec<i32>, bool)> =
                const { std::cell::RefCell::new((Vec::new(), false)) };
        }
        CBUF.with(|cb| {
            let mut guard = cb.borrow_mut();
            let (cbuf, dirty) = &mut *guard;
            let need = rows_p * NC.min(self.panels * nr);
            // A call that did not finish (a panic in between) leaves it dirty.
            if cbuf.len() < need || *dirty {
                cbuf.clear();
                cbuf.resize(need, 0);
            }
            *dirty = true;
            for p0 in (0..self.panels).step_by(ncp) {
                let p1 = (p0 + ncp).min(self.panels);
                let width = (p1 - p0) * nr;
                let mut since_flush = 0usize;
                for q0 in (0..kq).step_by(KC / 4) {
                    let q1 = (q0 + KC / 4).min(kq);
                    // Rows outer: a micro-panel of A stays in L1 across the panels
                    // of W, which come from L2 with 2 loads per 16 multiply-adds.
                    for r0 in (0..rows_p).step_by(mr) {
                        for p in p0..p1 {
                            let ap = &a[r0 * kp + q0 * 4..];
                            let c = &mut cbuf[r0 * width + (p - p0) * nr..];
                            let panel = (p * kq + q0) * nr * 4;
                            self.micro(kernel, ap, kp, panel, q1 - q0, c, width);
                        }
                    }
                    since_flush += (q1 - q0) * 4;
                    if since_flush >= K_SAFE || q1 == kq {
                        for r in 0..rows {
                            let cols = (n - p0 * nr).min(width);
                            let dst = &mut out[r * n + p0 * nr..r * n + p0 * nr + cols];
                            for (d, s) in dst.iter_mut().zip(&mut cbuf[r * width..r * width + cols])
                            {
                                *d += i64::from(*s);
                                *s = 0;
                            }
                        }
                        since_flush = 0;
                    }
                }
            }
            *dirty = false;
        });
    }

    /// One micro-tile: `c[mr × nr] (stride ldc) += a[mr × 4·steps] · panel`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn micro(
        &self,
        kernel: Kernel,
        a: &[u8],
        lda: usize,
        panel: usize,
        steps: usize,
        c: &mut [i32],
        ldc: usize,
    ) {
        let (mr, nr) = (kernel.mr(), kernel.nr());
        assert!(a.len() >= (mr - 1) * lda + steps * 4);
        assert!(c.len() >= (mr - 1) * ldc + nr);
        match kernel {
            Kernel::Portable => {
                let w = &self.bytes[panel..panel + steps * nr * 4];
                micro_portable(a, lda, w, steps, c, ldc);
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                let w = &self.words[panel..panel + steps * nr * 4];
                // SAFETY: AVX2 was detected when the kernel was chosen (Kernel::available),
                // and the slices were bounds-checked above for mr rows, nr columns.
                unsafe { x86::micro_avx2(a.as_ptr(), lda, w.as_ptr(), steps, c.as_mut_ptr(), ldc) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                let w = &self.bytes[panel..panel + steps * nr * 4];
                // SAFETY: AVX-512 F/BW/VNNI were detected (Kernel::available), and the
                // slices were bounds-checked above for mr rows, nr columns.
                unsafe {
                    x86::micro_avx512(a.as_ptr(), lda, w.as_ptr(), steps, c.as_mut_ptr(), ldc)
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => {
                let w = &self.bytes[panel..panel + steps * nr * 4];
                micro_portable(a, lda, w, steps, c, ldc);
            }
        }
    }
}

/// The exact dot product of `a` (u8) and `w` (s8): i32 sums over [`K_SAFE`]
/// indices at a time (exact: see the module docs), widened to i64 between them.
fn dot_exact(a: &[u8], w: &[i8]) -> i64 {
    a.chunks(K_SAFE)
        .zip(w.chunks(K_SAFE))
        .map(|(ac, wc)| {
            i64::from(
                ac.iter()
                    .zip(wc)
                    .map(|(&x, &y)| i32::from(i16::from(x) * i16::from(y)))
                    .sum::<i32>(),
            )
        })
        .sum()
}

/// Portable micro-kernel: 4 rows × 16 columns, panel layout `[k/4][k%4][column]`.
/// A u8 × s8 product fits in i16 (|255 · −128| < 2¹⁵), which lets the compiler use
/// 16-bit multiplies before widening to the i32 sums.
fn micro_portable(a: &[u8], lda: usize, w: &[i8], steps: usize, c: &mut [i32], ldc: usize) {
    const MR: usize = 4;
    const NR: usize = 16;
    let mut acc = [[0i32; NR]; MR];
    for q in 0..steps {
        for r in 0..4 {
            let wk: &[i8; NR] = w[(q * 4 + r) * NR..(q * 4 + r + 1) * NR]
                .try_into()
                .unwrap_or(&[0; NR]);
            for (row, accr) in acc.iter_mut().enumerate() {
                let x = i16::from(a[row * lda + q * 4 + r]);
                for (s, &y) in accr.iter_mut().zip(wk) {
                    *s += i32::from(x * i16::from(y));
                }
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        for (d, s) in c[r * ldc..r * ldc + NR].iter_mut().zip(accr) {
            *d += *s;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// AVX2 micro-kernel, 4 rows × 16 columns: per four reduction indices one
    /// broadcast of A's four bytes, zero-extended into (a_k, a_k+1) i16 pairs by
    /// `vpshufb`, and four `vpmaddwd` per row. `w` holds the panel as i16 pairs (see
    /// [`super::PackedW::new`]).
    ///
    /// # Safety
    /// AVX2 must be available; `a` must hold 4 rows of stride `lda` with `4·steps`
    /// bytes each, `w` `steps·64` values, `c` 4 rows of stride `ldc` with 16 values.
    #[target_feature(enable = "avx2")]
    pub unsafe fn micro_avx2(
        a: *const u8,
        lda: usize,
        w: *const i16,
        steps: usize,
        c: *mut i32,
        ldc: usize,
    ) {
        // SAFETY (whole body): pointer ranges as documented above.
        unsafe {
            let mut acc = [[_mm256_setzero_si256(); 2]; 4];
            // Zero-extend bytes 0,1 (or 2,3) of each 32-bit word into two i16.
            let m01 = _mm256_setr_epi8(
                0, -128, 1, -128, 0, -128, 1, -128, 0, -128, 1, -128, 0, -128, 1, -128, 0, -128, 1,
                -128, 0, -128, 1, -128, 0, -128, 1, -128, 0, -128, 1, -128,
            );
            let m23 = _mm256_setr_epi8(
                2, -128, 3, -128, 2, -128, 3, -128, 2, -128, 3, -128, 2, -128, 3, -128, 2, -128, 3,
                -128, 2, -128, 3, -128, 2, -128, 3, -128, 2, -128, 3, -128,
            );
            for q in 0..steps {
                let wq = w.add(q * 64);
                let w01 = [
                    _mm256_loadu_si256(wq as *const __m256i),
                    _mm256_loadu_si256(wq.add(16) as *const __m256i),
                ];
                let w23 = [
                    _mm256_loadu_si256(wq.add(32) as *const __m256i),
                    _mm256_loadu_si256(wq.add(48) as *const __m256i),
                ];
                for (r, accr) in acc.iter_mut().enumerate() {
                    let b =
                        _mm256_set1_epi32((a.add(r * lda + q * 4) as *const i32).read_unaligned());
                    let b01 = _mm256_shuffle_epi8(b, m01);
                    let b23 = _mm256_shuffle_epi8(b, m23);
                    for h in 0..2 {
                        accr[h] = _mm256_add_epi32(accr[h], _mm256_madd_epi16(b01, w01[h]));
                        accr[h] = _mm256_add_epi32(accr[h], _mm256_madd_epi16(b23, w23[h]));
                    }
                }
            }
            for (r, accr) in acc.iter().enumerate() {
                for (h, v) in accr.iter().enumerate() {
                    let p = c.add(r * ldc + h * 8) as *mut __m256i;
                    _mm256_storeu_si256(p, _mm256_add_epi32(_mm256_loadu_si256(p), *v));
                }
            }
        }
    }

    /// AVX-512 VNNI micro-kernel, 8 rows × 32 columns: per four reduction indices
    /// two 64-byte panel loads, eight 32-bit broadcasts of A and sixteen `vpdpbusd`.
    ///
    /// # Safety
    /// AVX-512 F/BW/VNNI must be available; `a` must hold 8 rows of stride `lda`
    /// with `4·steps` bytes each, `w` `steps·128` bytes, `c` 8 rows of stride `ldc`
    /// with 32 values.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn micro_avx512(
        a: *const u8,
        lda: usize,
        w: *const i8,
        steps: usize,
        c: *mut i32,
        ldc: usize,
    ) {
        // SAFETY (whole body): pointer ranges as documented above.
        unsafe {
            let mut acc = [[_mm512_setzero_si512(); 2]; 8];
            for q in 0..steps {
                let wq = w.add(q * 128);
                let w0 = _mm512_loadu_si512(wq as *const __m512i);
                let w1 = _mm512_loadu_si512(wq.add(64) as *const __m512i);
                for (r, accr) in acc.iter_mut().enumerate() {
                    let b =
                        _mm512_set1_epi32((a.add(r * lda + q * 4) as *const i32).read_unaligned());
                    accr[0] = _mm512_dpbusd_epi32(accr[0], b, w0);
                    accr[1] = _mm512_dpbusd_epi32(accr[1], b, w1);
                }
            }
            for (r, accr) in acc.iter().enumerate() {
                for (h, v) in accr.iter().enumerate() {
                    let p = c.add(r * ldc + h * 16) as *mut __m512i;
                    _mm512_storeu_si512(p, _mm512_add_epi32(_mm512_loadu_si512(p), *v));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stimulus::Rng;

    fn naive(a: &[u8], w: &[i8], m: usize, k: usize, n: usize) -> Vec<i64> {
        let mut c = vec![0i64; m * n];
        for i in 0..m {
            for kk in 0..k {
                for j in 0..n {
                    c[i * n + j] += i64::from(a[i * k + kk]) * i64::from(w[kk * n + j]);
                }
            }
        }
        c
    }

    /// `kernel` on A (`m`×`k`) packed into its row panels and W packed for it.
    fn packed_gemm(
        kernel: Kernel,
        a: &[u8],
        w: &[i8],
        (m, k, n): (usize, usize, usize),
    ) -> Vec<i64> {
        let p = PackedW::new(kernel, w, k, n);
        let mr = kernel.mr();
        let mut ap = vec![0u8; m.div_ceil(mr) * mr * p.kp()];
        for i in 0..m {
            ap[i * p.kp()..i * p.kp() + k].copy_from_slice(&a[i * k..(i + 1) * k]);
        }
        let mut got = vec![0i64; m * n];
        p.gemm_rows(&ap, m, &mut got);
        got
    }

    #[test]
    fn every_kernel_is_exact_on_random_and_extreme_operands() {
        let seed = 0x6e6e;
        println!("seed {seed}");
        let mut rng = Rng::new(seed);
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (9, 33, 17),
            (17, 1030, 40),
            (8, 4, 32),
        ] {
            for extreme in [false, true] {
                let a: Vec<u8> = (0..m * k)
                    .map(|_| if extreme { 255 } else { rng.byte() })
                    .collect();
                let w: Vec<i8> = (0..k * n)
                    .map(|_| if extreme { -128 } else { rng.byte() as i8 })
                    .collect();
                let want = naive(&a, &w, m, k, n);
                for kernel in Kernel::available_all() {
                    let got = packed_gemm(kernel, &a, &w, (m, k, n));
                    assert_eq!(got, want, "{kernel} {m}x{k}x{n} extreme={extreme}");
                }
            }
        }
    }

    /// K beyond the i32-safe length with every product at its extreme: the i32
    /// partial sums must be widened in time.
    #[test]
    fn long_reductions_widen_before_i32_overflows() {
        let (m, k, n) = (2, K_SAFE + 700, 3);
        let a = vec![255u8; m * k];
        let w = vec![-128i8; k * n];
        let want = -(255 * 128) * k as i64;
        for kernel in Kernel::available_all() {
            let got = packed_gemm(kernel, &a, &w, (m, k, n));
            assert!(
                got.iter().all(|&x| x == want),
                "{kernel}: {got:?} want {want}"
            );
        }
    }
}
