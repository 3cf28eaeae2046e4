//! The `synth` and `compare` commands on a real library: their command-line
//! options (library, cell models, clock, energy workload), the terminal output,
//! and the files `compare` writes (CSV, Markdown, area and energy charts).

use super::{
    compare, compare_table, cost, paths_table, report_clock, sta_binary, Library, Mapped, StaCost,
    Timing, Workload, UNCONSTRAINED_PS,
};
use crate::array::Gemm;
use crate::config::Design;
use crate::error::{Error, Result};
use crate::rtl;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of the real-library flows (`synth`, `compare`); the command line fills
/// them from its flags.
#[derive(Debug, Clone)]
pub struct LibArgs {
    /// Map onto this Liberty file instead of the built-in GE table (area in µm²,
    /// timing and power with OpenSTA).
    pub liberty: Option<PathBuf>,
    /// Map onto a named library: osu018 (Debian package qflow-tech-osu018).
    pub library: Option<String>,
    /// Verilog cell models for the energy simulation (default: the .v file beside
    /// the Liberty file).
    pub cell_models: Option<PathBuf>,
    /// Clock period in ps for timing and power (default: timing unconstrained, power
    /// at the slowest design's critical path).
    pub clock_ps: Option<f64>,
    /// The energy workload: a synthetic ReLU layer MxKxN run on the array (the
    /// command line's default: 16x64x16).
    pub layer: String,
    /// Fraction of zero activations in the energy workload.
    pub layer_zero: f64,
    /// Seed of the energy workload.
    pub layer_seed: u64,
    /// The energy workload from tensors instead: activations A (M×K, uint8 .npy or
    /// .csv), with --layer-w.
    pub layer_a: Option<PathBuf>,
    /// Weights W (K×N, int8 .npy or .csv), with --layer-a.
    pub layer_w: Option<PathBuf>,
    /// Output skip mask of the energy workload (M×N, uint8 0/1 .npy or .csv): the
    /// outputs designs with `array.skip: gate` skip (others compute every output).
    pub skip_mask: Option<PathBuf>,
    /// Instead of a mask file: each output skipped with this probability (seeded by
    /// `layer_seed`), for designs with `array.skip: gate`.
    pub skip_density: Option<f64>,
}

impl LibArgs {
    /// The library, or `None` for the built-in GE flow (then no other option of
    /// these may be given).
    pub fn library(&self) -> Result<Option<Library>> {
        let lib = Library::from_args(
            self.liberty.as_deref(),
            self.library.as_deref(),
            self.cell_models.as_deref(),
        )?;
        let given = [
            ("--clock-ps", self.clock_ps.is_some()),
            ("--cell-models", self.cell_models.is_some()),
            ("--layer-a", self.layer_a.is_some()),
            ("--layer-w", self.layer_w.is_some()),
            ("--skip-mask", self.skip_mask.is_some()),
            ("--skip-density", self.skip_density.is_some()),
        ];
        if let (None, Some((flag, _))) = (&lib, given.iter().find(|g| g.1)) {
            return Err(Error::config(
                *flag,
                "given without a library",
                "only with --liberty FILE or --library osu018",
            ));
        }
        if let Some(p) = self.clock_ps {
            if !(p.is_finite() && p > 0.0) {
                return Err(Error::config("--clock-ps", p, "a period in ps above 0"));
            }
        }
        Ok(lib)
    }

    /// The energy workload: `--layer-a`/`--layer-w` when given, else the synthetic
    /// ReLU layer; with its skip mask (`--skip-mask` or `--skip-density`) if any.
    pub fn workload(&self) -> Result<Workload> {
        let mut w = self.layer_workload()?;
        let (m, n) = (w.gemm.m, w.gemm.n);
        match (&self.skip_mask, self.skip_density) {
            (None, None) => {}
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "--skip-mask/--skip-density",
                    "both given",
                    "one of them (a mask file, or a density to draw one)",
                ))
            }
            (Some(p), None) => {
                let mask = crate::tensors::read_skip_mask(p)?;
                if (mask.rows, mask.cols) != (m, n) {
                    return Err(Error::config(
                        "--skip-mask",
                        format!("{}x{}", mask.rows, mask.cols),
                        format!("the workload's outputs, M x N = {m}x{n}"),
                    ));
                }
                let share = mask.data.iter().filter(|&&s| s).count() as f64 / (m * n) as f64;
                w.label += &format!(
                    "; skip mask {} ({:.1} % of outputs skipped)",
                    p.display(),
                    100.0 * share
                );
                w.skip = Some(mask.data);
            }
            (None, Some(d)) => {
                if !(0.0..=1.0).contains(&d) {
                    return Err(Error::config("--skip-density", d, "a share 0..1"));
                }
                let mut rng = crate::stimulus::Rng::new(self.layer_seed ^ 0x5C1B);
                let mask: Vec<bool> = (0..m * n).map(|_| rng.chance(d)).collect();
                let share = mask.iter().filter(|&&s| s).count() as f64 / (m * n) as f64;
                w.label += &format!(
                    "; seeded random skip mask, density {d} ({:.1} % of outputs skipped)",
                    100.0 * share
                );
                w.skip = Some(mask);
            }
        }
        Ok(w)
    }

    fn layer_workload(&self) -> Result<Workload> {
        match (&self.layer_a, &self.layer_w) {
            (None, None) => {}
            (Some(a), Some(w)) => {
                let am = crate::tensors::read_activations(a)?;
                let wm = crate::tensors::read_weights(w)?;
                if am.cols != wm.rows {
                    return Err(Error::config(
                        "--layer-w",
                        format!("{} rows", wm.rows),
                        format!("K = {} rows, the columns of --layer-a", am.cols),
                    ));
                }
                return Ok(Workload {
                    label: format!(
                        "layer {} x {} ({}x{}x{})",
                        a.display(),
                        w.display(),
                        am.rows,
                        am.cols,
                        wm.cols
                    ),
                    gemm: Gemm {
                        m: am.rows,
                        k: am.cols,
                        n: wm.cols,
                        a: am.data,
                        w: wm.data,
                    },
                    seed: self.layer_seed,
                    skip: None,
                });
            }
            _ => {
                return Err(Error::config(
                    "--layer-a/--layer-w",
                    "only one given",
                    "both (activations and weights) or neither",
                ))
            }
        }
        let dims: Vec<usize> = self
            .layer
            .split('x')
            .map(|d| {
                d.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&v| (1..=4096).contains(&v))
            })
            .collect::<Option<_>>()
            .filter(|v: &Vec<usize>| v.len() == 3)
            .ok_or_else(|| {
                Error::config("--layer", &self.layer, "MxKxN, each 1..4096, e.g. 16x64x16")
            })?;
        let (gemm, _) = crate::eval::synthetic(
            dims[0],
            dims[1],
            dims[2],
            crate::eval::Distribution::Relu,
            self.layer_zero,
            self.layer_seed,
        )?;
        Ok(Workload {
            label: format!(
                "synthetic ReLU layer {} ({:.0} % zero activations, seed {})",
                self.layer,
                100.0 * self.layer_zero,
                self.layer_seed
            ),
            gemm,
            seed: self.layer_seed,
            skip: None,
        })
    }
}

fn describe(lib: &Library) -> String {
    format!(
        "{} ({}; NAND2 = {} = {} units; {} dont_use cell(s) left out)",
        lib.label,
        lib.path.display(),
        lib.nand2.0,
        lib.nand2.1,
        lib.dont_use.len()
    )
}

/// `smtgen synth` on a real library: the PE (and with `array` the array, with its
/// energy on the workload) mapped, timed and printed.
pub fn synth_cmd(cfg: &Design, lib: &Library, args: &LibArgs, array: bool) -> Result<()> {
    let w = if array { Some(args.workload()?) } else { None };
    sta_binary()?;
    let c = cost(
        cfg,
        &cfg.name,
        lib,
        w.as_ref(),
        args.clock_ps.unwrap_or(UNCONSTRAINED_PS),
    )?;
    smtgen_core::outln!("{} on {}; {:.1} s", cfg.name, describe(lib), c.seconds);
    let show = |m: &Mapped, t: &Timing| {
        smtgen_core::outln!(
            "{}: {:.0} um2 = {:.0} NAND2 eq, {} cells; critical path {:.0} ps ({} -> {}), fmax {:.0} MHz",
            m.top,
            m.area,
            m.nand2_eq,
            m.cells.values().sum::<u64>(),
            t.critical.ps,
            t.critical.start,
            t.critical.end,
            t.fmax_mhz()
        );
        for (what, p) in [
            ("from inputs", &t.from_inputs),
            ("from registers", &t.from_registers),
        ] {
            if let Some(p) = p {
                smtgen_core::outln!(
                    "  worst path {what}: {:.0} ps ({} -> {})",
                    p.ps,
                    p.start,
                    p.end
                );
            }
        }
    };
    show(&c.pe, &c.pe_timing);
    if let Some((a, t, e)) = &c.array {
        show(a, t);
        match (e, &w) {
            (Some(e), Some(w)) => {
                let clk = report_clock(std::slice::from_ref(&c), args.clock_ps);
                smtgen_core::outln!(
                    "  energy on {}: {} cycles, {:.3} mW at {clk:.0} ps, {:.3} pJ/MAC, {:.2} nJ per layer",
                    w.label,
                    e.cycles,
                    e.power.at(clk) * 1e3,
                    e.per_mac(clk) * 1e12,
                    e.layer(clk) * 1e9
                );
            }
            _ => {
                smtgen_core::outln!(
                    "  energy: not measured (no Verilog cell models; give --cell-models)"
                )
            }
        }
    }
    Ok(())
}

/// `smtgen compare` on a real library: every design mapped, timed and (with
/// arrays) simulated for energy; a terminal table plus compare.csv, compare.md,
/// compare.svg (area against throughput) and energy.svg (energy per MAC against
/// throughput) in `out`.
#[allow(clippy::too_many_arguments)]
pub fn compare_cmd(
    names: &[String],
    base: &str,
    rows: u32,
    cols: u32,
    pe_only: bool,
    out: &Path,
    lib: &Library,
    args: &LibArgs,
    jobs: usize,
) -> Result<()> {
    use crate::report::{scatter_svg_spread as scatter_svg, Point};
    let w = if pe_only {
        None
    } else {
        Some(args.workload()?)
    };
    let t0 = Instant::now();
    let costs = compare(
        names,
        base,
        rows,
        cols,
        lib,
        w.as_ref(),
        args.clock_ps,
        jobs,
    )?;
    let cores = crate::tool::cores_note(jobs, costs.len());
    let secs = t0.elapsed().as_secs_f64();
    let clk = report_clock(&costs, args.clock_ps);
    let table = compare_table(&costs, base, clk);
    let paths = paths_table(&costs);
    let scope = if pe_only {
        "PE".to_string()
    } else {
        format!("PE and {rows}x{cols} array")
    };
    let clock_note = match args.clock_ps {
        Some(p) => format!("clock {p:.0} ps"),
        None => format!("timing unconstrained; power at {clk:.0} ps, the slowest critical path"),
    };
    let energy_note = match &w {
        Some(w) if lib.models.is_some() => format!("energy on the array running a {}", w.label),
        Some(_) => "energy not measured: no Verilog cell models (give --cell-models)".into(),
        None => "no energy (--pe-only)".into(),
    };
    smtgen_core::outln!(
        "smtgen compare on {}: {scope}; ratios (x) to {base}; {clock_note}; {energy_note}; {secs:.0} s {cores}",
        describe(lib)
    );
    smtgen_core::out!("{}", table.to_text());
    smtgen_core::outln!(
        "\nPE timing paths (OpenSTA, ideal clock, input/output delay 0, reset false path):"
    );
    smtgen_core::out!("{}", paths.to_text());
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let write = |name: &str, text: String| -> Result<PathBuf> {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
        Ok(p)
    };
    let csv = write("compare.csv", table.to_csv())?;
    let md = write(
        "compare.md",
        format!(
            "# smtgen compare on {} ({scope})\n\nProduced by smtgen {}; library {}; {clock_note}; {energy_note}; {secs:.0} s {cores}. Areas in library units (µm²) and NAND2 equivalents; `crit` is the PE's critical path (period - slack), `in->reg` and `reg->reg` the worst paths from the data inputs and from registers (the two halves of a pipelined PE).\n\n{}\n## PE timing paths\n\n{}",
            lib.label,
            rtl::VERSION,
            describe(lib),
            table.to_markdown(),
            paths.to_markdown()
        ),
    )?;
    // Throughput in GMAC/s at the design's own fmax: on the layer when measured,
    // else lanes × PEs per cycle.
    let through = |c: &StaCost| match &c.array {
        Some((_, t, Some(e))) => e.macs as f64 / (e.cycles as f64 * t.critical.ps * 1e-12) / 1e9,
        Some((_, t, None)) => f64::from(c.lanes * rows * cols) * t.fmax_mhz() / 1e3,
        None => f64::from(c.lanes) * c.pe_timing.fmax_mhz() / 1e3,
    };
    let area_pts: Vec<Point> = costs
        .iter()
        .map(|c| Point {
            label: c.preset.clone(),
            x: through(c),
            y: c.array.as_ref().map_or(c.pe.area, |a| a.0.area) / 1e6,
        })
        .collect();
    let svg = write(
        "compare.svg",
        scatter_svg(
            &format!("Area against throughput ({scope}, {})", lib.label),
            if w.is_some() && lib.models.is_some() {
                "throughput on the layer at the array's fmax (GMAC/s)"
            } else {
                "peak throughput at fmax (GMAC/s)"
            },
            "area (mm²)",
            &area_pts,
        ),
    )?;
    let mut wrote = vec![csv, md, svg];
    let energy_pts: Vec<Point> = costs
        .iter()
        .filter_map(|c| {
            let e = c.array.as_ref()?.2.as_ref()?;
            Some(Point {
                label: c.preset.clone(),
                x: through(c),
                y: e.per_mac(clk) * 1e12,
            })
        })
        .collect();
    if energy_pts.len() == costs.len() && !costs.is_empty() {
        wrote.push(write(
            "energy.svg",
            scatter_svg(
                &format!(
                    "Energy against throughput ({rows}x{cols} array, {}, {clk:.0} ps clock)",
                    lib.label
                ),
                "throughput on the layer at the array's fmax (GMAC/s)",
                "energy per MAC at the common clock (pJ)",
                &energy_pts,
            ),
        )?);
    }
    smtgen_core::outln!(
        "wrote {}",
        wrote
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
