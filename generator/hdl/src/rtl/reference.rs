//! The behavioural reference of the PE's per-cycle rule: `<name>_ref` with its case
//! tables ([`generate_reference`]), for 2:4-sparse designs the plain selection
//! `<name>_ref_sel` and the pair rule `<name>_ref_pair` under `<name>_ref`, and the
//! PE built on the reference ([`generate_reference_pe`]).

use super::design::core;
use super::header::{header, render, Branches};
use super::pe::PeTpl;
use super::{generate_pe, GeneratedFile, Role};
use crate::config::{solo_set, Design, Rule, WindowSet, ZeroTest};
use crate::error::Result;
use askama::Template;

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

branches!(RefSelTpl, "pe/ref_sel.v");
branches!(RefStcTpl, "pe/ref_stc.v");

/// The plain reference of the 2:4 selection, `<name>_ref_sel`.
pub fn generate_ref_sel(cfg: &Design) -> Result<GeneratedFile> {
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
    /// Which rule the reference spells out (one of the four, from a match on it).
    exact: bool,
    single: bool,
    pair: bool,
    quad: bool,
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
pub fn generate_reference(cfg: &Design) -> Result<Vec<GeneratedFile>> {
    if cfg.dp().select.is_none() {
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
    let pair = reference_file(c, false, &format!("{}_ref_pair", cfg.name), cfg)?;
    let m = format!("{}_ref", cfg.name);
    let top = GeneratedFile::module(
        &m,
        Role::Reference,
        render(
            &RefStcTpl {
                header: &header(&m, "behavioural reference of the PE rule", cfg),
                prefix: &cfg.name,
                sum_w: cfg.dp().sum_width,
            },
            &m,
        )?,
    );
    Ok(vec![generate_ref_sel(cfg)?, pair, top])
}

branches!(RefTpl, "pe/ref.v", cut, exact, single, pair, quad, zt_weight, solo_exact);

/// The reference of `cfg`'s rule as module `module`, its header naming `shown`.
pub(super) fn reference_file(
    cfg: &Design,
    cut: bool,
    module: &str,
    shown: &Design,
) -> Result<GeneratedFile> {
    use crate::numerics::{nib4_table, win_table};
    let prefix = cfg.name.as_str();
    let dp = cfg.dp();
    let rnd = dp.rounding;
    let mut tables = Vec::new();
    let win = |name: &'static str, s: WindowSet| RefTable {
        name,
        doc: format!("win(a; {}, {})", s.name(), rnd.name()),
        entries: win_table(s, rnd).to_vec(),
    };
    match dp.rule {
        Rule::Exact { .. } => {}
        Rule::Single { window } => tables.push(win("win_pair", window)),
        Rule::Pair { pair, solo, .. } => {
            tables.push(win("win_pair", pair));
            if let Some(s) = solo {
                tables.push(win("win_solo", s));
            }
        }
        Rule::Quad { window, .. } => {
            tables.push(win("win_pair", window));
            tables.push(RefTable {
                name: "nib4",
                doc: format!("nib4(w; {}) as a two's-complement byte", rnd.name()),
                entries: nib4_table(rnd).iter().map(|&x| x as u8).collect(),
            });
        }
    }
    let zt = dp.rule.zero_test().unwrap_or(ZeroTest::Act);
    // The lone lane's window: the pair's `solo`. Only the pair branch reads it, but
    // `solo_exact` is recorded as a branch for every rule (the covering set and its
    // snapshots key on it), so the other rules keep what their main window gives.
    let solo = dp.rule.window().and_then(solo_set);
    let h = header(module, "behavioural reference of the PE rule", shown);
    let (exact, single, pair, quad) = match dp.rule {
        Rule::Exact { .. } => (true, false, false, false),
        Rule::Single { .. } => (false, true, false, false),
        Rule::Pair { .. } => (false, false, true, false),
        Rule::Quad { .. } => (false, false, false, true),
    };
    let text = render(
        &RefTpl {
            header: &h,
            prefix,
            module,
            lanes: dp.lanes,
            lane_ids: (0..dp.lanes).collect(),
            sum_w: dp.sum_width,
            exact,
            single,
            pair,
            quad,
            zero_test: zt.name(),
            zt_weight: dp.rule.weight_tested(),
            solo_exact: solo.is_none(),
            solo_doc: match solo {
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
pub fn generate_reference_pe(cfg: &Design) -> Result<Vec<GeneratedFile>> {
    let prefix = cfg.name.as_str();
    let pe = &cfg.pe;
    let dp = cfg.dp();
    let mut files: Vec<GeneratedFile> = generate_pe(cfg)?
        .into_iter()
        .filter(|f| f.role == Role::Accumulator)
        .collect();
    files.extend(generate_reference(cfg)?);
    let m = format!("{prefix}_pe");
    let (skip, act_in, wgt_in) = super::pe::datapath_inputs(cfg);
    let top = render(
        &PeTpl {
            header: &header(&m, "processing element on the behavioural reference", cfg),
            prefix,
            lanes: dp.lanes,
            act_w: 8 * dp.lanes,
            wgt_w: 8 * dp.lanes,
            edge: false,
            pipe: dp.pipelined,
            acc_w: pe.acc_width,
            sum_w: dp.sum_width,
            x_bits: 1,
            y_bits: 1,
            sh_bits: 1,
            reference: true,
            sel: false,
            sel_act_w: 8 * dp.lanes,
            sel_wgt_w: 8 * dp.lanes,
            skip,
            act_in,
            wgt_in,
        },
        &m,
    )?;
    files.push(GeneratedFile::module(&m, Role::PeTop, top));
    files.push(GeneratedFile::filelist(&m, &files));
    Ok(files)
}
