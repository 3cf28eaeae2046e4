//! The command line's flags: the top-level [`Cli`], the shared design-point group
//! [`PointArgs`] (with [`ConfigArgs`] adding the array size) and one argument struct
//! per subcommand. The bodies that
//! use them live in the sibling modules, one per subcommand.

use clap::{Args, Parser, Subcommand, ValueEnum};
use smtgen_core::config::Design;
use smtgen_core::error::Result;
use smtgen_core::select::Selection;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "smtgen",
    version,
    about = "Generate, verify and measure sparsity-exploiting DNN accelerator datapaths (SySMT, SPARQ)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
    /// Ceiling on the elements of any tensor read, built or written (default 16777216).
    #[arg(long, global = true)]
    pub max_elements: Option<u64>,
    /// Ceiling on simulated or modelled cycles per run (default 16777216).
    #[arg(long, global = true)]
    pub max_cycles: Option<u64>,
}

/// The design points a command works on: `--preset`/`--presets` (lists of
/// `PRESET[+key=value...]`), with `--config` and each `--set` laid over every point.
/// Every command that takes a YAML file or overrides flattens this one group.
#[derive(Args, Clone, Default)]
pub struct PointArgs {
    /// Design point(s): a preset (see `smtgen presets`) or PRESET+key=value, e.g.
    /// sysmt4+pe.window_logic=edge; comma-separated or repeated for several. Without
    /// one: sysmt2 (or the --config file alone) for gen, sim, synth, lint, gemm and
    /// model; for prove every preset, or with --config/--set the one configuration
    /// they make.
    #[arg(
        long = "preset",
        visible_alias = "presets",
        value_delimiter = ',',
        value_name = "POINT"
    )]
    pub points: Vec<String>,
    /// YAML config file, laid over each design point.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one field of each design point, e.g. --set pe.rounding=truncate
    /// (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

impl PointArgs {
    /// The selection these flags make, with command-line `flags` that set fields.
    pub fn selection(&self, flags: Vec<(&'static str, &'static str, String)>) -> Selection<'_> {
        Selection {
            specs: &self.points,
            file: self.config.as_deref(),
            sets: &self.sets,
            flags,
            defaulted: Vec::new(),
        }
    }
}

/// [`PointArgs`] with the array size flags of the commands that build one design.
#[derive(Args, Clone, Default)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub points: PointArgs,
    /// Array rows (same as --set array.rows=R).
    #[arg(long)]
    pub rows: Option<u32>,
    /// Array columns (same as --set array.cols=C).
    #[arg(long)]
    pub cols: Option<u32>,
}

impl ConfigArgs {
    /// The design-point selection these flags make.
    pub fn selection(&self) -> Selection<'_> {
        let mut flags = Vec::new();
        flags.extend(self.rows.map(|r| ("--rows", "array.rows", r.to_string())));
        flags.extend(self.cols.map(|c| ("--cols", "array.cols", c.to_string())));
        self.points.selection(flags)
    }

    /// The one design point these flags name (for commands that compute one result).
    pub fn build(&self) -> Result<Design> {
        self.selection().resolve_one()
    }

    /// Every design point these flags name (the default preset when none), each with
    /// its label for reports.
    pub fn build_all(&self) -> Result<Vec<(String, Design)>> {
        self.selection()
            .resolve_labelled(smtgen_core::select::Fallback::One)
    }
}

/// The help of every `--jobs` flag (the same on every command).
pub const JOBS_HELP: &str = "Parallel workers: tool runs at once (Yosys, ABC, OpenSTA), Verilator compile jobs, engine threads. 0 or absent: every available core; at most 4 per core";

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SimChoice {
    Verilator,
    Icarus,
    Both,
}

#[derive(Args)]
pub struct RegressArgs {
    /// Comma-separated design points (default: every preset): a preset, or a preset
    /// with overrides, e.g. sysmt4+pe.window_logic=edge+pe.pipeline=1
    #[arg(
        long,
        visible_alias = "preset",
        value_delimiter = ',',
        value_name = "POINT"
    )]
    pub presets: Vec<String>,
    /// Only the PE regression (default: PE and arrays).
    #[arg(long)]
    pub pe: bool,
    /// Only the array regression.
    #[arg(long)]
    pub array: bool,
    /// Random cycles per PE under Verilator (plus the directed ones).
    #[arg(long, default_value_t = 1_000_000)]
    pub cycles: usize,
    /// Random cycles per PE under Icarus (plus light directed ones).
    #[arg(long, default_value_t = 20_000)]
    pub icarus_cycles: usize,
    /// Array sizes RxC (default 1x1,2x3,4x4,8x8,16x16; with --cover 2x3,4x4 plus one
    /// corner per point in turn: 1x1, 1x4, 4x1, 3x2, 5x6).
    #[arg(long, value_delimiter = ',')]
    pub sizes: Vec<String>,
    /// Regress the covering set instead of the presets: design points that between
    /// them render every combination of every template's branch values.
    #[arg(long, conflicts_with = "presets")]
    pub cover: bool,
    /// With --cover: leave out the points that are presets (the default run has them).
    #[arg(long, requires = "cover")]
    pub skip_presets: bool,
    /// With --cover: print the covering set and which point takes each branch; run nothing.
    #[arg(long, requires = "cover")]
    pub list: bool,
    /// Largest K of the random GEMMs.
    #[arg(long, default_value_t = 512)]
    pub max_k: usize,
    /// Run every array point under Icarus too (default: the 4x4 point of the first
    /// design of each policy and weight mode, dense or 2:4).
    #[arg(long)]
    pub icarus_all: bool,
    /// Seed (default: from the clock, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value_t = 0, help = JOBS_HELP, value_parser = smtgen_core::guard::parse_jobs)]
    pub jobs: usize,
}

#[derive(Args)]
pub struct EvalArgs {
    #[arg(long, default_value_t = 0, help = JOBS_HELP, value_parser = smtgen_core::guard::parse_jobs)]
    pub jobs: usize,
    /// Prune the weights first: 2:4 keeps the two largest |w| of each aligned group of
    /// four k (ties to the lower k); errors are then also reported against the dense
    /// weights. Never applied unless asked for.
    #[arg(long, value_parser = smtgen_core::sparse::parse_prune)]
    pub prune: Option<smtgen_core::sparse::Prune>,
    /// Comma-separated design points (default: every preset): a preset, or a preset
    /// with overrides, e.g. sysmt4+pe.window_logic=edge
    #[arg(
        long,
        visible_alias = "preset",
        value_delimiter = ',',
        value_name = "POINT"
    )]
    pub presets: Vec<String>,
    /// Array rows for the cycle counts, every design the same [default: 16].
    #[arg(long)]
    pub rows: Option<u32>,
    /// Array columns for the cycle counts, every design the same [default: 16].
    #[arg(long)]
    pub cols: Option<u32>,
    /// GEMM activations A (M×K): .npy uint8 or float32 (quantized), or .csv.
    #[arg(long)]
    pub a: Option<PathBuf>,
    /// GEMM weights W (K×N): .npy int8 or float32 (quantized per column), or .csv.
    #[arg(long)]
    pub w: Option<PathBuf>,
    /// Convolution input, NCHW .npy (uint8 or float32).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Convolution weights, OIHW .npy (int8 or float32).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Convolution stride.
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// Convolution zero padding.
    #[arg(long, default_value_t = 0)]
    pub padding: usize,
    /// Synthetic layer: relu | exp | uniform activations.
    #[arg(long)]
    pub synthetic: Option<String>,
    /// Synthetic M (output rows / pixels).
    #[arg(long, default_value_t = 256)]
    pub m: usize,
    /// Synthetic K (reduction length).
    #[arg(long, default_value_t = 576)]
    pub k: usize,
    /// Synthetic N (output channels).
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Synthetic fraction of zero activations.
    #[arg(long, default_value_t = 0.5)]
    pub zero: f64,
    /// Seed of the synthetic layer.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Area ratios from a `smtgen compare` CSV.
    #[arg(long)]
    pub area: Option<PathBuf>,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write report.md, report.svg, report.json (and quant.json) into this directory.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// List the named presets.
    Presets,
    /// Print the effective config (preset, file and --set resolved and validated).
    Config {
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Generate the array (and its PE) as Verilog with filelists.
    Gen(GenArgs),
    /// Run the golden model on a CSV of cycles `a0,w0,a1,w1,...` (or - for stdin);
    /// prints `p0,...,p{T-1},acc` per cycle.
    Model(ModelArgs),
    /// Lint the generated Verilog with verilator --lint-only -Wall (no waivers).
    Lint(LintArgs),
    /// Simulate one PE against the golden model.
    Sim(SimArgs),
    /// The regression: every preset's PE and arrays under Verilator and Icarus.
    Regress(RegressArgs),
    /// Synthesize the PE (and with --array the array) with Yosys and report area.
    Synth(SynthArgs),
    /// Synthesize several presets and compare area, throughput per area and depth
    /// with the baseline: a terminal table plus CSV, Markdown and an SVG chart.
    Compare(CompareArgs),
    /// What each design does to a layer: collisions, error, cycles (see README).
    Eval(EvalArgs),
    /// Prove PE datapaths equal to their behavioural reference for every input
    /// (Yosys + ABC; two- and four-lane PEs split by lane activity).
    Prove(ProveArgs),
    /// Run C = A·W on the configured array: prints the cycle count, writes C.
    Gemm(GemmArgs),
    /// Measure throughput: the golden model (lane-MACs/s per preset, one core) or,
    /// with --array, Verilator simulation of arrays (array cycles/s), or, with
    /// --gemm, the GEMM engine per design against a float32 GEMM.
    Bench(BenchArgs),
    /// Run a design-space sweep spec (YAML) on a serial loop, a process pool or Ray;
    /// a launcher for the Python package's `smtgen.sweep` (see docs/sweep.md).
    Sweep(SweepArgs),
}

// The flags of `smtgen gen`.
#[derive(Args)]
pub struct GenArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Output directory.
    #[arg(long, default_value = "rtl_out")]
    pub out: PathBuf,
    /// Only the PE and its submodules, no array.
    #[arg(long)]
    pub pe_only: bool,
    /// Also write the behavioural reference `<name>_ref.v` (used by `prove`).
    #[arg(long)]
    pub reference: bool,
}

// The flags of `smtgen model`.
#[derive(Args)]
pub struct ModelArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Input CSV file, or - for standard input.
    #[arg(long)]
    pub input: String,
}

// The flags of `smtgen lint`.
#[derive(Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Lint every preset.
    #[arg(long, conflicts_with = "points")]
    pub all: bool,
}

// The flags of `smtgen sim`.
#[derive(Args)]
pub struct SimArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Which simulator(s).
    #[arg(long, value_enum, default_value = "verilator")]
    pub simulator: SimChoice,
    /// Random cycles after the directed ones.
    #[arg(long, default_value_t = 1_000_000)]
    pub cycles: usize,
    /// Seed of the random stimulus (default: from the clock, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write an FST waveform (Verilator; also WAVES=1 writes pe.fst or array.fst).
    #[arg(long)]
    pub waves: Option<PathBuf>,
    /// Keep the build directory here.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Simulate the array (random tiled GEMMs) instead of one PE.
    #[arg(long)]
    pub array: bool,
    #[arg(long, default_value_t = 0, help = JOBS_HELP, value_parser = smtgen_core::guard::parse_jobs)]
    pub jobs: usize,
}

// The flags of `smtgen synth`.
#[derive(Args)]
pub struct SynthArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Also synthesize the whole array at the configured size.
    #[arg(long)]
    pub array: bool,
    #[arg(long, default_value_t = 0, help = JOBS_HELP, value_parser = smtgen_core::guard::parse_jobs)]
    pub jobs: usize,
    #[command(flatten)]
    pub lib: LibFlags,
}

// The flags of `smtgen compare`.
#[derive(Args)]
pub struct CompareArgs {
    /// Comma-separated design points (default: every preset): a preset, or a
    /// preset with overrides, e.g. sysmt4+pe.window_logic=edge
    #[arg(
        long,
        visible_alias = "preset",
        value_delimiter = ',',
        value_name = "POINT"
    )]
    pub presets: Vec<String>,
    /// Array rows, every design the same [default: 8].
    #[arg(long)]
    pub rows: Option<u32>,
    /// Array columns, every design the same [default: 8].
    #[arg(long)]
    pub cols: Option<u32>,
    /// PEs only (no array synthesis).
    #[arg(long)]
    pub pe_only: bool,
    /// The design point every ratio is against (e.g. baseline+pe.pipeline=1 when
    /// comparing pipelined PEs).
    #[arg(long, default_value = "baseline")]
    pub baseline: String,
    /// Output directory for compare.csv, compare.md and compare.svg.
    #[arg(long, default_value = "synth_out")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 0, help = JOBS_HELP, value_parser = smtgen_core::guard::parse_jobs)]
    pub jobs: usize,
    #[command(flatten)]
    pub lib: LibFlags,
}

// The flags of `smtgen prove`.
#[derive(Args)]
pub struct ProveArgs {
    #[command(flatten)]
    pub points: PointArgs,
    /// Both rounding modes of every reducing preset.
    #[arg(long)]
    pub both_roundings: bool,
    /// Seconds allowed per proof.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    #[arg(long, default_value_t = 0, help = JOBS_HELP, value_parser = smtgen_core::guard::parse_jobs)]
    pub jobs: usize,
}

// The flags of `smtgen gemm`.
#[derive(Args)]
pub struct GemmArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Activations A (M×K): .npy uint8 or .csv.
    #[arg(long)]
    pub a: PathBuf,
    /// Weights W (K×N): .npy int8 or .csv.
    #[arg(long)]
    pub w: PathBuf,
    /// Result C (M×N): .npy (int32, or int64 when acc_width > 32) or .csv.
    #[arg(long)]
    pub out: PathBuf,
    /// Also run the cycle-accurate array model and check it against the fast path
    /// and the latency formula (slow for large problems).
    #[arg(long)]
    pub cycle_accurate: bool,
    #[arg(long, default_value_t = 0, help = JOBS_HELP, value_parser = smtgen_core::guard::parse_jobs)]
    pub jobs: usize,
    /// Prune W first: 2:4 keeps the two largest |w| of each aligned group of four
    /// k (ties to the lower k). Never applied unless asked for.
    #[arg(long, value_parser = smtgen_core::sparse::parse_prune)]
    pub prune: Option<smtgen_core::sparse::Prune>,
}

// The flags of `smtgen bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Cycles per measurement (default 4 M for the model, 100 k for arrays).
    #[arg(long)]
    pub cycles: Option<usize>,
    /// Benchmark Verilator array simulation instead of the model.
    #[arg(long)]
    pub array: bool,
    /// Benchmark `eval` (MACs/s per design on a 3136x576x64 ReLU layer).
    #[arg(long)]
    pub eval: bool,
    /// Benchmark the GEMM engine against a float32 GEMM, one core and all cores.
    #[arg(long)]
    pub gemm: bool,
    /// GEMM shapes MxKxN (with --gemm).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "3136x576x64,2048x2048x2048"
    )]
    pub shapes: Vec<String>,
    #[arg(long, default_value_t = 0, help = JOBS_HELP, value_parser = smtgen_core::guard::parse_jobs)]
    pub jobs: usize,
    /// Array sizes RxC (with --array).
    #[arg(long, value_delimiter = ',', default_value = "16x16,32x32")]
    pub sizes: Vec<String>,
    /// Comma-separated presets (with --array; default all).
    #[arg(
        long,
        visible_alias = "preset",
        value_delimiter = ',',
        value_name = "POINT"
    )]
    pub presets: Vec<String>,
    /// Runs of each built array model (with --array); best and median are shown.
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
}

/// Flags of the real-library flows (`synth`, `compare`): [`smtgen_hdl::sta::LibArgs`].
#[derive(Debug, Clone, Args)]
pub struct LibFlags {
    /// Map onto this Liberty file instead of the built-in GE table (area in µm²,
    /// timing and power with OpenSTA).
    #[arg(long)]
    pub liberty: Option<PathBuf>,
    /// Map onto a named library: osu018 (Debian package qflow-tech-osu018).
    #[arg(long)]
    pub library: Option<String>,
    /// Verilog cell models for the energy simulation (default: the .v file beside
    /// the Liberty file).
    #[arg(long)]
    pub cell_models: Option<PathBuf>,
    /// Clock period in ps for timing and power (default: timing unconstrained, power
    /// at the slowest design's critical path).
    #[arg(long)]
    pub clock_ps: Option<f64>,
    /// The energy workload: a synthetic ReLU layer MxKxN run on the array.
    #[arg(long, default_value = "16x64x16")]
    pub layer: String,
    /// Fraction of zero activations in the energy workload.
    #[arg(long, default_value_t = 0.5)]
    pub layer_zero: f64,
    /// Seed of the energy workload.
    #[arg(long, default_value_t = 1)]
    pub layer_seed: u64,
    /// The energy workload from tensors instead: activations A (M×K, uint8 .npy or
    /// .csv), with --layer-w.
    #[arg(long)]
    pub layer_a: Option<PathBuf>,
    /// Weights W (K×N, int8 .npy or .csv), with --layer-a.
    #[arg(long)]
    pub layer_w: Option<PathBuf>,
    /// Output skip mask of the energy workload (M×N, uint8 0/1 .npy or .csv), run by
    /// designs with array.skip=gate (the others compute every output).
    #[arg(long)]
    pub skip_mask: Option<PathBuf>,
    /// Instead of --skip-mask: skip each output with this probability (seeded by
    /// --layer-seed), on designs with array.skip=gate.
    #[arg(long)]
    pub skip_density: Option<f64>,
}

impl LibFlags {
    /// The options these flags give.
    pub fn args(&self) -> smtgen_hdl::sta::LibArgs {
        smtgen_hdl::sta::LibArgs {
            liberty: self.liberty.clone(),
            library: self.library.clone(),
            cell_models: self.cell_models.clone(),
            clock_ps: self.clock_ps,
            layer: self.layer.clone(),
            layer_zero: self.layer_zero,
            layer_seed: self.layer_seed,
            layer_a: self.layer_a.clone(),
            layer_w: self.layer_w.clone(),
            skip_mask: self.skip_mask.clone(),
            skip_density: self.skip_density,
        }
    }
}

/// The flags of `smtgen sweep`: the spec, then the runner's own options, passed through.
#[derive(Args)]
pub struct SweepArgs {
    /// The YAML sweep spec.
    pub spec: PathBuf,
    /// The runner's options: [--out DIR] [--executor serial|pool|ray] [--ray auto|ADDRESS]
    /// [--workers N] [--no-progress] [--report-only] [--plan]
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "OPTIONS"
    )]
    pub args: Vec<String>,
}
