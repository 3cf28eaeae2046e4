//! Planted bugs for showing that a proof or a simulation can fail: the [`Fault`]
//! catalogue, the views that carry a fault into the templates' text ([`FaultView`],
//! [`SelFaultView`]); `pe.rs` plants them (`generate_pe_with_fault`). A leaf: the
//! renderers use it, it uses none of them.

/// A bug planted into a PE's production datapath through the data its templates
/// render (see [`generate_pe_with_fault`](super::generate_pe_with_fault)), for the tests and the example that show
/// a proof can fail. The proof variants and the reference never carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The window modules' round-up at LSB position `pos` drops its sticky bits
    /// (rounds on the guard bit and the window's LSB only).
    WindowRoundWithoutSticky {
        /// The window position whose rounding loses its sticky bits.
        pos: u32,
    },
    /// nib4 rounds a remainder of exactly 8 down, never to even.
    Nib4WithoutTieToEven,
    /// The two-lane cond's zero test of lane `lane` ignores the weight.
    ZeroTestIgnoresWeight {
        /// The lane whose production zero test drifts.
        lane: usize,
    },
    /// The edge's pair window of lane `lane` rounds 15 up to 0 (no saturation).
    EdgeWindowWithoutSaturation {
        /// The lane whose edge window forgets to saturate.
        lane: usize,
    },
    /// Unit `unit`'s first sign-extended product term in the fabric extends with
    /// zeros (the product read as unsigned).
    UnsignedProduct {
        /// The multiplier unit whose product loses its sign.
        unit: usize,
    },
    /// The 2:4 selection lets lane 1 be first even when lane 0's weight is non-zero
    /// (a broken priority pick).
    SelPriorityIgnoresLane0,
}

/// What a planted [`Fault`] changes in a template's own text: everything true in
/// production. Template conditions on `fault.` are not design branches (no
/// covering point takes them; the cover check leaves them out).
#[derive(Debug, Clone, Copy)]
pub(super) struct FaultView {
    /// nib4 rounds ties to even q.
    pub(super) tie_even: bool,
    /// The edge's rounded pair window of each lane saturates at 15.
    pub(super) saturate: [bool; 2],
    /// The two-lane cond's zero test `act_or_weight` of lane 0 (1) tests the weight.
    pub(super) weight0: bool,
    pub(super) weight1: bool,
}

impl FaultView {
    pub(super) fn of(fault: Option<Fault>) -> FaultView {
        FaultView {
            tie_even: fault != Some(Fault::Nib4WithoutTieToEven),
            saturate: [0, 1].map(|k| fault != Some(Fault::EdgeWindowWithoutSaturation { lane: k })),
            weight0: fault != Some(Fault::ZeroTestIgnoresWeight { lane: 0 }),
            weight1: fault != Some(Fault::ZeroTestIgnoresWeight { lane: 1 }),
        }
    }

    /// Whether lane `k`'s edge window saturates.
    pub(super) fn saturates(&self, k: &usize) -> bool {
        self.saturate.get(*k).copied().unwrap_or(true)
    }
}

/// What the 2:4 selection's template (`SelTpl`) plants for a [`Fault`]: every field
/// true in production.
pub(super) struct SelFaultView {
    /// Lane 1 is first only when lane 0's weight is zero.
    pub(super) lane1_after_lane0: bool,
}
