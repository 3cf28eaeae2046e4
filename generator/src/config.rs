//! Configuration: the design point a user picks (PE policy, lanes, window set,
//! rounding, zero test, accumulator width, array size), the named presets, YAML
//! parsing with `--set` overrides, and validation against the numerics contract
//! (`docs/numerics.md` §7). Nothing downstream sees an unvalidated config.

use crate::error::{Error, Result};
use serde_norway::{Mapping, Value};
use std::fmt;
use std::path::Path;

/// The per-cycle rule a PE implements (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// One exact 8b×8b product per cycle.
    Baseline,
    /// T exact products per cycle on T full multipliers.
    Ideal,
    /// One lane, one n-bit × 8b multiplier on the bSPARQ window.
    Bsparq,
    /// Two lanes sharing two n-bit × 8b multipliers.
    Sparq,
    /// SySMT: T lanes sharing one splittable 8b×8b multiplier.
    Sysmt,
}

impl Policy {
    /// All policies, in documentation order.
    pub const ALL: [Policy; 5] = [
        Policy::Baseline,
        Policy::Ideal,
        Policy::Bsparq,
        Policy::Sparq,
        Policy::Sysmt,
    ];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Baseline => "baseline",
            Policy::Ideal => "ideal",
            Policy::Bsparq => "bsparq",
            Policy::Sparq => "sparq",
            Policy::Sysmt => "sysmt",
        }
    }

    /// Lane counts the spec allows for this policy.
    pub fn allowed_threads(self) -> &'static [u32] {
        match self {
            Policy::Baseline | Policy::Bsparq => &[1],
            Policy::Ideal => &[1, 2, 4],
            Policy::Sparq => &[2],
            Policy::Sysmt => &[2, 4],
        }
    }

    /// Whether the policy ever reduces precision (and so takes rounding).
    pub fn reduces(self) -> bool {
        matches!(self, Policy::Bsparq | Policy::Sparq | Policy::Sysmt)
    }

    /// Whether lanes of this policy compete for multipliers (and so take a zero test).
    pub fn shares(self) -> bool {
        matches!(self, Policy::Sparq | Policy::Sysmt)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A window placement set (spec §3): window width `n` and allowed LSB positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowSet {
    /// n = 4, P = {4,3,2,1,0}.
    W4b5opt,
    /// n = 4, P = {4,2,0}.
    W4b3opt,
    /// n = 4, P = {4,0}.
    W4b2opt,
    /// n = 3, P = {5,4,3,2,1,0}.
    W3b6opt,
    /// n = 2, P = {6,5,4,3,2,1,0}.
    W2b7opt,
    /// n = 6, P = {2,1,0}; internal to SPARQ 3-bit (partner-idle lane).
    W6b3opt,
}

impl WindowSet {
    /// Every set, including the internal 6b3opt.
    pub const ALL: [WindowSet; 6] = [
        WindowSet::W4b5opt,
        WindowSet::W4b3opt,
        WindowSet::W4b2opt,
        WindowSet::W3b6opt,
        WindowSet::W2b7opt,
        WindowSet::W6b3opt,
    ];
    /// The sets a user may configure for `sparq` and `bsparq`.
    pub const USER: [WindowSet; 5] = [
        WindowSet::W4b5opt,
        WindowSet::W4b3opt,
        WindowSet::W4b2opt,
        WindowSet::W3b6opt,
        WindowSet::W2b7opt,
    ];

    /// The name used in configs and module names.
    pub fn name(self) -> &'static str {
        match self {
            WindowSet::W4b5opt => "4b5opt",
            WindowSet::W4b3opt => "4b3opt",
            WindowSet::W4b2opt => "4b2opt",
            WindowSet::W3b6opt => "3b6opt",
            WindowSet::W2b7opt => "2b7opt",
            WindowSet::W6b3opt => "6b3opt",
        }
    }

    /// Window width n in bits.
    pub fn bits(self) -> u32 {
        match self {
            WindowSet::W4b5opt | WindowSet::W4b3opt | WindowSet::W4b2opt => 4,
            WindowSet::W3b6opt => 3,
            WindowSet::W2b7opt => 2,
            WindowSet::W6b3opt => 6,
        }
    }

    /// Allowed window LSB positions, ascending.
    pub fn positions(self) -> &'static [u32] {
        match self {
            WindowSet::W4b5opt => &[0, 1, 2, 3, 4],
            WindowSet::W4b3opt => &[0, 2, 4],
            WindowSet::W4b2opt => &[0, 4],
            WindowSet::W3b6opt => &[0, 1, 2, 3, 4, 5],
            WindowSet::W2b7opt => &[0, 1, 2, 3, 4, 5, 6],
            WindowSet::W6b3opt => &[0, 1, 2],
        }
    }

    fn parse(s: &str) -> Option<Self> {
        WindowSet::ALL.into_iter().find(|w| w.name() == s)
    }
}

impl fmt::Display for WindowSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a reduced operand is rounded (spec §3 step 4, §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Round to nearest, ties to even, saturating at the window's top.
    NearestEven,
    /// Drop the bits below the window.
    Truncate,
}

impl Rounding {
    /// Both modes.
    pub const ALL: [Rounding; 2] = [Rounding::NearestEven, Rounding::Truncate];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            Rounding::NearestEven => "nearest_even",
            Rounding::Truncate => "truncate",
        }
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which lanes count as idle (spec §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZeroTest {
    /// Idle when a == 0.
    Act,
    /// Idle when a == 0 or w == 0.
    ActOrWeight,
}

impl ZeroTest {
    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            ZeroTest::Act => "act",
            ZeroTest::ActOrWeight => "act_or_weight",
        }
    }
}

impl fmt::Display for ZeroTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a two-lane 4-bit PE's window logic sits (spec §5 leaves it to the generator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WindowLogic {
    /// In every PE: the PE takes plain 8-bit operands.
    #[default]
    InPe,
    /// Once per row and column at the array's edge: each activation lane streams
    /// east with its window, each weight lane south with its non-zero flag (two
    /// lanes, zero test `act_or_weight`) or its nib4 (four lanes). The PE keeps the
    /// routing; the edge adds one register stage (one cycle of latency).
    Edge,
}

impl WindowLogic {
    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            WindowLogic::InPe => "in_pe",
            WindowLogic::Edge => "edge",
        }
    }

    /// Register stages the edge adds between the array's inputs and its mesh.
    pub fn edge_stages(self) -> u64 {
        match self {
            WindowLogic::InPe => 0,
            WindowLogic::Edge => 1,
        }
    }
}

impl fmt::Display for WindowLogic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A validated processing-element configuration. Fields that have no meaning for
/// the policy are `None`; fields that do are always `Some`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeConfig {
    /// The per-cycle rule.
    pub policy: Policy,
    /// Lanes per cycle, T.
    pub threads: u32,
    /// Window set (bsparq, sparq, sysmt).
    pub window: Option<WindowSet>,
    /// Rounding mode (reducing policies).
    pub rounding: Option<Rounding>,
    /// Zero test (policies whose lanes share multipliers).
    pub zero_test: Option<ZeroTest>,
    /// Accumulator width in bits, 16..=64.
    pub acc_width: u32,
    /// Where the window logic sits (sysmt, and sparq with 4-bit windows; `InPe` otherwise).
    pub window_logic: WindowLogic,
    /// Register stages between the lane sum and the accumulator (0 or 1; spec §5
    /// allows a pipeline stage when the latency formula accounts for it).
    pub pipeline: u32,
    /// SPARQ's 2:4-sparse-weight mode (spec §5.1): four lanes in, of which the first two
    /// with a non-zero weight go to the two-lane `sparq` datapath.
    pub stc: bool,
}

impl PeConfig {
    /// Lanes per cycle as a usize.
    pub fn lanes(&self) -> usize {
        self.threads as usize
    }

    /// Lanes that reach the multiplier units each cycle: `threads`, except under `stc`,
    /// where the 4→2 selection leaves two.
    pub fn unit_lanes(&self) -> u32 {
        if self.stc {
            2
        } else {
            self.threads
        }
    }

    /// The datapath behind the 2:4 selection: for `stc`, the two-lane `sparq` PE with
    /// the same window, rounding and accumulator; otherwise the PE itself.
    pub fn core(&self) -> PeConfig {
        PeConfig {
            threads: self.unit_lanes(),
            stc: false,
            ..*self
        }
    }

    /// Bits of the per-cycle lane sum before it meets the accumulator (spec §2).
    pub fn sum_width(&self) -> u32 {
        match self.unit_lanes() {
            1 => 16,
            2 => 17,
            _ => 18,
        }
    }

    /// Cycles an array of this PE adds to the latency formula: the edge's register
    /// stage and the PE's pipeline stages.
    pub fn extra_latency(&self) -> u64 {
        self.window_logic.edge_stages() + u64::from(self.pipeline)
    }

    /// The rounding mode, or nearest-even for policies that never round.
    pub fn rounding_or_default(&self) -> Rounding {
        self.rounding.unwrap_or(Rounding::NearestEven)
    }
}

/// Array dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArrayConfig {
    /// Rows R (activations enter one row each), 1..=128.
    pub rows: u32,
    /// Columns C (weights enter one column each), 1..=128.
    pub cols: u32,
}

/// A whole validated design point.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Config {
    /// Design name; the prefix of every generated module (a Verilog identifier).
    pub name: String,
    /// The processing element.
    pub pe: PeConfig,
    /// The array.
    pub array: ArrayConfig,
}

/// A named, documented design point.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Name used with `--preset`.
    pub name: &'static str,
    /// One line saying what it is.
    pub about: &'static str,
    /// The preset's fields as YAML (defaults fill the rest).
    pub yaml: &'static str,
}

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
const ARRAY_KEYS: &[&str] = &["rows", "cols"];

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
    let window = match policy {
        Policy::Baseline | Policy::Ideal => {
            if let Some(w) = window {
                return Err(Error::config(
                    "pe.window",
                    w,
                    format!("no window for policy {policy} (remove the key)"),
                ));
            }
            None
        }
        Policy::Sysmt => match window.as_deref() {
            None | Some("4b2opt") => Some(WindowSet::W4b2opt),
            Some(w) => {
                return Err(Error::config(
                    "pe.window",
                    w,
                    "only 4b2opt for policy sysmt (use policy sparq for other sets)",
                ))
            }
        },
        Policy::Sparq | Policy::Bsparq => {
            let names = WindowSet::USER.map(WindowSet::name).join(", ");
            match window.as_deref() {
                None => Some(WindowSet::W4b5opt),
                Some(w) => Some(
                    WindowSet::parse(w)
                        .filter(|s| WindowSet::USER.contains(s))
                        .ok_or_else(|| Error::config("pe.window", w, names))?,
                ),
            }
        }
    };

    let rounding_s = get_str(pe, "pe.rounding", "rounding", "nearest_even, truncate")?;
    let rounding = if policy.reduces() {
        Some(match rounding_s.as_deref() {
            None | Some("nearest_even") => Rounding::NearestEven,
            Some("truncate") => Rounding::Truncate,
            Some(r) => return Err(Error::config("pe.rounding", r, "nearest_even, truncate")),
        })
    } else {
        if let Some(r) = rounding_s {
            return Err(Error::config(
                "pe.rounding",
                r,
                format!("no rounding for policy {policy}, which is exact (remove the key)"),
            ));
        }
        None
    };

    let zt_s = get_str(pe, "pe.zero_test", "zero_test", "act, act_or_weight")?;
    let zero_test = if policy.shares() {
        Some(match zt_s.as_deref() {
            None if policy == Policy::Sysmt => ZeroTest::ActOrWeight,
            None | Some("act") => ZeroTest::Act,
            Some("act_or_weight") => ZeroTest::ActOrWeight,
            Some(z) => return Err(Error::config("pe.zero_test", z, "act, act_or_weight")),
        })
    } else {
        if let Some(z) = zt_s {
            return Err(Error::config(
                "pe.zero_test",
                z,
                format!(
                    "no zero test for policy {policy}, whose lanes never share (remove the key)"
                ),
            ));
        }
        None
    };

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

    let edge_ok = policy == Policy::Sysmt
        || (policy == Policy::Sparq && !stc && window.is_some_and(|w| w.bits() == 4));
    let wl_allowed = if edge_ok {
        "in_pe, edge"
    } else if stc {
        "in_pe (the edge is not built for stc: true)"
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
        array: ArrayConfig { rows, cols },
    })
}

/// A design point written as `PRESET[+key=value...]` (for example
/// `sysmt4+pe.window_logic=edge`), as `smtgen compare --presets` takes it, built
/// over `extra` overrides (array size) and validated. The name prefix is the
/// preset's, so the generated modules do not depend on the overrides' spelling.
pub fn design_point<S: AsRef<str>>(spec: &str, extra: &[S]) -> Result<Config> {
    let specs = [spec.to_string()];
    let sets: Vec<String> = extra.iter().map(|s| s.as_ref().to_string()).collect();
    crate::select::Selection {
        specs: &specs,
        sets: &sets,
        ..Default::default()
    }
    .resolve_one()
}

impl Config {
    /// The validated config of a preset.
    pub fn preset(name: &str) -> Result<Config> {
        ConfigBuilder::new().preset(Some(name)).build()
    }

    /// Parses a config from YAML text (no preset underneath).
    pub fn from_yaml(text: &str) -> Result<Config> {
        let v: Value = serde_norway::from_str(text).map_err(|e| yaml_error("<yaml>", text, &e))?;
        let mut root = Mapping::new();
        merge(&mut root, v, "")?;
        from_mapping(&root)
    }

    /// Canonical YAML of every field in force, used in file headers and reports.
    pub fn to_yaml(&self) -> String {
        self.pe_yaml()
            + &format!(
                "array:\n  rows: {}\n  cols: {}\n",
                self.array.rows, self.array.cols
            )
    }

    /// The `name` and `pe` part of [`Config::to_yaml`], without the array size: what
    /// a PE-level file's header shows, so that it does not change with the array.
    pub fn pe_yaml(&self) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        Config::from_yaml(yaml).unwrap_err().to_string()
    }

    #[test]
    fn every_preset_validates_and_round_trips() {
        for p in PRESETS {
            let c = Config::preset(p.name).unwrap();
            let again = Config::from_yaml(&c.to_yaml()).unwrap();
            assert_eq!(c, again, "{}", p.name);
        }
    }

    #[test]
    fn bad_configs_name_field_value_and_allowed() {
        let e = err("pe: {policy: sysmt, threads: 3}");
        assert!(e.contains("pe.threads = 3") && e.contains("2, 4"), "{e}");
        let e = err("pe: {policy: sysmt, threads: 1}");
        assert!(e.contains("pe.threads = 1") && e.contains("sysmt"), "{e}");
        let e = err("pe: {policy: sparq, window: 5b}");
        assert!(e.contains("pe.window = 5b") && e.contains("4b5opt"), "{e}");
        let e = err("pe: {policy: baseline, acc_width: 8}");
        assert!(
            e.contains("pe.acc_width = 8") && e.contains("16..64"),
            "{e}"
        );
        let e = err("pe: {policy: baseline, colour: red}");
        assert!(e.contains("pe.colour") && e.contains("unknown"), "{e}");
        let e = err("pe: {policy: baseline}\nfoo: 1");
        assert!(e.contains("foo") && e.contains("unknown"), "{e}");
        let e = err("pe: {policy: sparq, window: 6b3opt}");
        assert!(e.contains("pe.window = 6b3opt"), "{e}");
        let e = err("pe: {policy: baseline}\narray: {rows: 0}");
        assert!(e.contains("array.rows = 0") && e.contains("1..128"), "{e}");
        let e = err("pe: {policy: warp}");
        assert!(e.contains("pe.policy = warp") && e.contains("sysmt"), "{e}");
        let e = err("pe: {policy: ideal, rounding: truncate}");
        assert!(e.contains("pe.rounding = truncate"), "{e}");
        let e = err("pe: {policy: sparq, window: 3b6opt, window_logic: edge}");
        assert!(
            e.contains("pe.window_logic = edge") && e.contains("4-bit window"),
            "{e}"
        );
        let e = err("pe: {policy: sysmt, pipeline: 2}");
        assert!(e.contains("pe.pipeline = 2") && e.contains("0, 1"), "{e}");
        let e = err("pe: {policy: sysmt, window_logic: west}");
        assert!(
            e.contains("pe.window_logic = west") && e.contains("in_pe, edge"),
            "{e}"
        );
    }

    #[test]
    fn overrides_apply_in_order_and_are_validated() {
        let c = ConfigBuilder::new()
            .preset(Some("sysmt4"))
            .sets(&["pe.rounding=truncate", "array.rows=16"])
            .build()
            .unwrap();
        assert_eq!(c.pe.rounding, Some(Rounding::Truncate));
        assert_eq!(c.array.rows, 16);
        assert_eq!(c.pe.threads, 4);
        let e = ConfigBuilder::new()
            .preset(Some("sysmt4"))
            .sets(&["pe.threads=3"])
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("pe.threads = 3"));
        let e = ConfigBuilder::new()
            .sets(&["pe.nope=1"])
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("pe.nope"));
    }

    #[test]
    fn design_points_are_a_preset_plus_overrides() {
        let c = design_point(
            "sysmt4+pe.window_logic=edge+pe.rounding=truncate",
            &["array.rows=4"],
        )
        .unwrap();
        assert_eq!(c.pe.window_logic, WindowLogic::Edge);
        assert_eq!(c.pe.rounding, Some(Rounding::Truncate));
        assert_eq!((c.name.as_str(), c.array.rows), ("sysmt4", 4));
        let e = design_point("ideal2+pe.window_logic=edge", &[] as &[&str]).unwrap_err();
        assert!(e.to_string().contains("pe.window_logic = edge"), "{e}");
        let e = design_point("sysmt5", &[] as &[&str]).unwrap_err();
        assert!(e.to_string().contains("preset = sysmt5"), "{e}");
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = Config::from_yaml("pe: {policy: sysmt}").unwrap();
        assert_eq!(c.pe.threads, 2);
        assert_eq!(c.pe.zero_test, Some(ZeroTest::ActOrWeight));
        assert_eq!(c.pe.rounding, Some(Rounding::NearestEven));
        let c = Config::from_yaml("pe: {policy: sparq}").unwrap();
        assert_eq!(c.pe.zero_test, Some(ZeroTest::Act));
        assert_eq!(c.pe.window, Some(WindowSet::W4b5opt));
        assert_eq!(c.pe.acc_width, 32);
    }
}
