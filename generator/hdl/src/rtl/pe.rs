//! The PE's files: the window modules, nib4, the multiplier, the edge conditioning,
//! the fabric, the accumulator, the PE top and `<name>_pe_solo` ([`generate_pe`]),
//! and for 2:4-sparse designs the selection `<name>_sel` in front of the two-lane
//! core.

use super::cond::cond_text;
use super::design::{core, edge, win_module};
use super::exprs::{pair_lane, sum_halves, term, PairLane, Term};
use super::fault::{FaultView, SelFaultView};
use super::header::{header, render, Branches};
use super::{Fault, GeneratedFile, Part, Role};
use crate::config::{Design, Rounding, Rule, WindowSet};
use crate::error::{Error, Result};
use askama::Template;

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
pub(super) struct PeTpl<'a> {
    pub(super) header: &'a str,
    pub(super) prefix: &'a str,
    pub(super) lanes: u32,
    pub(super) act_w: u32,
    pub(super) wgt_w: u32,
    pub(super) edge: bool,
    /// Pipelined accumulator: it takes the PE's registered valid and clear.
    pub(super) pipe: bool,
    pub(super) acc_w: u32,
    pub(super) sum_w: u32,
    pub(super) x_bits: u32,
    pub(super) y_bits: u32,
    pub(super) sh_bits: u32,
    pub(super) reference: bool,
    /// 2:4-sparse mode: `<name>_sel` picks two of the four lanes for the cond.
    pub(super) sel: bool,
    /// Widths of the link words behind the selection (the core's; with no
    /// selection, `act_w` and `wgt_w`).
    pub(super) sel_act_w: u32,
    pub(super) sel_wgt_w: u32,
    /// `array.skip: gate`: the PE takes a skip bit and isolates its datapath.
    pub(super) skip: bool,
    /// What the datapath reads: the ports, or with `skip` the isolated operands.
    pub(super) act_in: &'static str,
    pub(super) wgt_in: &'static str,
}

/// The datapath's operand signals of a PE of `cfg` (see [`PeTpl`]).
pub(super) fn datapath_inputs(cfg: &Design) -> (bool, &'static str, &'static str) {
    if cfg.array.skip.on() {
        (true, "act_d", "wgt_d")
    } else {
        (false, "act_i", "wgt_i")
    }
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
    cases: Vec<(u32, Term)>,
    default_term: Term,
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
    /// The lane adder's tree: units summed within each half first.
    sum_halves: Vec<Vec<usize>>,
}

/// One placement of a window module (`win.v` writes its hit, one-hot select,
/// truncated window, shift and round-up terms).
struct WinOpt {
    pos: u32,
    /// Lowest bit above the window (`None`: the window reaches bit 7).
    above: Option<u32>,
    /// The next lower placement (`None`: this is the lowest).
    prev: Option<u32>,
    /// Round up without the sticky bits (a planted fault only).
    no_sticky: bool,
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
#[template(path = "pe/pre_act.v")]
struct PreActTpl<'a> {
    header: &'a str,
    /// `<name>_pre_act`, or the 2:4 core's pair edge `<name>_pre_pair` in a proof.
    module: &'a str,
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
    /// `array.skip: gate`: the wrapper passes the PE's skip bit through.
    skip: bool,
    skip_sig: &'static str,
}

branches!(MulTpl, "pe/mul.v");
branches!(PeTpl, "pe/pe.v", edge, pipe, reference, sel, skip);
branches!(WinTpl, "pe/win.v", rne);
branches!(Nib4Tpl, "pe/nib4.v", rne);

branches!(PreActTpl, "pe/pre_act.v", quad, rne);
branches!(PreWgtTpl, "pe/pre_wgt.v", quad);
branches!(PeSoloTpl, "pe/pe_solo.v", pre_wgt, skip);

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
    /// Window logic at the edge: the selection takes and gives link words.
    edge: bool,
    /// Widths of the link words in (the design's) and out (its core's).
    act_in_w: u32,
    wgt_in_w: u32,
    act_out_w: u32,
    wgt_out_w: u32,
    /// Planted faults (mutation tests only).
    fault: SelFaultView,
}

branches!(SelTpl, "pe/sel.v", edge);

/// The PE of a 2:4-sparse design (spec §5.1): the two-lane core's files, the
/// selection `<name>_sel` and a four-lane PE top that puts it in front of the cond.
fn generate_stc_pe(cfg: &Design, fault: Option<Fault>) -> Result<Vec<GeneratedFile>> {
    let prefix = cfg.name.as_str();
    let c = core(cfg);
    let top = format!("{prefix}_pe");
    let e = edge(cfg);
    // With the window logic at the edge the core's pair edge gives way to the
    // four-lane row edge (same per-lane window field, streamed for all four lanes).
    let pre_act = format!("{prefix}_pre_act");
    let mut files = Vec::new();
    for f in pe_files(c, cfg, fault)? {
        if f.role == Role::Datapath && f.name == format!("{pre_act}.v") {
            files.push(
                GeneratedFile::module(
                    &pre_act,
                    Role::Datapath,
                    pre_act_text(cfg, &pre_act, cfg, fault)?,
                )
                .with_part(Part::ArrayEdge),
            );
        } else if !matches!(f.role, Role::PeTop | Role::Filelist | Role::PeSolo) {
            files.push(f);
        }
    }
    let m = format!("{prefix}_sel");
    files.push(
        GeneratedFile::module(
            &m,
            Role::Datapath,
            render(
                &SelTpl {
                    header: &header(&m, "2:4 operand selection", cfg),
                    prefix,
                    edge: e,
                    act_in_w: cfg.dp().link.act_width,
                    wgt_in_w: cfg.dp().link.wgt_width,
                    act_out_w: c.dp().link.act_width,
                    wgt_out_w: c.dp().link.wgt_width,
                    fault: SelFaultView {
                        lane1_after_lane0: fault != Some(Fault::SelPriorityIgnoresLane0),
                    },
                },
                &m,
            )?,
        )
        .with_part(Part::Conditioning),
    );
    let dp = cfg.dp();
    let (skip, act_in, wgt_in) = datapath_inputs(cfg);
    let text = render(
        &PeTpl {
            header: &header(&top, "processing element (2:4-sparse weights)", cfg),
            prefix,
            lanes: dp.lanes,
            act_w: dp.link.act_width,
            wgt_w: dp.link.wgt_width,
            edge: e,
            pipe: cfg.dp().pipelined,
            acc_w: cfg.pe.acc_width,
            sum_w: dp.sum_width,
            x_bits: dp.buses.x,
            y_bits: dp.buses.y,
            sh_bits: dp.buses.sh,
            reference: false,
            sel: true,
            sel_act_w: c.dp().link.act_width,
            sel_wgt_w: c.dp().link.wgt_width,
            skip,
            act_in,
            wgt_in,
        },
        &top,
    )?;
    files.push(GeneratedFile::module(&top, Role::PeTop, text).with_part(Part::PeRegisters));
    if e {
        files.push(pe_solo_file(cfg, cfg)?);
    }
    files.push(GeneratedFile::filelist(&top, &files));
    Ok(files)
}

/// `<name>_pe_solo`: the PE behind its own (combinational) edge logic.
fn pe_solo_file(cfg: &Design, shown: &Design) -> Result<GeneratedFile> {
    let dp = cfg.dp();
    let ms = format!("{}_pe_solo", cfg.name);
    let text = render(
        &PeSoloTpl {
            header: &header(
                &ms,
                "PE with its own edge conditioning (PE-level tests)",
                shown,
            ),
            prefix: &cfg.name,
            lanes: dp.lanes,
            acc_w: cfg.pe.acc_width,
            act_w: dp.link.act_width,
            wgt_w: dp.link.wgt_width,
            pre_wgt: dp.link.wgt_field > 0,
            skip: cfg.array.skip.on(),
            skip_sig: if cfg.array.skip.on() { "skip_i" } else { "" },
        },
        &ms,
    )?;
    Ok(GeneratedFile::module(&ms, Role::PeSolo, text).with_part(Part::PeRegisters))
}

/// The text of module `module`: the west-edge conditioning of `cfg`'s activation
/// lanes (the design `shown` in its header). Four-lane `sysmt` streams each lane's
/// window from the window module; two-lane `sparq`/`sysmt` and the 2:4 mode (four
/// lanes) each lane's rounded pair window, inline.
pub(super) fn pre_act_text(
    cfg: &Design,
    module: &str,
    shown: &Design,
    fault: Option<Fault>,
) -> Result<String> {
    let dp = cfg.dp();
    // Validation builds the row edge only for rules with a window.
    let set = dp
        .rule
        .window()
        .ok_or_else(|| Error::config("pe.window_logic", "edge", "in_pe for an exact policy"))?;
    let rnd = dp.rounding;
    // sysmt's four lanes stream each lane's window from the window module; the pair
    // rule (two lanes, or four in front of the 2:4 selection) its rounded pair window.
    let quad = edge_quad(dp.rule);
    let pair_lanes = if quad { 2 } else { dp.lanes as usize };
    let wm = win_module(&cfg.name, set, rnd);
    render(
        &PreActTpl {
            header: &header(module, "edge conditioning of a row's activations", shown),
            module,
            lanes: dp.lanes,
            quad,
            win_module: &wm,
            link_w: dp.link.act_width,
            set: set.name(),
            rne: rnd == Rounding::NearestEven,
            lane_views: (0..pair_lanes)
                .map(|k| pair_lane(k, set.positions()))
                .collect(),
            fault: FaultView::of(fault),
        },
        module,
    )
}

fn win_file(
    prefix: &str,
    set: WindowSet,
    rnd: Rounding,
    shown: &Design,
    fault: Option<Fault>,
) -> Result<GeneratedFile> {
    let module = win_module(prefix, set, rnd);
    let header = header(&module, &format!("activation window {}", set.name()), shown);
    let n = set.bits();
    let pos = set.positions();
    let opts = pos
        .iter()
        .enumerate()
        .map(|(i, &p)| WinOpt {
            pos: p,
            above: (p + n <= 7).then_some(p + n),
            prev: i.checked_sub(1).map(|j| pos[j]),
            no_sticky: fault == Some(Fault::WindowRoundWithoutSticky { pos: p }),
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
    Ok(GeneratedFile::module(&module, Role::Datapath, text).with_part(Part::Conditioning))
}

/// Renders every file of one PE (leaf modules first) and its filelist
/// `<name>_pe.f`. Nothing touches the disk.
pub fn generate_pe(cfg: &Design) -> Result<Vec<GeneratedFile>> {
    generate_pe_faulty(cfg, None)
}

fn generate_pe_faulty(cfg: &Design, fault: Option<Fault>) -> Result<Vec<GeneratedFile>> {
    if cfg.dp().select.is_some() {
        return generate_stc_pe(cfg, fault);
    }
    pe_files(cfg, cfg, fault)
}

/// Whether the edge modules stream four lanes' windows and nib4 weights (the quad
/// rule) rather than the pair's (or single lane's) windows.
fn edge_quad(rule: Rule) -> bool {
    match rule {
        Rule::Quad { .. } => true,
        Rule::Exact { .. } | Rule::Single { .. } | Rule::Pair { .. } => false,
    }
}

/// The files of a PE without the 2:4 selection, their headers naming the design
/// `shown` (the 2:4-sparse design whose core `cfg` is, or `cfg` itself).
fn pe_files(cfg: &Design, shown: &Design, fault: Option<Fault>) -> Result<Vec<GeneratedFile>> {
    let prefix = cfg.name.as_str();
    let pe = &cfg.pe;
    let dp = cfg.dp();
    let us = &dp.units;
    let sum_w = dp.sum_width;
    let (x_bits, y_bits, sh_bits) = (dp.buses.x, dp.buses.y, dp.buses.sh);
    let rnd = dp.rounding;
    let mut files = Vec::new();
    let mut add = |module: String, role: Role, part: Part, text: String| {
        files.push(GeneratedFile::module(&module, role, text).with_part(part))
    };
    let hdr = |m: &str, what: &str| header(m, what, shown);

    // Leaves: windows and nibbles (the two-lane cond keeps 4-bit windows inline, see
    // cond_pair_inline.v, so those need no module).
    let mut leaf = Vec::new();
    for s in &dp.window_modules {
        leaf.push(win_file(prefix, *s, rnd, shown, fault)?);
    }
    if dp.nib4 {
        let m = format!("{prefix}_nib4");
        let h = hdr(&m, "SySMT signed weight nibble");
        leaf.push(
            GeneratedFile::module(
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
            )
            .with_part(Part::Conditioning),
        );
    }

    let m = format!("{prefix}_mul");
    add(
        m.clone(),
        Role::Datapath,
        Part::MultiplierFabric,
        render(
            &MulTpl {
                header: &hdr(&m, "multiplier unit"),
                prefix,
            },
            &m,
        )?,
    );

    // Edge conditioning (window logic at the array edge).
    if dp.edge() {
        let pw = dp.link.wgt_field;
        let quad = edge_quad(dp.rule);
        let m = format!("{prefix}_pre_act");
        let text = pre_act_text(cfg, &m, shown, fault)?;
        add(m, Role::Datapath, Part::ArrayEdge, text);
        if pw > 0 {
            let m = format!("{prefix}_pre_wgt");
            let text = render(
                &PreWgtTpl {
                    header: &hdr(&m, "edge conditioning of a column's weights"),
                    prefix,
                    lanes: dp.lanes,
                    quad,
                    link_w: dp.link.wgt_width,
                },
                &m,
            )?;
            add(m, Role::Datapath, Part::ArrayEdge, text);
        }
    }

    // Conditioning.
    let m = format!("{prefix}_cond");
    let cond = cond_text(cfg, false, shown, fault)?;
    add(m, Role::Datapath, Part::Conditioning, cond);

    // Fabric.
    let (mut xo, mut yo) = (0, 0);
    let views: Vec<UnitView> = us
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let pw = u.aw + u.ww;
            let mut cases: Vec<(u32, Term)> =
                u.shifts.iter().map(|&k| (k, term(pw, k, sum_w))).collect();
            let (_, mut default_term) = cases.pop().unwrap_or((0, term(pw, 0, sum_w)));
            if fault == Some(Fault::UnsignedProduct { unit: i }) {
                // The first term in the text that extends the product's sign.
                let first = cases
                    .iter_mut()
                    .map(|(_, t)| t)
                    .chain(std::iter::once(&mut default_term))
                    .find(|t| t.ext > 0);
                if let Some(t) = first {
                    t.unsigned = true;
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
            sum_halves: sum_halves(us.len()),
            units: views,
            x_bits,
            y_bits,
            sh_bits,
            sum_w,
        },
        &m,
    )?;
    add(m, Role::Datapath, Part::MultiplierFabric, fabric);

    let m = format!("{prefix}_acc");
    let acc = render(
        &AccTpl {
            header: &hdr(&m, "accumulator"),
            prefix,
            acc_w: pe.acc_width,
            sum_w,
            pipe: dp.pipelined,
            sum: if dp.pipelined { "sum_q" } else { "sum_i" },
        },
        &m,
    )?;
    add(m, Role::Accumulator, Part::Accumulator, acc);

    let m = format!("{prefix}_pe");
    let (skip, act_in, wgt_in) = datapath_inputs(cfg);
    let top = render(
        &PeTpl {
            header: &hdr(&m, "processing element"),
            prefix,
            lanes: dp.lanes,
            act_w: dp.link.act_width,
            wgt_w: dp.link.wgt_width,
            edge: dp.edge(),
            pipe: dp.pipelined,
            acc_w: pe.acc_width,
            sum_w,
            x_bits,
            y_bits,
            sh_bits,
            reference: false,
            sel: false,
            sel_act_w: dp.link.act_width,
            sel_wgt_w: dp.link.wgt_width,
            skip,
            act_in,
            wgt_in,
        },
        &m,
    )?;
    add(m.clone(), Role::PeTop, Part::PeRegisters, top);
    let mut all = leaf;
    all.extend(files);
    if dp.edge() {
        all.push(pe_solo_file(cfg, shown)?);
    }

    all.push(GeneratedFile::filelist(&m, &all));
    Ok(all)
}

/// [`generate_pe`] with `fault` planted into the production datapath, for showing
/// that the proof and the simulations catch it. Fails if the fault changes nothing
/// in this design (it names a part the design does not have), so a test cannot
/// pass with its bug silently not planted.
pub fn generate_pe_with_fault(cfg: &Design, fault: Fault) -> Result<Vec<GeneratedFile>> {
    let files = generate_pe_faulty(cfg, Some(fault))?;
    if files == generate_pe(cfg)? {
        return Err(Error::tool(
            "fault",
            format!("{fault:?} changes nothing in {}", cfg.name),
        ));
    }
    Ok(files)
}
