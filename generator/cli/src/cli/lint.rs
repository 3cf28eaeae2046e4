//! `smtgen lint`: verilator --lint-only -Wall over the generated PE.

use super::args::LintArgs;
use smtgen_core::error::Result;
use smtgen_core::select::Fallback;
use smtgen_hdl::rtl;
use smtgen_hdl::sim;

/// Runs `smtgen lint`.
pub fn run(a: LintArgs) -> Result<()> {
    let LintArgs { cfg, all } = a;
    let cfgs = cfg
        .selection()
        .resolve_labelled(if all { Fallback::All } else { Fallback::One })?;
    for (label, c) in cfgs {
        let files = rtl::generate_pe(&c)?;
        let out = sim::lint(&files, &rtl::pe_top(&c))?;
        smtgen_core::outln!(
            "{:<15} lint clean ({} files, -Wall, no waivers){}",
            label,
            files.len() - 1,
            if out.trim().is_empty() {
                String::new()
            } else {
                format!("\n{out}")
            }
        );
    }
    Ok(())
}
