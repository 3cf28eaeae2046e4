//! `smtgen synth`: the PE (and with --array the array) synthesized, area reported.

use super::args::SynthArgs;
use smtgen::error::Result;

/// Runs `smtgen synth` for every design point named, one after the other.
pub fn run(a: SynthArgs) -> Result<()> {
    let SynthArgs { cfg, array, lib } = a;
    let cfgs = cfg.build_all()?;
    let library = lib.library()?;
    for (_, cfg) in &cfgs {
        if let Some(l) = &library {
            smtgen::sta::synth_cmd(cfg, l, &lib, array)?;
            continue;
        }
        let pe = smtgen::synth::synth_pe(cfg)?;
        print_synth(&pe);
        if array {
            print_synth(&smtgen::synth::synth_array(cfg)?);
        }
    }
    Ok(())
}

fn print_synth(r: &smtgen::synth::SynthReport) {
    println!(
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
        println!(
            "  {:<18} {:>10.0} GE  {:>5.1} %",
            p.name,
            p.area,
            100.0 * p.area / r.area
        );
    }
}
