//! Configuration: the design point a user picks (PE policy, lanes, window set,
//! rounding, zero test, accumulator width, array size), the named presets, YAML
//! parsing with `--set` overrides, and validation against the numerics contract
//! (`docs/numerics.md` §7). Nothing downstream sees an unvalidated config.
//!
//! The types live here; `presets` holds the named design points, `parse` the
//! layered building (preset, file, overrides), reading and validation.

use std::fmt;

mod datapath;
mod depth;
mod design;
mod parse;
mod presets;
#[cfg(test)]
mod tests;

pub use datapath::{solo_set, Buses, Datapath, Link, Rule, Select, Unit, Windows};
pub use design::Design;
pub use parse::{config_keys, design_point, split_point, ConfigBuilder};
pub use presets::{preset, DEFAULT_PRESET, PRESETS};

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
    /// Cycles an array of this PE adds to the latency formula: the edge's register
    /// stage and the PE's pipeline stages.
    pub fn extra_latency(&self) -> u64 {
        self.window_logic.edge_stages() + u64::from(self.pipeline)
    }
}

/// Whether the array can skip outputs predicted zero (docs/array.md, "Skipping
/// outputs").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Skip {
    /// No skip mask: the array as without the option (byte-identical RTL).
    #[default]
    None,
    /// A per-output skip mask enters with each tile's first group; a skipped PE
    /// forces its datapath operands to zero (operand isolation) and delivers 0.
    Gate,
}

impl Skip {
    /// Both settings.
    pub const ALL: [Skip; 2] = [Skip::None, Skip::Gate];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            Skip::None => "none",
            Skip::Gate => "gate",
        }
    }

    /// Whether the array takes a skip mask.
    pub fn on(self) -> bool {
        self == Skip::Gate
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Array dimensions and the array-level options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArrayConfig {
    /// Rows R (activations enter one row each), 1..=128.
    pub rows: u32,
    /// Columns C (weights enter one column each), 1..=128.
    pub cols: u32,
    /// Output skipping (`array.skip`).
    pub skip: Skip,
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

/// A named, documented design point: one file under `configs/presets/`.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Name used with `--preset` (the file's stem).
    pub name: &'static str,
    /// The preset's file: a `# ` comment line saying what it is, then its fields as
    /// YAML (defaults fill the rest).
    pub yaml: &'static str,
}

impl Preset {
    /// One line saying what the preset is: its file's first comment line.
    pub fn about(&self) -> &'static str {
        self.yaml
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# "))
            .unwrap_or("")
    }
}
