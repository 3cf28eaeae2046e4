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
use crate::config::{PeConfig, Policy, WindowSet, ZeroTest};
use crate::numerics::{nib4_table, win_table};

/// Index of the all-zero table.
const ZERO: u8 = 0;
/// Index of the identity table.
const IDENT: u8 = 1;
/// Index of the first design table (window, solo or pair).
const T2: u8 = 2;
/// Index of the second design table.
const T3: u8 = 3;

/// The per-cycle rule, from the config fields (as [`crate::model::PeModel`] reads them).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rule {
    Exact,
    Single,
    Pair { solo_reduces: bool },
    Quad,
}

fn rule(pe: &PeConfig) -> Rule {
    match pe.policy {
        Policy::Baseline | Policy::Ideal => Rule::Exact,
        Policy::Bsparq => Rule::Single,
        Policy::Sparq | Policy::Sysmt if pe.threads == 2 => Rule::Pair {
            solo_reduces: pe.window.unwrap_or(WindowSet::W4b2opt).bits() < 4,
        },
        Policy::Sparq | Policy::Sysmt => Rule::Quad,
    }
}

/// Whether lanes with a zero weight count as idle.
fn weight_test(pe: &PeConfig) -> bool {
    pe.zero_test == Some(ZeroTest::ActOrWeight)
}

/// Activation tables: zero, identity, then the rule's tables (pair: solo, pair;
/// single and quad: the window).
fn tables(pe: &PeConfig) -> Vec<[u8; 256]> {
    let rnd = pe.rounding_or_default();
    let set = pe.window.unwrap_or(WindowSet::W4b2opt);
    let ident: [u8; 256] = std::array::from_fn(|a| a as u8);
    let mut t = vec![[0u8; 256], ident];
    match rule(pe) {
        Rule::Exact => {}
        Rule::Single => t.push(win_table(set, rnd)),
        Rule::Pair { .. } => {
            t.push(match set.bits() {
                4 => ident,
                3 => win_table(WindowSet::W6b3opt, rnd),
                _ => win_table(WindowSet::W4b5opt, rnd),
            });
            t.push(win_table(set, rnd));
        }
        Rule::Quad => t.push(win_table(WindowSet::W4b2opt, rnd)),
    }
    t
}

/// What one active lane does, given the active count `c`: (activation table,
/// whether the weight goes through `nib4`).
fn lane_op(r: Rule, c: u32) -> (u8, bool) {
    match r {
        Rule::Exact => (IDENT, false),
        Rule::Single => (T2, false),
        Rule::Pair { .. } => (if c == 2 { T3 } else { T2 }, false),
        Rule::Quad => match c {
            0 | 1 => (IDENT, false),
            2 => (T2, false),
            _ => (T2, true),
        },
    }
}

/// Per (activation pattern, weight pattern): active lanes and reduced lanes of one
/// cycle, as the golden model counts them (`eval`'s statistics).
pub(crate) fn cycle_counts(pe: &PeConfig) -> ([[u32; 16]; 16], [[u32; 16]; 16]) {
    let t = pe.lanes();
    let full = (1u32 << t) - 1;
    let wt = weight_test(pe);
    let r = rule(pe);
    let mut on = [[0u32; 16]; 16];
    let mut red = [[0u32; 16]; 16];
    for ma in 0..(1u32 << t) {
        for mw in 0..(1u32 << t) {
            let n = (ma & if wt { mw } else { full }).count_ones();
            on[ma as usize][mw as usize] = n;
            red[ma as usize][mw as usize] = match r {
                Rule::Exact => 0,
                Rule::Single => ma.count_ones(),
                Rule::Pair { solo_reduces } => {
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
}

/// A design's decomposition on one GEMM's weights (see the module docs).
pub struct Plan {
    t: usize,
    groups: usize,
    weight_test: bool,
    /// Class of each weight pattern.
    class_of: [u8; 16],
    luts: Vec<u8>,
    nib4: [i8; 256],
    terms: Vec<Term>,
    /// Reduction indices of the transformed GEMM.
    kprime: usize,
}

impl Plan {
    /// Derives the decomposition of `pe`'s rule and lays it out for `g`'s weights.
    pub fn new(pe: &PeConfig, g: &Gemm) -> Plan {
        let t = pe.lanes();
        let pats = 1usize << t;
        let r = rule(pe);
        let wt = weight_test(pe) && matches!(r, Rule::Pair { .. } | Rule::Quad);
        let full = pats - 1;
        // Per weight pattern, the (table, nib) of each (ma, lane) that matters.
        type Table = [[Option<(u8, bool)>; 4]; 16];
        let table_of = |mw: usize| -> Table {
            let mut tab: Table = [[None; 4]; 16];
            for (ma, row) in tab.iter_mut().enumerate().take(pats) {
                let act = ma & mw;
                let c = act.count_ones();
                for (l, e) in row.iter_mut().enumerate().take(t) {
                    if act >> l & 1 == 1 {
                        *e = Some(lane_op(r, c));
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
        let groups = g.groups(t);
        // Which groups each class occurs in (some column has that weight pattern).
        let present: Option<Vec<Vec<bool>>> = (classes.len() > 1).then(|| {
            let mut p = vec![vec![false; groups]; classes.len()];
            for (gi, col) in (0..groups).map(|gi| (gi, gi * t)) {
                let mut seen = [false; 16];
                for j in 0..g.n {
                    let mut mw = 0usize;
                    for l in 0..t {
                        let k = col + l;
                        if k < g.k && g.w[k * g.n + j] != 0 {
                            mw |= 1 << l;
                        }
                    }
                    seen[mw] = true;
                }
                for (mw, &s) in seen.iter().enumerate().take(pats) {
                    if s {
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
                let gl: Option<Vec<u32>> = present.as_ref().map(|p| {
                    (0..groups as u32)
                        .filter(|&gi| p[ci][gi as usize])
                        .collect()
                });
                let len = gl.as_ref().map_or(groups, |v| v.len());
                if len == 0 {
                    continue;
                }
                terms.push(Term {
                    class: ci as u8,
                    nib,
                    sel,
                    uniform: uni.flatten(),
                    groups: gl,
                    off,
                });
                off += len * t;
            }
        }
        let luts = tables(pe).into_iter().flatten().collect();
        Plan {
            t,
            groups,
            weight_test: wt,
            class_of,
            luts,
            nib4: nib4_table(pe.rounding_or_default()),
            terms,
            kprime: off,
        }
    }

    /// Reduction indices of the transformed GEMM (before padding to the kernel's 4).
    pub fn kprime(&self) -> usize {
        self.kprime
    }

    /// Number of blocks (class, weight transform) laid along K.
    pub fn terms(&self) -> usize {
        self.terms.len()
    }

    /// The transformed weights W' (K'×N, row-major), packed for `kernel`.
    pub fn packed_weights(&self, g: &Gemm, kernel: Kernel) -> PackedW {
        let (t, n) = (self.t, g.n);
        let mut wp = vec![0i8; self.kprime.max(1) * n];
        for term in &self.terms {
            let mut put = |idx: usize, gi: usize| {
                for l in 0..t {
                    let k = gi * t + l;
                    if k >= g.k {
                        break;
                    }
                    let src = &g.w[k * n..(k + 1) * n];
                    let dst = &mut wp[(term.off + idx * t + l) * n..][..n];
                    for (j, (d, &w)) in dst.iter_mut().zip(src).enumerate() {
                        let keep = !self.weight_test || {
                            let mut mw = 0usize;
                            for ll in 0..t {
                                let kk = gi * t + ll;
                                if kk < g.k && g.w[kk * n + j] != 0 {
                                    mw |= 1 << ll;
                                }
                            }
                            self.class_of[mw] == term.class
                        };
                        if keep {
                            *d = if term.nib {
                                self.nib4[w as u8 as usize]
                            } else {
                                w
                            };
                        }
                    }
                }
            };
            match &term.groups {
                None => (0..self.groups).for_each(|gi| put(gi, gi)),
                Some(gl) => gl
                    .iter()
                    .enumerate()
                    .for_each(|(idx, &gi)| put(idx, gi as usize)),
            }
        }
        PackedW::new(kernel, &wp, self.kprime.max(1), n)
    }

    /// Writes row `a` (K activations) transformed into `out[..kprime]` (the rest of
    /// `out` is left as it is).
    pub fn transform_row(&self, a: &[u8], out: &mut [u8]) {
        let t = self.t;
        let k = a.len();
        let pat = |gi: usize| -> usize {
            let mut ma = 0usize;
            for l in 0..t {
                let kk = gi * t + l;
                if kk < k && a[kk] != 0 {
                    ma |= 1 << l;
                }
            }
            ma
        };
        for term in &self.terms {
            let dst = &mut out[term.off..];
            match (&term.groups, term.uniform) {
                (None, Some(u)) => {
                    if u == IDENT {
                        dst[..k].copy_from_slice(a);
                    } else {
                        let lut = &self.luts[usize::from(u) * 256..][..256];
                        for (d, &x) in dst[..k].iter_mut().zip(a) {
                            *d = lut[usize::from(x)];
                        }
                    }
                    dst[k..self.groups * t].fill(0);
                }
                _ => {
                    let mut one = |idx: usize, gi: usize| {
                        let s = &term.sel[pat(gi)];
                        for l in 0..t {
                            let kk = gi * t + l;
                            let x = if kk < k { a[kk] } else { 0 };
                            dst[idx * t + l] = self.luts[usize::from(s[l]) * 256 + usize::from(x)];
                        }
                    };
                    match &term.groups {
                        None => (0..self.groups).for_each(|gi| one(gi, gi)),
                        Some(gl) => gl
                            .iter()
                            .enumerate()
                            .for_each(|(idx, &gi)| one(idx, gi as usize)),
                    }
                }
            }
        }
    }
}
