//! What the renderers read of a config beyond its elaborated
//! [`Datapath`](crate::config::Datapath) (units, widths, link fields, windows: see
//! `config::datapath`): the names of the PE top and the window modules, and the
//! config of the two-lane core behind the 2:4 selection.

use crate::config::{Design, Rounding, WindowSet};

/// True when the config's window logic sits at the array edge.
pub fn edge(cfg: &Design) -> bool {
    cfg.dp().edge()
}

/// The module with the plain 8-bit lane interface that PE-level simulation drives:
/// `<name>_pe`, or `<name>_pe_solo` (edge logic in front) when it sits at the edge.
pub fn pe_top(cfg: &Design) -> String {
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

/// The design behind the 2:4 selection (see [`Design::core`]).
pub(super) fn core(cfg: &Design) -> &Design {
    cfg.core()
}
