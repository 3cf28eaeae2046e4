//! Design selection shared by every command: a list of design points, each
//! `PRESET[+key=value...]` (for example `sysmt4+pe.window_logic=edge`), under which
//! an optional YAML file and `--set` overrides are laid, then the values of
//! command-line flags such as `--rows`. A key set both by a design point (or
//! `--set`) and by a flag is an error rather than one silently replacing the other.

use crate::config::{ConfigBuilder, Design, PRESETS};
use crate::error::{Error, Result};
use std::path::Path;

/// What a command was given to choose its design points.
#[derive(Debug, Default, Clone)]
pub struct Selection<'a> {
    /// Design points as written (`PRESET[+key=value...]`); empty means the
    /// command's default (see [`Selection::resolve`]).
    pub specs: &'a [String],
    /// A YAML file laid over each design point.
    pub file: Option<&'a Path>,
    /// `--set key=value` overrides applied to each design point.
    pub sets: &'a [String],
    /// `(flag, key, value)`: a command-line flag that sets `key`, such as
    /// `("--rows", "array.rows", "16")`.
    pub flags: Vec<(&'static str, &'static str, String)>,
    /// Flags of `flags` the user did not give (the command's default value): a
    /// design point that sets their key is told so, not that it clashes with a flag.
    pub defaulted: Vec<&'static str>,
}

/// When no design point is named: the default preset, or every preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The default preset (or the YAML file alone when one is given).
    One,
    /// Every preset.
    All,
}

fn key_of(set: &str) -> &str {
    set.split_once('=').map_or(set, |(k, _)| k).trim()
}

/// The design points `specs` names, or every preset (in `PRESETS` order) when it
/// names none: the list behind [`Fallback::All`], for commands that label their
/// reports by point.
pub fn points_or_all(specs: &[String]) -> Vec<String> {
    if specs.is_empty() {
        PRESETS.iter().map(|p| p.name.to_string()).collect()
    } else {
        specs.to_vec()
    }
}

impl Selection<'_> {
    /// Resolves the selection into elaborated designs, one per design point, in order:
    /// where a command's design points are chosen, so where they are elaborated.
    pub fn resolve(&self, default: Fallback) -> Result<Vec<Design>> {
        let all: Vec<String>;
        let specs: Vec<Option<&str>> = if self.specs.is_empty() {
            match default {
                Fallback::One => vec![None],
                Fallback::All => {
                    all = points_or_all(self.specs);
                    all.iter().map(|s| Some(s.as_str())).collect()
                }
            }
        } else {
            self.specs.iter().map(|s| Some(s.as_str())).collect()
        };
        specs
            .into_iter()
            .map(|spec| self.one(spec))
            .collect::<Result<Vec<_>>>()
    }

    /// Like [`Selection::resolve`], with each config's label for reports: the
    /// design point as written when it carries overrides, else the config's name.
    pub fn resolve_labelled(&self, default: Fallback) -> Result<Vec<(String, Design)>> {
        let cfgs = self.resolve(default)?;
        Ok(cfgs
            .into_iter()
            .enumerate()
            .map(|(i, c)| match self.specs.get(i) {
                Some(s) if s.contains('+') => (s.clone(), c),
                _ => (c.name.clone(), c),
            })
            .collect())
    }

    /// Resolves a selection that must name exactly one design point.
    pub fn resolve_one(&self) -> Result<Design> {
        if self.specs.len() > 1 {
            return Err(Error::config(
                "--preset",
                self.specs.join(","),
                "one design point: this command computes one result (gen, lint, sim, synth, prove, eval, compare, regress and bench take lists)",
            ));
        }
        let mut v = self.resolve(Fallback::One)?;
        Ok(v.remove(0))
    }

    fn one(&self, spec: Option<&str>) -> Result<Design> {
        let (name, own) = match spec {
            Some(s) => {
                let mut parts = s.split('+');
                let name = parts.next().unwrap_or_default().trim();
                if name.is_empty() {
                    return Err(Error::config(
                        "design point",
                        s,
                        "PRESET[+key=value...], e.g. sysmt4+pe.window_logic=edge",
                    ));
                }
                let own = parts.map(str::to_string).collect::<Vec<_>>();
                // An override in a design point is PRESET+key=value: an empty or
                // malformed one is the point's error, not a --set error.
                if let Some(bad) = own
                    .iter()
                    .find(|o| o.split_once('=').is_none_or(|(k, _)| k.trim().is_empty()))
                {
                    return Err(Error::config(
                        "--preset",
                        s,
                        format!(
                            "PRESET[+key=value...] ({} is no key=value), e.g. sysmt4+pe.window_logic=edge",
                            if bad.is_empty() { "an empty override".to_string() } else { format!("`{bad}`") }
                        ),
                    ));
                }
                (Some(name), own)
            }
            None => (None, Vec::new()),
        };
        for (flag, key, value) in &self.flags {
            let clash = own
                .iter()
                .map(|s| (s, spec.unwrap_or_default()))
                .chain(self.sets.iter().map(|s| (s, "--set")))
                .find(|(s, _)| key_of(s) == *key);
            if let Some((s, by)) = clash {
                if self.defaulted.contains(flag) {
                    return Err(Error::config(
                        *key,
                        format!("{s} (in {by})"),
                        format!(
                            "{flag} instead: this command uses one {key} for every design ({flag} {value} by default)"
                        ),
                    ));
                }
                return Err(Error::config(
                    *key,
                    format!("{s} (in {by}) and {flag} {value}"),
                    format!("one of them: {flag} sets {key} for this command"),
                ));
            }
        }
        let mut sets = own;
        sets.extend(self.sets.iter().cloned());
        sets.extend(self.flags.iter().map(|(_, k, v)| format!("{k}={v}")));
        Ok(Design::new(
            ConfigBuilder::new()
                .preset(name)
                .file(self.file)
                .sets(&sets)
                .build()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_gets_the_overrides_and_flags_cannot_silently_win() {
        let specs = vec!["sysmt2".to_string(), "sysmt4+pe.window_logic=edge".into()];
        let sets = vec!["pe.acc_width=40".to_string()];
        let sel = Selection {
            specs: &specs,
            sets: &sets,
            flags: vec![("--rows", "array.rows", "4".into())],
            ..Default::default()
        };
        let c = sel.resolve(Fallback::All).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.pe.acc_width == 40 && c.array.rows == 4));
        assert_eq!(c[1].name, "sysmt4");
        let specs = vec!["sysmt2+array.rows=2".to_string()];
        let sel = Selection {
            specs: &specs,
            flags: vec![("--rows", "array.rows", "16".into())],
            ..Default::default()
        };
        let e = sel.resolve(Fallback::All).unwrap_err().to_string();
        assert!(e.contains("array.rows") && e.contains("--rows 16"), "{e}");
    }
}
