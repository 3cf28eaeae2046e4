//! `smtgen model`: the golden model over a CSV of cycles.

use super::args::ModelArgs;
use smtgen::config::Config;
use smtgen::error::Result;
use smtgen::model::PeModel;
use smtgen::operands::parse_lane_csv_bytes;
use std::fmt::Write;

/// Runs `smtgen model`.
pub fn run(a: ModelArgs) -> Result<()> {
    model_cmd(&a.cfg.build()?, &a.input)
}

fn model_cmd(cfg: &Config, input: &str) -> Result<()> {
    // A byte ceiling so an endless input is not read whole (at most 64 bytes per
    // allowed cycle: a 4-lane line is under 40, plus 4 KiB for a header); the
    // cycles themselves are counted against --max-cycles below.
    let max = smtgen::guard::max_cycles();
    let limit = max.saturating_mul(64).saturating_add(4096);
    let raise = "64 bytes per cycle of --max-cycles; raise with --max-cycles";
    let (bytes, name) = if input == "-" {
        let b = smtgen::guard::read_bounded(std::io::stdin(), "<stdin>", limit, raise)?;
        (b, "<stdin>".to_string())
    } else {
        let p = std::path::Path::new(input);
        (
            smtgen::guard::read_file_bounded(p, limit, raise)?,
            input.to_string(),
        )
    };
    let t = cfg.pe.lanes();
    let ops = parse_lane_csv_bytes(&bytes, t, &name)?;
    smtgen::guard::cycles(&format!("--input {name}: cycles"), ops.len() as u64, true)?;
    let mut model = PeModel::new(&cfg.pe);
    let mut out = String::new();
    let header: Vec<String> = (0..t).map(|l| format!("p{l}")).collect();
    let _ = writeln!(out, "{},acc", header.join(","));
    for o in ops {
        let c = model.step(&o.acts[..t], &o.wgts[..t], true, false);
        let ps: Vec<String> = c.products[..t].iter().map(i32::to_string).collect();
        let _ = writeln!(out, "{},{}", ps.join(","), model.acc());
        if out.len() >= 1 << 16 {
            smtgen::out!("{out}");
            out.clear();
        }
    }
    smtgen::out!("{out}");
    Ok(())
}
