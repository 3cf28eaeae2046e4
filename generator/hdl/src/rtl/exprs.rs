//! The structure of the Verilog expressions the templates write out: the two-lane
//! inline windows ([`pair_lane`], written by `macros.v`), the fabric's shifted
//! product terms ([`term`]) and its balanced lane adder ([`sum_halves`]), both
//! written by `fabric.v`. No Verilog text is built here.

/// One lane's inline 4-bit window in the two-lane cond and the edge's `pre_act`, as
/// data that `macros.v` (`pair_trunc`, `pair_shift`, `pair_low`, `pair_round`,
/// `pair_next`) writes out: the selection signals `g<k>_<p>` (the window sits at
/// position `p` or above) and, per placement, the one-hot select of the window, its
/// shift, the bits below it and its round-up condition.
pub(super) struct PairLane {
    pub(super) k: usize,
    /// Per selection signal `g<k>_<p>`: `p` and the lowest activation bit whose being
    /// set puts the window at `p` or above (`g = |a[7:lo]`).
    pub(super) above: Vec<(u32, u32)>,
    /// Every placement, ascending.
    pub(super) opts: Vec<PairOpt>,
    /// The placements above position 0 (those with a shift, low bits and a round-up).
    pub(super) upper: Vec<PairOpt>,
    /// With one placement above the lowest (4b2opt): that one; the round-up is then
    /// a flat conjunction.
    pub(super) flat_round: Option<u32>,
    /// The window the pair uses (`n<k>`).
    pub(super) next: Next,
}

/// One placement of an inline window: its position and the terms of its one-hot
/// select, `g<k>_<p>` (it is at `p` or above) and `~g<k>_<q>` (not at the next `q`);
/// with neither (a single placement) it is always selected.
#[derive(Clone, Copy)]
pub(super) struct PairOpt {
    pub(super) p: u32,
    pub(super) at_or_above: Option<u32>,
    pub(super) below_next: Option<u32>,
}

/// What the pair's window `n<k>` is when both lanes are active.
#[derive(Clone, Copy)]
pub(super) enum Next {
    /// The truncated window, rounded up when both lanes are active.
    Rounded,
    /// The truncated window (rounding `truncate`).
    Truncated,
    /// The edge's precomputed window, bits `[hi:lo]` of the activation link word.
    Edge { hi: u32, lo: u32 },
}

impl Next {
    /// The edge's link-word bits, when the window comes from the edge.
    pub(super) fn edge(&self) -> Option<(u32, u32)> {
        match self {
            Next::Edge { hi, lo } => Some((*hi, *lo)),
            _ => None,
        }
    }

    /// Whether the window is rounded here.
    pub(super) fn rounded(&self) -> bool {
        matches!(self, Next::Rounded)
    }
}

/// The inline window of lane `k` over the 4-bit placement `positions` (ascending).
/// Every selection is an AND-OR over one-hot terms, not a `?:` chain: the gates are
/// the same, but Verilator compiles `?:` on data into branches, and mispredicted
/// branches cost a 16x16 sysmt2 array half its simulation speed (issue #3).
pub(super) fn pair_lane(k: usize, positions: &[u32]) -> PairLane {
    // One-hot: position i holds the window when the leading one is above position
    // i - 1's window (g) and not above its own (the next position's g is low).
    let opts: Vec<PairOpt> = positions
        .iter()
        .enumerate()
        .map(|(i, &p)| PairOpt {
            p,
            at_or_above: (i > 0).then_some(p),
            below_next: positions.get(i + 1).copied(),
        })
        .collect();
    PairLane {
        k,
        above: positions.windows(2).map(|w| (w[1], w[0] + 4)).collect(),
        upper: opts.iter().filter(|o| o.p > 0).copied().collect(),
        opts,
        flat_round: match positions {
            [0, p] => Some(*p),
            _ => None,
        },
        next: Next::Rounded,
    }
}

/// The fabric's lane adder over `n` units as a balanced tree, given as its two
/// halves (one half when `n` ≤ 2): `(t0 + t1) + (t2 + t3)` for four units, so the two
/// units that serve one lane when two lanes are active sum first (shallower, and the
/// proof's SAT sweeping finds each lane's product as one node). A fabric has at most
/// four units, so two levels are the whole tree; `fabric.v` writes it.
pub(super) fn sum_halves(n: usize) -> Vec<Vec<usize>> {
    if n <= 2 {
        return vec![(0..n).collect()];
    }
    let mid = n.div_ceil(2);
    vec![(0..mid).collect(), (mid..n).collect()]
}

/// One term of the fabric's sum: a unit's `pw`-bit signed product shifted left by `k`
/// and sign-extended or wrapped to the sum's width. `fabric.v`'s `term` macro writes
/// it as `{ {ext{sign}}, p, k'd0 }` (or `p[wrap_hi:0]` in place of `p`).
pub(super) struct Term {
    /// Shift.
    pub(super) k: u32,
    /// Sign-extension bits (0: none).
    pub(super) ext: u32,
    /// Keep only the product's bits up to this one (it would overflow the sum).
    pub(super) wrap_hi: Option<u32>,
    /// Extend with `1'b0` instead of the product's top bit (a planted
    /// [`Fault::UnsignedProduct`](super::Fault::UnsignedProduct) only).
    pub(super) unsigned: bool,
}

/// The term of a `pw`-bit product shifted by `k` in a `sum_w`-bit sum.
pub(super) fn term(pw: u32, k: u32, sum_w: u32) -> Term {
    Term {
        k,
        ext: sum_w.saturating_sub(pw + k),
        wrap_hi: (sum_w < pw + k).then(|| sum_w - k - 1),
        unsigned: false,
    }
}
