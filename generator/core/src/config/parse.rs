//! Building a configuration: a preset, a YAML file and `key=value` overrides merged
//! in layers (unknown keys and malformed YAML rejected with the field and what is
//! allowed), the merged mapping read into a [`Config`] and validated, design points
//! written as `PRESET[+key=value...]`, and the canonical YAML a config prints as.

use super::{
    preset, ArrayConfig, Config, PeConfig, Policy, Rounding, Skip, WindowLogic, WindowSet,
    ZeroTest, DEFAULT_PRESET,
};
use crate::error::{Error, Result};
use serde_norway::{Mapping, Value};
use std::path::Path;

const TOP_KEYS: &[&str] = &["name", "pe", "array"];
const PE_KEYS: &[&str] = &[
    "policy",
    "threads",
    "window",
    "rounding",
    "zero_test",
    "acc_width",
    "window_logic",
    "pipeline",
    "stc",
];
const ARRAY_KEYS: &[&str] = &["rows", "cols", "skip"];

/// Every key a config file may hold: the top-level keys, then those under `pe` and
/// under `array` (each without its section).
pub fn config_keys() -> impl Iterator<Item = &'static str> {
    TOP_KEYS.iter().chain(PE_KEYS).chain(ARRAY_KEYS).copied()
}

/// Builds a configuration in layers: a preset (or the default preset when neither a
/// preset nor a file is given), then a YAML file, then `key=value` overrides. The
/// result is validated as a whole; nothing is clamped.
#[derive(Debug, Default, Clone)]
pub struct ConfigBuilder {
    preset: Option<String>,
    file: Option<std::path::PathBuf>,
    sets: Vec<String>,
}

impl ConfigBuilder {
    /// An empty builder (resolves to the default preset).
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from the named preset.
    pub fn preset(mut self, name: Option<&str>) -> Self {
        self.preset = name.map(str::to_string);
        self
    }

    /// Overlays a YAML file.
    pub fn file(mut self, path: Option<&Path>) -> Self {
        self.file = path.map(Path::to_path_buf);
        self
    }

    /// Adds `key=value` overrides (dotted keys such as `pe.rounding`).
    pub fn sets<S: AsRef<str>>(mut self, sets: &[S]) -> Self {
        self.sets
            .extend(sets.iter().map(|s| s.as_ref().to_string()));
        self
    }

    /// Resolves the layers into a validated [`Config`].
    pub fn build(&self) -> Result<Config> {
        let mut root = Mapping::new();
        let base = match (&self.preset, &self.file) {
            (Some(p), _) => Some(p.as_str()),
            (None, None) => Some(DEFAULT_PRESET),
            (None, Some(_)) => None,
        };
        if let Some(name) = base {
            let p = preset(name)?;
            let v: Value = serde_norway::from_str(p.yaml)
                .map_err(|e| Error::config("preset", name, format!("valid YAML ({e})")))?;
            merge(&mut root, v, "")?;
            root.insert(Value::from("name"), Value::from(name.replace('-', "_")));
        }
        if let Some(path) = &self.file {
            // A config is small: 1 MiB is far more than any design point needs.
            let bytes = crate::guard::read_file_bounded(path, 1 << 20, "a config file")?;
            let text = String::from_utf8(bytes).map_err(|e| Error::Input {
                file: path.display().to_string(),
                at: format!("byte {}", e.utf8_error().valid_up_to() + 1),
                what: "not UTF-8 text".into(),
            })?;
            super::depth::check_depth(&path.display().to_string(), &text)?;
            let v: Value = serde_norway::from_str(&text)
                .map_err(|e| yaml_error(&path.display().to_string(), &text, &e))?;
            if !v.is_null() {
                merge(&mut root, v, "")?;
            }
        }
        for s in &self.sets {
            let bad = || Error::config("--set", s, "key=value, for example pe.rounding=truncate");
            let (key, val) = s.split_once('=').ok_or_else(bad)?;
            if key.split('.').any(|p| p.trim().is_empty()) {
                return Err(bad());
            }
            super::depth::check_depth("--set", val)?;
            let val: Value = serde_norway::from_str(val).unwrap_or(Value::from(val));
            let mut parts: Vec<&str> = key.split('.').collect();
            let leaf = parts.pop().unwrap_or_default();
            let mut nested = Value::Mapping(Mapping::from_iter([(Value::from(leaf), val)]));
            while let Some(p) = parts.pop() {
                nested = Value::Mapping(Mapping::from_iter([(Value::from(p), nested)]));
            }
            merge(&mut root, nested, "")?;
        }
        from_mapping(&root)
    }
}

/// A YAML syntax error located by line and column; a duplicate key is located at
/// the key's second occurrence (the parser reports where its mapping starts).
fn yaml_error(file: &str, text: &str, e: &serde_norway::Error) -> Error {
    let mut at = e
        .location()
        .map(|l| format!("line {}, column {}", l.line(), l.column()))
        .unwrap_or_else(|| "document".into());
    let msg = e.to_string();
    if let Some(rest) = msg.split("duplicate entry with key ").nth(1) {
        let key = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_matches(|c| c == '"' || c == '\'' || c == ',');
        let start = e.location().map_or(1, |l| l.line());
        let is_key = |l: &str| {
            let l = l.trim_start().trim_start_matches("- ");
            [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
                .iter()
                .any(|k| {
                    l.strip_prefix(k.as_str())
                        .is_some_and(|r| r.trim_start().starts_with(':'))
                })
        };
        let hits: Vec<usize> = text
            .lines()
            .enumerate()
            .skip(start.saturating_sub(1))
            .filter(|(_, l)| is_key(l))
            .map(|(i, _)| i + 1)
            .collect();
        if let Some(line) = hits.get(1) {
            at = format!("line {line}");
            return Error::Input {
                file: file.into(),
                at,
                what: format!("duplicate key `{key}` (first at line {})", hits[0]),
            };
        }
    }
    Error::Input {
        file: file.into(),
        at,
        what: format!("not valid YAML: {e}"),
    }
}

/// Merges `v` into `dst`, rejecting unknown keys with their full dotted path.
fn merge(dst: &mut Mapping, v: Value, prefix: &str) -> Result<()> {
    let Value::Mapping(m) = v else {
        let field = if prefix.is_empty() {
            "<document>"
        } else {
            prefix
        };
        return Err(Error::config(field, describe(&v), "a mapping of keys"));
    };
    let known: &[&str] = match prefix {
        "" => TOP_KEYS,
        "pe" => PE_KEYS,
        "array" => ARRAY_KEYS,
        _ => &[],
    };
    for (k, val) in m {
        let key = k
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| describe(&k));
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if !known.contains(&key.as_str()) {
            return Err(Error::config(
                path,
                "(unknown key)",
                format!(
                    "keys {}{}",
                    if prefix.is_empty() {
                        String::new()
                    } else {
                        format!("in `{prefix}`: ")
                    },
                    known.join(", ")
                ),
            ));
        }
        if matches!(key.as_str(), "pe" | "array") && prefix.is_empty() {
            let sub = dst
                .entry(Value::from(key.as_str()))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            let Value::Mapping(sub) = sub else {
                return Err(Error::config(path, describe(sub), "a mapping"));
            };
            merge(sub, val, &key)?;
        } else {
            if val.is_null() {
                return Err(Error::config(
                    path,
                    "(empty)",
                    "a value (an empty value, ~ or null does not restore the default: leave the key out)",
                ));
            }
            dst.insert(Value::from(key), val);
        }
    }
    Ok(())
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "(empty)".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Sequence(_) => "(a list)".into(),
        Value::Mapping(_) => "(a mapping)".into(),
        Value::Tagged(t) => format!("(tagged {})", t.tag),
    }
}

fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(Value::from(key)).filter(|v| !v.is_null())
}

fn get_str(m: &Mapping, field: &str, key: &str, allowed: &str) -> Result<Option<String>> {
    match get(m, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(Error::config(field, describe(v), allowed)),
    }
}

fn get_int(m: &Mapping, field: &str, key: &str, allowed: &str) -> Result<Option<i64>> {
    match get(m, key) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        // A plain integer too large for 64 bits reaches here as a string.
        Some(Value::String(s))
            if {
                let d = s.trim_start_matches(['+', '-']);
                !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && s.parse::<i64>().is_err()
            } =>
        {
            Err(Error::config(
                field,
                s,
                format!("an integer (this one does not fit in 64 bits): {allowed}"),
            ))
        }
        Some(Value::String(s)) => Err(Error::config(
            field,
            format!("\"{s}\" (a string)"),
            format!("an integer, written without quotes: {allowed}"),
        )),
        Some(v) => Err(Error::config(
            field,
            describe(v),
            format!("an integer: {allowed}"),
        )),
    }
}

/// The setting of a key only some policies take: where it `applies`, `parse` of
/// the value given (or of none); elsewhere no setting, and a value given is an error
/// saying `not_here` and to remove the key.
fn for_policies<T>(
    applies: bool,
    field: &str,
    value: Option<String>,
    not_here: String,
    parse: impl FnOnce(Option<&str>) -> Result<T>,
) -> Result<Option<T>> {
    match value {
        _ if applies => parse(value.as_deref()).map(Some),
        Some(v) => Err(Error::config(
            field,
            v,
            format!("{not_here} (remove the key)"),
        )),
        None => Ok(None),
    }
}

fn from_mapping(root: &Mapping) -> Result<Config> {
    let empty = Mapping::new();
    let pe = match get(root, "pe") {
        Some(Value::Mapping(m)) => m,
        Some(v) => return Err(Error::config("pe", describe(v), "a mapping")),
        None => &empty,
    };
    let policies = Policy::ALL.map(Policy::name).join(", ");
    let policy_s = get_str(pe, "pe.policy", "policy", &policies)?
        .ok_or_else(|| Error::config("pe.policy", "(missing)", &policies))?;
    let policy = Policy::ALL
        .into_iter()
        .find(|p| p.name() == policy_s)
        .ok_or_else(|| Error::config("pe.policy", &policy_s, &policies))?;

    let stc = match get(pe, "stc") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(Error::config("pe.stc", describe(v), "true, false")),
    };
    if stc && policy != Policy::Sparq {
        return Err(Error::config(
            "pe.stc",
            "true",
            format!("false for policy {policy} (the 2:4-sparse mode is built for policy sparq)"),
        ));
    }
    let allowed_t: &[u32] = if stc { &[4] } else { policy.allowed_threads() };
    let allowed_t_s = format!(
        "{} for policy {policy}{}",
        allowed_t
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        match (policy, stc) {
            (Policy::Sparq, true) => " with stc: true (four lanes in, two units)",
            (Policy::Sparq, false) => " (4 with stc: true)",
            _ => "",
        }
    );
    let threads = match get_int(pe, "pe.threads", "threads", &allowed_t_s)? {
        None => match policy {
            Policy::Baseline | Policy::Bsparq => 1,
            Policy::Sparq if stc => 4,
            _ => 2,
        },
        Some(t) => {
            if !allowed_t.iter().any(|&a| i64::from(a) == t) {
                return Err(Error::config("pe.threads", t, allowed_t_s));
            }
            t as u32
        }
    };

    let window = get_str(pe, "pe.window", "window", "a window set name")?;
    let no_window = format!("no window for policy {policy}");
    let windowed = !matches!(policy, Policy::Baseline | Policy::Ideal);
    let window = for_policies(windowed, "pe.window", window, no_window, |w| {
        if policy == Policy::Sysmt {
            return match w {
                None | Some("4b2opt") => Ok(WindowSet::W4b2opt),
                Some(w) => Err(Error::config(
                    "pe.window",
                    w,
                    "only 4b2opt for policy sysmt (use policy sparq for other sets)",
                )),
            };
        }
        let names = WindowSet::USER.map(WindowSet::name).join(", ");
        match w {
            None => Ok(WindowSet::W4b5opt),
            Some(w) => WindowSet::parse(w)
                .filter(|s| WindowSet::USER.contains(s))
                .ok_or_else(|| Error::config("pe.window", w, names)),
        }
    })?;

    let rounding = get_str(pe, "pe.rounding", "rounding", "nearest_even, truncate")?;
    let exact = format!("no rounding for policy {policy}, which is exact");
    let rounding = for_policies(
        policy.reduces(),
        "pe.rounding",
        rounding,
        exact,
        |r| match r {
            None | Some("nearest_even") => Ok(Rounding::NearestEven),
            Some("truncate") => Ok(Rounding::Truncate),
            Some(r) => Err(Error::config("pe.rounding", r, "nearest_even, truncate")),
        },
    )?;

    let zt = get_str(pe, "pe.zero_test", "zero_test", "act, act_or_weight")?;
    let alone = format!("no zero test for policy {policy}, whose lanes never share");
    let zero_test = for_policies(policy.shares(), "pe.zero_test", zt, alone, |z| match z {
        None if policy == Policy::Sysmt => Ok(ZeroTest::ActOrWeight),
        None | Some("act") => Ok(ZeroTest::Act),
        Some("act_or_weight") => Ok(ZeroTest::ActOrWeight),
        Some(z) => Err(Error::config("pe.zero_test", z, "act, act_or_weight")),
    })?;

    if stc && zero_test == Some(ZeroTest::ActOrWeight) {
        return Err(Error::config(
            "pe.zero_test",
            "act_or_weight",
            "act with stc: true (the 2:4 selection already drops zero weights)",
        ));
    }

    let acc_width = match get_int(pe, "pe.acc_width", "acc_width", "16..64")? {
        None => 32,
        Some(w) if (16..=64).contains(&w) => w as u32,
        Some(w) => return Err(Error::config("pe.acc_width", w, "16..64")),
    };

    // With stc the edge is the pair's: four lanes' windows, weights plain.
    let edge_ok = policy == Policy::Sysmt
        || (policy == Policy::Sparq && window.is_some_and(|w| w.bits() == 4));
    let wl_allowed = if edge_ok {
        "in_pe, edge"
    } else {
        "in_pe (edge is built for sysmt and for sparq with a 4-bit window: 4b5opt, 4b3opt or 4b2opt)"
    };
    let window_logic = match get_str(pe, "pe.window_logic", "window_logic", wl_allowed)?.as_deref()
    {
        None | Some("in_pe") => WindowLogic::InPe,
        Some("edge") if edge_ok => WindowLogic::Edge,
        Some(v) => return Err(Error::config("pe.window_logic", v, wl_allowed)),
    };

    let pipeline = match get_int(pe, "pe.pipeline", "pipeline", "0, 1")? {
        None => 0,
        Some(p @ 0..=1) => p as u32,
        Some(p) => return Err(Error::config("pe.pipeline", p, "0, 1")),
    };

    let array = match get(root, "array") {
        Some(Value::Mapping(m)) => m,
        Some(v) => return Err(Error::config("array", describe(v), "a mapping")),
        None => &empty,
    };
    let dim = |key: &str| -> Result<u32> {
        let field = format!("array.{key}");
        match get_int(array, &field, key, "1..128")? {
            None => Ok(8),
            Some(v) if (1..=128).contains(&v) => Ok(v as u32),
            Some(v) => Err(Error::config(field, v, "1..128")),
        }
    };
    let rows = dim("rows")?;
    let cols = dim("cols")?;
    let skip_allowed = Skip::ALL.map(Skip::name).join(", ");
    let skip = match get_str(array, "array.skip", "skip", &skip_allowed)?.as_deref() {
        None => Skip::None,
        Some(v) => Skip::ALL
            .into_iter()
            .find(|s| s.name() == v)
            .ok_or_else(|| Error::config("array.skip", v, &skip_allowed))?,
    };

    let name_rule = "a Verilog identifier prefix: a letter then letters, digits or _ (at most 40)";
    let name = get_str(root, "name", "name", name_rule)?.unwrap_or_else(|| "smtgen".into());
    let ok = name.len() <= 40
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(Error::config("name", name, name_rule));
    }

    Ok(Config {
        name,
        pe: PeConfig {
            policy,
            threads,
            window,
            rounding,
            zero_test,
            acc_width,
            window_logic,
            pipeline,
            stc,
        },
        array: ArrayConfig { rows, cols, skip },
    })
}

/// A design point written as `PRESET[+key=value...]` (for example
/// `sysmt4+pe.window_logic=edge`), as `smtgen compare --presets` takes it, built
/// over `extra` overrides (array size) and validated. The name prefix is the
/// preset's, so the generated modules do not depend on the overrides' spelling.
pub fn design_point<S: AsRef<str>>(spec: &str, extra: &[S]) -> Result<Config> {
    let (name, mut sets) = split_point(spec)?;
    sets.extend(extra.iter().map(|s| s.as_ref().to_string()));
    ConfigBuilder::new().preset(Some(name)).sets(&sets).build()
}

/// A design point `PRESET[+key=value...]` split into the preset's name and its
/// `key=value` overrides (not yet checked: the builder does that).
pub fn split_point(spec: &str) -> Result<(&str, Vec<String>)> {
    let mut parts = spec.split('+');
    let name = parts.next().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(Error::config(
            "design point",
            spec,
            "PRESET[+key=value...], e.g. sysmt4+pe.window_logic=edge",
        ));
    }
    Ok((name, parts.map(str::to_string).collect()))
}

impl Config {
    /// The validated config of a preset.
    pub fn preset(name: &str) -> Result<Config> {
        ConfigBuilder::new().preset(Some(name)).build()
    }

    /// Parses a config from YAML text (no preset underneath).
    pub fn from_yaml(text: &str) -> Result<Config> {
        super::depth::check_depth("<yaml>", text)?;
        let v: Value = serde_norway::from_str(text).map_err(|e| yaml_error("<yaml>", text, &e))?;
        let mut root = Mapping::new();
        merge(&mut root, v, "")?;
        from_mapping(&root)
    }

    /// Canonical YAML of every field in force, used in file headers and reports.
    pub fn to_yaml(&self) -> String {
        let mut s = self.name_pe_yaml()
            + &format!(
                "array:\n  rows: {}\n  cols: {}\n",
                self.array.rows, self.array.cols
            );
        if self.array.skip.on() {
            s += &format!("  skip: {}\n", self.array.skip);
        }
        s
    }

    /// The `name` and `pe` part of [`Config::to_yaml`], without the array size: what
    /// a PE-level file's header shows, so that it does not change with the array.
    /// With `array.skip` on (the PE then takes a skip port) it ends in that setting.
    pub fn pe_yaml(&self) -> String {
        let mut s = self.name_pe_yaml();
        if self.array.skip.on() {
            s += &format!("array:\n  skip: {}\n", self.array.skip);
        }
        s
    }

    fn name_pe_yaml(&self) -> String {
        let mut s = format!(
            "name: {}\npe:\n  policy: {}\n  threads: {}\n",
            self.name, self.pe.policy, self.pe.threads
        );
        if let Some(w) = self.pe.window {
            s += &format!("  window: {w}\n");
        }
        if let Some(r) = self.pe.rounding {
            s += &format!("  rounding: {r}\n");
        }
        if let Some(z) = self.pe.zero_test {
            s += &format!("  zero_test: {z}\n");
        }
        if self.pe.window_logic != WindowLogic::InPe {
            s += &format!("  window_logic: {}\n", self.pe.window_logic);
        }
        if self.pe.pipeline != 0 {
            s += &format!("  pipeline: {}\n", self.pe.pipeline);
        }
        if self.pe.stc {
            s += "  stc: true\n";
        }
        s += &format!("  acc_width: {}\n", self.pe.acc_width);
        s
    }
}
