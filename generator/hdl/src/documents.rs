//! The documents `smtgen eval` and `smtgen compare` write, rendered in full as
//! `(file name, bytes)` sets before anything is written, so a library user gets the
//! same report files, JSON and prose the command line does.

use crate::array::Gemm;
use crate::error::{Error, Result};
use crate::eval::{DesignEval, PruneReport, QuantParams};
use crate::report::{scatter_svg, Point, Table};
use crate::rtl;
use crate::synth::DesignCost;

/// A set of rendered files: name within the output directory, and contents.
pub type FileSet = Vec<(String, Vec<u8>)>;

/// The JSON document of an eval run (`--json`, and `report.json` of `--report`):
/// generator version, workload, GEMM shape, array size, quantization, designs and,
/// under `--prune`, what pruning zeroed and the errors against the dense weights.
pub fn eval_json(
    name: &str,
    g: &Gemm,
    rows: u32,
    cols: u32,
    quant: Option<&QuantParams>,
    evals: &[DesignEval],
    prune: Option<&PruneReport>,
) -> Result<String> {
    let json = serde_json::json!({
        "generator": format!("smtgen {}", rtl::VERSION),
        "workload": name,
        "m": g.m, "k": g.k, "n": g.n,
        "array": {"rows": rows, "cols": cols},
        "quantization": quant,
        "designs": evals,
        "prune": prune,
    });
    serde_json::to_string_pretty(&json).map_err(|e| Error::tool("serde_json", e.to_string()))
}

/// The eval `--report` set: `report.json` (`json_text`), `quant.json` when floats
/// were quantized, `report.svg` (error against speedup) and `report.md`.
#[allow(clippy::too_many_arguments)]
pub fn eval_report_set(
    name: &str,
    g: &Gemm,
    rows: u32,
    cols: u32,
    json_text: &str,
    quant: Option<&QuantParams>,
    evals: &[DesignEval],
    table: &Table,
) -> Result<FileSet> {
    let mut set = FileSet::new();
    let mut w = |f: &str, t: &str| set.push((f.to_string(), t.as_bytes().to_vec()));
    w("report.json", json_text);
    if let Some(q) = quant {
        w(
            "quant.json",
            &serde_json::to_string_pretty(q)
                .map_err(|e| Error::tool("serde_json", e.to_string()))?,
        );
    }
    let points: Vec<Point> = evals
        .iter()
        .map(|e| Point {
            label: e.design.clone(),
            x: e.speedup,
            y: 100.0 * e.rel_l2_error,
        })
        .collect();
    w(
        "report.svg",
        &scatter_svg(
            &format!("Error against speedup: {name}"),
            "speedup over baseline (same array)",
            "relative L2 error of C (%)",
            &points,
        ),
    );
    w("report.md", &format!("# smtgen eval\n\nWorkload: {name}, {} MACs, {}x{} array. smtgen {}.\n\n{}\nActive lanes/cycle: share of PE cycles with 0, 1, ..., T active lanes. Reduced: share of active lane products that went through a window or nibble. Errors against the exact integer GEMM.\n\n![error against speedup](report.svg)\n", g.m * g.n * g.k, rows, cols, rtl::VERSION, table.to_markdown()));
    Ok(set)
}

/// The compare set: `compare.csv` (`table`), `compare.md` (both tables with the
/// method) and `compare.svg` (area against lanes per cycle), for `scope` (e.g.
/// `PE and 8x8 array`) synthesized with `yosys`, ratios to `base`.
pub fn compare_set(
    costs: &[DesignCost],
    base: &str,
    scope: &str,
    yosys: &str,
    table: &Table,
    parts: &Table,
) -> FileSet {
    let text = format!(
        "# smtgen compare ({scope})\n\nProduced by smtgen {} with {yosys}; cell library `synth/smtgen_ge.lib` (areas in NAND2 gate equivalents). Depth is the longest combinational path of the flattened PE, in cells.\n\n{}\n## PE area by part (GE)\n\n{}",
        rtl::VERSION,
        table.to_markdown(),
        parts.to_markdown()
    );
    let base = costs
        .iter()
        .find(|c| c.preset == base)
        .map(|c| c.array.as_ref().map_or(c.pe.area, |a| a.area))
        .unwrap_or(1.0);
    let points: Vec<Point> = costs
        .iter()
        .map(|c| Point {
            label: c.preset.clone(),
            x: c.array.as_ref().map_or(c.pe.area, |a| a.area) / base,
            y: f64::from(c.lanes),
        })
        .collect();
    let chart = scatter_svg(
        &format!("Area against throughput ({scope}, {yosys})"),
        &format!("area relative to {base}"),
        "lanes (MACs) per cycle",
        &points,
    );
    vec![
        ("compare.csv".into(), table.to_csv().into_bytes()),
        ("compare.md".into(), text.into_bytes()),
        ("compare.svg".into(), chart.into_bytes()),
    ]
}
