//! `smtgen eval`: what each design does to a layer (collisions, error, cycles).

use super::args::EvalArgs;
use smtgen_core::error::{Error, Result};
use smtgen_core::select::points_or_all;
use smtgen_core::select::{Fallback, Selection};
use smtgen_core::workload::{self, Workload};
use smtgen_hdl::documents;
use std::path::PathBuf;

/// Runs `smtgen eval`.
pub fn run(a: EvalArgs) -> Result<()> {
    eval_cmd(a)
}

fn eval_cmd(a: EvalArgs) -> Result<()> {
    use smtgen_core::eval::{
        eval_table, evaluate_design_jobs, exact_gemm_jobs, read_area_ratios, DenseError,
        PruneReport,
    };
    let kernel = smtgen_core::engine::Kernel::from_env()?;
    let mut names = points_or_all(&a.presets);
    // One array size for every design's cycle counts.
    let (rows, cols) = (a.rows.unwrap_or(16), a.cols.unwrap_or(16));
    let mut cfgs = Selection {
        specs: &names,
        flags: vec![
            ("--rows", "array.rows", rows.to_string()),
            ("--cols", "array.cols", cols.to_string()),
        ],
        defaulted: [("--rows", a.rows), ("--cols", a.cols)]
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(f, _)| f)
            .collect(),
        ..Default::default()
    }
    .resolve(Fallback::All)?;
    // Output paths are checked before any work, and never name an input.
    let inputs: Vec<&std::path::Path> = [&a.a, &a.w, &a.input, &a.weights, &a.area]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    if let Some(p) = &a.json {
        smtgen_core::guard::check_out_file("--json", p, &inputs)?;
    }
    if let Some(d) = &a.report {
        smtgen_core::guard::check_out_dir("--report", d)?;
    }
    let areas = a.area.as_deref().map(read_area_ratios).transpose()?;
    let Workload {
        name,
        gemm: mut g,
        quant,
    } = eval_workload(&a)?;
    let what =
        a.w.as_ref()
            .or(a.weights.as_ref())
            .map_or("the synthetic weights".to_string(), |p| {
                p.display().to_string()
            });
    if a.presets.is_empty()
        && a.prune.is_none()
        && !smtgen_core::sparse::is_2_4(&g.w, g.k, g.n)
        && cfgs.iter().any(|c| c.dp().requires_2_4())
    {
        // The default list leaves the 2:4-sparse designs out of a dense workload, and
        // says so; named ones are checked (and refused) below.
        let left: Vec<String> = names
            .iter()
            .zip(&cfgs)
            .filter(|(_, c)| c.dp().requires_2_4())
            .map(|(n, _)| n.clone())
            .collect();
        smtgen_core::outln!(
            "note: {} left out: {what} are not 2:4-sparse (add --prune 2:4, or name them in --presets)",
            left.join(", ")
        );
        let keep: Vec<bool> = cfgs.iter().map(|c| !c.dp().requires_2_4()).collect();
        let mut it = keep.iter();
        cfgs.retain(|_| *it.next().unwrap_or(&true));
        let mut it = keep.iter();
        names.retain(|_| *it.next().unwrap_or(&true));
    }
    let dense_w = a.prune.map(|_| g.w.clone());
    let designs: Vec<&smtgen_core::config::Design> = cfgs.iter().collect();
    let note = smtgen_core::sparse::prepare_weights(&mut g.w, g.k, g.n, a.prune, &designs, &what)?;
    smtgen_core::outln!(
        "smtgen eval: {name}, {} MACs, {}x{} array",
        g.m * g.n * g.k,
        rows,
        cols
    );
    if let Some(n) = note {
        smtgen_core::outln!("{n}");
    }
    if let Some(q) = &quant {
        let (lo, hi) = q
            .weight_scales
            .iter()
            .fold((f32::INFINITY, 0.0f32), |(l, h), &s| (l.min(s), h.max(s)));
        smtgen_core::outln!("quantization: activations per tensor, scale {:.6e} (real = q * scale); weights per output channel, {} scales in {:.3e}..{:.3e}", q.act_scale, q.weight_scales.len(), lo, hi);
    }
    let t0 = std::time::Instant::now();
    let exact = exact_gemm_jobs(&g, a.jobs);
    let bar = indicatif::ProgressBar::new((cfgs.len() * g.m) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed} ({eta} left)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut evals = Vec::new();
    let mut results = Vec::new();
    for (cfg, label) in cfgs.iter().zip(&names) {
        let (mut e, c) = evaluate_design_jobs(cfg, &g, &exact, a.jobs, &|| bar.inc(1));
        if dense_w.is_some() {
            results.push(c);
        }
        // Labelled as written, like `smtgen compare`, so --area finds the row.
        e.design = label.clone();
        if let Some(ar) = &areas {
            e.area_ratio = ar.iter().find(|(d, _)| *d == e.design).map(|(_, r)| *r);
        }
        evals.push(e);
    }
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let table = eval_table(&evals);
    if dense_w.is_some() {
        smtgen_core::outln!(
            "errors against the exact GEMM of the pruned weights (the ones the designs ran on):"
        );
    }
    smtgen_core::out!("{}", table.to_text());
    let prune = dense_w.as_ref().map(|dw| {
        // Against the dense weights: what pruning and the design cost together.
        let dense = exact_gemm_jobs(
            &smtgen_core::array::Gemm {
                w: dw.clone(),
                ..g.clone()
            },
            a.jobs,
        );
        let mut against = vec![DenseError::of("exact on pruned weights", &exact, &dense)];
        for (e, c) in evals.iter().zip(&results) {
            against.push(DenseError::of(&e.design, c, &dense));
        }
        PruneReport {
            rule: "2:4".into(),
            nonzero_dense: dw.iter().filter(|&&x| x != 0).count() as u64,
            zeroed: dw.iter().zip(&g.w).filter(|(d, p)| d != p).count() as u64,
            against_dense: against,
        }
    });
    if let Some(p) = &prune {
        smtgen_core::outln!("against the exact GEMM of the dense (unpruned) weights:");
        smtgen_core::outln!(
            "  {:<24} {:>10} {:>10} {:>12}",
            "design",
            "max |err|",
            "SQNR dB",
            "rel L2 %"
        );
        for d in &p.against_dense {
            smtgen_core::outln!(
                "  {:<24} {:>10} {:>10.2} {:>12.3}",
                d.design,
                d.max_abs_error,
                d.sqnr_db,
                100.0 * d.rel_l2_error
            );
        }
    }
    smtgen_core::outln!(
        "{:.2} s, {:.0} M MACs/s over {} designs on {} thread(s), engine kernel {}",
        secs,
        (g.m * g.n * g.k * cfgs.len()) as f64 / secs / 1e6,
        cfgs.len(),
        smtgen_hdl::tool::jobs(a.jobs),
        kernel
    );
    let json_text = documents::eval_json(
        &name,
        &g,
        rows,
        cols,
        quant.as_ref(),
        &evals,
        prune.as_ref(),
    )?;
    if let Some(p) = &a.json {
        smtgen_core::guard::write_file(p, json_text.as_bytes())?;
    }
    if let Some(dir) = &a.report {
        // The report set is rendered in full, then written at once.
        let set = documents::eval_report_set(
            &name,
            &g,
            rows,
            cols,
            &json_text,
            quant.as_ref(),
            &evals,
            &table,
        )?;
        smtgen_core::guard::write_set("--report", dir, "report", &set)?;
        smtgen_core::outln!("wrote {}", dir.display());
    }
    Ok(())
}

/// Loads the evaluation workload named by exactly one of --synthetic,
/// --a/--w or --input/--weights.
fn eval_workload(a: &EvalArgs) -> Result<Workload> {
    let sources = [
        a.synthetic.is_some(),
        a.a.is_some() || a.w.is_some(),
        a.input.is_some() || a.weights.is_some(),
    ];
    if sources.iter().filter(|&&x| x).count() != 1 {
        return Err(Error::config(
            "workload",
            "(none or several)",
            "exactly one of --synthetic, --a/--w, --input/--weights",
        ));
    }
    if let Some(d) = &a.synthetic {
        return workload::synthetic(d, a.m, a.k, a.n, a.zero, a.seed);
    }
    match (&a.a, &a.w) {
        (Some(ap), Some(wp)) => return workload::gemm(ap, wp),
        (Some(_), None) => {
            return Err(Error::config(
                "--w",
                "(missing)",
                "the K x N weights file beside --a",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::config(
                "--a",
                "(missing)",
                "the M x K activations file beside --w",
            ))
        }
        (None, None) => {}
    }
    let (Some(ip), Some(wp)) = (&a.input, &a.weights) else {
        return Err(Error::config(
            "--input/--weights",
            "(one missing)",
            "both files of the convolution",
        ));
    };
    workload::conv(ip, wp, a.stride, a.padding)
}
