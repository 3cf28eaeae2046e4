//! `smtgen compare`: several design points synthesized and set against a baseline.

use super::args::CompareArgs;
use smtgen_core::error::Result;
use smtgen_core::select::points_or_all;
use smtgen_core::select::{Fallback, Selection};
use smtgen_hdl::documents;

/// Runs `smtgen compare`.
pub fn run(a: CompareArgs) -> Result<()> {
    compare_cmd(
        &a.presets,
        &a.baseline,
        (a.rows, a.cols),
        a.pe_only,
        &a.out,
        &a.lib.args(),
        a.jobs,
    )
}

#[allow(clippy::too_many_arguments)]
fn compare_cmd(
    presets: &[String],
    base: &str,
    (rows, cols): (Option<u32>, Option<u32>),
    pe_only: bool,
    out: &std::path::Path,
    lib: &smtgen_hdl::sta::LibArgs,
    jobs: usize,
) -> Result<()> {
    use smtgen_hdl::synth;
    let names = points_or_all(presets);
    // Every point and the output directory are validated before anything is
    // synthesized or written.
    let mut all = names.clone();
    all.push(base.to_string());
    // One array size for every design compared.
    let defaulted = [("--rows", rows), ("--cols", cols)]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(f, _)| f)
        .collect();
    let (rows, cols) = (rows.unwrap_or(8), cols.unwrap_or(8));
    Selection {
        specs: &all,
        defaulted,
        flags: vec![
            ("--rows", "array.rows", rows.to_string()),
            ("--cols", "array.cols", cols.to_string()),
        ],
        ..Default::default()
    }
    .resolve(Fallback::All)?;
    smtgen_core::guard::check_out_dir("--out", out)?;
    if let Some(l) = lib.library()? {
        return smtgen_hdl::sta::compare_cmd(&names, base, rows, cols, pe_only, out, &l, lib, jobs);
    }
    let t0 = std::time::Instant::now();
    let costs = synth::compare(&names, base, rows, cols, !pe_only, jobs)?;
    let yosys = costs
        .first()
        .map(|c| c.pe.yosys.clone())
        .unwrap_or_default();
    let table = synth::compare_table(&costs, base);
    let parts = synth::parts_table(&costs);
    let scope = if pe_only {
        "PE".to_string()
    } else {
        format!("PE and {rows}x{cols} array")
    };
    let cores = smtgen_hdl::tool::cores_note(jobs, costs.len());
    smtgen_core::outln!("smtgen compare: {scope}, areas in NAND2 equivalents (GE), ratios (x) to {base}; {yosys}; {:.0} s {cores}", t0.elapsed().as_secs_f64());
    smtgen_core::out!("{}", table.to_text());
    smtgen_core::outln!("\nPE area by part (GE):");
    smtgen_core::out!("{}", parts.to_text());
    let csv = out.join("compare.csv");
    let md = out.join("compare.md");
    let svg = out.join("compare.svg");
    let set = documents::compare_set(&costs, base, &scope, &yosys, &table, &parts);
    smtgen_core::guard::write_set("--out", out, "compare", &set)?;
    smtgen_core::outln!(
        "wrote {}, {}, {}",
        csv.display(),
        md.display(),
        svg.display()
    );
    Ok(())
}
