//! The golden model of one processing element: the per-cycle rule of its elaborated
//! datapath ([`crate::config::Datapath`], spec §5) and the wrapping accumulator (spec
//! §2), table-driven for speed. The RTL is checked against this model cycle by cycle.

use crate::config::{Design, PeConfig, Rule as DpRule, WindowSet};
use crate::numerics::{nib4_table, win_table};

/// Highest lane count any policy has.
pub const MAX_LANES: usize = 4;

/// The datapath's rule with its tables, in the form the cycle loop runs.
#[derive(Clone)]
enum Rule {
    /// Every lane exact (baseline, ideal).
    Exact,
    /// One lane, windowed (bsparq).
    Single { win: Box<[u8; 256]> },
    /// Two lanes sharing two units (sparq, sysmt T=2): `solo` when c ≤ 1, `pair` when c = 2.
    Pair {
        solo: Box<[u8; 256]>,
        pair: Box<[u8; 256]>,
    },
    /// Four lanes in, the first two with a non-zero weight on the pair's units under
    /// zero test `act` (sparq with stc, spec §5.1); tables as for `Pair`.
    Stc {
        solo: Box<[u8; 256]>,
        pair: Box<[u8; 256]>,
    },
    /// Four lanes on four quarters (sysmt T=4).
    Quad {
        win: Box<[u8; 256]>,
        nib4: Box<[i8; 256]>,
    },
}

/// What one cycle did: each lane's product, the lane sum, and the active-lane count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cycle {
    /// Products as the PE forms them (idle and unused lanes are 0).
    pub products: [i32; MAX_LANES],
    /// Sum of the products.
    pub sum: i32,
    /// Number of non-idle lanes (for exact policies, the non-zero products' lanes).
    pub active: u32,
    /// Active lanes whose product this cycle went through a window or nibble
    /// (reduced precision; the value may still come out exact).
    pub reduced: u32,
}

/// A processing element's golden model: configuration, lookup tables and accumulator.
#[derive(Clone)]
pub struct PeModel {
    cfg: PeConfig,
    lanes: usize,
    rule: Rule,
    zt_weight: bool,
    /// A lone active lane is windowed too (sparq with 3- or 2-bit units).
    solo_reduces: bool,
    acc: i64,
}

impl PeModel {
    /// Builds the model of a design's PE.
    pub fn new(d: &Design) -> Self {
        let dp = d.dp();
        let rnd = dp.rounding;
        let win = |s: WindowSet| Box::new(win_table(s, rnd));
        let ident: Box<[u8; 256]> = Box::new(std::array::from_fn(|a| a as u8));
        let rule = match dp.rule {
            DpRule::Exact { .. } => Rule::Exact,
            DpRule::Single { window } => Rule::Single { win: win(window) },
            DpRule::Pair { pair, solo, .. } => {
                let solo = solo.map_or(ident, win);
                let pair = win(pair);
                if dp.select.is_some() {
                    Rule::Stc { solo, pair }
                } else {
                    Rule::Pair { solo, pair }
                }
            }
            DpRule::Quad { window, .. } => Rule::Quad {
                win: win(window),
                nib4: Box::new(nib4_table(rnd)),
            },
        };
        let solo_reduces = match dp.rule {
            DpRule::Pair { solo, .. } => solo.is_some(),
            DpRule::Exact { .. } | DpRule::Single { .. } | DpRule::Quad { .. } => false,
        };
        PeModel {
            cfg: d.pe,
            lanes: d.lanes(),
            rule,
            zt_weight: dp.rule.weight_tested(),
            solo_reduces,
            acc: 0,
        }
    }

    /// The configuration modelled.
    pub fn config(&self) -> &PeConfig {
        &self.cfg
    }

    /// The accumulator value (sign-extended from `acc_width` bits).
    pub fn acc(&self) -> i64 {
        self.acc
    }

    #[inline(always)]
    fn active(&self, a: u8, w: i8) -> bool {
        a != 0 && !(self.zt_weight && w == 0)
    }

    /// The products of one cycle, without touching the accumulator.
    /// `acts` and `wgts` hold exactly `threads` lanes.
    #[inline]
    pub fn products(&self, acts: &[u8], wgts: &[i8]) -> Cycle {
        let mut c = Cycle::default();
        let t = self.lanes;
        debug_assert!(acts.len() == t && wgts.len() == t);
        match &self.rule {
            Rule::Exact => {
                for i in 0..t {
                    c.products[i] = i32::from(acts[i]) * i32::from(wgts[i]);
                    c.active += u32::from(acts[i] != 0 && wgts[i] != 0);
                }
            }
            Rule::Single { win } => {
                c.products[0] = i32::from(win[acts[0] as usize]) * i32::from(wgts[0]);
                c.active = u32::from(acts[0] != 0);
                c.reduced = c.active;
            }
            Rule::Pair { solo, pair } => {
                let x0 = self.active(acts[0], wgts[0]);
                let x1 = self.active(acts[1], wgts[1]);
                self.pair_rule(&mut c, solo, pair, acts, wgts, [(0, x0), (1, x1)]);
            }
            Rule::Stc { solo, pair } => {
                // The first two lanes with a non-zero weight, in lane order; a group
                // with more (not 2:4, rejected where weights are loaded) keeps the
                // first two, as the RTL's priority selection does.
                let mut slots = [(0, false); 2];
                let mut n = 0;
                for (i, &w) in wgts.iter().enumerate() {
                    if w != 0 && n < 2 {
                        slots[n] = (i, acts[i] != 0);
                        n += 1;
                    }
                }
                self.pair_rule(&mut c, solo, pair, acts, wgts, slots);
            }
            Rule::Quad { win, nib4 } => {
                let mut on = [false; 4];
                for i in 0..4 {
                    on[i] = self.active(acts[i], wgts[i]);
                }
                let n = on.iter().filter(|&&x| x).count() as u32;
                for i in 0..4 {
                    if !on[i] {
                        continue;
                    }
                    let (a, w) = (acts[i], wgts[i]);
                    c.products[i] = match n {
                        0 | 1 => i32::from(a) * i32::from(w),
                        2 => i32::from(win[a as usize]) * i32::from(w),
                        _ => i32::from(win[a as usize]) * i32::from(nib4[w as u8 as usize]),
                    };
                }
                c.active = n;
                c.reduced = if n >= 2 { n } else { 0 };
            }
        }
        c.sum = c.products[..t].iter().sum();
        c
    }

    /// The two-lane rule on two (lane, active) slots: with both active each takes the
    /// pair window, otherwise the active one takes the solo table.
    #[inline(always)]
    fn pair_rule(
        &self,
        c: &mut Cycle,
        solo: &[u8; 256],
        pair: &[u8; 256],
        acts: &[u8],
        wgts: &[i8],
        slots: [(usize, bool); 2],
    ) {
        let both = slots[0].1 && slots[1].1;
        let tab = if both { pair } else { solo };
        for (i, on) in slots {
            if on {
                c.products[i] = i32::from(tab[acts[i] as usize]) * i32::from(wgts[i]);
            }
        }
        c.active = slots.iter().map(|s| u32::from(s.1)).sum();
        c.reduced = if both {
            2
        } else {
            u32::from(self.solo_reduces) * c.active
        };
    }

    /// Runs one cycle with the PE's `valid` and `clear` controls and returns the
    /// products. `clear` with `valid` starts a new accumulation from this cycle's sum;
    /// `clear` alone zeroes the accumulator; neither holds it.
    #[inline]
    pub fn step(&mut self, acts: &[u8], wgts: &[i8], valid: bool, clear: bool) -> Cycle {
        let c = self.products(acts, wgts);
        let base = if clear { 0 } else { self.acc };
        let add = if valid { i64::from(c.sum) } else { 0 };
        self.acc = wrap(base.wrapping_add(add), self.cfg.acc_width);
        c
    }

    /// Accumulates a whole stream of valid cycles (lane-major: cycle i uses
    /// `acts[i*T..(i+1)*T]`) and returns the accumulator. The benchmark's fast path.
    pub fn run(&mut self, acts: &[u8], wgts: &[i8]) -> i64 {
        let t = self.lanes;
        let mut acc = self.acc;
        for (a, w) in acts.chunks_exact(t).zip(wgts.chunks_exact(t)) {
            acc = acc.wrapping_add(i64::from(self.products(a, w).sum));
        }
        self.acc = wrap(acc, self.cfg.acc_width);
        self.acc
    }

    /// Resets the accumulator to zero.
    pub fn reset(&mut self) {
        self.acc = 0;
    }
}

/// Two's-complement wrap of `x` to `bits` bits, sign-extended back to i64.
#[inline(always)]
pub fn wrap(x: i64, bits: u32) -> i64 {
    if bits >= 64 {
        x
    } else {
        let sh = 64 - bits;
        (x << sh) >> sh
    }
}

/// The exact product of every lane, the reference that error is measured against.
pub fn exact_sum(acts: &[u8], wgts: &[i8]) -> i32 {
    acts.iter()
        .zip(wgts)
        .map(|(&a, &w)| i32::from(a) * i32::from(w))
        .sum()
}
