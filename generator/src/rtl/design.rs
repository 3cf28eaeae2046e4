//! What a config's PE is made of, as every renderer reads it: its multiplier
//! [`Unit`]s, the edge's link-word fields and widths, the names of the PE top and the
//! window modules, and the two-lane core behind the 2:4 selection.

use crate::config::{Config, Policy, Rounding, WindowLogic, WindowSet, ZeroTest};

/// One multiplier unit of a PE's fabric: operand widths and the shifts it can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Unsigned activation-nibble width.
    pub aw: u32,
    /// Signed weight width.
    pub ww: u32,
    /// Shift amounts the conditioning can ask of this unit, ascending.
    pub shifts: Vec<u32>,
}

/// The multiplier units the spec's fabric names for a PE configuration (spec §5).
pub fn units(cfg: &Config) -> Vec<Unit> {
    let pe = &cfg.pe.core();
    let set = pe.window.unwrap_or(WindowSet::W4b2opt);
    let p: Vec<u32> = set.positions().to_vec();
    let union = |a: Vec<u32>, b: &[u32]| {
        let mut v: Vec<u32> = a.into_iter().chain(b.iter().copied()).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    match pe.policy {
        Policy::Baseline | Policy::Ideal => (0..pe.threads)
            .map(|_| Unit {
                aw: 8,
                ww: 8,
                shifts: vec![0],
            })
            .collect(),
        Policy::Bsparq => vec![Unit {
            aw: set.bits(),
            ww: 8,
            shifts: p,
        }],
        Policy::Sparq | Policy::Sysmt if pe.threads == 2 => {
            let n = set.bits();
            // n = 4: a lone lane keeps its window position on one unit and puts
            // the bits below it on the other at shift 0, so the pair set suffices.
            let (hi, lo): (Vec<u32>, Vec<u32>) = match solo_set(set) {
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
                    shifts: union(hi, &p),
                },
                Unit {
                    aw: n,
                    ww: 8,
                    shifts: union(lo, &p),
                },
            ]
        }
        Policy::Sparq | Policy::Sysmt => (0..4)
            .map(|_| Unit {
                aw: 4,
                ww: 5,
                shifts: vec![0, 4, 8],
            })
            .collect(),
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

/// True when the config's window logic sits at the array edge.
pub fn edge(cfg: &Config) -> bool {
    cfg.pe.window_logic == WindowLogic::Edge
}

/// Bits the edge adds per activation lane (its 4-bit window as the PE uses it when
/// it reduces the lane: non-zero exactly when the activation is, so it doubles as
/// the zero flag) and per weight lane (two lanes: its non-zero flag under zero test
/// `act_or_weight`; four lanes: its nib4, 4 bits and the high-nibble flag; none under
/// `stc`, whose zero test is `act` and whose selection reads the plain weights); zero
/// with the window logic in the PE.
pub fn link_fields(cfg: &Config) -> (u32, u32) {
    if !edge(cfg) {
        return (0, 0);
    }
    let zw = cfg.pe.zero_test == Some(ZeroTest::ActOrWeight);
    (
        4,
        if cfg.pe.threads == 4 && !cfg.pe.stc {
            5
        } else {
            u32::from(zw)
        },
    )
}

/// Width of the activation link word between PEs: the lanes' plain activations,
/// then each lane's edge field.
pub fn act_link_width(cfg: &Config) -> u32 {
    cfg.pe.threads * (8 + link_fields(cfg).0)
}

/// Width of the weight link word between PEs.
pub fn wgt_link_width(cfg: &Config) -> u32 {
    cfg.pe.threads * (8 + link_fields(cfg).1)
}

/// The module with the plain 8-bit lane interface that PE-level simulation drives:
/// `<name>_pe`, or `<name>_pe_solo` (edge logic in front) when it sits at the edge.
pub fn pe_top(cfg: &Config) -> String {
    if edge(cfg) {
        format!("{}_pe_solo", cfg.name)
    } else {
        format!("{}_pe", cfg.name)
    }
}

/// Name of a window-unit module for this design.
pub fn win_module(prefix: &str, set: WindowSet, rnd: Rounding) -> String {
    let r = match rnd {
        Rounding::NearestEven => "rne",
        Rounding::Truncate => "trunc",
    };
    format!("{prefix}_win_{}_{r}", set.name())
}

/// The config of the datapath behind the 2:4 selection (see
/// [`PeConfig::core`](crate::config::PeConfig::core)).
pub(super) fn core(cfg: &Config) -> Config {
    Config {
        pe: cfg.pe.core(),
        ..cfg.clone()
    }
}
