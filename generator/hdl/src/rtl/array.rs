//! The array around the PEs: the delay line, the cell (a PE and its result-chain
//! slot) and the array top `<name>_array` with its filelist ([`generate_array`]).

use super::header::{array_header, render, Branches};
use super::{generate_pe, GeneratedFile, Part, Role};
use crate::config::Design;
use crate::error::Result;
use askama::Template;

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
    skip: bool,
    /// The PE's skip bit in the cell (empty without `array.skip`).
    skip_sig: &'a str,
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
    skip: bool,
}

/// Renders the whole array: every PE file, the delay line, the cell, the array top
/// `<name>_array` and its filelist `<name>_array.f` (the PE's own `.f` is kept too).
pub fn generate_array(cfg: &Design) -> Result<Vec<GeneratedFile>> {
    let prefix = cfg.name.as_str();
    let dp = cfg.dp();
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
    files.push(GeneratedFile::module(&m, Role::Array, text).with_part(Part::ArrayEdge));
    let m = format!("{prefix}_cell");
    let text = render(
        &CellTpl {
            header: &hdr(&m, "array cell: PE and result-chain slot"),
            prefix,
            act_w: dp.link.act_width,
            wgt_w: dp.link.wgt_width,
            acc_w: cfg.pe.acc_width,
            pipe: cfg.dp().pipelined,
            skip: cfg.array.skip.on(),
            skip_sig: if cfg.array.skip.on() { "skip_i[0]" } else { "" },
        },
        &m,
    )?;
    files.push(GeneratedFile::module(&m, Role::Array, text).with_part(Part::ResultChain));
    let m = format!("{prefix}_array");
    let text = render(
        &ArrayTpl {
            header: &hdr(&m, "output-stationary array"),
            prefix,
            lanes: dp.lanes,
            act_w: dp.link.act_width,
            wgt_w: dp.link.wgt_width,
            edge: dp.edge(),
            edge_stages: cfg.pe.window_logic.edge_stages(),
            pipeline: cfg.pe.pipeline,
            pre_wgt: dp.link.wgt_field > 0,
            acc_w: cfg.pe.acc_width,
            rows: cfg.array.rows,
            cols: cfg.array.cols,
            skip: cfg.array.skip.on(),
        },
        &m,
    )?;
    files.push(GeneratedFile::module(&m, Role::Array, text).with_part(Part::ArrayEdge));
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

branches!(DelayTpl, "array/delay.v");
branches!(CellTpl, "array/cell.v", pipe, skip);
branches!(
    ArrayTpl,
    "array/array.v",
    edge,
    pre_wgt,
    pipeline,
    edge_stages,
    skip
);
