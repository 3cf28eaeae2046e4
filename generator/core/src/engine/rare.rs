//! The rare weight zero patterns of a block of columns, computed per (group,
//! column) pair instead of as dense blocks of A'.
//!
//! Under a rule that tests weights (sysmt's `act_or_weight`), a (group, column)
//! pair whose weights are not all non-zero counts active lanes differently from a
//! dense pair, so [`super::plan`] gives its class a block of A' of its own in every
//! group where any column of the block has it. With weights that are mostly
//! non-zero those blocks are nearly empty (a group has one or two such columns out
//! of 64) yet cost as much as the dense ones: sysmt4 on random-initialized ResNet
//! weights (about 1 % zeros) came to K' = 6K. Here the plan keeps only the dense
//! class ([`super::plan::Plan::keep_dense_class`]: its pairs' weights, the rare
//! pairs' zeroed), and each rare pair's contribution is added after the GEMM:
//! for every row, the lanes whose activation and weight are non-zero, their count
//! `c`, and the rule's products for that count (pair rule: `t2(a)·w`, as a rare
//! pair there has one non-zero weight and `c ≤ 1`; quad rule: `a·w` when `c ≤ 1`, `t2(a)·w` when `c = 2`,
//! `t2(a)·nib4(w)` when `c ≥ 3`) — what the pair's class computes, so the sum is
//! the design's, bit for bit. With AVX-512 (VNNI, VBMI) sixteen rows at a time:
//! each row's group as one 32-bit word, the lanes' products summed by `vpdpbusd`.

use super::plan::{LaneKind, LaneRule, Plan, Weights};

/// One rare (group, column) pair.
#[derive(Clone, Copy, Debug)]
struct Pair {
    /// The group.
    group: u32,
    /// The column within the block, then (once every pair is known) its index in
    /// [`Rare::cols`].
    slot: u32,
    /// The lanes' weights as four bytes (lanes past T or past K zero).
    w: i32,
    /// Their `nib4`.
    wn: i32,
    /// The lanes whose weight is non-zero, one bit per byte of each of the 16
    /// 32-bit words of a vector (a byte mask over 64 bytes).
    lanes: u64,
}

/// The rare pairs of one block of columns and the rule that computes them.
pub(crate) struct Rare {
    pairs: Vec<Pair>,
    /// The distinct columns (within the block) that have rare pairs.
    cols: Vec<u32>,
    kind: LaneKind,
    t: usize,
    t2: [u8; 256],
    /// Groups of the block's K.
    groups: usize,
    simd: bool,
}

/// Most groups whose pairs may add up in one i32 (`4 · 255 · 128` each).
const MAX_GROUPS: usize = 16_384;

/// Share of (group, column) pairs above which the dense blocks are kept.
const MAX_SHARE: f64 = 0.15;

impl Rare {
    /// The rare pairs of `w` under `plan` when computing them per pair pays: the
    /// rule tests weights, its lanes' products depend only on the active count
    /// (not under 2:4 selection), and at most [`MAX_SHARE`] of the pairs are rare.
    /// `None`: keep the plan's dense blocks for every class.
    pub(crate) fn new(plan: &Plan, w: &Weights, simd: bool) -> Option<Rare> {
        let rule: LaneRule = plan.lane_rule();
        let t = plan.lanes();
        let groups = w.k.div_ceil(t);
        // The pair rule's rare pairs (T = 2, not both weights non-zero) have at most
        // one active lane, so they always take `t2(a)·w`.
        if !rule.weight_test
            || rule.stc
            || !matches!(
                (rule.kind, plan.lanes()),
                (LaneKind::Pair, 2) | (LaneKind::Quad, _)
            )
            || plan.classes() < 2
            || groups > MAX_GROUPS
            || t > 4
        {
            return None;
        }
        let n = w.n;
        let mut pairs = Vec::new();
        for g in 0..groups {
            for j in 0..n {
                let mut mw = 0usize;
                let mut wb = [0i8; 4];
                for (l, b) in wb.iter_mut().enumerate().take(t) {
                    let k = g * t + l;
                    if k < w.k {
                        *b = w.w[k * n + j];
                        mw |= usize::from(*b != 0) << l;
                    }
                }
                if mw == 0 || plan.class_of_pattern(mw) == 0 {
                    continue;
                }
                let wn = wb.map(|x| rule.nib4[usize::from(x as u8)]);
                let bytes = |b: [i8; 4]| i32::from_le_bytes(b.map(|x| x as u8));
                let word = (0..t).fold(0u64, |m, l| m | u64::from(wb[l] != 0) << l);
                pairs.push(Pair {
                    group: g as u32,
                    slot: j as u32,
                    w: bytes(wb),
                    wn: bytes(wn),
                    lanes: (0..16).fold(0u64, |m, i| m | word << (4 * i)),
                });
            }
        }
        if pairs.len() as f64 > MAX_SHARE * (groups * n) as f64 {
            return None;
        }
        let mut slot = vec![u32::MAX; n];
        let mut cols = Vec::new();
        for p in &mut pairs {
            let j = p.slot as usize;
            if slot[j] == u32::MAX {
                slot[j] = cols.len() as u32;
                cols.push(j as u32);
            }
            p.slot = slot[j];
        }
        // A zero activation or weight must give nothing through the tables (the
        // products below are not masked by the active lanes).
        assert!(
            rule.t2[0] == 0 && rule.nib4[0] == 0,
            "the rule's tables map 0 to 0"
        );
        #[cfg(target_arch = "x86_64")]
        let simd = simd
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512vbmi");
        #[cfg(not(target_arch = "x86_64"))]
        let simd = simd && false;
        Some(Rare {
            pairs,
            cols,
            kind: rule.kind,
            t,
            t2: rule.t2,
            groups,
            simd,
        })
    }

    /// Number of rare pairs.
    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Adds the rare pairs' contributions for `rows` rows of A (`row(r)` gives row
    /// `r`'s K activations) to `c` (`rows` × `ldc`, this block's columns starting at
    /// `j0`). `gm` and `corr` are scratch buffers reused between calls.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add<'a>(
        &self,
        rows: usize,
        row: &dyn Fn(usize) -> &'a [u8],
        c: &mut [i64],
        ldc: usize,
        j0: usize,
        gm: &mut Vec<u32>,
        corr: &mut Vec<i32>,
    ) {
        if self.pairs.is_empty() || rows == 0 {
            return;
        }
        let t = self.t;
        // Sixteen rows at a time: their groups group-major (word (g, r) holds row
        // r's T activations of group g), small enough to stay in the caches, and
        // the pairs' sums per column for those rows.
        const R: usize = 16;
        gm.clear();
        // The tile, then its bytes through t2.
        gm.resize(2 * self.groups * R, 0);
        corr.clear();
        corr.resize(self.cols.len() * R, 0);
        for r0 in (0..rows).step_by(R) {
            let nr = R.min(rows - r0);
            if nr < R {
                gm[..self.groups * R].fill(0);
            }
            for r in 0..nr {
                let a = row(r0 + r);
                let whole = a.len() / t;
                match t {
                    4 => {
                        for (g, ch) in a.chunks_exact(4).enumerate() {
                            gm[g * R + r] = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]);
                        }
                    }
                    2 => {
                        for (g, ch) in a.chunks_exact(2).enumerate() {
                            gm[g * R + r] = u32::from(u16::from_le_bytes([ch[0], ch[1]]));
                        }
                    }
                    _ => {
                        for (g, &x) in a.iter().enumerate() {
                            gm[g * R + r] = u32::from(x);
                        }
                    }
                }
                // A last group that K does not fill.
                if whole < self.groups {
                    let mut b = [0u8; 4];
                    b[..a.len() - whole * t].copy_from_slice(&a[whole * t..]);
                    gm[whole * R + r] = u32::from_le_bytes(b);
                }
            }
            #[cfg(target_arch = "x86_64")]
            if self.simd {
                // SAFETY: the features were detected in `new`; gm holds 2 × groups
                // tiles of R words and corr cols × R sums, every pair's group and
                // slot index within them (by construction in `new`).
                unsafe { self.pairs_avx512(gm, corr) };
                self.flush(r0, nr, R, corr, c, ldc, j0);
                continue;
            }
            self.pairs_portable(gm, nr, R, corr);
            self.flush(r0, nr, R, corr, c, ldc, j0);
        }
    }

    /// Adds rows `r0..r0 + nr` of the sums into `c` and zeroes the sums.
    #[allow(clippy::too_many_arguments)]
    fn flush(
        &self,
        r0: usize,
        nr: usize,
        rp: usize,
        corr: &mut [i32],
        c: &mut [i64],
        ldc: usize,
        j0: usize,
    ) {
        for (s, &j) in self.cols.iter().enumerate() {
            let col = j0 + j as usize;
            for r in 0..nr {
                c[(r0 + r) * ldc + col] += i64::from(corr[s * rp + r]);
            }
            corr[s * rp..(s + 1) * rp].fill(0);
        }
    }

    /// One pair's contribution for one row: `x` the group's activations.
    #[inline]
    fn one(&self, p: &Pair, x: u32) -> i32 {
        let xb = x.to_le_bytes();
        let wb = p.w.to_le_bytes();
        let wn = p.wn.to_le_bytes();
        let act: [bool; 4] = std::array::from_fn(|l| xb[l] != 0 && wb[l] != 0);
        let cnt = act.iter().filter(|&&a| a).count();
        let mut s = 0i32;
        for l in 0..self.t {
            if !act[l] {
                continue;
            }
            let a = usize::from(xb[l]);
            let w = i32::from(wb[l] as i8);
            s += match (self.kind, cnt) {
                (LaneKind::Pair, _) => i32::from(self.t2[a]) * w,
                (_, 0 | 1) => a as i32 * w,
                (_, 2) => i32::from(self.t2[a]) * w,
                _ => i32::from(self.t2[a]) * i32::from(wn[l] as i8),
            };
        }
        s
    }

    fn pairs_portable(&self, gm: &[u32], rows: usize, rp: usize, corr: &mut [i32]) {
        for p in &self.pairs {
            let xs = &gm[p.group as usize * rp..p.group as usize * rp + rows];
            let s = p.slot as usize;
            let acc = &mut corr[s * rp..s * rp + rows];
            for (a, &x) in acc.iter_mut().zip(xs) {
                *a += self.one(p, x);
            }
        }
    }

    /// [`Rare::pairs_portable`] sixteen rows at a time: the tile's bytes through t2
    /// once, then per pair one `vpdpbusd` (pair rule) or three and two blends on
    /// the active count (quad rule). Zero activations and weights give nothing
    /// through the tables, so only the count needs the active lanes.
    ///
    /// # Safety
    /// AVX-512 F, BW, VNNI and VBMI must be available; `gm` holds `2 · groups · 16`
    /// words and `corr` `cols · 16` sums; every pair's group is below `groups` and
    /// its slot below `cols`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx512vbmi")]
    unsafe fn pairs_avx512(&self, gm: &mut [u32], corr: &mut [i32]) {
        use std::arch::x86_64::*;
        const R: usize = 16;
        let half = self.groups * R;
        assert!(gm.len() >= 2 * half && corr.len() >= self.cols.len() * R);
        use super::plan::simd::{load_lut, lut256};
        let l2 = load_lut(&self.t2);
        let (tile, t2s) = gm.split_at_mut(half);
        for (src, dst) in tile.chunks_exact(R).zip(t2s.chunks_exact_mut(R)) {
            // SAFETY: 16 words = 64 bytes each.
            unsafe {
                let x = _mm512_loadu_si512(src.as_ptr() as *const __m512i);
                _mm512_storeu_si512(dst.as_mut_ptr() as *mut __m512i, lut256(&l2, x));
            }
        }
        let (xs, t2s, acc) = (tile.as_ptr(), t2s.as_ptr(), corr.as_mut_ptr());
        let zero = _mm512_setzero_si512();
        let ones = _mm512_set1_epi8(1);
        let (c1, c2) = (_mm512_set1_epi32(1), _mm512_set1_epi32(2));
        if self.kind == LaneKind::Quad {
            for p in &self.pairs {
                let (g, s) = (p.group as usize * R, p.slot as usize * R);
                // SAFETY: g + 16 <= half and s + 16 <= cols · 16 (the contract).
                unsafe {
                    let x = _mm512_loadu_si512(xs.add(g) as *const __m512i);
                    let t2x = _mm512_loadu_si512(t2s.add(g) as *const __m512i);
                    let on = _mm512_test_epi8_mask(x, x) & p.lanes;
                    let cnt = _mm512_dpbusd_epi32(zero, _mm512_maskz_mov_epi8(on, ones), ones);
                    let (wi, wn) = (_mm512_set1_epi32(p.w), _mm512_set1_epi32(p.wn));
                    let d1 = _mm512_dpbusd_epi32(zero, x, wi);
                    let d2 = _mm512_dpbusd_epi32(zero, t2x, wi);
                    let d3 = _mm512_dpbusd_epi32(zero, t2x, wn);
                    let hi = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(cnt, c2), d3, d2);
                    let res = _mm512_mask_blend_epi32(_mm512_cmple_epi32_mask(cnt, c1), hi, d1);
                    let a = acc.add(s) as *mut __m512i;
                    _mm512_storeu_si512(a, _mm512_add_epi32(_mm512_loadu_si512(a), res));
                }
            }
        } else {
            for p in &self.pairs {
                let (g, s) = (p.group as usize * R, p.slot as usize * R);
                // SAFETY: as above.
                unsafe {
                    let t2x = _mm512_loadu_si512(t2s.add(g) as *const __m512i);
                    let a = acc.add(s) as *mut __m512i;
                    let sum =
                        _mm512_dpbusd_epi32(_mm512_loadu_si512(a), t2x, _mm512_set1_epi32(p.w));
                    _mm512_storeu_si512(a, sum);
                }
            }
        }
    }
}
