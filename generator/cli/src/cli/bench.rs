//! `smtgen bench`: throughput of the golden model, of Verilator array simulation,
//! of `eval` and of the GEMM engine against a float32 GEMM.

use super::args::BenchArgs;
use super::parse_sizes;
use smtgen_core::config::Design;
use smtgen_core::error::{Error, Result};
use smtgen_core::select::points_or_all;
use smtgen_hdl::bench;

/// Runs `smtgen bench`: --gemm, else --eval, else --array, else the model.
pub fn run(b: BenchArgs) -> Result<()> {
    let BenchArgs {
        cycles,
        array,
        eval,
        gemm,
        shapes,
        jobs,
        sizes,
        presets,
        repeat,
    } = b;
    if gemm {
        return bench_gemm(&shapes, &presets, repeat, jobs);
    }
    if eval {
        smtgen_core::outln!("eval throughput, synthetic ReLU layer 3136x576x64 (a 3x3, 64->64 conv on 56x56), 50% zeros, all cores");
        for (p, r) in bench::eval_throughput(3136, 576, 64)? {
            smtgen_core::outln!("{p:<15} {:>8.0} M MACs/s", r / 1e6);
        }
        return Ok(());
    }
    if array {
        let cycles = cycles.unwrap_or(100_000);
        smtgen_core::guard::cycles("--cycles", cycles as u64, false)?;
        let names = points_or_all(&presets);
        let repeat = repeat.max(1);
        smtgen_core::outln!("Verilator array simulation speed, one core, ~{cycles} cycles, every output compared, {repeat} run(s) per build");
        smtgen_core::outln!(
            "{:<15} {:>7} {:>10} {:>9} {:>15} {:>15}",
            "preset",
            "size",
            "cycles",
            "build s",
            "best cycles/s",
            "median cycles/s"
        );
        for (r, c) in parse_sizes(&sizes)? {
            for name in &names {
                let size = [format!("array.rows={r}"), format!("array.cols={c}")];
                let cfg = smtgen_core::config::Design::point(name, &size)?;
                let rep = bench::array_throughput(&cfg, cycles, repeat, jobs)?;
                let mut runs = rep.runs.clone();
                runs.sort_by(f64::total_cmp);
                let rate = |s: f64| rep.cycles as f64 / s.max(1e-9) / 1e3;
                smtgen_core::outln!(
                    "{:<15} {:>7} {:>10} {:>9.1} {:>13.0} k {:>13.0} k{}",
                    name,
                    format!("{r}x{c}"),
                    rep.cycles,
                    rep.build_s,
                    rate(rep.run_s),
                    rate(runs.get(runs.len() / 2).copied().unwrap_or(rep.run_s)),
                    if rep.mismatches > 0 {
                        "  MISMATCHES"
                    } else {
                        ""
                    }
                );
            }
        }
        return Ok(());
    }
    let cycles = cycles.unwrap_or(4_000_000);
    smtgen_core::guard::cycles("--cycles", cycles as u64, false)?;
    smtgen_core::outln!("golden model throughput, one core, {cycles} cycles, 50% zero activations");
    smtgen_core::outln!("{:<15} {:>16}", "preset", "lane-MACs/s");
    for r in bench::model_throughput(cycles, 3)? {
        smtgen_core::outln!(
            "{:<15} {:>12.1} M   (checksum {})",
            r.preset,
            r.lane_macs_per_s / 1e6,
            r.checksum
        );
    }
    Ok(())
}

/// `smtgen bench --gemm`: the engine per design against a float32 GEMM.
fn bench_gemm(shapes: &[String], presets: &[String], repeat: u32, jobs: usize) -> Result<()> {
    let names = points_or_all(presets);
    let designs: Vec<(String, Design)> = names
        .iter()
        .map(|n| Ok((n.clone(), Design::point(n, &[] as &[String])?)))
        .collect::<Result<_>>()?;
    let mut parsed = Vec::new();
    for s in shapes {
        let dims: Vec<usize> = s
            .split('x')
            .map(|d| d.parse::<usize>().ok().filter(|&v| v > 0))
            .collect::<Option<_>>()
            .unwrap_or_default();
        match dims[..] {
            [m, k, n] => {
                smtgen_core::guard::gemm_dims(&format!("--shapes {s}"), m, k, n)?;
                parsed.push((m, k, n))
            }
            _ => {
                return Err(Error::config(
                    "--shapes",
                    s,
                    "MxKxN with positive integers, e.g. 3136x576x64",
                ))
            }
        }
    }
    let threads = smtgen_hdl::tool::jobs(jobs);
    for shape in parsed {
        let b = bench::gemm_throughput(shape, &designs, jobs, repeat.max(1) as usize)?;
        let (m, k, n) = b.shape;
        smtgen_core::outln!(
            "GEMM {m}x{k}x{n} ({:.2} G MACs), synthetic ReLU layer (50% zero activations), best of {repeat}, engine kernel {}",
            (m * k * n) as f64 / 1e9,
            b.kernel
        );
        smtgen_core::outln!(
            "float32 reference (matrixmultiply sgemm, 1 thread): {:.1} G MACs/s wall, {:.1} G MACs per CPU-s",
            b.float32 / 1e9,
            b.float32_cpu / 1e9
        );
        smtgen_core::outln!(
            "engine kernel {} alone, data in L1 (8x1024 . 1024x64 repeated, 1 thread): {:.1} G MACs/s",
            b.kernel,
            b.kernel_peak / 1e9
        );
        smtgen_core::outln!("(wall: best wall-clock run; cpu: per CPU second, what a run costs when other processes share the cores)");
        smtgen_core::outln!(
            "{:<15} {:>6} {:>10} {:>7} {:>10} {:>7} {:>11} {:>7} {:>8}",
            "design",
            "K'/K",
            "1thr wall",
            "x f32",
            "1thr cpu",
            "x f32",
            format!("{threads}thr wall"),
            "x f32",
            "scaling"
        );
        for d in &b.designs {
            smtgen_core::outln!(
                "{:<15} {:>6.2} {:>10.1} {:>7.2} {:>10.1} {:>7.2} {:>11.1} {:>7.2} {:>8.2}",
                d.design,
                d.k_expansion,
                d.one_core / 1e9,
                d.one_core / b.float32,
                d.one_core_cpu / 1e9,
                d.one_core_cpu / b.float32_cpu,
                d.all_cores / 1e9,
                d.all_cores / b.float32,
                d.all_cores / d.one_core
            );
        }
    }
    Ok(())
}
