//! `smtgen gemm`: C = A·W on the configured array.

use super::args::GemmArgs;
use smtgen_core::config::Design;
use smtgen_core::error::{Error, Result};
use smtgen_core::tensors;

/// Runs `smtgen gemm`.
pub fn run(a: GemmArgs) -> Result<()> {
    let cfg = a.cfg.build()?;
    gemm_cmd(&cfg, &a.a, &a.w, &a.out, a.cycle_accurate, a.jobs, a.prune)
}

fn gemm_cmd(
    cfg: &Design,
    a: &std::path::Path,
    w: &std::path::Path,
    out: &std::path::Path,
    cycle_accurate: bool,
    jobs: usize,
    prune: Option<smtgen_core::sparse::Prune>,
) -> Result<()> {
    use smtgen_core::array::{gemm_cycles, run_gemm, Gemm};
    smtgen_core::guard::check_out_file("--out", out, &[a, w])?;
    let kernel = smtgen_core::engine::Kernel::from_env()?;
    let am = tensors::read_activations(a)?;
    let wm = tensors::read_weights(w)?;
    if am.cols != wm.rows {
        return Err(Error::Input {
            file: format!("{} and {}", a.display(), w.display()),
            at: "shape".into(),
            what: format!(
                "A is {}x{} and W is {}x{}: A's columns must equal W's rows (K)",
                am.rows, am.cols, wm.rows, wm.cols
            ),
        });
    }
    smtgen_core::guard::gemm_dims("--a/--w", am.rows, am.cols, wm.cols)?;
    let mut g = Gemm {
        m: am.rows,
        k: am.cols,
        n: wm.cols,
        a: am.data,
        w: wm.data,
    };
    let note = smtgen_core::sparse::prepare_weights(
        &mut g.w,
        g.k,
        g.n,
        prune,
        &[cfg],
        &w.display().to_string(),
    )?;
    if let Some(n) = note {
        smtgen_core::outln!("{n}");
    }
    let (r, cc) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let groups = g.groups(cfg.lanes());
    let tiles = g.tiles(r, cc);
    let cycles = gemm_cycles(
        r as u64,
        cc as u64,
        cfg.pe.extra_latency(),
        groups as u64,
        tiles as u64,
    );
    if cycle_accurate {
        // Inputs (rows + cols lanes) and outputs (cols) of every cycle are recorded.
        let per_cycle = ((r + cc) * cfg.lanes() + cc) as u64;
        smtgen_core::guard::cycle_run("--cycle-accurate", cycles, per_cycle)?;
    }
    let c = smtgen_core::engine::gemm_with(cfg, &g, jobs, kernel, &|_| {});
    if cycle_accurate {
        let run = run_gemm(cfg, &g, 0.0, &mut smtgen_core::stimulus::Rng::new(0));
        if run.c[0] != c || run.cycles != cycles {
            return Err(Error::Mismatch {
                summary: format!(
                    "cycle-accurate model gave {} cycles (formula {cycles}) and {} results",
                    run.cycles,
                    if run.c[0] == c { "equal" } else { "DIFFERENT" }
                ),
            });
        }
    }
    tensors::write_result(out, g.m, g.n, &c, cfg.pe.acc_width > 32)?;
    smtgen_core::outln!(
        "{}: C[{}x{}] = A[{}x{}] . W[{}x{}] on a {}x{} array, {} lane(s): {} tiles of {} groups, {} cycles{}; engine kernel {}; wrote {}",
        cfg.name,
        g.m,
        g.n,
        g.m,
        g.k,
        g.k,
        g.n,
        r,
        cc,
        cfg.dp().lanes,
        tiles,
        groups,
        cycles,
        if cycle_accurate { " (cycle-accurate model agrees)" } else { "" },
        kernel,
        out.display()
    );
    Ok(())
}
