//! The AVX-512 (VBMI) transform of a row of activations into a term's table bytes.

use super::{Plan, IDENT};
use std::arch::x86_64::*;

/// 256-entry byte table lookup of 64 bytes: two 128-entry `vpermi2b` and a
/// blend on each byte's top bit.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
pub(crate) fn lut256(t: &[__m512i; 4], x: __m512i) -> __m512i {
    let lo = _mm512_permutex2var_epi8(t[0], x, t[1]);
    let hi = _mm512_permutex2var_epi8(t[2], x, t[3]);
    _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi)
}

/// What every term shares for 64 bytes of padded activations (whole groups):
/// each byte's table-selection index `ma·T + lane` and its two table values.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn chunk64(
    t: usize,
    x: __m512i,
    lane_bit: __m512i,
    lane_id: __m512i,
    l2: &[__m512i; 4],
    l3: &[__m512i; 4],
) -> (__m512i, __m512i, __m512i) {
    let nz = _mm512_test_epi8_mask(x, x);
    let bits = _mm512_and_si512(_mm512_movm_epi8(nz), lane_bit);
    // Each byte gets its group's activation pattern ma.
    let rep = match t {
        4 => {
            let m =
                _mm512_srli_epi32::<24>(_mm512_mullo_epi32(bits, _mm512_set1_epi32(0x0101_0101)));
            _mm512_mullo_epi32(m, _mm512_set1_epi32(0x0101_0101))
        }
        2 => {
            let m = _mm512_srli_epi16::<8>(_mm512_mullo_epi16(bits, _mm512_set1_epi16(0x0101)));
            _mm512_mullo_epi16(m, _mm512_set1_epi16(0x0101))
        }
        _ => bits,
    };
    let idx = match t {
        4 => _mm512_or_si512(_mm512_slli_epi16::<2>(rep), lane_id),
        2 => _mm512_or_si512(_mm512_slli_epi16::<1>(rep), lane_id),
        _ => rep,
    };
    (idx, lut256(l2, x), lut256(l3, x))
}

/// One term's transformed bytes: table 0 (zero), 1 (x), 2 or 3 per byte.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn select64(x: __m512i, idx: __m512i, v2: __m512i, v3: __m512i, sel: __m512i) -> __m512i {
    let s = _mm512_permutexvar_epi8(idx, sel);
    let m1 = _mm512_cmpeq_epi8_mask(s, _mm512_set1_epi8(1));
    let m2 = _mm512_cmpeq_epi8_mask(s, _mm512_set1_epi8(2));
    let m3 = _mm512_cmpeq_epi8_mask(s, _mm512_set1_epi8(3));
    let r = _mm512_maskz_mov_epi8(m1, x);
    let r = _mm512_mask_mov_epi8(r, m2, v2);
    _mm512_mask_mov_epi8(r, m3, v3)
}

#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn load_lut(l: &[u8; 256]) -> [__m512i; 4] {
    let p = l.as_ptr() as *const __m512i;
    // SAFETY: l holds 256 bytes: four unaligned 64-byte loads.
    unsafe {
        [
            _mm512_loadu_si512(p),
            _mm512_loadu_si512(p.add(1)),
            _mm512_loadu_si512(p.add(2)),
            _mm512_loadu_si512(p.add(3)),
        ]
    }
}

/// Most terms of a plan (classes × weight transforms); a plan has at most 16
/// classes and two transforms.
const MAX_TERMS: usize = 32;

/// [`Plan::transform_row`] with AVX-512. Two passes over the row: first every
/// 64-byte chunk's table index and table values (shared by every term) into
/// `scratch`, then one term at a time over all chunks, so each term's loop keeps its
/// selection table and write position in registers.
///
/// # Safety
/// AVX-512 F, BW, VBMI and VBMI2 must be available.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2")]
pub(super) unsafe fn transform_row(p: &Plan, a: &[u8], out: &mut [u8], scratch: &mut Vec<u8>) {
    let t = p.t;
    let k = a.len();
    let kp = p.groups * t;
    let chunks = kp.div_ceil(64);
    // Terms that are a plain copy go first.
    let mut rest = [0usize; MAX_TERMS];
    let mut nrest = 0;
    for (ti, term) in p.terms.iter().enumerate() {
        if term.groups.is_none() && term.uniform == Some(IDENT) {
            let dst = &mut out[term.off..];
            dst[..k].copy_from_slice(a);
            dst[k..kp].fill(0);
        } else {
            assert!(nrest < MAX_TERMS, "a plan has at most {MAX_TERMS} terms");
            rest[nrest] = ti;
            nrest += 1;
        }
    }
    if nrest == 0 {
        return;
    }
    // scratch: the padded row, then per chunk its index, t2 and t3 values.
    let row = chunks * 64;
    scratch.clear();
    scratch.extend_from_slice(a);
    scratch.resize(4 * row, 0);
    let l2 = load_lut(&p.luts[2]);
    let l3 = load_lut(&p.luts[3]);
    let lane_bit = _mm512_loadu_si512(p.lane_bit.as_ptr() as *const __m512i);
    let lane_id = _mm512_loadu_si512(p.lane_id.as_ptr() as *const __m512i);
    let base = scratch.as_mut_ptr();
    for c in 0..chunks {
        // SAFETY: scratch holds 4 × `row` bytes: the chunk and its three outputs.
        unsafe {
            let x = _mm512_loadu_si512(base.add(64 * c) as *const __m512i);
            let (idx, v2, v3) = chunk64(t, x, lane_bit, lane_id, &l2, &l3);
            _mm512_storeu_si512(base.add(row + 64 * c) as *mut __m512i, idx);
            _mm512_storeu_si512(base.add(2 * row + 64 * c) as *mut __m512i, v2);
            _mm512_storeu_si512(base.add(3 * row + 64 * c) as *mut __m512i, v3);
        }
    }
    let base = scratch.as_ptr();
    // SAFETY (loads below): chunk c < chunks of each of the four rows of scratch.
    macro_rules! load {
        ($r:expr, $c:expr) => {
            unsafe { _mm512_loadu_si512(base.add($r * row + 64 * $c) as *const __m512i) }
        };
    }
    let per = 64 / t; // groups per 64 bytes
    for &ti in &rest[..nrest] {
        let term = &p.terms[ti];
        let sel = _mm512_loadu_si512(term.sel64.as_ptr() as *const __m512i);
        let dst = &mut out[term.off..];
        match &term.groups {
            None => {
                assert!(dst.len() >= kp);
                let ptr = dst.as_mut_ptr();
                for c in 0..chunks {
                    let r = select64(load!(0, c), load!(1, c), load!(2, c), load!(3, c), sel);
                    let valid = (kp - 64 * c).min(64);
                    let m: u64 = if valid == 64 { !0 } else { (1u64 << valid) - 1 };
                    // SAFETY: bytes 64c..64c + valid < kp <= dst.len() (checked above).
                    unsafe { _mm512_mask_storeu_epi8(ptr.add(64 * c) as *mut i8, m, r) };
                }
            }
            Some(gl) => {
                let total = gl.len() * t;
                assert!(dst.len() >= total);
                let ptr = dst.as_mut_ptr();
                let mut w = 0usize;
                for c in 0..chunks {
                    let g0 = c * per;
                    let word = term.group_bits[g0 / 64] >> (g0 % 64);
                    let gm = if per == 64 {
                        word
                    } else {
                        word & ((1u64 << per) - 1)
                    };
                    if gm == 0 {
                        continue;
                    }
                    let r = select64(load!(0, c), load!(1, c), load!(2, c), load!(3, c), sel);
                    let len = gm.count_ones() as usize * t;
                    // Compressed in a register, then a masked store of its first
                    // `len` bytes: a compress straight to memory is microcoded on
                    // some cores (tens of times slower).
                    let packed = match t {
                        4 => _mm512_maskz_compress_epi32(gm as u16, r),
                        2 => _mm512_maskz_compress_epi16(gm as u32, r),
                        _ => _mm512_maskz_compress_epi8(gm, r),
                    };
                    let bytes: u64 = if len == 64 { !0 } else { (1u64 << len) - 1 };
                    // The term's groups hold `total` bytes in all; the chunks' groups
                    // are a partition of them, so w + len <= total <= dst.len().
                    assert!(w + len <= total);
                    // SAFETY: in bounds (checked above).
                    unsafe { _mm512_mask_storeu_epi8(ptr.add(w) as *mut i8, bytes, packed) };
                    w += len;
                }
            }
        }
    }
}
