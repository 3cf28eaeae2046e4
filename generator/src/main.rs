//! `smtgen`: the command line over the smtgen library (config, golden model, RTL
//! emission, simulation and benchmarks). Every subcommand takes `--preset`,
//! `--config` and `--set key=value` in the same way.

use clap::{Args, Parser, Subcommand, ValueEnum};
use smtgen::config::{Config, ConfigBuilder, PRESETS};
use smtgen::error::{Error, Result};
use smtgen::model::PeModel;
use smtgen::operands::parse_lane_csv;
use smtgen::sim::{self, SimOptions, SimReport, Simulator};
use smtgen::stimulus::{pe_stimulus, Depth};
use smtgen::{bench, rtl};
use std::io::{Read, Write};
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
}

impl ConfigArgs {
    fn build(&self) -> Result<Config> {
        ConfigBuilder::new()
            .preset(self.preset.as_deref())
            .file(self.config.as_deref())
            .sets(&self.sets)
            .build()
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SimChoice {
    Verilator,
    Icarus,
    Both,
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
    /// Generate the PE's Verilog and filelist.
    Gen {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Output directory.
        #[arg(long, default_value = "rtl_out")]
        out: PathBuf,
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
        /// Write an FST waveform (Verilator; also WAVES=1 writes pe.fst).
        #[arg(long)]
        waves: Option<PathBuf>,
        /// Keep the build directory here.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// The regression: lint, Verilator and Icarus for every preset (or --presets).
    Regress {
        /// Comma-separated presets (default: all).
        #[arg(long, value_delimiter = ',')]
        presets: Vec<String>,
        /// Random cycles per preset under Verilator (plus the directed ones).
        #[arg(long, default_value_t = 1_000_000)]
        cycles: usize,
        /// Random cycles per preset under Icarus (plus light directed ones).
        #[arg(long, default_value_t = 20_000)]
        icarus_cycles: usize,
        /// Seed (default: from the clock, printed).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Measure golden-model throughput (lane-MACs per second per preset, one core).
    Bench {
        /// Cycles per measurement.
        #[arg(long, default_value_t = 4_000_000)]
        cycles: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.cmd) {
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
        Cmd::Gen { cfg, out } => {
            let cfg = cfg.build()?;
            let files = rtl::generate_pe(&cfg)?;
            let paths = rtl::write_files(&out, &files)?;
            println!(
                "smtgen: wrote {} files for {} ({} PE, {} lane(s)) to {}",
                paths.len(),
                cfg.name,
                cfg.pe.policy,
                cfg.pe.threads,
                out.display()
            );
            for p in &paths {
                println!("  {}", p.display());
            }
        }
        Cmd::Model { cfg, input } => model_cmd(&cfg.build()?, &input)?,
        Cmd::Lint { cfg, all } => {
            let cfgs = if all {
                PRESETS
                    .iter()
                    .map(|p| Config::preset(p.name))
                    .collect::<Result<Vec<_>>>()?
            } else {
                vec![cfg.build()?]
            };
            for c in cfgs {
                let files = rtl::generate_pe(&c)?;
                let out = sim::lint(&files, &format!("{}_pe", c.name))?;
                println!(
                    "{:<15} lint clean ({} files, -Wall, no waivers){}",
                    c.name,
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
        } => {
            let cfg = cfg.build()?;
            let seed = seed_or_clock(seed);
            let waves = waves.or_else(|| {
                (std::env::var("WAVES").as_deref() == Ok("1")).then(|| PathBuf::from("pe.fst"))
            });
            let waves = waves.map(|w| std::path::absolute(&w).unwrap_or(w));
            let opts = SimOptions {
                waves,
                keep_dir: keep,
            };
            let files = rtl::generate_pe(&cfg)?;
            let mut ok = true;
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
            if !ok {
                return Ok(ExitCode::from(1));
            }
        }
        Cmd::Regress {
            presets,
            cycles,
            icarus_cycles,
            seed,
        } => return regress(&presets, cycles, icarus_cycles, seed_or_clock(seed)),
        Cmd::Bench { cycles } => {
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
    let (text, name) = if input == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::io("<stdin>", e))?;
        (s, "<stdin>".to_string())
    } else {
        (
            std::fs::read_to_string(input).map_err(|e| Error::io(input, e))?,
            input.to_string(),
        )
    };
    let t = cfg.pe.lanes();
    let ops = parse_lane_csv(&text, t, &name)?;
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

fn regress(presets: &[String], cycles: usize, icarus_cycles: usize, seed: u64) -> Result<ExitCode> {
    let names: Vec<String> = if presets.is_empty() {
        PRESETS.iter().map(|p| p.name.to_string()).collect()
    } else {
        presets.to_vec()
    };
    let strict = std::env::var("CI").as_deref() == Ok("true");
    let have_v = sim::tool_available("verilator");
    let have_i = sim::tool_available("iverilog");
    for (tool, have) in [("verilator", have_v), ("iverilog", have_i)] {
        if !have {
            if strict {
                return Err(Error::tool(tool, "not installed, and CI=true forbids skipping (run .ci/run or apt-get install verilator iverilog)"));
            }
            println!("WARNING: {tool} not installed: its part of the regression is SKIPPED");
        }
    }
    println!("smtgen regression, seed={seed} (reproduce with --seed {seed})");
    println!(
        "{:<15} {:>5} {:>12} {:>10} {:>12} {:>10}",
        "preset", "lint", "verilator", "mismatch", "icarus", "mismatch"
    );
    let (mut passed, mut failed) = (0, 0);
    for name in &names {
        let cfg = Config::preset(name)?;
        let files = rtl::generate_pe(&cfg)?;
        let top = format!("{}_pe", cfg.name);
        let mut ok = true;
        let mut notes = Vec::new();
        let lint = if have_v {
            match sim::lint(&files, &top) {
                Ok(out) if out.trim().is_empty() => "clean",
                Ok(out) => {
                    notes.push(out);
                    ok = false;
                    "WARN"
                }
                Err(e) => {
                    notes.push(e.to_string());
                    ok = false;
                    "FAIL"
                }
            }
        } else {
            "skip"
        };
        let mut cols = Vec::new();
        for (sim_kind, have) in [(Simulator::Verilator, have_v), (Simulator::Icarus, have_i)] {
            if !have {
                cols.push(("skip".to_string(), "-".to_string()));
                continue;
            }
            let r = match sim_kind {
                Simulator::Verilator => {
                    let stim = pe_stimulus(&cfg.pe, seed, Depth::Full, cycles);
                    sim::run_verilator_pe(&cfg, &files, &stim, &SimOptions::default())
                }
                Simulator::Icarus => {
                    let stim = pe_stimulus(&cfg.pe, seed, Depth::Light, icarus_cycles);
                    sim::run_icarus_pe(&cfg, &files, &stim, &SimOptions::default())
                }
            };
            match r {
                Ok(r) => {
                    ok &= r.mismatches == 0;
                    notes.extend(
                        r.details
                            .iter()
                            .map(|d| format!("{}: {d}", sim_kind.name())),
                    );
                    cols.push((r.cycles.to_string(), r.mismatches.to_string()));
                }
                Err(e) => {
                    ok = false;
                    notes.push(e.to_string());
                    cols.push(("ERROR".into(), "-".into()));
                }
            }
        }
        println!(
            "{:<15} {:>5} {:>12} {:>10} {:>12} {:>10}",
            name, lint, cols[0].0, cols[0].1, cols[1].0, cols[1].1
        );
        for n in notes {
            println!("  {n}");
        }
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
