//! `smtgen`: the command line over the smtgen library (config, golden model, RTL
//! emission, simulation and benchmarks). Every subcommand takes `--preset`,
//! `--config` and `--set key=value` in the same way.

use clap::{Args, Parser, Subcommand, ValueEnum};
use smtgen::config::{Config, PRESETS};
use smtgen::error::{Error, Result};
use smtgen::model::PeModel;
use smtgen::operands::parse_lane_csv_bytes;
use smtgen::regress::{self, Tools};
use smtgen::select::{Fallback, Selection};
use smtgen::sim::{self, SimOptions, SimReport};
use smtgen::stimulus::{pe_stimulus, Depth};
use smtgen::{bench, rtl, tensors};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "smtgen",
    version,
    about = "Generate, verify and measure sparsity-exploiting DNN accelerator datapaths (SySMT, SPARQ)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Ceiling on the elements of any tensor read, built or written (default 16777216).
    #[arg(long, global = true)]
    max_elements: Option<u64>,
    /// Ceiling on simulated or modelled cycles per run (default 16777216).
    #[arg(long, global = true)]
    max_cycles: Option<u64>,
}

#[derive(Args, Clone, Default)]
struct ConfigArgs {
    /// Start from a named preset (see `smtgen presets`); default sysmt2 when no --config.
    #[arg(long)]
    preset: Option<String>,
    /// YAML config file, laid over the preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one field, e.g. --set pe.rounding=truncate (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Array rows (same as --set array.rows=R).
    #[arg(long)]
    rows: Option<u32>,
    /// Array columns (same as --set array.cols=C).
    #[arg(long)]
    cols: Option<u32>,
}

impl ConfigArgs {
    /// The design points named by --preset (`PRESET[+key=value...]`, comma-separated).
    fn specs(&self) -> Vec<String> {
        let p = self.preset.iter();
        p.flat_map(|p| p.split(',').map(str::to_string)).collect()
    }

    fn selection<'a>(&'a self, specs: &'a [String]) -> Selection<'a> {
        let mut flags = Vec::new();
        flags.extend(self.rows.map(|r| ("--rows", "array.rows", r.to_string())));
        flags.extend(self.cols.map(|c| ("--cols", "array.cols", c.to_string())));
        Selection {
            specs,
            file: self.config.as_deref(),
            sets: &self.sets,
            flags,
        }
    }

    fn build(&self) -> Result<Config> {
        self.selection(&self.specs()).resolve_one()
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SimChoice {
    Verilator,
    Icarus,
    Both,
}

#[derive(Args)]
struct RegressArgs {
    /// Comma-separated design points (default: every preset): a preset, or a preset
    /// with overrides, e.g. sysmt4+pe.window_logic=edge+pe.pipeline=1
    #[arg(long, value_delimiter = ',')]
    presets: Vec<String>,
    /// Only the PE regression (default: PE and arrays).
    #[arg(long)]
    pe: bool,
    /// Only the array regression.
    #[arg(long)]
    array: bool,
    /// Random cycles per PE under Verilator (plus the directed ones).
    #[arg(long, default_value_t = 1_000_000)]
    cycles: usize,
    /// Random cycles per PE under Icarus (plus light directed ones).
    #[arg(long, default_value_t = 20_000)]
    icarus_cycles: usize,
    /// Array sizes RxC (default 1x1,2x3,4x4,8x8,16x16; with --cover 2x3,4x4).
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<String>,
    /// Regress the covering set instead of the presets: design points that between
    /// them render every combination of every template's branch values.
    #[arg(long, conflicts_with = "presets")]
    cover: bool,
    /// With --cover: leave out the points that are presets (the default run has them).
    #[arg(long, requires = "cover")]
    skip_presets: bool,
    /// With --cover: print the covering set and which point takes each branch; run nothing.
    #[arg(long, requires = "cover")]
    list: bool,
    /// Largest K of the random GEMMs.
    #[arg(long, default_value_t = 512)]
    max_k: usize,
    /// Seed (default: from the clock, printed).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Args)]
struct EvalArgs {
    /// Threads for the engine (0: all cores).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Prune the weights first: 2:4 keeps the two largest |w| of each aligned group of
    /// four k (ties to the lower k); errors are then also reported against the dense
    /// weights. Never applied unless asked for.
    #[arg(long, value_parser = smtgen::sparse::parse_prune)]
    prune: Option<smtgen::sparse::Prune>,
    /// Comma-separated design points (default: every preset): a preset, or a preset
    /// with overrides, e.g. sysmt4+pe.window_logic=edge
    #[arg(long, value_delimiter = ',')]
    presets: Vec<String>,
    /// Array rows for the cycle counts.
    #[arg(long, default_value_t = 16)]
    rows: u32,
    /// Array columns for the cycle counts.
    #[arg(long, default_value_t = 16)]
    cols: u32,
    /// GEMM activations A (M×K): .npy uint8 or float32 (quantized), or .csv.
    #[arg(long)]
    a: Option<PathBuf>,
    /// GEMM weights W (K×N): .npy int8 or float32 (quantized per column), or .csv.
    #[arg(long)]
    w: Option<PathBuf>,
    /// Convolution input, NCHW .npy (uint8 or float32).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Convolution weights, OIHW .npy (int8 or float32).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Convolution stride.
    #[arg(long, default_value_t = 1)]
    stride: usize,
    /// Convolution zero padding.
    #[arg(long, default_value_t = 0)]
    padding: usize,
    /// Synthetic layer: relu | exp | uniform activations.
    #[arg(long)]
    synthetic: Option<String>,
    /// Synthetic M (output rows / pixels).
    #[arg(long, default_value_t = 256)]
    m: usize,
    /// Synthetic K (reduction length).
    #[arg(long, default_value_t = 576)]
    k: usize,
    /// Synthetic N (output channels).
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// Synthetic fraction of zero activations.
    #[arg(long, default_value_t = 0.5)]
    zero: f64,
    /// Seed of the synthetic layer.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Area ratios from a `smtgen compare` CSV.
    #[arg(long)]
    area: Option<PathBuf>,
    /// Write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write report.md, report.svg, report.json (and quant.json) into this directory.
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the named presets.
    Presets,
    /// Print the effective config (preset, file and --set resolved and validated).
    Config {
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Generate the array (and its PE) as Verilog with filelists.
    Gen {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Output directory.
        #[arg(long, default_value = "rtl_out")]
        out: PathBuf,
        /// Only the PE and its submodules, no array.
        #[arg(long)]
        pe_only: bool,
        /// Also write the behavioural reference `<name>_ref.v` (used by `prove`).
        #[arg(long)]
        reference: bool,
    },
    /// Run the golden model on a CSV of cycles `a0,w0,a1,w1,...` (or - for stdin);
    /// prints `p0,...,p{T-1},acc` per cycle.
    Model {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Input CSV file, or - for standard input.
        #[arg(long)]
        input: String,
    },
    /// Lint the generated Verilog with verilator --lint-only -Wall (no waivers).
    Lint {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Lint every preset.
        #[arg(long)]
        all: bool,
    },
    /// Simulate one PE against the golden model.
    Sim {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Which simulator(s).
        #[arg(long, value_enum, default_value = "verilator")]
        simulator: SimChoice,
        /// Random cycles after the directed ones.
        #[arg(long, default_value_t = 1_000_000)]
        cycles: usize,
        /// Seed of the random stimulus (default: from the clock, printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Write an FST waveform (Verilator; also WAVES=1 writes pe.fst or array.fst).
        #[arg(long)]
        waves: Option<PathBuf>,
        /// Keep the build directory here.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Simulate the array (random tiled GEMMs) instead of one PE.
        #[arg(long)]
        array: bool,
    },
    /// The regression: every preset's PE and arrays under Verilator and Icarus.
    Regress(RegressArgs),
    /// Synthesize the PE (and with --array the array) with Yosys and report area.
    Synth {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Also synthesize the whole array at the configured size.
        #[arg(long)]
        array: bool,
        #[command(flatten)]
        lib: smtgen::sta::LibArgs,
    },
    /// Synthesize several presets and compare area, throughput per area and depth
    /// with the baseline: a terminal table plus CSV, Markdown and an SVG chart.
    Compare {
        /// Comma-separated design points (default: every preset): a preset, or a
        /// preset with overrides, e.g. sysmt4+pe.window_logic=edge
        #[arg(long, value_delimiter = ',')]
        presets: Vec<String>,
        /// Array rows.
        #[arg(long, default_value_t = 8)]
        rows: u32,
        /// Array columns.
        #[arg(long, default_value_t = 8)]
        cols: u32,
        /// PEs only (no array synthesis).
        #[arg(long)]
        pe_only: bool,
        /// The design point every ratio is against (e.g. baseline+pe.pipeline=1 when
        /// comparing pipelined PEs).
        #[arg(long, default_value = "baseline")]
        baseline: String,
        /// Output directory for compare.csv, compare.md and compare.svg.
        #[arg(long, default_value = "synth_out")]
        out: PathBuf,
        #[command(flatten)]
        lib: smtgen::sta::LibArgs,
    },
    /// What each design does to a layer: collisions, error, cycles (see README).
    Eval(EvalArgs),
    /// Prove PE datapaths equal to their behavioural reference for every input
    /// (Yosys + ABC; two- and four-lane PEs split by lane activity).
    Prove {
        /// Comma-separated presets (default: all); --preset works too.
        #[arg(long, alias = "preset", value_delimiter = ',')]
        presets: Vec<String>,
        /// Prove one configuration instead: this YAML file over the (first) preset.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Prove one configuration with these overrides (repeatable), e.g.
        /// --set pe.zero_test=act.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Both rounding modes of every reducing preset.
        #[arg(long)]
        both_roundings: bool,
        /// Seconds allowed per proof.
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
    },
    /// Run C = A·W on the configured array: prints the cycle count, writes C.
    Gemm {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Activations A (M×K): .npy uint8 or .csv.
        #[arg(long)]
        a: PathBuf,
        /// Weights W (K×N): .npy int8 or .csv.
        #[arg(long)]
        w: PathBuf,
        /// Result C (M×N): .npy (int32, or int64 when acc_width > 32) or .csv.
        #[arg(long)]
        out: PathBuf,
        /// Also run the cycle-accurate array model and check it against the fast path
        /// and the latency formula (slow for large problems).
        #[arg(long)]
        cycle_accurate: bool,
        /// Threads for the engine (0: all cores).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Prune W first: 2:4 keeps the two largest |w| of each aligned group of four
        /// k (ties to the lower k). Never applied unless asked for.
        #[arg(long, value_parser = smtgen::sparse::parse_prune)]
        prune: Option<smtgen::sparse::Prune>,
    },
    /// Measure throughput: the golden model (lane-MACs/s per preset, one core) or,
    /// with --array, Verilator simulation of arrays (array cycles/s), or, with
    /// --gemm, the GEMM engine per design against a float32 GEMM.
    Bench {
        /// Cycles per measurement (default 4 M for the model, 100 k for arrays).
        #[arg(long)]
        cycles: Option<usize>,
        /// Benchmark Verilator array simulation instead of the model.
        #[arg(long)]
        array: bool,
        /// Benchmark `eval` (MACs/s per design on a 3136x576x64 ReLU layer).
        #[arg(long)]
        eval: bool,
        /// Benchmark the GEMM engine against a float32 GEMM, one core and all cores.
        #[arg(long)]
        gemm: bool,
        /// GEMM shapes MxKxN (with --gemm).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "3136x576x64,2048x2048x2048"
        )]
        shapes: Vec<String>,
        /// Threads for the "all cores" runs (with --gemm; 0: all cores).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Array sizes RxC (with --array).
        #[arg(long, value_delimiter = ',', default_value = "16x16,32x32")]
        sizes: Vec<String>,
        /// Comma-separated presets (with --array; default all).
        #[arg(long, value_delimiter = ',')]
        presets: Vec<String>,
        /// Runs of each built array model (with --array); best and median are shown.
        #[arg(long, default_value_t = 5)]
        repeat: u32,
    },
}

fn main() -> ExitCode {
    // Like other Unix filters, end quietly when the reader goes away
    // (`smtgen presets | head`) instead of failing on the closed pipe.
    #[cfg(unix)]
    // SAFETY: restores the default SIGPIPE disposition (Rust's runtime ignores it)
    // before any thread exists or any output is written.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    smtgen::guard::install_interrupt_cleanup();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    smtgen::guard::set_limits(cli.max_elements, cli.max_cycles);
    match smtgen::guard::unused_flags(&matches).and_then(|()| run(cli.cmd)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("smtgen: {e}");
            ExitCode::from(2)
        }
    }
}

fn seed_or_clock(seed: Option<u64>) -> u64 {
    seed.or_else(|| std::env::var("SMTGEN_SEED").ok()?.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 % 1_000_000_007)
                .unwrap_or(1)
        })
}

fn run(cmd: Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Presets => {
            for p in PRESETS {
                println!("{:<15} {}", p.name, p.about);
            }
        }
        Cmd::Config { cfg } => print!("{}", cfg.build()?.to_yaml()),
        Cmd::Gen {
            cfg,
            out,
            pe_only,
            reference,
        } => {
            let cfg = cfg.build()?;
            smtgen::guard::check_out_dir("--out", &out)?;
            let t0 = std::time::Instant::now();
            let mut files = if pe_only {
                rtl::generate_pe(&cfg)?
            } else {
                rtl::generate_array(&cfg)?
            };
            if reference {
                files.extend(rtl::generate_reference(&cfg)?);
            }
            let set: Vec<(String, Vec<u8>)> = files
                .iter()
                .map(|f| (f.name.clone(), f.text.clone().into_bytes()))
                .collect();
            let paths = smtgen::guard::write_set("--out", &out, &set)?;
            let what = if pe_only {
                "PE".to_string()
            } else {
                format!("{}x{} array", cfg.array.rows, cfg.array.cols)
            };
            println!(
                "smtgen: wrote {} files for {} ({what} of {} PEs, {} lane(s)) to {} in {:.0} ms",
                paths.len(),
                cfg.name,
                cfg.pe.policy,
                cfg.pe.threads,
                out.display(),
                t0.elapsed().as_secs_f64() * 1e3
            );
            for p in &paths {
                println!("  {}", p.display());
            }
        }
        Cmd::Model { cfg, input } => model_cmd(&cfg.build()?, &input)?,
        Cmd::Lint { cfg, all } => {
            let specs = cfg.specs();
            let cfgs = cfg.selection(&specs).resolve_labelled(if all {
                Fallback::All
            } else {
                Fallback::One
            })?;
            for (label, c) in cfgs {
                let files = rtl::generate_pe(&c)?;
                let out = sim::lint(&files, &rtl::pe_top(&c))?;
                println!(
                    "{:<15} lint clean ({} files, -Wall, no waivers){}",
                    label,
                    files.len() - 1,
                    if out.trim().is_empty() {
                        String::new()
                    } else {
                        format!("\n{out}")
                    }
                );
            }
        }
        Cmd::Sim {
            cfg,
            simulator,
            cycles,
            seed,
            waves,
            keep,
            array,
        } => {
            let cfg = cfg.build()?;
            smtgen::guard::cycles("--cycles", cycles as u64, true)?;
            let seed = seed_or_clock(seed);
            let waves = waves.or_else(|| {
                (std::env::var("WAVES").as_deref() == Ok("1"))
                    .then(|| PathBuf::from(if array { "array.fst" } else { "pe.fst" }))
            });
            if let Some(w) = &waves {
                if simulator == SimChoice::Icarus {
                    let allowed =
                        "only with --simulator verilator or both (Icarus writes no waveform)";
                    return Err(Error::config("--waves", w.display(), allowed));
                }
                smtgen::guard::check_out_file("--waves", w, &[])?;
            }
            let waves = waves.map(|w| std::path::absolute(&w).unwrap_or(w));
            let opts = SimOptions {
                waves: waves.clone(),
                keep_dir: keep,
                ..Default::default()
            };
            let mut ok = true;
            if array {
                let files = rtl::generate_array(&cfg)?;
                let gemms = regress::array_workload(&cfg, seed, 512);
                let run = smtgen::array::run_gemms(
                    &cfg,
                    &gemms,
                    0.1,
                    &mut smtgen::stimulus::Rng::new(seed),
                );
                if simulator != SimChoice::Icarus {
                    ok &= print_report(&sim::run_verilator_array(&cfg, &files, &run, seed, &opts)?);
                }
                if simulator != SimChoice::Verilator {
                    ok &= print_report(&sim::run_icarus_array(&cfg, &files, &run, seed, &opts)?);
                }
                return Ok(if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            let files = rtl::generate_pe(&cfg)?;
            if simulator != SimChoice::Icarus {
                let stim = pe_stimulus(&cfg.pe, seed, Depth::Full, cycles);
                let r = sim::run_verilator_pe(&cfg, &files, &stim, &opts)?;
                ok &= print_report(&r);
            }
            if simulator != SimChoice::Verilator {
                let stim = pe_stimulus(&cfg.pe, seed, Depth::Light, cycles.min(200_000));
                let r = sim::run_icarus_pe(&cfg, &files, &stim, &opts)?;
                ok &= print_report(&r);
            }
            if let Some(w) = waves.filter(|w| !w.is_file()) {
                return Err(Error::tool(
                    "verilator",
                    format!("wrote no waveform to {}", w.display()),
                ));
            }
            if !ok {
                return Ok(ExitCode::from(1));
            }
        }
        Cmd::Regress(a) => return regress(a),
        Cmd::Eval(a) => eval_cmd(a)?,
        Cmd::Prove {
            presets,
            config,
            sets,
            both_roundings,
            timeout,
        } => {
            // With no design point named, --config/--set make one configuration
            // (over the default preset, or the file alone); otherwise every point
            // named (or every preset) takes the file and the overrides.
            let one = presets.is_empty() && (config.is_some() || !sets.is_empty());
            let sel = Selection {
                specs: &presets,
                file: config.as_deref(),
                sets: &sets,
                flags: Vec::new(),
            };
            let chosen = sel.resolve_labelled(if one { Fallback::One } else { Fallback::All })?;
            return prove_cmd(chosen, both_roundings, timeout);
        }
        Cmd::Compare {
            presets,
            rows,
            cols,
            pe_only,
            baseline,
            out,
            lib,
        } => compare_cmd(&presets, &baseline, rows, cols, pe_only, &out, &lib)?,
        Cmd::Synth { cfg, array, lib } => {
            let cfg = cfg.build()?;
            if let Some(l) = lib.library()? {
                smtgen::sta::synth_cmd(&cfg, &l, &lib, array)?;
                return Ok(ExitCode::SUCCESS);
            }
            let pe = smtgen::synth::synth_pe(&cfg)?;
            print_synth(&pe);
            if array {
                print_synth(&smtgen::synth::synth_array(&cfg)?);
            }
        }
        Cmd::Gemm {
            cfg,
            a,
            w,
            out,
            cycle_accurate,
            jobs,
            prune,
        } => gemm_cmd(&cfg.build()?, &a, &w, &out, cycle_accurate, jobs, prune)?,
        Cmd::Bench {
            gemm: true,
            shapes,
            presets,
            repeat,
            jobs,
            ..
        } => bench_gemm(&shapes, &presets, repeat, jobs)?,
        Cmd::Bench { eval: true, .. } => {
            println!("eval throughput, synthetic ReLU layer 3136x576x64 (a 3x3, 64->64 conv on 56x56), 50% zeros, all cores");
            for (p, r) in bench::eval_throughput(3136, 576, 64)? {
                println!("{p:<15} {:>8.0} M MACs/s", r / 1e6);
            }
        }
        Cmd::Bench {
            cycles,
            array: true,
            sizes,
            presets,
            repeat,
            ..
        } => {
            let cycles = cycles.unwrap_or(100_000);
            smtgen::guard::cycles("--cycles", cycles as u64, false)?;
            let names: Vec<String> = if presets.is_empty() {
                PRESETS.iter().map(|p| p.name.to_string()).collect()
            } else {
                presets
            };
            let repeat = repeat.max(1);
            println!("Verilator array simulation speed, one core, ~{cycles} cycles, every output compared, {repeat} run(s) per build");
            println!(
                "{:<15} {:>7} {:>10} {:>9} {:>15} {:>15}",
                "preset", "size", "cycles", "build s", "best cycles/s", "median cycles/s"
            );
            for (r, c) in parse_sizes(&sizes)? {
                for name in &names {
                    let size = [format!("array.rows={r}"), format!("array.cols={c}")];
                    let cfg = smtgen::config::design_point(name, &size)?;
                    let rep = bench::array_throughput(&cfg, cycles, repeat)?;
                    let mut runs = rep.runs.clone();
                    runs.sort_by(f64::total_cmp);
                    let rate = |s: f64| rep.cycles as f64 / s.max(1e-9) / 1e3;
                    println!(
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
        }
        Cmd::Bench { cycles, .. } => {
            let cycles = cycles.unwrap_or(4_000_000);
            smtgen::guard::cycles("--cycles", cycles as u64, false)?;
            println!("golden model throughput, one core, {cycles} cycles, 50% zero activations");
            println!("{:<15} {:>16}", "preset", "lane-MACs/s");
            for r in bench::model_throughput(cycles, 3)? {
                println!(
                    "{:<15} {:>12.1} M   (checksum {})",
                    r.preset,
                    r.lane_macs_per_s / 1e6,
                    r.checksum
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `smtgen bench --gemm`: the engine per design against a float32 GEMM.
fn bench_gemm(shapes: &[String], presets: &[String], repeat: u32, jobs: usize) -> Result<()> {
    let names: Vec<String> = if presets.is_empty() {
        PRESETS.iter().map(|p| p.name.to_string()).collect()
    } else {
        presets.to_vec()
    };
    let designs: Vec<(String, Config)> = names
        .iter()
        .map(|n| {
            Ok((
                n.clone(),
                smtgen::config::design_point(n, &[] as &[String])?,
            ))
        })
        .collect::<Result<_>>()?;
    let mut parsed = Vec::new();
    for s in shapes {
        let dims: Vec<usize> = s
            .split('x')
            .map(|d| d.parse::<usize>().ok().filter(|&v| v > 0))
            .collect::<Option<_>>()
            .unwrap_or_default();
        match dims[..] {
            [m, k, n] => parsed.push((m, k, n)),
            _ => {
                return Err(Error::config(
                    "--shapes",
                    s,
                    "MxKxN with positive integers, e.g. 3136x576x64",
                ))
            }
        }
    }
    let threads = if jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        jobs
    };
    for shape in parsed {
        let b = bench::gemm_throughput(shape, &designs, jobs, repeat.max(1) as usize)?;
        let (m, k, n) = b.shape;
        println!(
            "GEMM {m}x{k}x{n} ({:.2} G MACs), synthetic ReLU layer (50% zero activations), best of {repeat}, engine kernel {}",
            (m * k * n) as f64 / 1e9,
            b.kernel
        );
        println!(
            "float32 reference (matrixmultiply sgemm, 1 thread): {:.1} G MACs/s wall, {:.1} G MACs per CPU-s",
            b.float32 / 1e9,
            b.float32_cpu / 1e9
        );
        println!(
            "engine kernel {} alone, data in L1 (8x1024 . 1024x64 repeated, 1 thread): {:.1} G MACs/s",
            b.kernel,
            b.kernel_peak / 1e9
        );
        println!("(wall: best wall-clock run; cpu: per CPU second, what a run costs when other processes share the cores)");
        println!(
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
            println!(
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

fn print_report(r: &SimReport) -> bool {
    println!(
        "{:<15} {:<9} seed={} cycles={} mismatches={} (build {:.1}s, run {:.2}s, {:.2} M cycles/s)",
        r.design,
        r.simulator.name(),
        r.seed,
        r.cycles,
        r.mismatches,
        r.build_s,
        r.run_s,
        r.cycles as f64 / r.run_s.max(1e-9) / 1e6
    );
    for d in &r.details {
        println!("  {d}");
    }
    r.mismatches == 0
}

fn model_cmd(cfg: &Config, input: &str) -> Result<()> {
    // At most 64 bytes per allowed cycle (a 4-lane line is under 40).
    let limit = smtgen::guard::max_cycles().saturating_mul(64);
    let raise = "raise with --max-cycles";
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
    let mut model = PeModel::new(&cfg.pe);
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

/// Loads the evaluation workload and its quantization parameters (when floats
/// were quantized here).
fn eval_workload(
    a: &EvalArgs,
) -> Result<(
    String,
    smtgen::array::Gemm,
    Option<smtgen::eval::QuantParams>,
)> {
    use smtgen::eval::{self as ev, ConvShape};
    use smtgen::tensors::{read_tensor, NpyValues};
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
        smtgen::guard::gemm_dims("--m/--k/--n", a.m, a.k, a.n)?;
        let (g, q) = ev::synthetic(a.m, a.k, a.n, ev::Distribution::parse(d)?, a.zero, a.seed)?;
        let name = format!(
            "synthetic {d} {}x{}x{} ({:.0}% zero activations, seed {})",
            a.m,
            a.k,
            a.n,
            100.0 * a.zero,
            a.seed
        );
        return Ok((name, g, Some(q)));
    }
    let acts = |p: &std::path::Path, what: &str| -> Result<(Vec<usize>, Vec<u8>, Option<f32>)> {
        if p.extension().and_then(|e| e.to_str()) != Some("npy") {
            let m = tensors::read_activations(p)?;
            return Ok((vec![m.rows, m.cols], m.data, None));
        }
        let (shape, v, _) = read_tensor(p, &["|u1", "<f4", "<f8"], what)?;
        Ok(match v {
            NpyValues::Int(v) => (shape, v.into_iter().map(|x| x as u8).collect(), None),
            NpyValues::Float(v) => {
                let f: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
                let (q, s) = ev::quantize_activations(&f, &p.display().to_string())?;
                (shape, q, Some(s))
            }
        })
    };
    let wgts = |p: &std::path::Path, what: &str| -> Result<(Vec<usize>, NpyValues)> {
        if p.extension().and_then(|e| e.to_str()) != Some("npy") {
            let m = tensors::read_weights(p)?;
            return Ok((
                vec![m.rows, m.cols],
                NpyValues::Int(m.data.into_iter().map(i64::from).collect()),
            ));
        }
        let (shape, v, _) = read_tensor(p, &["|i1", "<f4", "<f8"], what)?;
        Ok((shape, v))
    };
    let shape_err = |file: &std::path::Path, what: String| Error::Input {
        file: file.display().to_string(),
        at: "shape".into(),
        what,
    };
    if let (Some(ap), Some(wp)) = (&a.a, &a.w) {
        let (ash, av, ascale) = acts(ap, "activations (uint8 or float32)")?;
        let (wsh, wv) = wgts(wp, "weights (int8 or float32)")?;
        if ash.len() != 2 || wsh.len() != 2 {
            return Err(shape_err(
                if ash.len() != 2 { ap } else { wp },
                "A and W must be 2-D".into(),
            ));
        }
        if ash[1] != wsh[0] {
            return Err(shape_err(
                ap,
                format!(
                    "A is {}x{} and W is {}x{}: A's columns must equal W's rows (K)",
                    ash[0], ash[1], wsh[0], wsh[1]
                ),
            ));
        }
        let (k, n) = (wsh[0], wsh[1]);
        smtgen::guard::gemm_dims("--a/--w", ash[0], k, n)?;
        let (w, wscales) = match wv {
            NpyValues::Int(v) => (v.into_iter().map(|x| x as i8).collect(), None),
            NpyValues::Float(v) => {
                // Output channel o is column o of W: quantize per column.
                let by_col: Vec<f32> = (0..n)
                    .flat_map(|o| (0..k).map(move |kk| (o, kk)))
                    .map(|(o, kk)| v[kk * n + o] as f32)
                    .collect();
                let (q, s) = ev::quantize_weights(&by_col, n);
                let mut w = vec![0i8; k * n];
                for o in 0..n {
                    for kk in 0..k {
                        w[kk * n + o] = q[o * k + kk];
                    }
                }
                (w, Some(s))
            }
        };
        let q = (ascale.is_some() || wscales.is_some()).then(|| ev::QuantParams {
            act_scale: ascale.unwrap_or(1.0),
            weight_scales: wscales.unwrap_or_else(|| vec![1.0; n]),
        });
        let g = smtgen::array::Gemm {
            m: ash[0],
            k,
            n,
            a: av,
            w,
        };
        return Ok((
            format!(
                "GEMM {}x{}x{} ({} . {})",
                g.m,
                g.k,
                g.n,
                ap.display(),
                wp.display()
            ),
            g,
            q,
        ));
    }
    let (Some(ip), Some(wp)) = (&a.input, &a.weights) else {
        return Err(Error::config(
            "--input/--weights",
            "(one missing)",
            "both files of the convolution",
        ));
    };
    let (ish, iv, ascale) = acts(ip, "convolution input NCHW (uint8 or float32)")?;
    let (wsh, wv) = wgts(wp, "convolution weights OIHW (int8 or float32)")?;
    if ish.len() != 4 {
        return Err(shape_err(ip, format!("{ish:?} is not NCHW (4-D)")));
    }
    if wsh.len() != 4 {
        return Err(shape_err(wp, format!("{wsh:?} is not OIHW (4-D)")));
    }
    if ish[1] != wsh[1] {
        return Err(shape_err(
            wp,
            format!(
                "weights take {} input channels, the input has {}",
                wsh[1], ish[1]
            ),
        ));
    }
    smtgen::guard::conv_dims(
        [ish[0], ish[1], ish[2], ish[3]],
        [wsh[0], wsh[1], wsh[2], wsh[3]],
        a.stride,
        a.padding,
    )?;
    let s = ConvShape {
        n: ish[0],
        c: ish[1],
        h: ish[2],
        w: ish[3],
        o: wsh[0],
        kh: wsh[2],
        kw: wsh[3],
        stride: a.stride,
        pad: a.padding,
    };
    if s.h + 2 * s.pad < s.kh || s.w + 2 * s.pad < s.kw {
        return Err(shape_err(
            wp,
            format!(
                "a {}x{} kernel does not fit the padded {}x{} input",
                s.kh,
                s.kw,
                s.h + 2 * s.pad,
                s.w + 2 * s.pad
            ),
        ));
    }
    let (wq, wscales) = match wv {
        NpyValues::Int(v) => (v.into_iter().map(|x| x as i8).collect::<Vec<i8>>(), None),
        NpyValues::Float(v) => {
            let f: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
            let (q, sc) = ev::quantize_weights(&f, s.o);
            (q, Some(sc))
        }
    };
    let q = (ascale.is_some() || wscales.is_some()).then(|| ev::QuantParams {
        act_scale: ascale.unwrap_or(1.0),
        weight_scales: wscales.unwrap_or_else(|| vec![1.0; s.o]),
    });
    let g = ev::lower_conv(&s, &iv, &wq);
    let (oh, ow) = s.out_hw();
    Ok((format!("conv {}x{}x{}x{} * {}x{}x{}x{}, stride {}, padding {} -> GEMM {}x{}x{} ({oh}x{ow} outputs)", s.n, s.c, s.h, s.w, s.o, s.c, s.kh, s.kw, s.stride, s.pad, g.m, g.k, g.n), g, q))
}

fn eval_cmd(a: EvalArgs) -> Result<()> {
    use smtgen::eval::{eval_table, evaluate_design_jobs, exact_gemm_jobs, read_area_ratios};
    let kernel = smtgen::engine::Kernel::from_env()?;
    let names: Vec<String> = if a.presets.is_empty() {
        PRESETS.iter().map(|p| p.name.to_string()).collect()
    } else {
        a.presets.clone()
    };
    let mut names = names;
    let mut cfgs = Selection {
        specs: &names,
        flags: vec![
            ("--rows", "array.rows", a.rows.to_string()),
            ("--cols", "array.cols", a.cols.to_string()),
        ],
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
        smtgen::guard::check_out_file("--json", p, &inputs)?;
    }
    if let Some(d) = &a.report {
        smtgen::guard::check_out_dir("--report", d)?;
    }
    let areas = a.area.as_deref().map(read_area_ratios).transpose()?;
    let (name, mut g, quant) = eval_workload(&a)?;
    let what =
        a.w.as_ref()
            .or(a.weights.as_ref())
            .map_or("the synthetic weights".to_string(), |p| {
                p.display().to_string()
            });
    if a.presets.is_empty()
        && a.prune.is_none()
        && !smtgen::sparse::is_2_4(&g.w, g.k, g.n)
        && cfgs.iter().any(|c| c.pe.stc)
    {
        // The default list leaves the 2:4-sparse designs out of a dense workload, and
        // says so; named ones are checked (and refused) below.
        let left: Vec<String> = names
            .iter()
            .zip(&cfgs)
            .filter(|(_, c)| c.pe.stc)
            .map(|(n, _)| n.clone())
            .collect();
        println!(
            "note: {} left out: {what} are not 2:4-sparse (add --prune 2:4, or name them in --presets)",
            left.join(", ")
        );
        let keep: Vec<bool> = cfgs.iter().map(|c| !c.pe.stc).collect();
        let mut it = keep.iter();
        cfgs.retain(|_| *it.next().unwrap_or(&true));
        let mut it = keep.iter();
        names.retain(|_| *it.next().unwrap_or(&true));
    }
    let dense_w = a.prune.map(|_| g.w.clone());
    let pes: Vec<&smtgen::config::PeConfig> = cfgs.iter().map(|c| &c.pe).collect();
    let note = smtgen::sparse::prepare_weights(&mut g.w, g.k, g.n, a.prune, &pes, &what)?;
    println!(
        "smtgen eval: {name}, {} MACs, {}x{} array",
        g.m * g.n * g.k,
        a.rows,
        a.cols
    );
    if let Some(n) = note {
        println!("{n}");
    }
    if let Some(q) = &quant {
        let (lo, hi) = q
            .weight_scales
            .iter()
            .fold((f32::INFINITY, 0.0f32), |(l, h), &s| (l.min(s), h.max(s)));
        println!("quantization: activations per tensor, scale {:.6e} (real = q * scale); weights per output channel, {} scales in {:.3e}..{:.3e}", q.act_scale, q.weight_scales.len(), lo, hi);
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
    print!("{}", table.to_text());
    if let Some(dw) = &dense_w {
        // Against the dense weights: what pruning and the design cost together.
        let dense = exact_gemm_jobs(
            &smtgen::array::Gemm {
                w: dw.clone(),
                ..g.clone()
            },
            a.jobs,
        );
        println!("against the exact GEMM of the dense (unpruned) weights:");
        println!("  {:<24} {:>10} {:>12}", "design", "SQNR dB", "rel L2 %");
        let row = |label: &str, c: &[i64]| {
            let (mut num, mut den) = (0f64, 0f64);
            for (x, r) in c.iter().zip(&dense) {
                num += ((x - r) as f64).powi(2);
                den += (*r as f64).powi(2);
            }
            println!(
                "  {:<24} {:>10.2} {:>12.3}",
                label,
                10.0 * (den / num.max(f64::MIN_POSITIVE)).log10(),
                100.0 * (num / den.max(f64::MIN_POSITIVE)).sqrt()
            );
        };
        row("exact on pruned weights", &exact);
        for (e, c) in evals.iter().zip(&results) {
            row(&e.design, c);
        }
    }
    println!(
        "{:.2} s, {:.0} M MACs/s over {} designs on {} thread(s), engine kernel {}",
        secs,
        (g.m * g.n * g.k * cfgs.len()) as f64 / secs / 1e6,
        cfgs.len(),
        if a.jobs == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            a.jobs
        },
        kernel
    );
    let json = serde_json::json!({
        "generator": format!("smtgen {}", rtl::VERSION),
        "workload": name,
        "m": g.m, "k": g.k, "n": g.n,
        "array": {"rows": a.rows, "cols": a.cols},
        "quantization": quant,
        "designs": evals,
    });
    let json_text = serde_json::to_string_pretty(&json)
        .map_err(|e| Error::tool("serde_json", e.to_string()))?;
    if let Some(p) = &a.json {
        smtgen::guard::write_file(p, json_text.as_bytes())?;
    }
    if let Some(dir) = &a.report {
        use smtgen::report::{scatter_svg, Point};
        // The report set is rendered in full, then written at once.
        let set = std::cell::RefCell::new(Vec::<(String, Vec<u8>)>::new());
        let w = |f: &str, t: &str| -> Result<()> {
            set.borrow_mut()
                .push((f.to_string(), t.as_bytes().to_vec()));
            Ok(())
        };
        w("report.json", &json_text)?;
        if let Some(q) = &quant {
            w(
                "quant.json",
                &serde_json::to_string_pretty(q)
                    .map_err(|e| Error::tool("serde_json", e.to_string()))?,
            )?;
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
        )?;
        w("report.md", &format!("# smtgen eval\n\nWorkload: {name}, {} MACs, {}x{} array. smtgen {}.\n\n{}\nActive lanes/cycle: share of PE cycles with 0, 1, ..., T active lanes. Reduced: share of active lane products that went through a window or nibble. Errors against the exact integer GEMM.\n\n![error against speedup](report.svg)\n", g.m * g.n * g.k, a.rows, a.cols, rtl::VERSION, table.to_markdown()))?;
        smtgen::guard::write_set("--report", dir, &set.into_inner())?;
        println!("wrote {}", dir.display());
    }
    Ok(())
}

fn prove_cmd(
    chosen: Vec<(String, Config)>,
    both_roundings: bool,
    timeout: u64,
) -> Result<ExitCode> {
    let mut cfgs = Vec::new();
    for (label, c) in chosen {
        if both_roundings && c.pe.rounding.is_some() {
            let mut t = c.clone();
            t.pe.rounding = Some(smtgen::config::Rounding::Truncate);
            t.name = format!("{}_trunc", c.name);
            let tl = if label == c.name {
                t.name.clone()
            } else {
                format!("{label}+pe.rounding=truncate")
            };
            cfgs.push((label, c));
            cfgs.push((tl, t));
        } else {
            cfgs.push((label, c));
        }
    }
    let (mut passed, mut failed) = (0, 0);
    println!(
        "{:<22} {:>12} {:>10} {:>6} {:>8} {:>8}",
        "design", "rounding", "input bits", "miters", "seconds", "slowest"
    );
    for (label, c) in &cfgs {
        let p = smtgen::prove::prove(c, timeout)?;
        let r = c.pe.rounding.map_or("-", |r| r.name());
        let row = format!(
            "{:<22} {:>12} {:>10} {:>6} {:>8.1} {:>8.1}",
            label, r, p.input_bits, p.cases, p.seconds, p.slowest
        );
        if p.proven {
            passed += 1;
            println!("{row}  PROVEN equal to the reference for all inputs");
        } else {
            failed += 1;
            match &p.counterexample {
                Some(x) => {
                    println!("{row}  REFUTED");
                    println!("  counterexample: acts {:?} wgts {:?}: optimized {} reference {} golden model {}", x.acts, x.wgts, x.optimized, x.reference, x.model);
                }
                None => println!("{row}  UNDECIDED (timed out)"),
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn gemm_cmd(
    cfg: &Config,
    a: &std::path::Path,
    w: &std::path::Path,
    out: &std::path::Path,
    cycle_accurate: bool,
    jobs: usize,
    prune: Option<smtgen::sparse::Prune>,
) -> Result<()> {
    use smtgen::array::{gemm_cycles, run_gemm, Gemm};
    smtgen::guard::check_out_file("--out", out, &[a, w])?;
    let kernel = smtgen::engine::Kernel::from_env()?;
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
    smtgen::guard::gemm_dims("--a/--w", am.rows, am.cols, wm.cols)?;
    let mut g = Gemm {
        m: am.rows,
        k: am.cols,
        n: wm.cols,
        a: am.data,
        w: wm.data,
    };
    let note = smtgen::sparse::prepare_weights(
        &mut g.w,
        g.k,
        g.n,
        prune,
        &[&cfg.pe],
        &w.display().to_string(),
    )?;
    if let Some(n) = note {
        println!("{n}");
    }
    let c = smtgen::engine::gemm_with(cfg, &g, jobs, kernel, &|_| {});
    let (r, cc) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let groups = g.groups(cfg.pe.lanes());
    let tiles = g.tiles(r, cc);
    let cycles = gemm_cycles(
        r as u64,
        cc as u64,
        cfg.pe.extra_latency(),
        groups as u64,
        tiles as u64,
    );
    if cycle_accurate {
        let run = run_gemm(cfg, &g, 0.0, &mut smtgen::stimulus::Rng::new(0));
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
    println!(
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
        cfg.pe.threads,
        tiles,
        groups,
        cycles,
        if cycle_accurate { " (cycle-accurate model agrees)" } else { "" },
        kernel,
        out.display()
    );
    Ok(())
}

fn compare_cmd(
    presets: &[String],
    base: &str,
    rows: u32,
    cols: u32,
    pe_only: bool,
    out: &std::path::Path,
    lib: &smtgen::sta::LibArgs,
) -> Result<()> {
    use smtgen::report::{scatter_svg, Point};
    use smtgen::synth;
    let names: Vec<String> = if presets.is_empty() {
        PRESETS.iter().map(|p| p.name.to_string()).collect()
    } else {
        presets.to_vec()
    };
    // Every point and the output directory are validated before anything is
    // synthesized or written.
    let mut all = names.clone();
    all.push(base.to_string());
    Selection {
        specs: &all,
        flags: vec![
            ("--rows", "array.rows", rows.to_string()),
            ("--cols", "array.cols", cols.to_string()),
        ],
        ..Default::default()
    }
    .resolve(Fallback::All)?;
    smtgen::guard::check_out_dir("--out", out)?;
    if let Some(l) = lib.library()? {
        return smtgen::sta::compare_cmd(&names, base, rows, cols, pe_only, out, &l, lib);
    }
    let t0 = std::time::Instant::now();
    let costs = synth::compare(&names, base, rows, cols, !pe_only)?;
    let yosys = costs
        .first()
        .map(|c| c.pe.yosys.clone())
        .unwrap_or_default();
    let table = synth::compare_table(&costs, base);
    let parts = synth::parts_table(&costs);
    let scope = if pe_only {
        "PE".to_string()
    } else {
        format!("PE and {rows}x{cols} array")
    };
    println!("smtgen compare: {scope}, areas in NAND2 equivalents (GE), ratios (x) to {base}; {yosys}; {:.0} s on 2 cores", t0.elapsed().as_secs_f64());
    print!("{}", table.to_text());
    println!("\nPE area by part (GE):");
    print!("{}", parts.to_text());
    let csv = out.join("compare.csv");
    let md = out.join("compare.md");
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
    let svg = out.join("compare.svg");
    let chart = scatter_svg(
        &format!("Area against throughput ({scope}, {yosys})"),
        &format!("area relative to {base}"),
        "lanes (MACs) per cycle",
        &points,
    );
    smtgen::guard::write_set(
        "--out",
        out,
        &[
            ("compare.csv".into(), table.to_csv().into_bytes()),
            ("compare.md".into(), text.into_bytes()),
            ("compare.svg".into(), chart.into_bytes()),
        ],
    )?;
    println!(
        "wrote {}, {}, {}",
        csv.display(),
        md.display(),
        svg.display()
    );
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

fn print_row(widths: &[usize], cols: &[String]) {
    let line: Vec<String> = cols
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (c, w))| {
            if i == 0 {
                format!("{c:<w$}")
            } else {
                format!("{c:>w$}")
            }
        })
        .collect();
    println!("{}", line.join("  "));
}

fn regress(a: RegressArgs) -> Result<ExitCode> {
    let seed = seed_or_clock(a.seed);
    smtgen::guard::cycles("--cycles", a.cycles as u64, true)?;
    smtgen::guard::cycles("--icarus-cycles", a.icarus_cycles as u64, true)?;
    if a.max_k == 0 {
        return Err(Error::config("--max-k", 0, "1 or more"));
    }
    // The largest array tile is 2*128+2 rows of A over K.
    smtgen::guard::elements("--max-k", &[258, a.max_k as u64])?;
    let tools = Tools::detect()?;
    for (tool, have) in [("verilator", tools.verilator), ("iverilog", tools.icarus)] {
        if !have {
            println!("WARNING: {tool} not installed: its part of the regression is SKIPPED");
        }
    }
    let names: Vec<String> = if a.cover {
        let points = smtgen::cover::covering_set()?;
        if a.list {
            print!("{}", smtgen::cover::describe(&points));
            return Ok(ExitCode::SUCCESS);
        }
        let problems = smtgen::cover::check(&points);
        if !problems.is_empty() {
            return Err(Error::tool("cover", problems.join("; ")));
        }
        points
            .into_iter()
            .filter(|p| !(a.skip_presets && p.is_preset()))
            .map(|p| p.spec)
            .collect()
    } else if a.presets.is_empty() {
        PRESETS.iter().map(|p| p.name.to_string()).collect()
    } else {
        a.presets.clone()
    };
    // Every point is validated before anything runs.
    for n in &names {
        smtgen::config::design_point(n, &[] as &[&str])?;
    }
    let (do_pe, do_array) = match (a.pe, a.array) {
        (false, false) => (true, true),
        x => x,
    };
    println!("smtgen regression, seed={seed} (reproduce with --seed {seed})");
    let (mut passed, mut failed) = (0, 0);
    let mut tally = |line: &regress::Line| {
        if line.ok {
            passed += 1;
        } else {
            failed += 1;
        }
        for n in &line.notes {
            println!("  {n}");
        }
    };
    if do_pe {
        let w = [15, 5, 16, 8, 13, 8, 12];
        print_row(&w, &regress::PE_HEADER.map(String::from));
        for name in &names {
            let line = regress::pe_line(name, tools, a.cycles, a.icarus_cycles, seed)?;
            let mut cols = vec![line.name.clone()];
            cols.extend(line.cols.iter().cloned());
            print_row(&w, &cols);
            tally(&line);
        }
    }
    if do_array {
        let default_sizes = if a.cover {
            "2x3,4x4"
        } else {
            "1x1,2x3,4x4,8x8,16x16"
        };
        let sizes = if a.sizes.is_empty() {
            parse_sizes(
                &default_sizes
                    .split(',')
                    .map(String::from)
                    .collect::<Vec<_>>(),
            )?
        } else {
            parse_sizes(&a.sizes)?
        };
        // One array configuration per policy also runs under Icarus.
        let mut icarus_policy = std::collections::HashSet::new();
        let w = [24, 5, 5, 7, 7, 7, 16, 7, 8, 12];
        print_row(&w, &regress::ARRAY_HEADER.map(String::from));
        for name in &names {
            let policy = smtgen::config::design_point(name, &[] as &[&str])?
                .pe
                .policy;
            for &(r, c) in &sizes {
                let icarus = (r, c) == (4, 4) && icarus_policy.insert(policy);
                let line = regress::array_line(name, r, c, tools, icarus, seed, a.max_k)?;
                let mut cols = vec![line.name.clone()];
                cols.extend(line.cols.iter().cloned());
                print_row(&w, &cols);
                tally(&line);
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn parse_sizes(s: &[String]) -> Result<Vec<(u32, u32)>> {
    s.iter()
        .map(|x| {
            let bad = || Error::config("--sizes", x, "RxC with 1 <= R, C <= 128, e.g. 4x4");
            let (r, c) = x.split_once('x').ok_or_else(bad)?;
            let r: u32 = r.parse().map_err(|_| bad())?;
            let c: u32 = c.parse().map_err(|_| bad())?;
            if !(1..=128).contains(&r) || !(1..=128).contains(&c) {
                return Err(bad());
            }
            Ok((r, c))
        })
        .collect()
}
