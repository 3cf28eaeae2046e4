//! The named design points: the YAML files under `configs/presets/`, embedded at
//! build time, the default preset, and looking one up by name.

use super::Preset;
use crate::error::{Error, Result};

/// Embeds `configs/presets/<name>.yaml` as the preset `name`.
macro_rules! preset {
    ($name:literal) => {
        Preset {
            name: $name,
            yaml: include_str!(concat!("../../../../configs/presets/", $name, ".yaml")),
        }
    };
}

/// Every preset, in the order `smtgen presets` lists them. Each is a config file
/// under `configs/presets/` (its first line a `# ` comment saying what it is),
/// embedded at build time.
pub const PRESETS: &[Preset] = &[
    preset!("baseline"),
    preset!("ideal2"),
    preset!("ideal4"),
    preset!("bsparq-4b5opt"),
    preset!("sparq-4b5opt"),
    preset!("sparq-4b3opt"),
    preset!("sparq-4b2opt"),
    preset!("sparq-3b"),
    preset!("sparq-2b"),
    preset!("sparq-stc-4b5opt"),
    preset!("sparq-stc-4b2opt"),
    preset!("sysmt2"),
    preset!("sysmt2-edge"),
    preset!("sysmt4"),
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
