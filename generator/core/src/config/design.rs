//! [`Design`]: a validated design point together with its elaborated datapath, built
//! once where the design point is chosen (the command's selection, a Python call)
//! and handed to every consumer: the golden model, the array model, the engine's
//! plan, the RTL renderers, the proofs, the stimulus, eval, regress and the covering
//! set. [`Design::new`] is the one place that elaborates
//! ([`Datapath::of`](super::Datapath)); consumers read the facts from
//! [`Design::dp`] and never work them out again from the config's fields.
//!
//! A `Design` reads as its [`Config`] (it dereferences to it, read-only: the
//! config cannot change under its elaboration), so `d.name`, `d.pe.acc_width` and
//! `d.array.rows` are the user's choices; what they imply is in `d.dp()`.

use super::datapath::Datapath;
use super::{Config, PeConfig};

/// A validated design point and its elaboration (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Design {
    cfg: Config,
    dp: Datapath,
    /// The two-lane design behind the 2:4 selection (`None` without one).
    core: Option<Box<Design>>,
}

impl Design {
    /// Elaborates a validated config: the one call of the elaboration.
    pub fn new(cfg: Config) -> Design {
        let dp = Datapath::of(&cfg.pe);
        let core = dp.select.map(|s| {
            Box::new(Design::new(Config {
                pe: PeConfig {
                    threads: s.lanes_out,
                    stc: false,
                    ..cfg.pe
                },
                ..cfg.clone()
            }))
        });
        Design { cfg, dp, core }
    }

    /// The named preset, elaborated.
    pub fn preset(name: &str) -> crate::error::Result<Design> {
        Ok(Design::new(Config::preset(name)?))
    }

    /// A design point `PRESET[+key=value...]` with further `key=value` overrides
    /// ([`design_point`](super::design_point)), elaborated.
    pub fn point<S: AsRef<str>>(spec: &str, extra: &[S]) -> crate::error::Result<Design> {
        Ok(Design::new(super::design_point(spec, extra)?))
    }

    /// The validated config (names, widths and sizes the user chose).
    pub fn cfg(&self) -> &Config {
        &self.cfg
    }

    /// The elaborated datapath: everything derived from the config's fields.
    pub fn dp(&self) -> &Datapath {
        &self.dp
    }

    /// Lanes at the PE's interface, as a count.
    pub fn lanes(&self) -> usize {
        self.dp.lanes as usize
    }

    /// The design behind the 2:4 selection: the two-lane `sparq` PE with the same
    /// window, rounding and accumulator for a design with one, otherwise the design
    /// itself.
    pub fn core(&self) -> &Design {
        self.core.as_deref().unwrap_or(self)
    }

    /// Another design point: this config changed by `change`, elaborated anew.
    pub fn with(&self, change: impl FnOnce(&mut Config)) -> Design {
        let mut cfg = self.cfg.clone();
        change(&mut cfg);
        Design::new(cfg)
    }

    /// The config, given back (for callers that derive another design point from it).
    pub fn into_cfg(self) -> Config {
        self.cfg
    }
}

impl std::ops::Deref for Design {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.cfg
    }
}
