//! `smtgen synth`: the PE (and with --array the array) synthesized, area reported.

use super::args::SynthArgs;
use smtgen_core::error::Result;

/// Runs `smtgen synth` for every design point named, one after the other.
pub fn run(a: SynthArgs) -> Result<()> {
    let SynthArgs {
        cfg,
        array,
        jobs,
        lib,
    } = a;
    let cfgs = cfg.build_all()?;
    let lib = lib.args();
    let library = lib.library()?;
    for (label, cfg) in &cfgs {
        if cfgs.len() > 1 {
            smtgen_core::outln!("== {label}");
        }
        if let Some(l) = &library {
            smtgen_hdl::sta::synth_cmd(cfg, l, &lib, array)?;
            continue;
        }
        if !array {
            print_synth(&smtgen_hdl::synth::synth_pe(cfg, jobs)?);
            continue;
        }
        // The PE and the array at once when there are workers for both.
        let reports = smtgen_hdl::tool::parallel_map(jobs, &[false, true], |_, &whole| {
            if whole {
                smtgen_hdl::synth::synth_array(cfg)
            } else {
                smtgen_hdl::synth::synth_pe(cfg, (smtgen_hdl::tool::jobs(jobs) - 1).max(1))
            }
        });
        for r in reports {
            print_synth(&r?);
        }
    }
    Ok(())
}

fn print_synth(r: &smtgen_hdl::synth::SynthReport) {
    smtgen_core::outln!(
        "{}: {:.0} GE, {} cells, ~{} transistors{} ({}; {:.1} s)",
        r.top,
        r.area,
        r.cells.values().sum::<u64>(),
        r.transistors,
        r.depth
            .map(|d| format!(", logic depth {d}"))
            .unwrap_or_default(),
        r.yosys,
        r.seconds
    );
    for p in &r.parts {
        smtgen_core::outln!(
            "  {:<18} {:>10.0} GE  {:>5.1} %",
            p.name,
            p.area,
            100.0 * p.area / r.area
        );
    }
}
