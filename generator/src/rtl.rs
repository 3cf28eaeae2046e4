//! RTL emission: turns a validated [`Config`] into Verilog-2005 files from the askama
//! templates in `templates/`, one module per file named after the module, each with a
//! header naming smtgen's version and the config, plus a `.f` filelist.
//!
//! The PE is hierarchical: `<name>_cond` (zero tests, windows, nibbles, routing of
//! lanes to units), `<name>_fabric` (the multiplier units at natural width, their
//! shifts and the lane adder), `<name>_acc` (the accumulator) and `<name>_pe` (the
//! top with the systolic pass-through registers). With `window_logic: edge` the
//! windows (and, for four lanes, nib4; for two, the weight zero flags) move to
//! `<name>_pre_act` / `<name>_pre_wgt`, once per row and column at the array's edge;
//! the PE then takes link words (see [`act_link_width`]) and `<name>_pe_solo` wraps
//! it with its own edge logic for PE-level tests.

use crate::config::{Config, Policy, Rounding, WindowLogic, WindowSet, ZeroTest};
use crate::error::{Error, Result};
use askama::Template;
use std::path::{Path, PathBuf};

/// smtgen's version, written into every generated file.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One generated file held in memory until everything has rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name (no directory), `<module>.v` or `<top>.f`.
    pub name: String,
    /// What the file is, so that callers pick files by role rather than by name.
    pub role: Role,
    /// Full text, ending in a newline.
    pub text: String,
}

/// A bug planted into a PE's production datapath through the data its templates
/// render (see [`generate_pe_with_fault`]), for the tests and the example that show
/// a proof can fail. The proof variants and the reference never carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The window modules' round-up at LSB position `pos` drops its sticky bits
    /// (rounds on the guard bit and the window's LSB only).
    WindowRoundWithoutSticky {
        /// The window position whose rounding loses its sticky bits.
        pos: u32,
    },
    /// nib4 rounds a remainder of exactly 8 down, never to even.
    Nib4WithoutTieToEven,
    /// The two-lane cond's zero test of lane `lane` ignores the weight.
    ZeroTestIgnoresWeight {
        /// The lane whose production zero test drifts.
        lane: usize,
    },
    /// The edge's pair window of lane `lane` rounds 15 up to 0 (no saturation).
    EdgeWindowWithoutSaturation {
        /// The lane whose edge window forgets to saturate.
        lane: usize,
    },
    /// Unit `unit`'s first sign-extended product term in the fabric extends with
    /// zeros (the product read as unsigned).
    UnsignedProduct {
        /// The multiplier unit whose product loses its sign.
        unit: usize,
    },
    /// The 2:4 selection lets lane 1 be first even when lane 0's weight is non-zero
    /// (a broken priority pick).
    SelPriorityIgnoresLane0,
}

/// The role of a [`GeneratedFile`] in a design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A combinational module of the PE's datapath (windows, nibble, multiplier,
    /// edge conditioning, cond, fabric, 2:4 selection): what a proof takes.
    Datapath,
    /// The PE's accumulator, `<name>_acc`.
    Accumulator,
    /// The PE top, `<name>_pe`.
    PeTop,
    /// `<name>_pe_solo`: the PE with its own edge conditioning, for PE-level tests
    /// (the array has its own edge and leaves it out).
    PeSolo,
    /// A module of the array around the PEs (delay line, cell, array top).
    Array,
    /// A `.f` filelist naming a top's files.
    Filelist,
    /// A behavioural reference module (`<name>_ref` and its parts).
    Reference,
    /// A proof variant (`<name>_cond_cut`, `_ref_cut`, `_front`, `_front_cut`).
    ProofVariant,
    /// A proof's miter (built by `smtgen prove`, never written by `gen`).
    Miter,
}

impl GeneratedFile {
    /// The file `<module>.v` of one module.
    pub fn module(module: &str, role: Role, text: String) -> GeneratedFile {
        GeneratedFile {
            name: format!("{module}.v"),
            role,
            text,
        }
    }

    /// The filelist `<top>.f` naming `files` in order.
    pub fn filelist<'a>(
        top: &str,
        files: impl IntoIterator<Item = &'a GeneratedFile>,
    ) -> GeneratedFile {
        GeneratedFile {
            name: format!("{top}.f"),
            role: Role::Filelist,
            text: files.into_iter().map(|f| format!("{}\n", f.name)).collect(),
        }
    }
}

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
/// `act_or_weight`; four lanes: its nib4, 4 bits and the high-nibble flag); zero with
/// the window logic in the PE.
pub fn link_fields(cfg: &Config) -> (u32, u32) {
    if !edge(cfg) {
        return (0, 0);
    }
    let zw = cfg.pe.zero_test == Some(ZeroTest::ActOrWeight);
    (
        4,
        if cfg.pe.threads == 4 {
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

/// The Verilog header every PE-level generated file starts with: it shows the
/// design's name and PE config only, so a PE file does not change with the array size.
pub fn header(module: &str, what: &str, cfg: &Config) -> String {
    header_with(module, what, &cfg.pe_yaml())
}

/// The header of an array-level file: the whole config, array size included.
fn array_header(module: &str, what: &str, cfg: &Config) -> String {
    header_with(module, what, &cfg.to_yaml())
}

#[derive(Template)]
#[template(path = "header.v")]
struct HeaderTpl<'a> {
    module: &'a str,
    what: &'a str,
    version: &'a str,
    config: Vec<&'a str>,
}

fn header_with(module: &str, what: &str, yaml: &str) -> String {
    let t = HeaderTpl {
        module,
        what,
        version: VERSION,
        config: yaml.lines().collect(),
    };
    // Rendering into a String fails only if a Display impl does; a &str's never does.
    t.render().expect("the header renders")
}

/// Name of a window-unit module for this design.
pub fn win_module(prefix: &str, set: WindowSet, rnd: Rounding) -> String {
    let r = match rnd {
        Rounding::NearestEven => "rne",
        Rounding::Truncate => "trunc",
    };
    format!("{prefix}_win_{}_{r}", set.name())
}

#[derive(Template)]
#[template(path = "pe/mul.v")]
struct MulTpl<'a> {
    header: &'a str,
    prefix: &'a str,
}

#[derive(Template)]
#[template(path = "pe/acc.v")]
struct AccTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    acc_w: u32,
    sum_w: u32,
    pipe: bool,
    /// The sum the adder sees: the port, or its pipeline register.
    sum: &'a str,
}

#[derive(Template)]
#[template(path = "pe/pe.v")]
struct PeTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    lanes: u32,
    act_w: u32,
    wgt_w: u32,
    edge: bool,
    /// Pipelined accumulator: it takes the PE's registered valid and clear.
    pipe: bool,
    acc_w: u32,
    sum_w: u32,
    x_bits: u32,
    y_bits: u32,
    sh_bits: u32,
    reference: bool,
    /// 2:4-sparse mode: `<name>_sel` picks two of the four lanes for the cond.
    sel: bool,
}

struct UnitView {
    idx: usize,
    aw: u32,
    ww: u32,
    pw: u32,
    x_lo: u32,
    x_hi: u32,
    y_lo: u32,
    y_hi: u32,
    sh_lo: u32,
    sh_hi: u32,
    shift_list: String,
    cases: Vec<(u32, String)>,
    default_term: String,
}

#[derive(Template)]
#[template(path = "pe/fabric.v")]
struct FabricTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    units: Vec<UnitView>,
    x_bits: u32,
    y_bits: u32,
    sh_bits: u32,
    sum_w: u32,
    sum_expr: String,
}

struct WinOpt {
    pos: u32,
    hit: String,
    sel: String,
    trunc: String,
    shift: String,
    round: String,
}

#[derive(Template)]
#[template(path = "pe/win.v")]
struct WinTpl<'a> {
    header: &'a str,
    module: &'a str,
    set: &'a str,
    rounding: &'a str,
    rne: bool,
    n: u32,
    positions: String,
    opts: Vec<WinOpt>,
}

#[derive(Template)]
#[template(path = "pe/nib4.v")]
struct Nib4Tpl<'a> {
    header: &'a str,
    prefix: &'a str,
    rounding: &'a str,
    rne: bool,
    fault: FaultView,
}

#[derive(Template)]
#[template(path = "pe/cond_exact.v")]
struct CondExactTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    lanes: u32,
}

#[derive(Template)]
#[template(path = "pe/cond_bsparq.v")]
struct CondBsparqTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    n: u32,
    win_module: &'a str,
}

/// Defines the template struct of one 4-bit-window variant of the two-lane cond
/// (windows inline, or precomputed at the edge): both take the same view.
macro_rules! pair4_template {
    ($t:ident, $path:literal $(, $(#[$doc:meta])* $extra:ident: $ty:ty)*) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $t<'a> {
            header: &'a str,
            prefix: &'a str,
            policy: &'a str,
            zero_test: &'a str,
            zt_weight: bool,
            set: &'a str,
            cut: bool,
            rne: bool,
            act_w: u32,
            wgt_w: u32,
            lanes: Vec<PairLane>,
            fault: FaultView,
            $($(#[$doc])* $extra: $ty,)*
        }
    };
}
pair4_template!(CondPairInlineTpl, "pe/cond_pair_inline.v");
pair4_template!(
    CondPairEdgeTpl,
    "pe/cond_pair_edge.v",
    /// Width of one lane's field in the activation link word.
    act_field: u32
);

/// The two-lane cond with 3- or 2-bit windows: window modules per lane and a
/// wider one for a lone lane.
#[derive(Template)]
#[template(path = "pe/cond_pair_win.v")]
struct CondPairWinTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    policy: &'a str,
    zero_test: &'a str,
    zt_weight: bool,
    n: u32,
    set: &'a str,
    solo_set: &'a str,
    win_module: &'a str,
    solo_win_module: &'a str,
    cut: bool,
    /// Not a condition of the template, but the window modules it names differ.
    rne: bool,
    act_w: u32,
    wgt_w: u32,
}

#[derive(Template)]
#[template(path = "pe/pre_act.v")]
struct PreActTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    lanes: u32,
    quad: bool,
    win_module: &'a str,
    link_w: u32,
    set: &'a str,
    rne: bool,
    lane_views: Vec<PairLane>,
    fault: FaultView,
}

#[derive(Template)]
#[template(path = "pe/pre_wgt.v")]
struct PreWgtTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    lanes: u32,
    quad: bool,
    link_w: u32,
}

#[derive(Template)]
#[template(path = "pe/pe_solo.v")]
struct PeSoloTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    lanes: u32,
    acc_w: u32,
    act_w: u32,
    wgt_w: u32,
    pre_wgt: bool,
}

/// What a template's `{% if %}` conditions read: its path under `templates/` and
/// each condition input with the value it has in this render (see [`crate::cover`],
/// which checks that the covering set takes every one both ways).
pub(crate) trait Branches {
    /// The template's path, as in its `#[template(path = ...)]`.
    const TEMPLATE: &'static str;
    /// Each condition input's name (as the template spells it) and value.
    fn branches(&self) -> Vec<(&'static str, String)>;
}

/// Implements [`Branches`] for a template struct from the fields its conditions read.
macro_rules! branches {
    ($t:ident, $path:literal $(, $field:ident)*) => {
        impl Branches for $t<'_> {
            const TEMPLATE: &'static str = $path;
            fn branches(&self) -> Vec<(&'static str, String)> {
                vec![$((stringify!($field), self.$field.to_string())),*]
            }
        }
    };
}

branches!(MulTpl, "pe/mul.v");
branches!(PeTpl, "pe/pe.v", edge, pipe, reference, sel);
branches!(WinTpl, "pe/win.v", rne);
branches!(Nib4Tpl, "pe/nib4.v", rne);
branches!(CondExactTpl, "pe/cond_exact.v");
branches!(CondBsparqTpl, "pe/cond_bsparq.v");
branches!(
    CondPairInlineTpl,
    "pe/cond_pair_inline.v",
    cut,
    rne,
    zt_weight
);
branches!(CondPairEdgeTpl, "pe/cond_pair_edge.v", cut, rne, zt_weight);
branches!(CondPairWinTpl, "pe/cond_pair_win.v", n, cut, rne, zt_weight);
branches!(PreActTpl, "pe/pre_act.v", quad, rne);
branches!(PreWgtTpl, "pe/pre_wgt.v", quad);
branches!(PeSoloTpl, "pe/pe_solo.v", pre_wgt);
branches!(CondQuadTpl, "pe/cond_quad.v", cut, edge, zt_weight);
branches!(DelayTpl, "array/delay.v");
branches!(CellTpl, "array/cell.v", pipe);
branches!(
    ArrayTpl,
    "array/array.v",
    edge,
    pre_wgt,
    pipeline,
    edge_stages
);
branches!(RefTpl, "pe/ref.v", cut, rule, zt_weight, solo_exact);

impl Branches for AccTpl<'_> {
    const TEMPLATE: &'static str = "pe/acc.v";
    fn branches(&self) -> Vec<(&'static str, String)> {
        // The generate block on ACC_W against SUM_W is a branch of the template too.
        let form = match self.acc_w.cmp(&self.sum_w) {
            std::cmp::Ordering::Greater => "g_sign_extend",
            std::cmp::Ordering::Equal => "g_same_width",
            std::cmp::Ordering::Less => "g_wrap",
        };
        vec![
            ("pipe", self.pipe.to_string()),
            ("ACC_W vs SUM_W", form.into()),
        ]
    }
}

impl Branches for FabricTpl<'_> {
    const TEMPLATE: &'static str = "pe/fabric.v";
    fn branches(&self) -> Vec<(&'static str, String)> {
        self.units
            .iter()
            .map(|u| ("u.cases.is_empty()", u.cases.is_empty().to_string()))
            .collect()
    }
}

#[derive(Template)]
#[template(path = "pe/sel.v")]
struct SelTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    /// Planted faults (mutation tests only).
    fault: SelFaultView,
}

/// What [`SelTpl`] plants for a [`Fault`]: every field true in production.
struct SelFaultView {
    /// Lane 1 is first only when lane 0's weight is zero.
    lane1_after_lane0: bool,
}

#[derive(Template)]
#[template(path = "pe/ref_sel.v")]
struct RefSelTpl<'a> {
    header: &'a str,
    prefix: &'a str,
}

#[derive(Template)]
#[template(path = "pe/ref_stc.v")]
struct RefStcTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    sum_w: u32,
}

branches!(SelTpl, "pe/sel.v");
branches!(RefSelTpl, "pe/ref_sel.v");
branches!(RefStcTpl, "pe/ref_stc.v");

/// The config of the datapath behind the 2:4 selection (see [`PeConfig::core`]).
fn core(cfg: &Config) -> Config {
    Config {
        pe: cfg.pe.core(),
        ..cfg.clone()
    }
}

/// The PE of a 2:4-sparse design (spec §5.1): the two-lane core's files, the
/// selection `<name>_sel` and a four-lane PE top that puts it in front of the cond.
fn generate_stc_pe(cfg: &Config, fault: Option<Fault>) -> Result<Vec<GeneratedFile>> {
    let prefix = cfg.name.as_str();
    let c = core(cfg);
    let top = format!("{prefix}_pe");
    let mut files: Vec<GeneratedFile> = pe_files(&c, cfg, fault)?
        .into_iter()
        .filter(|f| !matches!(f.role, Role::PeTop | Role::Filelist))
        .collect();
    let m = format!("{prefix}_sel");
    files.push(GeneratedFile::module(
        &m,
        Role::Datapath,
        render(
            &SelTpl {
                header: &header(&m, "2:4 operand selection", cfg),
                prefix,
                fault: SelFaultView {
                    lane1_after_lane0: fault != Some(Fault::SelPriorityIgnoresLane0),
                },
            },
            &m,
        )?,
    ));
    let us = units(&c);
    let text = render(
        &PeTpl {
            header: &header(&top, "processing element (2:4-sparse weights)", cfg),
            prefix,
            lanes: cfg.pe.threads,
            act_w: act_link_width(cfg),
            wgt_w: wgt_link_width(cfg),
            edge: false,
            pipe: cfg.pe.pipeline > 0,
            acc_w: cfg.pe.acc_width,
            sum_w: cfg.pe.sum_width(),
            x_bits: us.iter().map(|u| u.aw).sum(),
            y_bits: us.iter().map(|u| u.ww).sum(),
            sh_bits: 4 * us.len() as u32,
            reference: false,
            sel: true,
        },
        &top,
    )?;
    files.push(GeneratedFile::module(&top, Role::PeTop, text));
    files.push(GeneratedFile::filelist(&top, &files));
    Ok(files)
}

/// The plain reference of the 2:4 selection, `<name>_ref_sel`.
pub fn generate_ref_sel(cfg: &Config) -> Result<GeneratedFile> {
    let m = format!("{}_ref_sel", cfg.name);
    Ok(GeneratedFile::module(
        &m,
        Role::Reference,
        render(
            &RefSelTpl {
                header: &header(&m, "behavioural reference of the 2:4 selection", cfg),
                prefix: &cfg.name,
            },
            &m,
        )?,
    ))
}

/// Round-to-nearest-even condition of a window at LSB position `p` of activation `a`:
/// the guard bit and either the window's LSB or a sticky bit below the guard (`None`
/// at position 0, which drops nothing). Shared by the window modules and the
/// two-lane cond's inline windows.
fn round_up(a: &str, p: u32) -> Option<String> {
    match p {
        0 => None,
        1 => Some(format!("{a}[0] & {a}[1]")),
        _ => Some(format!("{a}[{}] & ({a}[{p}] | (|{a}[{}:0]))", p - 1, p - 2)),
    }
}

/// One lane's inline 4-bit window in the two-lane cond: the selection signals
/// (`g<k>_<p>`: the window sits at position `p` or above, with their expressions) and
/// the one-hot AND-OR selections of the window, its shift, the bits below it and its
/// round-up condition.
struct PairLane {
    k: usize,
    above: Vec<(String, String)>,
    trunc: String,
    shift: String,
    low: String,
    round: String,
    /// The window the pair uses (`n<k>`): rounded only when both lanes are active.
    next: String,
}

/// What a planted [`Fault`] changes in a template's own text: everything true in
/// production. Template conditions on `fault.` are not design branches (no
/// covering point takes them; the cover check leaves them out).
#[derive(Debug, Clone, Copy)]
struct FaultView {
    /// nib4 rounds ties to even q.
    tie_even: bool,
    /// The edge's rounded pair window of each lane saturates at 15.
    saturate: [bool; 2],
    /// The two-lane cond's zero test `act_or_weight` of lane 0 (1) tests the weight.
    weight0: bool,
    weight1: bool,
}

impl FaultView {
    fn of(fault: Option<Fault>) -> FaultView {
        FaultView {
            tie_even: fault != Some(Fault::Nib4WithoutTieToEven),
            saturate: [0, 1].map(|k| fault != Some(Fault::EdgeWindowWithoutSaturation { lane: k })),
            weight0: fault != Some(Fault::ZeroTestIgnoresWeight { lane: 0 }),
            weight1: fault != Some(Fault::ZeroTestIgnoresWeight { lane: 1 }),
        }
    }

    /// Whether lane `k`'s edge window saturates.
    fn saturates(&self, k: &usize) -> bool {
        self.saturate.get(*k).copied().unwrap_or(true)
    }
}

/// The inline window of lane `k` over the 4-bit placement `positions` (ascending).
/// Every selection is an AND-OR over one-hot terms, not a `?:` chain: the gates are
/// the same, but Verilator compiles `?:` on data into branches, and mispredicted
/// branches cost a 16x16 sysmt2 array half its simulation speed (issue #3).
fn pair_lane(k: usize, positions: &[u32]) -> PairLane {
    let a = format!("a{k}");
    let g = |p: u32| format!("g{k}_{p}");
    let above = positions
        .windows(2)
        .map(|w| (g(w[1]), format!("|{a}[7:{}]", w[0] + 4)))
        .collect();
    // One-hot: position i holds the window when the leading one is above position
    // i - 1's window (g) and not above its own (the next position's g is low).
    let m = positions.len();
    let sel = |i: usize| -> String {
        let mut t = Vec::new();
        if i > 0 {
            t.push(g(positions[i]));
        }
        if i + 1 < m {
            t.push(format!("~{}", g(positions[i + 1])));
        }
        if t.is_empty() {
            // A single placement is always selected.
            t.push("1'b1".into());
        }
        t.join(" & ")
    };
    // `({W{sel_i}} & f(p_i)) | ...` over the positions whose term is not zero.
    let or_of = |w: u32, f: &dyn Fn(u32) -> Option<String>| -> String {
        let terms: Vec<String> = positions
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| f(p).map(|v| format!("({{{w}{{{}}}}} & {v})", sel(i))))
            .collect();
        if terms.is_empty() {
            format!("{w}'d0")
        } else {
            terms.join(" | ")
        }
    };
    let round = if let [0, p] = positions {
        // One placement above the lowest (4b2opt): a flat conjunction.
        format!("{} & {}", g(*p), round_up(&a, *p).unwrap_or_default())
    } else {
        let terms: Vec<String> = positions
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| round_up(&a, p).map(|r| format!("({} & {r})", sel(i))))
            .collect();
        format!("({})", terms.join(" | "))
    };
    PairLane {
        k,
        next: format!("t{k} + {{3'd0, both & {round} & ~(&t{k})}}"),
        round,
        above,
        trunc: or_of(4, &|p| Some(format!("{a}[{}:{p}]", p + 3))),
        shift: or_of(3, &|p| (p > 0).then(|| format!("3'd{p}"))),
        low: or_of(4, &|p| match p {
            0 => None,
            4 => Some(format!("{a}[3:0]")),
            _ => Some(format!("{{{}'d0, {a}[{}:0]}}", 4 - p, p - 1)),
        }),
    }
}

#[derive(Template)]
#[template(path = "pe/cond_quad.v")]
struct CondQuadTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    zero_test: &'a str,
    zt_weight: bool,
    win_module: &'a str,
    cut: bool,
    edge: bool,
    act_w: u32,
    wgt_w: u32,
}

/// Renders `<name>_cond`, or with `cut` its proof variant `<name>_cond_cut`: the
/// same text except that the lanes' zero tests leave through `on_o` and the datapath
/// takes the lanes' activity from `on_i` (two- and four-lane reducing policies only;
/// the others have no activity to cut).
fn cond_text(cfg: &Config, cut: bool, shown: &Config, fault: Option<Fault>) -> Result<String> {
    let prefix = cfg.name.as_str();
    let pe = &cfg.pe;
    let rnd = pe.rounding_or_default();
    let zt = pe.zero_test.unwrap_or(ZeroTest::Act);
    let set = pe.window.unwrap_or(WindowSet::W4b2opt);
    let m = format!("{prefix}_cond{}", if cut { "_cut" } else { "" });
    let h = header(&m, "operand conditioning and routing", shown);
    let wm = win_module(prefix, set, rnd);
    Ok(match pe.policy {
        Policy::Baseline | Policy::Ideal => render(
            &CondExactTpl {
                header: &h,
                prefix,
                lanes: pe.threads,
            },
            &m,
        )?,
        Policy::Bsparq => render(
            &CondBsparqTpl {
                header: &h,
                prefix,
                n: set.bits(),
                win_module: &wm,
            },
            &m,
        )?,
        Policy::Sparq | Policy::Sysmt if pe.threads == 2 => {
            let solo = solo_set(set);
            let swm = solo.map(|s| win_module(prefix, s, rnd)).unwrap_or_default();
            let rne = rnd == Rounding::NearestEven;
            let (pa, _) = link_fields(cfg);
            let lanes = (0..2usize)
                .map(|k| {
                    let mut l = pair_lane(k, set.positions());
                    if edge(cfg) {
                        // Used only when both lanes are active: the edge's window.
                        let lo = 16 + pa * k as u32;
                        l.next = format!("act_i[{}:{lo}]", lo + 3);
                    } else if !rne {
                        l.next = format!("t{k}");
                    }
                    l
                })
                .collect();
            macro_rules! pair4 {
                ($t:ident $(, $extra:ident: $v:expr)*) => {
                    render(
                        &$t {
                            header: &h,
                            prefix,
                            policy: pe.policy.name(),
                            zero_test: zt.name(),
                            zt_weight: zt == ZeroTest::ActOrWeight,
                            set: set.name(),
                            cut,
                            rne,
                            act_w: act_link_width(cfg),
                            wgt_w: wgt_link_width(cfg),
                            lanes,
                            fault: FaultView::of(fault),
                            $($extra: $v,)*
                        },
                        &m,
                    )?
                };
            }
            match (set.bits(), edge(cfg)) {
                (4, false) => pair4!(CondPairInlineTpl),
                (4, true) => pair4!(CondPairEdgeTpl, act_field: pa),
                _ => render(
                    &CondPairWinTpl {
                        header: &h,
                        prefix,
                        policy: pe.policy.name(),
                        zero_test: zt.name(),
                        zt_weight: zt == ZeroTest::ActOrWeight,
                        n: set.bits(),
                        set: set.name(),
                        solo_set: solo.map(WindowSet::name).unwrap_or("-"),
                        win_module: &wm,
                        solo_win_module: &swm,
                        cut,
                        rne,
                        act_w: act_link_width(cfg),
                        wgt_w: wgt_link_width(cfg),
                    },
                    &m,
                )?,
            }
        }
        Policy::Sparq | Policy::Sysmt => render(
            &CondQuadTpl {
                header: &h,
                prefix,
                zero_test: zt.name(),
                zt_weight: zt == ZeroTest::ActOrWeight,
                win_module: &wm,
                cut,
                edge: edge(cfg),
                act_w: act_link_width(cfg),
                wgt_w: wgt_link_width(cfg),
            },
            &m,
        )?,
    })
}

/// The fabric's lane adder over units `lo..hi` as a balanced tree,
/// `(t0 + t1) + (t2 + t3)` for four units: the two units that serve one lane when two
/// lanes are active sum first (shallower, and the proof's SAT sweeping finds each
/// lane's product as one node).
fn balanced_sum(lo: usize, hi: usize) -> String {
    match hi - lo {
        0 => "0".into(),
        1 => format!("t{lo}"),
        2 => format!("t{lo} + t{}", lo + 1),
        n => {
            let mid = lo + n.div_ceil(2);
            let part = |a: usize, b: usize| {
                let s = balanced_sum(a, b);
                if b - a > 1 {
                    format!("({s})")
                } else {
                    s
                }
            };
            format!("{} + {}", part(lo, mid), part(mid, hi))
        }
    }
}

/// A term of the fabric's sum: product `p{idx}` (pw bits, signed) shifted left by
/// `k` and sign-extended or wrapped to `sum_w` bits.
fn term(idx: usize, pw: u32, k: u32, sum_w: u32) -> String {
    term_with(idx, pw, k, sum_w, &format!("p{idx}[{}]", pw - 1))
}

/// Bits by which a `pw`-bit product shifted by `k` is sign-extended to `sum_w`.
fn sign_extension(pw: u32, k: u32, sum_w: u32) -> u32 {
    sum_w.saturating_sub(pw + k)
}

/// [`term`] extending with the bit `sign` (the product's top bit; another only for
/// a planted [`Fault::UnsignedProduct`]).
fn term_with(idx: usize, pw: u32, k: u32, sum_w: u32, sign: &str) -> String {
    let mut parts = Vec::new();
    if sum_w >= pw + k {
        let ext = sign_extension(pw, k, sum_w);
        if ext > 0 {
            parts.push(format!("{{{ext}{{{sign}}}}}"));
        }
        parts.push(format!("p{idx}"));
    } else {
        parts.push(format!("p{idx}[{}:0]", sum_w - k - 1));
    }
    if k > 0 {
        parts.push(format!("{k}'d0"));
    }
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("{{{}}}", parts.join(", "))
    }
}

fn render<T: Template + Branches>(t: &T, name: &str) -> Result<String> {
    crate::cover::record(T::TEMPLATE, t.branches());
    let mut s = t
        .render()
        .map_err(|e| Error::tool("askama", format!("rendering {name}: {e}")))?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

fn win_file(
    prefix: &str,
    set: WindowSet,
    rnd: Rounding,
    shown: &Config,
    fault: Option<Fault>,
) -> Result<GeneratedFile> {
    let module = win_module(prefix, set, rnd);
    let header = header(&module, &format!("activation window {}", set.name()), shown);
    let n = set.bits();
    let pos = set.positions();
    let opts = pos
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let hit = if p + n <= 7 {
                format!("~|a_i[7:{}]", p + n)
            } else {
                "1'b1".into()
            };
            let sel = if i == 0 {
                format!("hit{p}")
            } else {
                format!("hit{p} & ~hit{}", pos[i - 1])
            };
            let up = if fault == Some(Fault::WindowRoundWithoutSticky { pos: p }) && p > 0 {
                Some(format!("a_i[{}] & a_i[{p}]", p - 1))
            } else {
                round_up("a_i", p)
            };
            let round = up.map_or("1'b0".into(), |r| format!("(sel{p} & {r})"));
            WinOpt {
                pos: p,
                hit,
                sel,
                trunc: format!("({{{n}{{sel{p}}}}} & a_i[{}:{p}])", p + n - 1),
                shift: format!("({{3{{sel{p}}}}} & 3'd{p})"),
                round,
            }
        })
        .collect();
    let text = render(
        &WinTpl {
            header: &header,
            module: &module,
            set: set.name(),
            rounding: rnd.name(),
            rne: rnd == Rounding::NearestEven,
            n,
            positions: pos
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            opts,
        },
        &module,
    )?;
    Ok(GeneratedFile::module(&module, Role::Datapath, text))
}

/// Renders every file of one PE (leaf modules first) and its filelist
/// `<name>_pe.f`. Nothing touches the disk.
pub fn generate_pe(cfg: &Config) -> Result<Vec<GeneratedFile>> {
    generate_pe_faulty(cfg, None)
}

/// [`generate_pe`] with `fault` planted into the production datapath, for showing
/// that the proof and the simulations catch it. Fails if the fault changes nothing
/// in this design (it names a part the design does not have), so a test cannot
/// pass with its bug silently not planted.
pub fn generate_pe_with_fault(cfg: &Config, fault: Fault) -> Result<Vec<GeneratedFile>> {
    let files = generate_pe_faulty(cfg, Some(fault))?;
    if files == generate_pe(cfg)? {
        return Err(Error::tool(
            "fault",
            format!("{fault:?} changes nothing in {}", cfg.name),
        ));
    }
    Ok(files)
}

fn generate_pe_faulty(cfg: &Config, fault: Option<Fault>) -> Result<Vec<GeneratedFile>> {
    if cfg.pe.stc {
        return generate_stc_pe(cfg, fault);
    }
    pe_files(cfg, cfg, fault)
}

/// The files of a PE without the 2:4 selection, their headers naming the design
/// `shown` (the 2:4-sparse design whose core `cfg` is, or `cfg` itself).
fn pe_files(cfg: &Config, shown: &Config, fault: Option<Fault>) -> Result<Vec<GeneratedFile>> {
    let prefix = cfg.name.as_str();
    let pe = &cfg.pe;
    let us = units(cfg);
    let sum_w = pe.sum_width();
    let x_bits: u32 = us.iter().map(|u| u.aw).sum();
    let y_bits: u32 = us.iter().map(|u| u.ww).sum();
    let sh_bits = 4 * us.len() as u32;
    let rnd = pe.rounding_or_default();
    let mut files = Vec::new();
    let mut add = |module: String, role: Role, text: String| {
        files.push(GeneratedFile::module(&module, role, text))
    };
    let hdr = |m: &str, what: &str| header(m, what, shown);

    // Leaves: windows and nibbles.
    let set = pe.window.unwrap_or(WindowSet::W4b2opt);
    let mut wins = Vec::new();
    // The two-lane cond keeps 4-bit windows inline (see cond_pair_inline.v).
    let inline_win = pe.threads == 2 && set.bits() == 4 && pe.policy != Policy::Bsparq;
    if pe.policy.reduces() && !inline_win {
        wins.push(set);
        if pe.threads == 2 {
            if let Some(s) = solo_set(set) {
                wins.push(s);
            }
        }
    }
    let mut leaf = Vec::new();
    for s in &wins {
        leaf.push(win_file(prefix, *s, rnd, shown, fault)?);
    }
    if pe.policy == Policy::Sysmt && pe.threads == 4 {
        let m = format!("{prefix}_nib4");
        let h = hdr(&m, "SySMT signed weight nibble");
        leaf.push(GeneratedFile::module(
            &m,
            Role::Datapath,
            render(
                &Nib4Tpl {
                    header: &h,
                    prefix,
                    rounding: rnd.name(),
                    rne: rnd == Rounding::NearestEven,
                    fault: FaultView::of(fault),
                },
                &m,
            )?,
        ));
    }

    let m = format!("{prefix}_mul");
    add(
        m.clone(),
        Role::Datapath,
        render(
            &MulTpl {
                header: &hdr(&m, "multiplier unit"),
                prefix,
            },
            &m,
        )?,
    );

    // Edge conditioning (window logic at the array edge).
    if edge(cfg) {
        let pw = link_fields(cfg).1;
        let quad = pe.threads == 4;
        let wm = win_module(prefix, set, rnd);
        let m = format!("{prefix}_pre_act");
        let text = render(
            &PreActTpl {
                header: &hdr(&m, "edge conditioning of a row's activations"),
                prefix,
                lanes: pe.threads,
                quad,
                win_module: &wm,
                link_w: act_link_width(cfg),
                set: set.name(),
                rne: rnd == Rounding::NearestEven,
                lane_views: (0..2).map(|k| pair_lane(k, set.positions())).collect(),
                fault: FaultView::of(fault),
            },
            &m,
        )?;
        add(m, Role::Datapath, text);
        if pw > 0 {
            let m = format!("{prefix}_pre_wgt");
            let text = render(
                &PreWgtTpl {
                    header: &hdr(&m, "edge conditioning of a column's weights"),
                    prefix,
                    lanes: pe.threads,
                    quad,
                    link_w: wgt_link_width(cfg),
                },
                &m,
            )?;
            add(m, Role::Datapath, text);
        }
    }

    // Conditioning.
    let m = format!("{prefix}_cond");
    let cond = cond_text(cfg, false, shown, fault)?;
    add(m, Role::Datapath, cond);

    // Fabric.
    let (mut xo, mut yo) = (0, 0);
    let views: Vec<UnitView> = us
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let pw = u.aw + u.ww;
            let mut cases: Vec<(u32, String)> = u
                .shifts
                .iter()
                .map(|&k| (k, term(i, pw, k, sum_w)))
                .collect();
            let (default_k, mut default_term) = cases.pop().unwrap_or((0, term(i, pw, 0, sum_w)));
            if fault == Some(Fault::UnsignedProduct { unit: i }) {
                // The first term in the text that extends the product's sign.
                let first = cases
                    .iter_mut()
                    .map(|(k, t)| (*k, t))
                    .chain(std::iter::once((default_k, &mut default_term)))
                    .find(|(k, _)| sign_extension(pw, *k, sum_w) > 0);
                if let Some((k, t)) = first {
                    *t = term_with(i, pw, k, sum_w, "1'b0");
                }
            }
            let v = UnitView {
                idx: i,
                aw: u.aw,
                ww: u.ww,
                pw,
                x_lo: xo,
                x_hi: xo + u.aw - 1,
                y_lo: yo,
                y_hi: yo + u.ww - 1,
                sh_lo: 4 * i as u32,
                sh_hi: 4 * i as u32 + 3,
                shift_list: u
                    .shifts
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                cases,
                default_term,
            };
            xo += u.aw;
            yo += u.ww;
            v
        })
        .collect();
    let m = format!("{prefix}_fabric");
    let fabric = render(
        &FabricTpl {
            header: &hdr(&m, "multiplier fabric and lane adder"),
            prefix,
            sum_expr: balanced_sum(0, us.len()),
            units: views,
            x_bits,
            y_bits,
            sh_bits,
            sum_w,
        },
        &m,
    )?;
    add(m, Role::Datapath, fabric);

    let m = format!("{prefix}_acc");
    let acc = render(
        &AccTpl {
            header: &hdr(&m, "accumulator"),
            prefix,
            acc_w: pe.acc_width,
            sum_w,
            pipe: pe.pipeline > 0,
            sum: if pe.pipeline > 0 { "sum_q" } else { "sum_i" },
        },
        &m,
    )?;
    add(m, Role::Accumulator, acc);

    let m = format!("{prefix}_pe");
    let top = render(
        &PeTpl {
            header: &hdr(&m, "processing element"),
            prefix,
            lanes: pe.threads,
            act_w: act_link_width(cfg),
            wgt_w: wgt_link_width(cfg),
            edge: edge(cfg),
            pipe: pe.pipeline > 0,
            acc_w: pe.acc_width,
            sum_w,
            x_bits,
            y_bits,
            sh_bits,
            reference: false,
            sel: false,
        },
        &m,
    )?;
    add(m.clone(), Role::PeTop, top);
    if edge(cfg) {
        let ms = format!("{prefix}_pe_solo");
        let text = render(
            &PeSoloTpl {
                header: &hdr(&ms, "PE with its own edge conditioning (PE-level tests)"),
                prefix,
                lanes: pe.threads,
                acc_w: pe.acc_width,
                act_w: act_link_width(cfg),
                wgt_w: wgt_link_width(cfg),
                pre_wgt: link_fields(cfg).1 > 0,
            },
            &ms,
        )?;
        add(ms, Role::PeSolo, text);
    }

    let mut all = leaf;
    all.extend(files);
    all.push(GeneratedFile::filelist(&m, &all));
    Ok(all)
}

#[derive(Template)]
#[template(path = "array/delay.v")]
struct DelayTpl<'a> {
    header: &'a str,
    prefix: &'a str,
}

#[derive(Template)]
#[template(path = "array/cell.v")]
struct CellTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    act_w: u32,
    wgt_w: u32,
    acc_w: u32,
    pipe: bool,
}

#[derive(Template)]
#[template(path = "array/array.v")]
struct ArrayTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    lanes: u32,
    act_w: u32,
    wgt_w: u32,
    edge: bool,
    edge_stages: u64,
    pipeline: u32,
    pre_wgt: bool,
    acc_w: u32,
    rows: u32,
    cols: u32,
}

/// Renders the whole array: every PE file, the delay line, the cell, the array top
/// `<name>_array` and its filelist `<name>_array.f` (the PE's own `.f` is kept too).
pub fn generate_array(cfg: &Config) -> Result<Vec<GeneratedFile>> {
    let prefix = cfg.name.as_str();
    let mut files = generate_pe(cfg)?;
    let hdr = |m: &str, what: &str| array_header(m, what, cfg);
    let m = format!("{prefix}_delay");
    let text = render(
        &DelayTpl {
            header: &hdr(&m, "delay line (input skew, drain timing)"),
            prefix,
        },
        &m,
    )?;
    files.push(GeneratedFile::module(&m, Role::Array, text));
    let m = format!("{prefix}_cell");
    let text = render(
        &CellTpl {
            header: &hdr(&m, "array cell: PE and result-chain slot"),
            prefix,
            act_w: act_link_width(cfg),
            wgt_w: wgt_link_width(cfg),
            acc_w: cfg.pe.acc_width,
            pipe: cfg.pe.pipeline > 0,
        },
        &m,
    )?;
    files.push(GeneratedFile::module(&m, Role::Array, text));
    let m = format!("{prefix}_array");
    let text = render(
        &ArrayTpl {
            header: &hdr(&m, "output-stationary array"),
            prefix,
            lanes: cfg.pe.threads,
            act_w: act_link_width(cfg),
            wgt_w: wgt_link_width(cfg),
            edge: edge(cfg),
            edge_stages: cfg.pe.window_logic.edge_stages(),
            pipeline: cfg.pe.pipeline,
            pre_wgt: link_fields(cfg).1 > 0,
            acc_w: cfg.pe.acc_width,
            rows: cfg.array.rows,
            cols: cfg.array.cols,
        },
        &m,
    )?;
    files.push(GeneratedFile::module(&m, Role::Array, text));
    // The lone PE's wrapper (`<name>_pe_solo`, in the PE's filelist) is for PE-level
    // tests; the array has its own edge, so its filelist leaves the wrapper out.
    let list = GeneratedFile::filelist(
        &m,
        files
            .iter()
            .filter(|f| !matches!(f.role, Role::Filelist | Role::PeSolo)),
    );
    files.push(list);
    Ok(files)
}

struct RefTable {
    name: &'static str,
    doc: String,
    entries: Vec<u8>,
}

#[derive(Template)]
#[template(path = "pe/ref.v")]
struct RefTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    module: &'a str,
    lanes: u32,
    lane_ids: Vec<u32>,
    sum_w: u32,
    rule: &'a str,
    zero_test: &'a str,
    zt_weight: bool,
    solo_exact: bool,
    solo_doc: String,
    tables: Vec<RefTable>,
    cut: bool,
}

/// Renders the behavioural reference of the PE's per-cycle rule, module
/// `<name>_ref` (lanes in, lane sum out), from its own template: case tables
/// written out from the spec's `win` and `nib4`, full-width multiplies.
pub fn generate_reference(cfg: &Config) -> Result<Vec<GeneratedFile>> {
    if !cfg.pe.stc {
        return Ok(vec![reference_file(
            cfg,
            false,
            &format!("{}_ref", cfg.name),
            cfg,
        )?]);
    }
    // 2:4-sparse: the plain selection, the core's plain pair rule as `<name>_ref_pair`,
    // and `<name>_ref` joining the two.
    let c = core(cfg);
    let pair = reference_file(&c, false, &format!("{}_ref_pair", cfg.name), cfg)?;
    let m = format!("{}_ref", cfg.name);
    let top = GeneratedFile::module(
        &m,
        Role::Reference,
        render(
            &RefStcTpl {
                header: &header(&m, "behavioural reference of the PE rule", cfg),
                prefix: &cfg.name,
                sum_w: cfg.pe.sum_width(),
            },
            &m,
        )?,
    );
    Ok(vec![generate_ref_sel(cfg)?, pair, top])
}

/// True for the policies whose per-cycle rule depends on which lanes are active
/// (two- and four-lane `sparq` and `sysmt`): their cond and reference have proof
/// variants with the lanes' activity cut out (see [`generate_proof_variants`]).
pub fn has_activity_modes(cfg: &Config) -> bool {
    matches!(cfg.pe.policy, Policy::Sparq | Policy::Sysmt)
}

/// Renders the proof variants `<name>_cond_cut` and `<name>_ref_cut` (empty for
/// policies without activity modes). Each is its production template rendered with
/// the lanes' zero tests moved to an output `on_o` and the activity taken from an
/// input `on_i`, so that `smtgen prove` can split the input space by activity and
/// check separately that `on_i = on_o` gives back the production module.
pub fn generate_proof_variants(cfg: &Config) -> Result<Vec<GeneratedFile>> {
    if cfg.pe.stc {
        // The 2:4 selection is proven on its own; the activity split is the core's.
        return proof_variants(&core(cfg), cfg);
    }
    proof_variants(cfg, cfg)
}

/// The proof variants of a design without the 2:4 selection, their headers naming
/// the design `shown` (see [`pe_files`]).
fn proof_variants(cfg: &Config, shown: &Config) -> Result<Vec<GeneratedFile>> {
    if !has_activity_modes(cfg) {
        return Ok(Vec::new());
    }
    let mut v = vec![
        GeneratedFile::module(
            &format!("{}_cond_cut", cfg.name),
            Role::ProofVariant,
            cond_text(cfg, true, shown, None)?,
        ),
        reference_file(cfg, true, &format!("{}_ref_cut", cfg.name), shown)?,
    ];
    if edge(cfg) {
        for cut in [false, true] {
            v.push(GeneratedFile::module(
                &cond_front(cfg, cut),
                Role::ProofVariant,
                front_text(cfg, cut, shown)?,
            ));
        }
    }
    Ok(v)
}

/// The module a proof takes as the cond on plain lane inputs: `<name>_cond`
/// (`_cond_cut`), or with the window logic at the edge `<name>_front` (`_front_cut`):
/// the edge logic and the cond in one combinational block, generated by
/// [`generate_proof_variants`].
pub fn cond_front(cfg: &Config, cut: bool) -> String {
    let base = if edge(cfg) { "front" } else { "cond" };
    format!("{}_{base}{}", cfg.name, if cut { "_cut" } else { "" })
}

/// `<name>_front` (`_front_cut`): plain lanes through the edge logic into the cond,
/// so the proof covers the edge and the PE's conditioning together.
fn front_text(cfg: &Config, cut: bool, shown: &Config) -> Result<String> {
    let m = cond_front(cfg, cut);
    let us = units(cfg);
    render(
        &FrontTpl {
            header: &header(&m, "proof wrapper: edge conditioning and cond", shown),
            prefix: &cfg.name,
            module: &m,
            lanes: cfg.pe.threads,
            cut,
            pre_wgt: link_fields(cfg).1 > 0,
            x_w: us.iter().map(|u| u.aw).sum(),
            y_w: us.iter().map(|u| u.ww).sum(),
            sh_w: 4 * us.len() as u32,
            act_w: act_link_width(cfg),
            wgt_w: wgt_link_width(cfg),
        },
        &m,
    )
}

#[derive(Template)]
#[template(path = "proof/front.v")]
struct FrontTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    module: &'a str,
    lanes: u32,
    cut: bool,
    pre_wgt: bool,
    x_w: u32,
    y_w: u32,
    sh_w: u32,
    act_w: u32,
    wgt_w: u32,
}
branches!(FrontTpl, "proof/front.v", cut, pre_wgt);

/// The reference of `cfg`'s rule as module `module`, its header naming `shown`.
fn reference_file(cfg: &Config, cut: bool, module: &str, shown: &Config) -> Result<GeneratedFile> {
    use crate::numerics::{nib4_table, win_table};
    let prefix = cfg.name.as_str();
    let pe = &cfg.pe;
    let rnd = pe.rounding_or_default();
    let set = pe.window.unwrap_or(WindowSet::W4b2opt);
    let mut tables = Vec::new();
    let win = |name: &'static str, s: WindowSet| RefTable {
        name,
        doc: format!("win(a; {}, {})", s.name(), rnd.name()),
        entries: win_table(s, rnd).to_vec(),
    };
    let rule = match pe.policy {
        Policy::Baseline | Policy::Ideal => "exact",
        Policy::Bsparq => {
            tables.push(win("win_pair", set));
            "single"
        }
        Policy::Sparq | Policy::Sysmt if pe.threads == 2 => {
            tables.push(win("win_pair", set));
            if let Some(s) = solo_set(set) {
                tables.push(win("win_solo", s));
            }
            "pair"
        }
        Policy::Sparq | Policy::Sysmt => {
            tables.push(win("win_pair", WindowSet::W4b2opt));
            tables.push(RefTable {
                name: "nib4",
                doc: format!("nib4(w; {}) as a two's-complement byte", rnd.name()),
                entries: nib4_table(rnd).iter().map(|&x| x as u8).collect(),
            });
            "quad"
        }
    };
    let zt = pe.zero_test.unwrap_or(ZeroTest::Act);
    let h = header(module, "behavioural reference of the PE rule", shown);
    let text = render(
        &RefTpl {
            header: &h,
            prefix,
            module,
            lanes: pe.threads,
            lane_ids: (0..pe.threads).collect(),
            sum_w: pe.sum_width(),
            rule,
            zero_test: zt.name(),
            zt_weight: zt == ZeroTest::ActOrWeight,
            solo_exact: solo_set(set).is_none(),
            solo_doc: match solo_set(set) {
                None => "exact".into(),
                Some(s) => format!("win(a; {})", s.name()),
            },
            tables,
            cut,
        },
        module,
    )?;
    let role = if cut {
        Role::ProofVariant
    } else {
        Role::Reference
    };
    Ok(GeneratedFile::module(module, role, text))
}

/// Renders a PE whose datapath is the behavioural reference (`<name>_ref`) instead
/// of cond + fabric, with the same ports, accumulator and pass-through registers, so
/// the PE harness can check the reference against the golden model. Give it a
/// config whose name differs from the optimized PE's.
pub fn generate_reference_pe(cfg: &Config) -> Result<Vec<GeneratedFile>> {
    let prefix = cfg.name.as_str();
    let pe = &cfg.pe;
    let mut files: Vec<GeneratedFile> = generate_pe(cfg)?
        .into_iter()
        .filter(|f| f.role == Role::Accumulator)
        .collect();
    files.extend(generate_reference(cfg)?);
    let m = format!("{prefix}_pe");
    let top = render(
        &PeTpl {
            header: &header(&m, "processing element on the behavioural reference", cfg),
            prefix,
            lanes: pe.threads,
            act_w: 8 * pe.threads,
            wgt_w: 8 * pe.threads,
            edge: false,
            pipe: pe.pipeline > 0,
            acc_w: pe.acc_width,
            sum_w: pe.sum_width(),
            x_bits: 1,
            y_bits: 1,
            sh_bits: 1,
            reference: true,
            sel: false,
        },
        &m,
    )?;
    files.push(GeneratedFile::module(&m, Role::PeTop, top));
    files.push(GeneratedFile::filelist(&m, &files));
    Ok(files)
}

/// Writes rendered files into `dir` (created if missing) and returns their paths.
/// Callers render everything first, so a config error never leaves a half-written
/// directory behind.
pub fn write_files(dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    files
        .iter()
        .map(|f| {
            let p = dir.join(&f.name);
            std::fs::write(&p, &f.text).map_err(|e| Error::io(&p, e))?;
            Ok(p)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_lane_selects_are_one_hot_terms() {
        let l = pair_lane(1, &[0, 4]);
        assert_eq!(l.above, vec![("g1_4".to_string(), "|a1[7:4]".to_string())]);
        assert_eq!(l.trunc, "({4{~g1_4}} & a1[3:0]) | ({4{g1_4}} & a1[7:4])");
        assert_eq!(l.low, "({4{g1_4}} & a1[3:0])");
        assert_eq!(l.shift, "({3{g1_4}} & 3'd4)");
        // A single placement has no selection to make, and no empty replication.
        let one = pair_lane(0, &[4]);
        assert!(one.above.is_empty());
        assert_eq!(one.trunc, "({4{1'b1}} & a0[7:4])");
        assert!(!one.trunc.contains("{}"), "{}", one.trunc);
    }

    /// Each planted fault changes exactly the one production file it names, and a
    /// fault a design has no place for is refused.
    #[test]
    fn faults_change_exactly_their_file() {
        for (preset, fault, file) in [
            (
                "bsparq-4b5opt",
                Fault::WindowRoundWithoutSticky { pos: 2 },
                "bsparq_4b5opt_win_4b5opt_rne.v",
            ),
            ("sysmt4", Fault::Nib4WithoutTieToEven, "sysmt4_nib4.v"),
            (
                "sysmt2",
                Fault::ZeroTestIgnoresWeight { lane: 1 },
                "sysmt2_cond.v",
            ),
            (
                "sysmt2-edge",
                Fault::EdgeWindowWithoutSaturation { lane: 1 },
                "sysmt2_edge_pre_act.v",
            ),
            (
                "sysmt2",
                Fault::UnsignedProduct { unit: 1 },
                "sysmt2_fabric.v",
            ),
        ] {
            let cfg = Config::preset(preset).unwrap();
            let good = generate_pe(&cfg).unwrap();
            let bad = generate_pe_with_fault(&cfg, fault).unwrap();
            let changed: Vec<&str> = good
                .iter()
                .zip(&bad)
                .filter(|(g, b)| g != b)
                .map(|(g, _)| g.name.as_str())
                .collect();
            assert_eq!(changed, vec![file], "{preset}: {fault:?}");
        }
        let cfg = Config::preset("sysmt2").unwrap();
        assert!(generate_pe_with_fault(&cfg, Fault::Nib4WithoutTieToEven).is_err());
    }

    /// A PE-level file does not change when only the array size does; the array's
    /// own files do.
    #[test]
    fn pe_files_do_not_change_with_the_array_size() {
        for p in crate::config::PRESETS {
            let a = Config::preset(p.name).unwrap();
            let mut b = a.clone();
            b.array.rows += 3;
            b.array.cols += 1;
            assert_eq!(
                generate_pe(&a).unwrap(),
                generate_pe(&b).unwrap(),
                "{}",
                p.name
            );
            assert_eq!(
                generate_reference(&a).unwrap(),
                generate_reference(&b).unwrap()
            );
            assert_eq!(
                generate_proof_variants(&a).unwrap(),
                generate_proof_variants(&b).unwrap()
            );
            let top = |c: &Config| {
                generate_array(c)
                    .unwrap()
                    .into_iter()
                    .find(|f| f.name == format!("{}_array.v", c.name))
                    .unwrap()
            };
            assert_ne!(top(&a), top(&b), "{}", p.name);
        }
    }

    #[test]
    fn terms_sign_extend_shift_and_wrap() {
        assert_eq!(term(0, 16, 0, 16), "p0");
        assert_eq!(term(1, 12, 4, 17), "{{1{p1[11]}}, p1, 4'd0}");
        assert_eq!(term(0, 12, 0, 17), "{{5{p0[11]}}, p0}");
        assert_eq!(term(2, 9, 8, 16), "{p2[7:0], 8'd0}");
    }

    #[test]
    fn fabric_is_what_the_spec_names() {
        let u = units(&Config::preset("sysmt4").unwrap());
        assert_eq!(u.len(), 4);
        assert!(u.iter().all(|u| u.aw == 4 && u.ww == 5));
        let u = units(&Config::preset("sysmt2").unwrap());
        assert_eq!(u.len(), 2);
        assert!(u.iter().all(|u| u.aw == 4 && u.ww == 8));
        let u = units(&Config::preset("sparq-3b").unwrap());
        assert_eq!(u[0].shifts, vec![0, 1, 2, 3, 4, 5]);
        assert!(u.iter().all(|u| u.aw == 3));
        let u = units(&Config::preset("ideal4").unwrap());
        assert_eq!(u.len(), 4);
        assert!(u.iter().all(|u| u.aw == 8 && u.ww == 8));
    }

    #[test]
    fn every_file_holds_one_module_named_after_it_with_a_header_and_no_implicit_nets() {
        for p in crate::config::PRESETS {
            let cfg = Config::preset(p.name).unwrap();
            let mut files = generate_array(&cfg).unwrap();
            files.extend(generate_reference(&cfg).unwrap());
            files.extend(generate_proof_variants(&cfg).unwrap());
            for f in files {
                if f.role == Role::Filelist {
                    continue;
                }
                let module = f.name.trim_end_matches(".v");
                let decls: Vec<&str> = f
                    .text
                    .lines()
                    .filter(|l| l.starts_with("module "))
                    .collect();
                assert_eq!(decls.len(), 1, "{}", f.name);
                assert!(
                    decls[0].starts_with(&format!("module {module} ")),
                    "{}",
                    f.name
                );
                assert!(f.text.contains(&format!("smtgen {VERSION}")));
                assert!(f.text.contains(&format!("policy: {}", cfg.pe.policy)));
                // Implicit nets are errors inside the module, and the default is
                // restored after it for whatever file is read next.
                let none = f.text.find("`default_nettype none\n").unwrap_or(usize::MAX);
                let decl = f.text.find("\nmodule ").unwrap_or(0);
                assert!(none < decl, "{}", f.name);
                assert!(
                    f.text.ends_with("endmodule\n`default_nettype wire\n"),
                    "{}",
                    f.name
                );
            }
        }
    }
}
