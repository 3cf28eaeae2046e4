//! The AVX-512 (VBMI) transform of a row of activations into a term's table bytes.

use super::{Plan, IDENT};
use std::arch::x86_64::*;

/// 256-entry byte table lookup of 64 bytes: two 128-entry `vpermi2b` and a
/// blend on each byte's top bit.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn lut256(t: &[__m512i; 4], x: __m512i) -> __m512i {
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
fn load_lut(l: &[u8; 256]) -> [__m512i; 4] {
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

/// [`Plan::transform_row`] with AVX-512.
///
/// # Safety
/// AVX-512 F, BW, VBMI and VBMI2 must be available.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2")]
pub(super) unsafe fn transform_row(p: &Plan, a: &[u8], out: &mut [u8], scratch: &mut Vec<u8>) {
    let t = p.t;
    let k = a.len();
    let kp = p.groups * t;
    let l2 = load_lut(&p.luts[2]);
    let l3 = load_lut(&p.luts[3]);
    let lane_bit = _mm512_loadu_si512(p.lane_bit.as_ptr() as *const __m512i);
    let lane_id = _mm512_loadu_si512(p.lane_id.as_ptr() as *const __m512i);
    let per = 64 / t; // groups per 64 bytes
                      // Terms that are a plain copy go first; the rest are filled chunk by chunk
                      // (the pattern and table lookups once per chunk for all terms).
    let mut rest: Vec<(usize, __m512i)> = Vec::with_capacity(p.terms.len());
    for (ti, term) in p.terms.iter().enumerate() {
        if term.groups.is_none() && term.uniform == Some(IDENT) {
            let dst = &mut out[term.off..];
            dst[..k].copy_from_slice(a);
            dst[k..kp].fill(0);
        } else {
            rest.push((
                ti,
                _mm512_loadu_si512(term.sel64.as_ptr() as *const __m512i),
            ));
        }
    }
    if rest.is_empty() {
        return;
    }
    scratch.clear();
    scratch.extend_from_slice(a);
    scratch.resize(kp.div_ceil(64) * 64, 0);
    let mut written = vec![0usize; rest.len()];
    for c in 0..kp.div_ceil(64) {
        // SAFETY: scratch holds whole 64-byte chunks.
        let x = unsafe { _mm512_loadu_si512(scratch.as_ptr().add(64 * c) as *const __m512i) };
        let (idx, v2, v3) = chunk64(t, x, lane_bit, lane_id, &l2, &l3);
        let valid = (kp - 64 * c).min(64);
        let g0 = c * per;
        for (ri, &(ti, sel)) in rest.iter().enumerate() {
            let term = &p.terms[ti];
            let dst = &mut out[term.off..];
            match &term.groups {
                None => {
                    let r = select64(x, idx, v2, v3, sel);
                    let m: u64 = if valid == 64 { !0 } else { (1u64 << valid) - 1 };
                    assert!(dst.len() >= 64 * c + valid);
                    // SAFETY: checked above: dst holds the masked bytes.
                    unsafe {
                        _mm512_mask_storeu_epi8(dst.as_mut_ptr().add(64 * c) as *mut i8, m, r)
                    };
                }
                Some(_) => {
                    let word = term.group_bits[g0 / 64] >> (g0 % 64);
                    let gm = if per == 64 {
                        word
                    } else {
                        word & ((1u64 << per) - 1)
                    };
                    if gm == 0 {
                        continue;
                    }
                    let r = select64(x, idx, v2, v3, sel);
                    let w = written[ri];
                    let len = gm.count_ones() as usize * t;
                    assert!(dst.len() >= w + len);
                    let ptr = dst[w..].as_mut_ptr();
                    // Compressed in a register, then a masked store of its first
                    // `len` bytes: a compress straight to memory is microcoded on
                    // some cores (tens of times slower).
                    let packed = match t {
                        4 => _mm512_maskz_compress_epi32(gm as u16, r),
                        2 => _mm512_maskz_compress_epi16(gm as u32, r),
                        _ => _mm512_maskz_compress_epi8(gm, r),
                    };
                    let bytes: u64 = if len == 64 { !0 } else { (1u64 << len) - 1 };
                    // SAFETY: the store writes `len` bytes, checked above to fit in dst.
                    unsafe { _mm512_mask_storeu_epi8(ptr as *mut i8, bytes, packed) };
                    written[ri] = w + len;
                }
            }
        }
    }
}
