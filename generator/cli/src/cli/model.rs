//! `smtgen model`: the golden model over a CSV of cycles.

use super::args::ModelArgs;
use smtgen_core::config::Design;
use smtgen_core::error::{Error, Result};
use smtgen_core::model::PeModel;
use smtgen_core::operands::parse_lane_csv_bytes;
use std::io::Write;

/// Runs `smtgen model`.
pub fn run(a: ModelArgs) -> Result<()> {
    model_cmd(&a.cfg.build()?, &a.input)
}

fn model_cmd(cfg: &Design, input: &str) -> Result<()> {
    // At most 64 bytes per allowed cycle (a 4-lane line is under 40).
    let limit = smtgen_core::guard::max_cycles().saturating_mul(64);
    let raise = "raise with --max-cycles";
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
    let mut model = PeModel::new(cfg);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = |e| Error::io("<stdout>", e);
    let header: Vec<String> = (0..t).map(|l| format!("p{l}")).collect();
    writeln!(out, "{},acc", header.join(",")).map_err(io)?;
    for o in ops {
        let c = model.step(&o.acts[..t], &o.wgts[..t], true, false);
        let ps: Vec<String> = c.products[..t].iter().map(i32::to_string).collect();
        writeln!(out, "{},{}", ps.join(","), model.acc()).map_err(io)?;
    }
    out.flush().map_err(io)
}
