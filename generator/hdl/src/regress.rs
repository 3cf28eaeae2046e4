//! The regressions behind `smtgen regress`: every preset's PE (lint, Verilator on the
//! full directed set plus random cycles, Icarus on a lighter set) and every preset's
//! array at several sizes (random tiled GEMMs with idle cycles, compared output by
//! output and cycle by cycle with the cycle-accurate model, whose cycle count is
//! checked against the published stream formula).

use crate::array::{
    gemm_functional, gemm_functional_masked, run_gemms, run_gemms_masked, run_with_reset,
    stream_cycles, ArrayRun, Gemm,
};
use crate::config::Design;
use crate::error::{Error, Result};
use crate::rtl;
use crate::sim::{self, SimOptions, SimReport};
use crate::stimulus::{pe_stimulus, Depth, Rng};

/// Which simulators a regression may use.
#[derive(Debug, Clone, Copy)]
pub struct Tools {
    /// Verilator is installed.
    pub verilator: bool,
    /// Icarus Verilog is installed.
    pub icarus: bool,
    /// Parallel jobs of each simulator build (`--jobs`; 0: every core).
    pub jobs: usize,
}

impl Tools {
    /// Looks the simulators up; under `CI=true` a missing one is an error.
    pub fn detect() -> Result<Tools> {
        let t = Tools {
            verilator: crate::tool::available("verilator"),
            icarus: crate::tool::available("iverilog"),
            jobs: 0,
        };
        if std::env::var("CI").as_deref() == Ok("true") {
            for (name, have) in [("verilator", t.verilator), ("iverilog", t.icarus)] {
                if !have {
                    return Err(Error::tool(
                        name,
                        "not installed, and CI=true forbids skipping (run scripts/install-tools.sh)",
                    ));
                }
            }
        }
        Ok(t)
    }

    /// Simulation options of a regression run: defaults but for `jobs`.
    pub fn sim_options(&self) -> SimOptions {
        SimOptions {
            jobs: self.jobs,
            ..SimOptions::default()
        }
    }
}

/// One line of a regression log.
#[derive(Debug, Clone)]
pub struct Line {
    /// Preset (and size, for arrays).
    pub name: String,
    /// Columns of the line, already formatted.
    pub cols: Vec<String>,
    /// Mismatch details and errors.
    pub notes: Vec<String>,
    /// Whether everything on the line passed.
    pub ok: bool,
}

fn sim_cols(r: Result<SimReport>, line: &mut Line, extra: bool) {
    match r {
        Ok(r) => {
            line.ok &= r.mismatches == 0;
            line.notes.extend(
                r.details
                    .iter()
                    .map(|d| format!("{}: {d}", r.simulator.name())),
            );
            line.cols.push(r.cycles.to_string());
            if extra {
                line.cols.push(r.results.to_string());
            }
            line.cols.push(r.mismatches.to_string());
        }
        Err(e) => {
            line.ok = false;
            line.notes.push(e.to_string());
            line.cols.push("ERROR".into());
            if extra {
                line.cols.push("-".into());
            }
            line.cols.push("-".into());
        }
    }
}

fn skip_cols(line: &mut Line, n: usize) {
    line.cols.push("skip".into());
    for _ in 1..n {
        line.cols.push("-".into());
    }
}

/// Header of [`pe_line`]'s columns.
pub const PE_HEADER: [&str; 7] = [
    "preset",
    "lint",
    "verilator cycles",
    "mismatch",
    "icarus cycles",
    "mismatch",
    "reference",
];

/// Regresses one design point's PE (a preset, or `PRESET+key=value...`).
pub fn pe_line(
    preset: &str,
    tools: Tools,
    cycles: usize,
    icarus_cycles: usize,
    seed: u64,
) -> Result<Line> {
    let cfg = Design::point(preset, &[] as &[&str])?;
    let files = rtl::generate_pe(&cfg)?;
    let mut line = Line {
        name: preset.to_string(),
        cols: Vec::new(),
        notes: Vec::new(),
        ok: true,
    };
    let lint = lint_col(&files, &rtl::pe_top(&cfg), tools, &mut line);
    line.cols.push(lint);
    // Verilator on the full stimulus, Icarus (slower) on the light one.
    use sim::Simulator::{Icarus, Verilator};
    for (simulator, on, depth, n) in [
        (Verilator, tools.verilator, Depth::Full, cycles),
        (Icarus, tools.icarus, Depth::Light, icarus_cycles),
    ] {
        if on {
            let stim = pe_stimulus(&cfg, seed, depth, n);
            let r = simulator.pe(&cfg, &files, &stim, &tools.sim_options());
            sim_cols(r, &mut line, false);
        } else {
            skip_cols(&mut line, 2);
        }
    }
    // The behavioural reference on the same stimulus: spec, golden model and
    // reference Verilog tied together (`smtgen prove` ties reference and PE).
    if tools.verilator {
        // The reference PE has the plain interface wherever the window logic sits.
        let rcfg = cfg.with(|c| {
            c.name = format!("{}_r", c.name);
            c.pe.window_logic = crate::config::WindowLogic::InPe;
        });
        let rfiles = rtl::generate_reference_pe(&rcfg)?;
        let stim = pe_stimulus(&cfg, seed, Depth::Full, cycles / 4);
        let lint = sim::lint(&rfiles, &format!("{}_pe", rcfg.name));
        match (
            lint,
            sim::Simulator::Verilator.pe(&rcfg, &rfiles, &stim, &tools.sim_options()),
        ) {
            (Ok(l), Ok(r)) if l.trim().is_empty() => {
                line.ok &= r.mismatches == 0;
                line.notes
                    .extend(r.details.iter().map(|d| format!("reference: {d}")));
                line.cols.push(if r.mismatches == 0 {
                    format!("{} ok", r.cycles)
                } else {
                    format!("{} MISMATCH", r.mismatches)
                });
            }
            (l, r) => {
                line.ok = false;
                line.notes.push(format!(
                    "reference: lint {l:?}, run {:?}",
                    r.map(|r| r.mismatches)
                ));
                line.cols.push("ERROR".into());
            }
        }
    } else {
        line.cols.push("skip".into());
    }
    Ok(line)
}

fn lint_col(files: &[rtl::GeneratedFile], top: &str, tools: Tools, line: &mut Line) -> String {
    if !tools.verilator {
        return "skip".into();
    }
    match sim::lint(files, top) {
        Ok(out) if out.trim().is_empty() => "clean".into(),
        Ok(out) => {
            line.notes.push(out);
            line.ok = false;
            "WARN".into()
        }
        Err(e) => {
            line.notes.push(e.to_string());
            line.ok = false;
            "FAIL".into()
        }
    }
}

/// The array workload of one regression point: GEMMs of random shape (M and N up to
/// a little over two tiles, K up to `max_k`, odd and even) at 0 %, 50 % and 90 %
/// zero activations, plus one of extreme operands (255 × −128) with zero weights
/// sprinkled in.
pub fn array_workload(cfg: &Design, seed: u64, max_k: usize) -> Vec<Gemm> {
    let mut rng = Rng::new(seed ^ 0xA77A);
    let (r, c) = (cfg.array.rows as u64, cfg.array.cols as u64);
    let shape = |rng: &mut Rng| {
        (
            1 + rng.below(2 * r + 2) as usize,
            1 + rng.below(max_k as u64) as usize,
            1 + rng.below(2 * c + 2) as usize,
        )
    };
    let mut gs = Vec::new();
    for zero in [0.0, 0.5, 0.9] {
        let (m, k, n) = shape(&mut rng);
        gs.push(Gemm::random(m, k, n, zero, &mut rng));
    }
    let (m, k, n) = shape(&mut rng);
    let mut g = Gemm::random(m, k, n, 0.0, &mut rng);
    g.a.iter_mut().for_each(|a| *a = 255);
    for w in g.w.iter_mut() {
        *w = if rng.chance(0.2) { 0 } else { -128 };
    }
    gs.push(g);
    if cfg.dp().requires_2_4() {
        // 2:4-sparse weights for all but the first GEMM (which keeps dense groups,
        // where the PE takes the first two non-zero lanes).
        for g in gs.iter_mut().skip(1) {
            crate::sparse::prune_2_4(&mut g.w, g.k, g.n);
        }
    }
    gs
}

/// Header of [`array_line`]'s columns.
pub const ARRAY_HEADER: [&str; 10] = [
    "preset@size",
    "lint",
    "tiles",
    "outputs",
    "cycles",
    "formula",
    "verilator cycles",
    "results",
    "mismatch",
    "icarus",
];

/// Regresses one design point's array of one size: lint, the model against the functional
/// GEMM and the stream formula, Verilator (and Icarus when `icarus`) against the
/// model on every cycle, over a back-to-back stream, the same stream with idle
/// cycles, and a stream with reset held mid-way while tiles are in flight.
pub fn array_line(
    preset: &str,
    rows: u32,
    cols: u32,
    tools: Tools,
    icarus: bool,
    seed: u64,
    max_k: usize,
) -> Result<Line> {
    let size = [format!("array.rows={rows}"), format!("array.cols={cols}")];
    let cfg = Design::point(preset, &size)?;
    array_line_for(&cfg, preset, tools, icarus, seed, max_k)
}

/// [`array_line`] for any validated config (its own array size), labelled `label`.
pub fn array_line_for(
    cfg: &Design,
    label: &str,
    tools: Tools,
    icarus: bool,
    seed: u64,
    max_k: usize,
) -> Result<Line> {
    let cfg = cfg.clone();
    let (rows, cols) = (cfg.array.rows, cfg.array.cols);
    let files = rtl::generate_array(&cfg)?;
    let mut line = Line {
        name: format!("{label}@{rows}x{cols}"),
        cols: Vec::new(),
        notes: Vec::new(),
        ok: true,
    };
    let lint = lint_col(&files, &format!("{}_array", cfg.name), tools, &mut line);
    line.cols.push(lint);
    let gemms = array_workload(&cfg, seed, max_k);
    let mut rng = Rng::new(seed);
    // Back to back (checks the formula), then again with idle cycles between groups.
    let tight = run_gemms(&cfg, &gemms, 0.0, &mut rng);
    let loose = run_gemms(&cfg, &gemms, 0.15, &mut rng);
    for (i, g) in gemms.iter().enumerate() {
        let want = gemm_functional(&cfg, g);
        if tight.c[i] != want || loose.c[i] != want {
            line.ok = false;
            line.notes.push(format!(
                "cycle model differs from the functional GEMM on GEMM {i} ({}x{}x{})",
                g.m, g.k, g.n
            ));
        }
    }
    // The formula's groups come from the GEMM shapes, not from the run: G = ⌈K/T⌉
    // (at least 1) for T = `pe.threads` lanes per row, so four under `pe.stc`.
    let lanes = cfg.dp().lanes as usize;
    let groups: Vec<u64> = gemms
        .iter()
        .flat_map(|g| {
            let tiles = g.m.div_ceil(rows as usize) * g.n.div_ceil(cols as usize);
            std::iter::repeat_n(g.k.div_ceil(lanes).max(1) as u64, tiles)
        })
        .collect();
    if groups != tight.tile_groups {
        line.ok = false;
        line.notes.push(format!(
            "cycle model streamed tiles of {:?} groups, the shapes give {groups:?} (G = ceil(K/{lanes}))",
            tight.tile_groups
        ));
    }
    let formula = stream_cycles(rows.into(), cols.into(), cfg.pe.extra_latency(), &groups);
    line.ok &= formula == tight.cycles;
    line.cols.push((tight.tiles + loose.tiles).to_string());
    line.cols
        .push((2 * gemms.iter().map(|g| g.m * g.n).sum::<usize>()).to_string());
    line.cols.push(tight.cycles.to_string());
    line.cols.push(if formula == tight.cycles {
        "=".into()
    } else {
        format!("!= {formula}")
    });
    // Reset held for two cycles halfway through a back-to-back stream, with tiles in
    // flight: the cycle model's reset must drop them and restart clean, and the RTL
    // must do what the model does on every cycle.
    let (reset_run, clean) = run_with_reset(&cfg, &gemms, tight.inputs.len() / 2, 2, &mut rng);
    if !clean {
        line.ok = false;
        line.notes.push(
            "cycle model: the stream after a mid-stream reset differs from one after power-up"
                .into(),
        );
    }
    for (i, g) in gemms.iter().enumerate() {
        if reset_run.c[i] != gemm_functional(&cfg, g) {
            line.ok = false;
            line.notes.push(format!(
                "cycle model differs from the functional GEMM on GEMM {i} after a mid-stream reset"
            ));
        }
    }
    let mut both = concat(&concat(&tight, &loose), &reset_run);
    // array.skip: gate: the same GEMMs with seeded random skip masks (40 % skipped),
    // all-zero masks (must give exactly the unskipped results) and all-one masks
    // (all zeros), back to back and with idle cycles; the trace carries them too.
    if cfg.array.skip.on() {
        let random: Vec<Vec<bool>> = gemms
            .iter()
            .map(|g| (0..g.m * g.n).map(|_| rng.chance(0.4)).collect())
            .collect();
        let none: Vec<Vec<bool>> = gemms.iter().map(|g| vec![false; g.m * g.n]).collect();
        let all: Vec<Vec<bool>> = gemms.iter().map(|g| vec![true; g.m * g.n]).collect();
        for (what, masks, idle) in [
            ("random", &random, 0.0),
            ("random", &random, 0.15),
            ("all-zero", &none, 0.0),
            ("all-one", &all, 0.1),
        ] {
            let run = run_gemms_masked(&cfg, &gemms, masks, idle, &mut rng)?;
            for (i, g) in gemms.iter().enumerate() {
                let want = gemm_functional_masked(&cfg, g, &masks[i]);
                if run.c[i] != want {
                    line.ok = false;
                    line.notes.push(format!(
                        "cycle model differs from the functional GEMM on GEMM {i} ({}x{}x{}) \
                         with a {what} skip mask (seed {seed})",
                        g.m, g.k, g.n
                    ));
                }
                if what == "all-zero" && run.c[i] != tight.c[i] {
                    line.ok = false;
                    line.notes.push(format!(
                        "an all-zero skip mask changes GEMM {i}'s results (seed {seed})"
                    ));
                }
            }
            both = concat(&both, &run);
        }
    }
    // Idle and reset cycles carry random first/last and operands (the contract
    // says they are ignored there), and the control outputs are checked against
    // docs/array.md's timing written as its own checker, not only the model.
    if !crate::array::scramble_idle(&cfg, &mut both, &mut rng) {
        line.ok = false;
        line.notes
            .push("cycle model: outputs change with the don't-care inputs of idle cycles".into());
    }
    let timing = crate::array::check_timing(&cfg, &both.inputs, &both.outputs, 5);
    if !timing.is_empty() {
        line.ok = false;
        line.notes.extend(
            timing
                .iter()
                .map(|t| format!("timing (docs/array.md): {t}")),
        );
    }
    if tools.verilator {
        let r = sim::Simulator::Verilator.array(&cfg, &files, &both, seed, &tools.sim_options());
        sim_cols(r, &mut line, true);
    } else {
        skip_cols(&mut line, 3);
    }
    if icarus && tools.icarus {
        match sim::Simulator::Icarus.array(&cfg, &files, &both, seed, &tools.sim_options()) {
            Ok(r) => {
                line.ok &= r.mismatches == 0;
                line.notes
                    .extend(r.details.iter().map(|d| format!("iverilog: {d}")));
                line.cols.push(format!("{} ok", r.results));
                if r.mismatches > 0 {
                    line.cols.pop();
                    line.cols.push(format!("{} MISMATCH", r.mismatches));
                }
            }
            Err(e) => {
                line.ok = false;
                line.notes.push(e.to_string());
                line.cols.push("ERROR".into());
            }
        }
    } else {
        line.cols.push("-".into());
    }
    Ok(line)
}

/// Two runs one after the other in a single trace (the array is idle and drained
/// between them, so the second starts from the same state as after reset but for
/// the accumulators, which every tile restarts).
fn concat(a: &ArrayRun, b: &ArrayRun) -> ArrayRun {
    let mut r = a.clone();
    r.inputs.extend(b.inputs.iter().cloned());
    r.outputs.extend(b.outputs.iter().cloned());
    r.tiles += b.tiles;
    r
}
