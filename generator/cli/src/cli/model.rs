//! `smtgen model`: the golden model over a CSV of cycles.

use super::args::ModelArgs;
use smtgen_core::config::Design;
use smtgen_core::error::Result;
use smtgen_core::model::PeModel;
use smtgen_core::operands::parse_lane_csv_bytes;
use std::fmt::Write;

/// Runs `smtgen model`.
pub fn run(a: ModelArgs) -> Result<()> {
    model_cmd(&a.cfg.build()?, &a.input)
}

fn model_cmd(cfg: &Design, input: &str) -> Result<()> {
    // A byte ceiling so an endless input is not read whole (at most 64 bytes per
    // allowed cycle: a 4-lane line is under 40, plus 4 KiB for a header); the
    // cycles themselves are counted against --max-cycles below.
    let max = smtgen_core::guard::max_cycles();
    let limit = max.saturating_mul(64).saturating_add(4096);
    let raise = "64 bytes per cycle of --max-cycles; raise with --max-cycles";
    let (bytes, name) = if input == "-" {
        let b = smtgen_core::guard::read_bounded(std::io::stdin(), "<stdin>", limit, raise)?;
        (b, "<stdin>".to_string())
    } else {
        let p = std::path::Path::new(input);
        (
            smtgen_core::guard::read_file_bounded(p, limit, raise)?,
            input.to_string(),
        )
    };
    let t = cfg.lanes();
    let ops = parse_lane_csv_bytes(&bytes, t, &name)?;
    smtgen_core::guard::cycles(&format!("--input {name}: cycles"), ops.len() as u64, true)?;
    let mut model = PeModel::new(cfg);
    let mut out = String::new();
    let header: Vec<String> = (0..t).map(|l| format!("p{l}")).collect();
    let _ = writeln!(out, "{},acc", header.join(","));
    for o in ops {
        let c = model.step(&o.acts[..t], &o.wgts[..t], true, false);
        let ps: Vec<String> = c.products[..t].iter().map(i32::to_string).collect();
        let _ = writeln!(out, "{},{}", ps.join(","), model.acc());
        if out.len() >= 1 << 16 {
            smtgen_core::out!("{out}");
            out.clear();
        }
    }
    smtgen_core::out!("{out}");
    Ok(())
}
