//! The elaborated datapath: what a validated PE configuration *is*, worked out once
//! from its fields (policy, lanes, window, rounding, zero test, window logic, 2:4
//! mode) and read by every consumer: the golden model, the GEMM engine's plan, RTL
//! emission and its templates, the proofs, the stimulus, the covering set and the
//! tests. This module and `parse.rs` (validation) are the only code that looks at
//! the policy name or the lane count to decide something; everything else matches on
//! [`Datapath`] ([`Rule`], [`Select`], [`Windows`], the units and widths), which it
//! gets from a [`Design`](super::Design), built once per design point.
//!
//! The rule table (spec §5, §5.1), as [`Datapath::of`] builds it:
//!
//! | config | select | rule |
//! |---|---|---|
//! | baseline, ideal (T lanes) | – | `Exact { lanes: T }` |
//! | bsparq | – | `Single { window }` |
//! | sparq, sysmt with T = 2 | – | `Pair { pair: window, solo, zero_test }` |
//! | sparq with `stc: true` | 4 → 2 | `Pair { pair: window, solo, zero_test: act }` |
//! | sysmt with T = 4 | – | `Quad { window: 4b2opt, zero_test }` |
//!
//! `solo` (the window of a lone active lane in a pair) is `None` (exact) for 4-bit
//! units, 6b3opt for 3-bit and 4b5opt for 2-bit ones.

use super::{PeConfig, Policy, Rounding, WindowLogic, WindowSet, ZeroTest};

/// The per-cycle rule on the lanes that reach the multiplier units (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Every lane exact on its own full 8b×8b multiplier (baseline, ideal).
    Exact {
        /// Lanes, one multiplier each.
        lanes: u32,
    },
    /// One lane through a window on one n-bit × 8b unit (bsparq); idle when a = 0.
    Single {
        /// The lane's window set.
        window: WindowSet,
    },
    /// Two lanes on two n-bit × 8b units (sparq, sysmt with two lanes): with both
    /// active each takes its `pair` window on one unit; a lone active lane takes
    /// both units with its `solo` window (`None`: exact).
    Pair {
        /// Window of each lane when both are active.
        pair: WindowSet,
        /// Window of a lone active lane (`None`: exact).
        solo: Option<WindowSet>,
        /// Which lanes are idle.
        zero_test: ZeroTest,
    },
    /// Four lanes on four 4b×5b quarters of one 8b×8b multiplier (sysmt with four
    /// lanes): at most one active exact, two active `win(a; window)·w`, three or
    /// four `win(a; window)·nib4(w)`.
    Quad {
        /// Window of each lane when two or more are active.
        window: WindowSet,
        /// Which lanes are idle.
        zero_test: ZeroTest,
    },
}

impl Rule {
    /// Lanes the rule takes.
    pub fn lanes(&self) -> u32 {
        match self {
            Rule::Exact { lanes } => *lanes,
            Rule::Single { .. } => 1,
            Rule::Pair { .. } => 2,
            Rule::Quad { .. } => 4,
        }
    }

    /// The rule's name: `exact`, `single`, `pair` or `quad` (for messages; templates
    /// get what they branch on from a match on the rule, never the name).
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Exact { .. } => "exact",
            Rule::Single { .. } => "single",
            Rule::Pair { .. } => "pair",
            Rule::Quad { .. } => "quad",
        }
    }

    /// The zero test of rules whose lanes compete for units (`None`: exact rules,
    /// and the single lane, which is idle exactly when a = 0).
    pub fn zero_test(&self) -> Option<ZeroTest> {
        match self {
            Rule::Pair { zero_test, .. } | Rule::Quad { zero_test, .. } => Some(*zero_test),
            Rule::Exact { .. } | Rule::Single { .. } => None,
        }
    }

    /// Whether a lane with a zero weight counts as idle (zero test `act_or_weight`).
    pub fn weight_tested(&self) -> bool {
        self.zero_test() == Some(ZeroTest::ActOrWeight)
    }

    /// Whether the rule depends on which lanes are active (pair and quad): their
    /// cond and reference have proof variants with the activity cut out, and proofs
    /// split the input space by activity.
    pub fn has_activity_modes(&self) -> bool {
        self.zero_test().is_some()
    }

    /// Whether some lane's product can go through a window or nibble.
    pub fn reduces(&self) -> bool {
        match self {
            Rule::Exact { .. } => false,
            Rule::Single { .. } | Rule::Pair { .. } | Rule::Quad { .. } => true,
        }
    }

    /// The rule's main window set: the single lane's, the pair's, the quad's.
    pub fn window(&self) -> Option<WindowSet> {
        match self {
            Rule::Exact { .. } => None,
            Rule::Single { window } | Rule::Quad { window, .. } => Some(*window),
            Rule::Pair { pair, .. } => Some(*pair),
        }
    }

    /// Every window set some mode of the rule applies (the main one first).
    pub fn windows(&self) -> Vec<WindowSet> {
        let mut v: Vec<WindowSet> = self.window().into_iter().collect();
        if let Rule::Pair { solo: Some(s), .. } = self {
            v.push(*s);
        }
        v
    }
}

/// SPARQ's 2:4 selection in front of the rule (spec §5.1): of `lanes_in` lanes,
/// the first `lanes_out` with a non-zero weight, in lane order, go to the rule's
/// lanes; the others give nothing. Weights must be 2:4-sparse along K.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Select {
    /// Lanes into the selection (the PE's interface).
    pub lanes_in: u32,
    /// Lanes out of it (the rule's).
    pub lanes_out: u32,
}

/// One multiplier unit of a PE's fabric: operand widths and the shifts it can take.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unit {
    /// Unsigned activation-nibble width.
    pub aw: u32,
    /// Signed weight width.
    pub ww: u32,
    /// Shift amounts the conditioning can ask of this unit, ascending.
    pub shifts: Vec<u32>,
}

/// Where and how the PE's windows are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Windows {
    /// No window (exact rules).
    None,
    /// Through window modules (`<name>_win_<set>_<rounding>`) in the cond.
    Modules,
    /// Inline in the cond, as one-hot AND-OR selections (two lanes, 4-bit windows).
    Inline,
    /// At the array's edge (`<name>_pre_act`): the PE takes link words.
    Edge,
}

/// Widths of the buses from the cond to the fabric: every unit's activation nibble
/// (`x`), weight (`y`) and 4-bit shift code (`sh`), concatenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Buses {
    /// Sum of the units' activation widths.
    pub x: u32,
    /// Sum of the units' weight widths.
    pub y: u32,
    /// Four bits per unit.
    pub sh: u32,
}

/// The link words between PEs: each lane's plain 8-bit operand, then the field the
/// edge adds per lane (zero with the window logic in the PE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Link {
    /// Bits the edge adds per activation lane: its 4-bit window as the PE uses it
    /// (non-zero exactly when the activation is, so it doubles as the zero flag).
    pub act_field: u32,
    /// Bits the edge adds per weight lane: two lanes, the non-zero flag under zero
    /// test `act_or_weight`; four lanes, nib4 (4 bits) and the high-nibble flag.
    pub wgt_field: u32,
    /// Where the fields start in both link words: after every lane's plain
    /// 8-bit operand (lane k's field at `fields_at + k * field`).
    pub fields_at: u32,
    /// Width of the activation link word.
    pub act_width: u32,
    /// Width of the weight link word.
    pub wgt_width: u32,
}

/// The elaborated datapath of one PE (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Datapath {
    /// Lanes at the PE's interface (`pe.threads`).
    pub lanes: u32,
    /// The 2:4 selection in front of the rule, if any.
    pub select: Option<Select>,
    /// The per-cycle rule behind the selection.
    pub rule: Rule,
    /// How reduced operands are rounded (exact rules never round; they carry
    /// nearest-even, which nothing reads).
    pub rounding: Rounding,
    /// The multiplier units of the fabric, in bus order.
    pub units: Vec<Unit>,
    /// Widths of the cond-to-fabric buses.
    pub buses: Buses,
    /// Bits of the per-cycle lane sum before it meets the accumulator (spec §2).
    pub sum_width: u32,
    /// Where the window logic sits.
    pub window_logic: WindowLogic,
    /// How the windows are formed.
    pub windows: Windows,
    /// The window modules the PE instantiates, in emission order.
    pub window_modules: Vec<WindowSet>,
    /// Whether the PE instantiates the nib4 module (`<name>_nib4`).
    pub nib4: bool,
    /// The link words between PEs.
    pub link: Link,
    /// Whether a register stage sits between the lane sum and the accumulator
    /// (`pe.pipeline` = 1).
    pub pipelined: bool,
}

impl Datapath {
    /// Elaborates a validated PE configuration (the table in the module docs); only
    /// [`Design::new`](super::Design::new) calls it.
    pub(super) fn of(pe: &PeConfig) -> Datapath {
        let rounding = pe.rounding.unwrap_or(Rounding::NearestEven);
        let zero_test = pe.zero_test.unwrap_or(ZeroTest::Act);
        // Validation gives every windowed policy its window; sysmt's only set is 4b2opt.
        let window = pe.window.unwrap_or(WindowSet::W4b2opt);
        let select = pe.stc.then_some(Select {
            lanes_in: pe.threads,
            lanes_out: 2,
        });
        let rule_lanes = select.map_or(pe.threads, |s| s.lanes_out);
        let rule = match pe.policy {
            Policy::Baseline | Policy::Ideal => Rule::Exact { lanes: pe.threads },
            Policy::Bsparq => Rule::Single { window },
            Policy::Sparq | Policy::Sysmt if rule_lanes == 2 => Rule::Pair {
                pair: window,
                solo: solo_set(window),
                zero_test,
            },
            Policy::Sparq | Policy::Sysmt => Rule::Quad {
                window: WindowSet::W4b2opt,
                zero_test,
            },
        };
        let units = units(rule);
        let buses = Buses {
            x: units.iter().map(|u| u.aw).sum(),
            y: units.iter().map(|u| u.ww).sum(),
            sh: 4 * units.len() as u32,
        };
        let edge = pe.window_logic == WindowLogic::Edge;
        let windows = match rule {
            Rule::Exact { .. } => Windows::None,
            Rule::Single { .. } | Rule::Pair { .. } | Rule::Quad { .. } if edge => Windows::Edge,
            Rule::Pair { pair, .. } if pair.bits() == 4 => Windows::Inline,
            Rule::Single { .. } | Rule::Pair { .. } | Rule::Quad { .. } => Windows::Modules,
        };
        let window_modules = match rule {
            Rule::Exact { .. } => Vec::new(),
            Rule::Pair { pair, .. } if pair.bits() == 4 => Vec::new(),
            Rule::Single { .. } | Rule::Pair { .. } | Rule::Quad { .. } => rule.windows(),
        };
        // The link fields the edge adds per lane (zero with the window logic in the PE).
        let (act_field, wgt_field) = match rule {
            Rule::Exact { .. } | Rule::Single { .. } | Rule::Pair { .. } | Rule::Quad { .. }
                if !edge =>
            {
                (0, 0)
            }
            Rule::Quad { .. } => (4, 5),
            Rule::Exact { .. } | Rule::Single { .. } | Rule::Pair { .. } => {
                (4, u32::from(rule.weight_tested()))
            }
        };
        let nib4 = match rule {
            Rule::Quad { .. } => true,
            Rule::Exact { .. } | Rule::Single { .. } | Rule::Pair { .. } => false,
        };
        Datapath {
            lanes: pe.threads,
            select,
            rule,
            rounding,
            sum_width: match rule.lanes() {
                1 => 16,
                2 => 17,
                _ => 18,
            },
            units,
            buses,
            window_logic: pe.window_logic,
            windows,
            window_modules,
            nib4,
            pipelined: pe.pipeline > 0,
            link: Link {
                act_field,
                wgt_field,
                fields_at: 8 * pe.threads,
                act_width: pe.threads * (8 + act_field),
                wgt_width: pe.threads * (8 + wgt_field),
            },
        }
    }

    /// Whether the window logic sits at the array's edge.
    pub fn edge(&self) -> bool {
        self.window_logic == WindowLogic::Edge
    }

    /// Whether the design is defined only for 2:4-sparse weights (a selection in
    /// front): loaders check the weights, stimulus prunes them.
    pub fn requires_2_4(&self) -> bool {
        self.select.is_some()
    }

    /// Whether the rule's outcome depends on which weights are zero: the zero test
    /// `act_or_weight`, or the 2:4 selection.
    pub fn weight_dependent(&self) -> bool {
        self.rule.weight_tested() || self.select.is_some()
    }
}

/// The window a lone active lane gets in a two-lane PE with n-bit units: `None` for
/// n = 4 (exact), 6b3opt for n = 3, 4b5opt for n = 2 (spec §5, `sparq`).
pub fn solo_set(set: WindowSet) -> Option<WindowSet> {
    match set.bits() {
        4 => None,
        3 => Some(WindowSet::W6b3opt),
        _ => Some(WindowSet::W4b5opt),
    }
}

/// The multiplier units the spec's fabric names for a rule (spec §5).
fn units(rule: Rule) -> Vec<Unit> {
    let full = |n: u32, aw: u32, ww: u32, shifts: &[u32]| -> Vec<Unit> {
        (0..n)
            .map(|_| Unit {
                aw,
                ww,
                shifts: shifts.to_vec(),
            })
            .collect()
    };
    match rule {
        Rule::Exact { lanes } => full(lanes, 8, 8, &[0]),
        Rule::Single { window } => full(1, window.bits(), 8, window.positions()),
        Rule::Pair { pair, solo, .. } => {
            let n = pair.bits();
            let p = pair.positions();
            let union = |a: Vec<u32>| {
                let mut v: Vec<u32> = a.into_iter().chain(p.iter().copied()).collect();
                v.sort_unstable();
                v.dedup();
                v
            };
            // n = 4: a lone lane keeps its window position on one unit and puts
            // the bits below it on the other at shift 0, so the pair set suffices.
            let (hi, lo): (Vec<u32>, Vec<u32>) = match solo {
                None => (vec![0], vec![0]),
                Some(s) => (
                    s.positions().iter().map(|x| x + n).collect(),
                    s.positions().to_vec(),
                ),
            };
            vec![
                Unit {
                    aw: n,
                    ww: 8,
                    shifts: union(hi),
                },
                Unit {
                    aw: n,
                    ww: 8,
                    shifts: union(lo),
                },
            ]
        }
        Rule::Quad { .. } => full(4, 4, 5, &[0, 4, 8]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use WindowSet::*;

    fn dp(spec: &str) -> Datapath {
        let cfg = crate::config::design_point(spec, &[] as &[&str]).unwrap();
        crate::config::Design::new(cfg).dp().clone()
    }

    /// The elaboration written out from the spec (§5, §5.1), literally, for the
    /// presets and a few variants: the model, RTL and proofs all read it, so it is
    /// pinned here independently.
    #[test]
    fn presets_elaborate_to_the_spec_rules() {
        use ZeroTest::*;
        // (design point, selection lanes in and out, rule)
        type Row = (&'static str, Option<(u32, u32)>, Rule);
        let want: &[Row] = &[
            ("baseline", None, Rule::Exact { lanes: 1 }),
            ("ideal2", None, Rule::Exact { lanes: 2 }),
            ("ideal4", None, Rule::Exact { lanes: 4 }),
            ("bsparq-4b5opt", None, Rule::Single { window: W4b5opt }),
            (
                "sparq-4b5opt",
                None,
                Rule::Pair {
                    pair: W4b5opt,
                    solo: None,
                    zero_test: Act,
                },
            ),
            (
                "sparq-3b",
                None,
                Rule::Pair {
                    pair: W3b6opt,
                    solo: Some(W6b3opt),
                    zero_test: Act,
                },
            ),
            (
                "sparq-2b",
                None,
                Rule::Pair {
                    pair: W2b7opt,
                    solo: Some(W4b5opt),
                    zero_test: Act,
                },
            ),
            (
                "sysmt2",
                None,
                Rule::Pair {
                    pair: W4b2opt,
                    solo: None,
                    zero_test: ActOrWeight,
                },
            ),
            (
                "sysmt4",
                None,
                Rule::Quad {
                    window: W4b2opt,
                    zero_test: ActOrWeight,
                },
            ),
            (
                "sparq-stc-4b5opt",
                Some((4, 2)),
                Rule::Pair {
                    pair: W4b5opt,
                    solo: None,
                    zero_test: Act,
                },
            ),
        ];
        for (name, sel, rule) in want {
            let d = dp(name);
            assert_eq!(d.rule, *rule, "{name}");
            assert_eq!(d.select.map(|s| (s.lanes_in, s.lanes_out)), *sel, "{name}");
            assert_eq!(d.lanes, sel.map_or(rule.lanes(), |s| s.0), "{name}");
        }
    }

    #[test]
    fn units_widths_and_window_modules() {
        let d = dp("sparq-3b");
        assert_eq!(d.units.len(), 2);
        assert_eq!((d.buses.x, d.buses.y, d.buses.sh), (6, 16, 8));
        assert_eq!(d.window_modules, vec![W3b6opt, W6b3opt]);
        assert_eq!((d.windows, d.sum_width), (Windows::Modules, 17));
        let d = dp("sysmt4");
        assert_eq!((d.buses.x, d.buses.y, d.buses.sh), (16, 20, 16));
        assert!(d.nib4 && d.sum_width == 18 && d.window_modules == vec![W4b2opt]);
        let d = dp("sysmt4+pe.window_logic=edge");
        assert_eq!(d.windows, Windows::Edge);
        assert_eq!((d.link.act_width, d.link.wgt_width), (48, 52));
        assert_eq!(
            (d.link.fields_at, d.link.act_field, d.link.wgt_field),
            (32, 4, 5)
        );
        let d = dp("sysmt2+pe.window_logic=edge");
        assert_eq!((d.link.act_field, d.link.wgt_field), (4, 1));
        let d = dp("sysmt2");
        assert_eq!((d.windows, d.link.act_width), (Windows::Inline, 16));
        assert!(d.window_modules.is_empty());
        let d = dp("sparq-stc-4b5opt");
        assert_eq!((d.sum_width, d.link.act_width, d.buses.x), (17, 32, 8));
        assert!(d.requires_2_4() && d.weight_dependent());
        let d = dp("baseline");
        assert_eq!((d.windows, d.sum_width, d.buses.sh), (Windows::None, 16, 4));
    }

    #[test]
    fn the_core_of_a_2_4_design_is_its_pair() {
        let c = crate::config::Design::new(Config::preset("sparq-stc-4b5opt").unwrap());
        let core = c.core().dp();
        assert_eq!(core.select, None);
        assert_eq!(core.rule, c.dp().rule);
        assert_eq!(core.lanes, 2);
        assert_eq!(c.core().pe.threads, 2);
        let s = crate::config::Design::new(Config::preset("sysmt4").unwrap());
        assert_eq!(s.core(), &s);
    }
}
