//! The named design points: every preset with its one-line description and its
//! fields as YAML, the default preset, and looking one up by name.

use super::Preset;
use crate::error::{Error, Result};

/// Every preset, in the order `smtgen presets` lists them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "baseline",
        about: "conventional output-stationary PE, one exact 8b x 8b MAC per cycle",
        yaml: "pe:\n  policy: baseline\n  threads: 1\n",
    },
    Preset {
        name: "ideal2",
        about: "2 lanes on two full 8b x 8b multipliers (exact reference for area)",
        yaml: "pe:\n  policy: ideal\n  threads: 2\n",
    },
    Preset {
        name: "ideal4",
        about: "4 lanes on four full 8b x 8b multipliers (exact reference for area)",
        yaml: "pe:\n  policy: ideal\n  threads: 4\n",
    },
    Preset {
        name: "bsparq-4b5opt",
        about: "bSPARQ: one 4b x 8b multiplier on a 4-bit window, 5 placements",
        yaml: "pe:\n  policy: bsparq\n  threads: 1\n  window: 4b5opt\n  rounding: nearest_even\n",
    },
    Preset {
        name: "sparq-4b5opt",
        about: "SPARQ: 2 lanes on two 4b x 8b multipliers, 4-bit window, 5 placements",
        yaml: "pe:\n  policy: sparq\n  threads: 2\n  window: 4b5opt\n  rounding: nearest_even\n  zero_test: act\n",
    },
    Preset {
        name: "sparq-4b3opt",
        about: "SPARQ: 2 lanes on two 4b x 8b multipliers, 4-bit window, 3 placements",
        yaml: "pe:\n  policy: sparq\n  threads: 2\n  window: 4b3opt\n  rounding: nearest_even\n  zero_test: act\n",
    },
    Preset {
        name: "sparq-4b2opt",
        about: "SPARQ: 2 lanes on two 4b x 8b multipliers, 4-bit window, 2 placements",
        yaml: "pe:\n  policy: sparq\n  threads: 2\n  window: 4b2opt\n  rounding: nearest_even\n  zero_test: act\n",
    },
    Preset {
        name: "sparq-3b",
        about: "SPARQ: 2 lanes on two 3b x 8b multipliers, 3-bit window, 6 placements",
        yaml: "pe:\n  policy: sparq\n  threads: 2\n  window: 3b6opt\n  rounding: nearest_even\n  zero_test: act\n",
    },
    Preset {
        name: "sparq-2b",
        about: "SPARQ: 2 lanes on two 2b x 8b multipliers, 2-bit window, 7 placements",
        yaml: "pe:\n  policy: sparq\n  threads: 2\n  window: 2b7opt\n  rounding: nearest_even\n  zero_test: act\n",
    },
    Preset {
        name: "sparq-stc-4b5opt",
        about: "SPARQ 2:4-sparse weights: 4 lanes in, the two with non-zero weights on two 4b x 8b multipliers, 5 placements",
        yaml: "pe:\n  policy: sparq\n  threads: 4\n  stc: true\n  window: 4b5opt\n  rounding: nearest_even\n  zero_test: act\n",
    },
    Preset {
        name: "sparq-stc-4b2opt",
        about: "SPARQ 2:4-sparse weights: 4 lanes in, the two with non-zero weights on two 4b x 8b multipliers, 2 placements",
        yaml: "pe:\n  policy: sparq\n  threads: 4\n  stc: true\n  window: 4b2opt\n  rounding: nearest_even\n  zero_test: act\n",
    },
    Preset {
        name: "sysmt2",
        about: "SySMT: 2 lanes on one splittable multiplier (two 4b x 8b halves)",
        yaml: "pe:\n  policy: sysmt\n  threads: 2\n  window: 4b2opt\n  rounding: nearest_even\n  zero_test: act_or_weight\n",
    },
    Preset {
        name: "sysmt2-edge",
        about: "sysmt2 with its window logic once per row at the array edge (shallower PE, +1 cycle)",
        yaml: "pe:\n  policy: sysmt\n  threads: 2\n  window: 4b2opt\n  rounding: nearest_even\n  zero_test: act_or_weight\n  window_logic: edge\n",
    },
    Preset {
        name: "sysmt4",
        about: "SySMT: 4 lanes on one splittable multiplier (four u4 x s5 quarters)",
        yaml: "pe:\n  policy: sysmt\n  threads: 4\n  window: 4b2opt\n  rounding: nearest_even\n  zero_test: act_or_weight\n",
    },

];

/// The preset used when neither `--preset` nor `--config` is given.
pub const DEFAULT_PRESET: &str = "sysmt2";

/// Looks a preset up by name.
pub fn preset(name: &str) -> Result<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        Error::config(
            "preset",
            name,
            format!(
                "one of {}",
                PRESETS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}
