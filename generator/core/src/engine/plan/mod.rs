//! A design's decomposition into one exact GEMM over transformed operands.
//!
//! Spec §5 makes every lane's product `f(a)·g(w)`, where `f` is the identity or a
//! window table, `g` the identity or `nib4`, and the choice depends only on the
//! group's activation zero pattern `ma` and weight zero pattern `mw` (through the
//! active count `c = |ma ∧ mw|`, with `mw` all ones under zero test `act`):
//!
//! | rule | lane active, c = 0/1 | c = 2 | c ≥ 3 |
//! |---|---|---|---|
//! | exact (baseline, ideal) | a·w | a·w | a·w |
//! | single (bsparq) | win(a)·w | | |
//! | pair (sparq, sysmt T=2) | solo(a)·w | pair(a)·w | |
//! | quad (sysmt T=4) | a·w | win(a)·w | win(a)·nib4(w) |
//!
//! (`solo` is the identity for 4-bit units, `win(6b3opt)` for 3-bit and
//! `win(4b5opt)` for 2-bit ones.) For each weight pattern the table
//! `(ma, lane) → (f, g)` is fixed; patterns whose tables agree wherever both matter
//! (a lane matters only when its activation and weight are non-zero) are merged
//! into one *class*. Each (group, column) pair belongs to one class, so
//! `C = Σ_class Σ_g A_(class,g) · g(W_class)` where `W_class` keeps the weights of
//! the (group, column) pairs of that class (zero elsewhere) and `A_(class,g)` holds
//! `f(a)` where the lane's weight transform is `g` (zero elsewhere). Each such term
//! only needs the groups in which some column has that class; the terms are laid
//! side by side along K.

use super::kernel::{Kernel, PackedW};
use crate::array::Gemm;
use crate::config::{Design, Rule as DpRule};
use crate::numerics::{nib4_table, win_table};

/// Index of the all-zero table.
const ZERO: u8 = 0;
/// Index of the identity table.
const IDENT: u8 = 1;
/// Index of the first design table (window, solo or pair).
const T2: u8 = 2;
/// Index of the second design table.
const T3: u8 = 3;

/// The datapath's per-cycle rule ([`crate::config::Rule`], with the 2:4 selection
/// folded in), as the plan's tables index it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rule {
    Exact,
    Single,
    Pair {
        solo_reduces: bool,
    },
    /// 2:4-sparse (spec §5.1): the pair rule on the first two lanes whose weight is
    /// non-zero; the other lanes give nothing.
    Stc {
        solo_reduces: bool,
    },
    Quad,
}

/// The lanes a 2:4-sparse PE selects for weight pattern `mw`: its first two set bits.
fn stc_selected(mw: usize) -> usize {
    let first = mw & mw.wrapping_neg();
    let rest = mw & !first;
    first | (rest & rest.wrapping_neg())
}

fn rule(d: &Design) -> Rule {
    let dp = d.dp();
    match dp.rule {
        DpRule::Exact { .. } => Rule::Exact,
        DpRule::Single { .. } => Rule::Single,
        DpRule::Pair { solo, .. } if dp.select.is_some() => Rule::Stc {
            solo_reduces: solo.is_some(),
        },
        DpRule::Pair { solo, .. } => Rule::Pair {
            solo_reduces: solo.is_some(),
        },
        DpRule::Quad { .. } => Rule::Quad,
    }
}

/// Whether the rule depends on which weights are zero (zero test `act_or_weight`, or
/// the 2:4 selection).
fn weight_test(d: &Design) -> bool {
    d.dp().weight_dependent()
}

/// Activation tables: zero, identity, then the rule's tables (pair: solo, pair;
/// single and quad: the window).
fn tables(d: &Design) -> Vec<[u8; 256]> {
    let dp = d.dp();
    let rnd = dp.rounding;
    let ident: [u8; 256] = std::array::from_fn(|a| a as u8);
    let mut t = vec![[0u8; 256], ident];
    match dp.rule {
        DpRule::Exact { .. } => {}
        DpRule::Single { window } | DpRule::Quad { window, .. } => t.push(win_table(window, rnd)),
        DpRule::Pair { pair, solo, .. } => {
            t.push(solo.map_or(ident, |s| win_table(s, rnd)));
            t.push(win_table(pair, rnd));
        }
    }
    t
}

/// What one active lane does, given the active count `c`: (activation table,
/// whether the weight goes through `nib4`).
fn lane_op(r: Rule, c: u32) -> (u8, bool) {
    match r {
        Rule::Exact => (IDENT, false),
        Rule::Single => (T2, false),
        Rule::Pair { .. } | Rule::Stc { .. } => (if c == 2 { T3 } else { T2 }, false),
        Rule::Quad => match c {
            0 | 1 => (IDENT, false),
            2 => (T2, false),
            _ => (T2, true),
        },
    }
}

/// Per (activation pattern, weight pattern): active lanes and reduced lanes of one
/// cycle, as the golden model counts them (`eval`'s statistics).
pub(crate) fn cycle_counts(d: &Design) -> ([[u32; 16]; 16], [[u32; 16]; 16]) {
    let t = d.lanes();
    let full = (1u32 << t) - 1;
    let wt = weight_test(d);
    let r = rule(d);
    let mut on = [[0u32; 16]; 16];
    let mut red = [[0u32; 16]; 16];
    for ma in 0..(1u32 << t) {
        for mw in 0..(1u32 << t) {
            let n = match r {
                Rule::Stc { .. } => (ma & stc_selected(mw as usize) as u32).count_ones(),
                Rule::Exact | Rule::Single | Rule::Pair { .. } | Rule::Quad => {
                    (ma & if wt { mw } else { full }).count_ones()
                }
            };
            on[ma as usize][mw as usize] = n;
            red[ma as usize][mw as usize] = match r {
                Rule::Exact => 0,
                Rule::Single => ma.count_ones(),
                Rule::Pair { solo_reduces } | Rule::Stc { solo_reduces } => {
                    if n == 2 {
                        2
                    } else {
                        u32::from(solo_reduces) * n
                    }
                }
                Rule::Quad => {
                    if n >= 2 {
                        n
                    } else {
                        0
                    }
                }
            };
        }
    }
    (on, red)
}

/// What a lane of a group computes as a function of the group's active count `c`
/// (lanes whose activation is non-zero and, under a weight test, whose weight is
/// non-zero; under 2:4 selection only the selected lanes count), [`lane_op`]'s
/// table written out: [`LaneKind::Exact`] `a·w`; [`LaneKind::Single`]
/// `t2(a)·w`; [`LaneKind::Pair`] `t3(a)·w` when `c = 2`, else `t2(a)·w`;
/// [`LaneKind::Quad`] `a·w` when `c ≤ 1`, `t2(a)·w` when `c = 2`, `t2(a)·nib4(w)`
/// when `c ≥ 3`. A lane whose activation is zero gives 0; under 2:4 selection an
/// unselected lane gives 0.
pub(crate) struct LaneRule {
    pub kind: LaneKind,
    pub weight_test: bool,
    pub stc: bool,
    pub t2: [u8; 256],
    pub t3: [u8; 256],
    pub nib4: [i8; 256],
}

/// The shape of a [`LaneRule`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LaneKind {
    Exact,
    Single,
    Pair,
    Quad,
}

impl LaneRule {
    /// The lanes of a group with weight zero pattern `mw` that count towards `c`
    /// (all `t` lanes unless the rule tests weights), and the lanes that give
    /// nothing (unselected under 2:4 though their weight is non-zero).
    pub fn counted(&self, mw: usize, t: usize) -> (u8, u8) {
        let full = (1usize << t) - 1;
        if self.stc {
            let sel = stc_selected(mw);
            (sel as u8, (mw & !sel) as u8)
        } else if self.weight_test {
            (mw as u8, 0)
        } else {
            (full as u8, 0)
        }
    }
}

/// A K×N weight matrix (row-major) that a plan is laid out for.
pub struct Weights<'a> {
    /// Reduction length.
    pub k: usize,
    /// Columns.
    pub n: usize,
    /// K×N values, row-major.
    pub w: &'a [i8],
}

/// One block of reduction indices of the transformed GEMM.
#[derive(Clone, Debug)]
struct Term {
    class: u8,
    nib: bool,
    /// Activation table per (activation pattern, lane).
    sel: [[u8; 4]; 16],
    /// One table for every lane and pattern (lanes whose activation is zero aside).
    uniform: Option<u8>,
    /// The groups this term covers, in order (None: all of them).
    groups: Option<Vec<u32>>,
    /// First reduction index of the term in the transformed GEMM.
    off: usize,
    /// `sel` as 64 bytes indexed by `ma·T + lane` (the vector transform's table).
    sel64: [u8; 64],
    /// The term's groups as a bit set (bit g of word g/64); empty when all.
    group_bits: Vec<u64>,
}

/// A design's decomposition on one GEMM's weights (see the module docs).
pub struct Plan {
    rule: Rule,
    t: usize,
    groups: usize,
    weight_test: bool,
    /// Class of each weight pattern.
    class_of: [u8; 16],
    /// Activation tables: zero, identity, then the rule's (see [`tables`]).
    luts: [[u8; 256]; 4],
    nib4: [i8; 256],
    terms: Vec<Term>,
    /// Reduction indices of the transformed GEMM.
    kprime: usize,
    /// Transform A with AVX-512 VBMI (set by [`Plan::use_simd`]).
    simd: bool,
    /// Per byte of a 64-byte chunk: its lane's bit (1 << lane) and its lane.
    lane_bit: [u8; 64],
    lane_id: [u8; 64],
}

impl Plan {
    /// Derives the decomposition of `d`'s rule and lays it out for `g`'s weights.
    pub fn new(d: &Design, g: &Gemm) -> Plan {
        Plan::for_weights(
            d,
            &Weights {
                k: g.k,
                n: g.n,
                w: &g.w,
            },
        )
    }

    /// [`Plan::new`] for a K×N weight matrix alone.
    pub fn for_weights(d: &Design, g: &Weights) -> Plan {
        let t = d.lanes();
        let pats = 1usize << t;
        let r = rule(d);
        let wt = weight_test(d)
            && match r {
                Rule::Pair { .. } | Rule::Stc { .. } | Rule::Quad => true,
                Rule::Exact | Rule::Single => false,
            };
        let full = pats - 1;
        // Per weight pattern, the (table, nib) of each (ma, lane) that matters.
        type Table = [[Option<(u8, bool)>; 4]; 16];
        let table_of = |mw: usize| -> Table {
            let mut tab: Table = [[None; 4]; 16];
            // Under 2:4 selection a lane with a non-zero weight beyond the first two
            // gives nothing: the zero table, which matters (its product is not 0).
            let sel = match r {
                Rule::Stc { .. } => stc_selected(mw),
                Rule::Exact | Rule::Single | Rule::Pair { .. } | Rule::Quad => mw,
            };
            for (ma, row) in tab.iter_mut().enumerate().take(pats) {
                let act = ma & sel;
                let c = act.count_ones();
                for (l, e) in row.iter_mut().enumerate().take(t) {
                    if act >> l & 1 == 1 {
                        *e = Some(lane_op(r, c));
                    } else if (ma & mw & !sel) >> l & 1 == 1 {
                        *e = Some((ZERO, false));
                    }
                }
            }
            tab
        };
        let mut classes: Vec<Table> = Vec::new();
        let mut class_of = [0u8; 16];
        let patterns: Vec<usize> = if wt {
            // Most lanes first, so the dense pattern anchors the first class.
            let mut p: Vec<usize> = (0..pats).collect();
            p.sort_by_key(|&m| std::cmp::Reverse(m.count_ones()));
            p
        } else {
            vec![full]
        };
        for &mw in &patterns {
            let tab = table_of(mw);
            let fits = |c: &Table| {
                c.iter().zip(&tab).all(|(x, y)| {
                    x.iter()
                        .zip(y)
                        .all(|(a, b)| a.is_none() || b.is_none() || a == b)
                })
            };
            let idx = match classes.iter().position(fits) {
                Some(i) => {
                    for (x, y) in classes[i].iter_mut().zip(&tab) {
                        for (a, b) in x.iter_mut().zip(y) {
                            if a.is_none() {
                                *a = *b;
                            }
                        }
                    }
                    i
                }
                None => {
                    classes.push(tab);
                    classes.len() - 1
                }
            };
            if wt {
                class_of[mw] = idx as u8;
            }
        }
        let groups = g.k.div_ceil(t).max(1);
        // Which groups each class occurs in (some column has that weight pattern).
        let present: Option<Vec<Vec<bool>>> = (classes.len() > 1).then(|| {
            use rayon::prelude::*;
            // Per group, the weight patterns its columns have (a bit per pattern).
            let seen: Vec<u16> = (0..groups)
                .into_par_iter()
                .with_min_len(64)
                .map(|gi| {
                    let mut seen = 0u16;
                    for j in 0..g.n {
                        let mut mw = 0usize;
                        for l in 0..t {
                            let k = gi * t + l;
                            if k < g.k && g.w[k * g.n + j] != 0 {
                                mw |= 1 << l;
                            }
                        }
                        seen |= 1 << mw;
                    }
                    seen
                })
                .collect();
            let mut p = vec![vec![false; groups]; classes.len()];
            for (gi, &sn) in seen.iter().enumerate() {
                for mw in 0..pats {
                    if sn >> mw & 1 == 1 {
                        p[class_of[mw] as usize][gi] = true;
                    }
                }
            }
            p
        });
        let mut terms = Vec::new();
        let mut off = 0;
        for (ci, tab) in classes.iter().enumerate() {
            for nib in [false, true] {
                let mut sel = [[ZERO; 4]; 16];
                let mut any = false;
                let mut uni: Option<Option<u8>> = None;
                for ma in 0..pats {
                    for l in 0..t {
                        let v = match tab[ma][l] {
                            Some((lut, n)) if n == nib => lut,
                            _ => ZERO,
                        };
                        sel[ma][l] = v;
                        any |= v != ZERO;
                        // Uniform if every lane with a non-zero activation uses one table.
                        if ma >> l & 1 == 1 {
                            uni = match uni {
                                None => Some(Some(v)),
                                Some(Some(u)) if u == v => Some(Some(u)),
                                _ => Some(None),
                            };
                        }
                    }
                }
                if !any {
                    continue;
                }
                // A class present in every group covers all of them: no list (the
                // transform then writes whole chunks instead of compressing).
                let gl: Option<Vec<u32>> = present
                    .as_ref()
                    .map(|p| {
                        (0..groups as u32)
                            .filter(|&gi| p[ci][gi as usize])
                            .collect::<Vec<u32>>()
                    })
                    .filter(|v| v.len() < groups);
                let len = gl.as_ref().map_or(groups, |v| v.len());
                if len == 0 {
                    continue;
                }
                terms.push(Term {
                    class: ci as u8,
                    nib,
                    sel,
                    uniform: uni.flatten(),
                    sel64: std::array::from_fn(|i| {
                        let (ma, l) = (i / t, i % t);
                        if ma < pats {
                            sel[ma][l]
                        } else {
                            ZERO
                        }
                    }),
                    group_bits: gl.as_ref().map_or(Vec::new(), |v| {
                        let mut b = vec![0u64; groups.div_ceil(64)];
                        for &gi in v {
                            b[gi as usize / 64] |= 1 << (gi % 64);
                        }
                        b
                    }),
                    groups: gl,
                    off,
                });
                off += len * t;
            }
        }
        let mut luts = [[0u8; 256]; 4];
        for (d, s) in luts.iter_mut().zip(tables(d)) {
            *d = s;
        }
        Plan {
            rule: r,
            t,
            groups,
            weight_test: wt,
            class_of,
            luts,
            nib4: nib4_table(d.dp().rounding),
            terms,
            kprime: off,
            simd: false,
            lane_bit: std::array::from_fn(|i| 1u8 << (i % t)),
            lane_id: std::array::from_fn(|i| (i % t) as u8),
        }
    }

    /// Transforms A with AVX-512 (VBMI table lookups, VBMI2 compress) when `on` and
    /// the machine has them; otherwise (and by default) with portable code. The
    /// result is the same either way.
    pub fn use_simd(&mut self, on: bool) {
        #[cfg(target_arch = "x86_64")]
        {
            self.simd = on
                && self.t <= 4
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vbmi")
                && std::arch::is_x86_feature_detected!("avx512vbmi2");
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = on;
        }
    }

    /// Reduction indices of the transformed GEMM (before padding to the kernel's 4).
    pub fn kprime(&self) -> usize {
        self.kprime
    }

    /// Whether the transformed A is A itself (one exact term over all of K, K a
    /// multiple of the lanes).
    pub fn is_identity(&self, k: usize) -> bool {
        matches!(&self.terms[..], [t] if t.groups.is_none() && t.uniform == Some(IDENT))
            && self.kprime == k
    }

    /// The class of weight zero pattern `mw` (0 when the rule ignores weights; the
    /// pattern with every lane non-zero is always class 0).
    pub(crate) fn class_of_pattern(&self, mw: usize) -> u8 {
        self.class_of[mw]
    }

    /// Drops every term but class 0's (the dense pattern's) and lays those out
    /// again along K: the (group, column) pairs of the other classes then give
    /// nothing in the transformed GEMM (their weights are not in W'), and
    /// [`super::rare::Rare`] adds them.
    pub(crate) fn keep_dense_class(&mut self) {
        self.terms.retain(|t| t.class == 0);
        let mut off = 0;
        for term in &mut self.terms {
            term.off = off;
            off += term.groups.as_ref().map_or(self.groups, |g| g.len()) * self.t;
        }
        self.kprime = off;
    }

    /// Number of classes of weight zero patterns (1 when the rule ignores them).
    pub fn classes(&self) -> usize {
        self.terms
            .iter()
            .map(|t| t.class)
            .max()
            .map_or(1, |c| usize::from(c) + 1)
    }

    /// Number of blocks (class, weight transform) laid along K.
    pub fn terms(&self) -> usize {
        self.terms.len()
    }

    /// The transformed weights W' (K'×N, row-major), packed for `kernel`.
    pub fn packed_weights(&self, g: &Weights, kernel: Kernel) -> PackedW {
        let wp = self.transformed_weights(g);
        PackedW::new(kernel, &wp, self.kprime.max(1), g.n)
    }

    /// The transformed weights W' (max(K', 1)×N, row-major, unpacked): the GEMM of a
    /// row transformed by [`Plan::transform_row`] with them is the design's.
    pub fn transformed_weights(&self, g: &Weights) -> Vec<i8> {
        use rayon::prelude::*;
        let (t, n) = (self.t, g.n);
        let mut wp = vec![0i8; self.kprime.max(1) * n];
        // The class of every (group, column) pair, when classes depend on weights.
        let cls: Vec<u8> = if self.weight_test {
            let mut v = vec![0u8; self.groups * n];
            v.par_chunks_mut(n.max(1))
                .enumerate()
                .for_each(|(gi, row)| {
                    for l in 0..t {
                        let k = gi * t + l;
                        if k >= g.k {
                            break;
                        }
                        for (m, &w) in row.iter_mut().zip(&g.w[k * n..(k + 1) * n]) {
                            *m |= u8::from(w != 0) << l;
                        }
                    }
                    for m in row.iter_mut() {
                        *m = self.class_of[usize::from(*m)];
                    }
                });
            v
        } else {
            Vec::new()
        };
        // One slot of t rows of W' per (term, group), in the order laid along K.
        let slots: Vec<(&Term, usize)> = self
            .terms
            .iter()
            .flat_map(|term| {
                let gs: Box<dyn Iterator<Item = usize>> = match &term.groups {
                    None => Box::new(0..self.groups),
                    Some(gl) => Box::new(gl.iter().map(|&gi| gi as usize)),
                };
                gs.map(move |gi| (term, gi))
            })
            .collect();
        wp.par_chunks_mut((t * n).max(1))
            .zip(slots.par_iter())
            .with_min_len(64)
            .for_each(|(dst, &(term, gi))| {
                for l in 0..t {
                    let k = gi * t + l;
                    if k >= g.k {
                        break;
                    }
                    let src = &g.w[k * n..(k + 1) * n];
                    let d = &mut dst[l * n..(l + 1) * n];
                    if term.nib {
                        for (d, &w) in d.iter_mut().zip(src) {
                            *d = self.nib4[w as u8 as usize];
                        }
                    } else {
                        d.copy_from_slice(src);
                    }
                    if self.weight_test {
                        // Keep only the columns of this term's class (branch-free).
                        let cr = &cls[gi * n..(gi + 1) * n];
                        for (d, &c) in d.iter_mut().zip(cr) {
                            *d &= -i8::from(c == term.class);
                        }
                    }
                }
            });
        wp
    }

    /// Lanes per group (the design's T).
    pub(crate) fn lanes(&self) -> usize {
        self.t
    }

    /// The rule as a per-lane function of the active count, for a pass that
    /// applies it without tables per weight pattern (see [`LaneRule`]).
    pub(crate) fn lane_rule(&self) -> LaneRule {
        let kind = match self.rule {
            Rule::Exact => LaneKind::Exact,
            Rule::Single => LaneKind::Single,
            Rule::Pair { .. } | Rule::Stc { .. } => LaneKind::Pair,
            Rule::Quad => LaneKind::Quad,
        };
        LaneRule {
            kind,
            weight_test: self.weight_test,
            stc: matches!(self.rule, Rule::Stc { .. }),
            t2: self.luts[usize::from(T2)],
            t3: self.luts[usize::from(T3)],
            nib4: self.nib4,
        }
    }

    /// Writes row `a` (K activations) transformed into `out[..kprime]` (the rest of
    /// `out` is left as it is). `scratch` is reused between calls.
    pub fn transform_row(&self, a: &[u8], out: &mut [u8], scratch: &mut Vec<u8>) {
        #[cfg(target_arch = "x86_64")]
        if self.simd {
            // SAFETY: `simd` is set only when AVX-512 F/BW/VBMI/VBMI2 were detected.
            unsafe { simd::transform_row(self, a, out, scratch) };
            return;
        }
        let t = self.t;
        let k = a.len();
        let kp = self.groups * t;
        // The row zero-padded to whole groups, then each group's activation pattern.
        scratch.clear();
        scratch.extend_from_slice(a);
        scratch.resize(kp, 0);
        let needs_patterns = self
            .terms
            .iter()
            .any(|t| t.groups.is_some() || t.uniform.is_none());
        for gi in 0..self.groups * usize::from(needs_patterns) {
            let mut ma = 0u8;
            for l in 0..t {
                ma |= u8::from(scratch[gi * t + l] != 0) << l;
            }
            scratch.push(ma);
        }
        let (padded, mas) = scratch.split_at(kp);
        for term in &self.terms {
            let dst = &mut out[term.off..];
            match (&term.groups, term.uniform) {
                (None, Some(u)) => {
                    if u == IDENT {
                        dst[..k].copy_from_slice(a);
                    } else {
                        let lut = &self.luts[usize::from(u & 3)];
                        for (d, &x) in dst[..k].iter_mut().zip(a) {
                            *d = lut[usize::from(x)];
                        }
                    }
                    dst[k..kp].fill(0);
                }
                _ => match t {
                    1 => self.gather::<1>(term, padded, mas, dst),
                    2 => self.gather::<2>(term, padded, mas, dst),
                    _ => self.gather::<4>(term, padded, mas, dst),
                },
            }
        }
    }

    /// One term's transformed activations, `T` lanes per group, for the term's groups.
    #[inline]
    fn gather<const T: usize>(&self, term: &Term, padded: &[u8], mas: &[u8], dst: &mut [u8]) {
        let luts = &self.luts;
        let one = |x: &[u8], ma: u8, d: &mut [u8]| {
            let s = &term.sel[usize::from(ma & 15)];
            for l in 0..T {
                d[l] = luts[usize::from(s[l] & 3)][usize::from(x[l])];
            }
        };
        match &term.groups {
            None => {
                for ((x, &ma), d) in padded.chunks_exact(T).zip(mas).zip(dst.chunks_exact_mut(T)) {
                    one(x, ma, d);
                }
            }
            Some(gl) => {
                for (&gi, d) in gl.iter().zip(dst.chunks_exact_mut(T)) {
                    let gi = gi as usize;
                    one(&padded[gi * T..gi * T + T], mas[gi], d);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod simd;
