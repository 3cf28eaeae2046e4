//! Simulation drivers: lint the generated Verilog with Verilator, build and run the
//! Verilator C++ harness and the Icarus bench on golden-model vectors, and parse what
//! they report. The testbench sources are compiled into the binary, so an installed
//! `smtgen` needs no checkout.

use crate::array::ArrayRun;
use crate::config::Design;
use crate::error::{Error, Result};
use crate::rtl::{self, GeneratedFile};
use crate::stimulus::Stimulus;
use crate::tool::Tool;
use std::path::{Path, PathBuf};

/// The Verilator harness (`testbench/pe_tb.cpp`).
pub const PE_TB_CPP: &str = include_str!("../../../testbench/pe_tb.cpp");
/// Helpers shared by the Verilator harnesses (`testbench/tb_util.h`).
pub const TB_UTIL_H: &str = include_str!("../../../testbench/tb_util.h");
/// The Icarus bench (`testbench/pe_tb.v`).
pub const PE_TB_V: &str = include_str!("../../../testbench/pe_tb.v");
/// The Verilator array harness (`testbench/array_tb.cpp`).
pub const ARRAY_TB_CPP: &str = include_str!("../../../testbench/array_tb.cpp");
/// The Icarus array bench (`testbench/array_tb.v`).
pub const ARRAY_TB_V: &str = include_str!("../../../testbench/array_tb.v");
/// Shared Verilator flags (`verilator/flags.vc`).
pub const VERILATOR_FLAGS: &str = include_str!("../../../verilator/flags.vc");

/// Which simulator ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simulator {
    /// Verilator, cycle-based C++.
    Verilator,
    /// Icarus Verilog, event-driven.
    Icarus,
}

impl Simulator {
    /// The tool's command name.
    pub fn name(self) -> &'static str {
        match self {
            Simulator::Verilator => "verilator",
            Simulator::Icarus => "iverilog",
        }
    }

    /// [`simulate`] with the PE bench on `stim`.
    pub fn pe(
        self,
        cfg: &Design,
        files: &[GeneratedFile],
        stim: &Stimulus,
        opts: &SimOptions,
    ) -> Result<SimReport> {
        simulate(cfg, files, self, Bench::Pe(stim), opts)
    }

    /// [`simulate`] with the array bench on `run` (made from `seed`).
    pub fn array(
        self,
        cfg: &Design,
        files: &[GeneratedFile],
        run: &ArrayRun,
        seed: u64,
        opts: &SimOptions,
    ) -> Result<SimReport> {
        simulate(cfg, files, self, Bench::Array(run, seed), opts)
    }
}

/// What one simulation run compared and found.
#[derive(Debug, Clone)]
pub struct SimReport {
    /// Design name.
    pub design: String,
    /// The simulator.
    pub simulator: Simulator,
    /// Cycles compared.
    pub cycles: u64,
    /// Cycles whose outputs differed from the golden model.
    pub mismatches: u64,
    /// Array results compared (0 for a PE).
    pub results: u64,
    /// Seed of the random stimulus.
    pub seed: u64,
    /// The simulator's mismatch lines (at most ten).
    pub details: Vec<String>,
    /// Seconds spent building.
    pub build_s: f64,
    /// Seconds spent simulating (the bench's own loop time where it reports one,
    /// else the whole process); the fastest of `runs`.
    pub run_s: f64,
    /// Seconds of each run when the model ran several times (`SimOptions::repeat`).
    pub runs: Vec<f64>,
}

/// Writes the design's files into `dir` and returns the name of `top`'s filelist:
/// `<top>.f`, or else the filelist that names `<top>.v` (`<name>_pe_solo` is listed
/// in `<name>_pe.f`).
fn stage(dir: &Path, files: &[GeneratedFile], top: &str) -> Result<String> {
    rtl::write_files(dir, files)?;
    let own = format!("{top}.f");
    let file = format!("{top}.v");
    files
        .iter()
        .find(|f| f.name == own)
        .or_else(|| {
            files
                .iter()
                .find(|f| f.role == rtl::Role::Filelist && f.text.lines().any(|l| l == file))
        })
        .map(|f| f.name.clone())
        .ok_or_else(|| {
            Error::tool(
                "smtgen",
                format!("generated files carry no filelist for {top}"),
            )
        })
}

/// Lints generated files with `verilator --lint-only -Wall` (no waivers) and
/// returns Verilator's output (empty when clean).
pub fn lint(files: &[GeneratedFile], top: &str) -> Result<String> {
    let dir = crate::guard::work_dir()?;
    let list = stage(dir.path(), files, top)?;
    std::fs::write(dir.path().join("flags.vc"), VERILATOR_FLAGS)
        .map_err(|e| Error::io(dir.path(), e))?;
    Tool::new("verilator", "verilator", dir.path())
        .args(["--lint-only", "-f", "flags.vc", "--top-module", top, "-F"])
        .arg(&list)
        .log("lint.log")
        .run()?
        .text()
}

/// Options for a PE simulation.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Write an FST waveform here (Verilator only; slows the run).
    pub waves: Option<PathBuf>,
    /// Keep the build directory here instead of a temporary one.
    pub keep_dir: Option<PathBuf>,
    /// Build for speed (benchmarks): `--x-assign fast --x-initial fast -O3` and
    /// `-O2` C++, instead of the regression's randomised X handling.
    pub fast: bool,
    /// Run the built Verilator model this many times (benchmarks; at least once).
    /// Mismatches come from the first run; `SimReport::runs` has every run's time.
    pub repeat: u32,
    /// Parallel compile jobs of a Verilator build (`--jobs`; 0: every core).
    pub jobs: usize,
}

/// The work directory and what keeps it: a temporary directory (removed when
/// dropped or on interruption) or the registration of a kept one (named on
/// interruption).
type Work = (
    Option<crate::guard::WorkDir>,
    Option<crate::guard::Registration>,
    PathBuf,
);

fn workdir(opts: &SimOptions) -> Result<Work> {
    match &opts.keep_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            Ok((None, Some(crate::guard::register(d, true)), d.clone()))
        }
        None => {
            let t = crate::guard::work_dir()?;
            let p = t.path().to_path_buf();
            Ok((Some(t), None, p))
        }
    }
}

/// A `key=` number from the bench's closing `RESULT` line.
fn field(out: &str, key: &str) -> Option<u64> {
    let line = out.lines().rev().find(|l| l.starts_with("RESULT "))?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.parse().ok())
}

fn parse_result(out: &str) -> Option<(u64, u64)> {
    Some((field(out, "cycles=")?, field(out, "mismatches=")?))
}

/// What a bench replays: a PE's stimulus, or an array run and its seed.
#[derive(Debug, Clone, Copy)]
pub enum Bench<'a> {
    /// One PE on these vectors.
    Pe(&'a Stimulus),
    /// The array on this trace (`seed` is printed with the result).
    Array(&'a ArrayRun, u64),
}

/// What one bench run printed and how long it took.
struct Ran {
    text: String,
    build_s: f64,
    runs: Vec<f64>,
}

/// Writes a bench's data file at the given path.
type WriteData<'a> = Box<dyn Fn(&Path) -> Result<()> + 'a>;

/// What one bench run needs, whichever simulator runs it: the top module, the data
/// file's stem, each simulator's bench and flags, and the data in each one's format.
struct Plan<'a> {
    top: String,
    data: &'static str,
    /// The Verilator harness (file name, text) and its `-CFLAGS`.
    harness: (&'static str, &'static str),
    cflags: Vec<String>,
    /// The Icarus bench and its `-D`/`-P` arguments.
    bench: &'static str,
    params: Vec<String>,
    /// The data in the Verilator harness's binary format and the Icarus bench's text.
    binary: WriteData<'a>,
    text: WriteData<'a>,
}

/// Builds `plan.top` with its Verilator harness and runs the model binary on the
/// binary data written into the work directory, `opts.repeat` times.
fn verilator_run(files: &[GeneratedFile], plan: &Plan, opts: &SimOptions) -> Result<Ran> {
    let (top, harness) = (plan.top.as_str(), plan.harness);
    let data_name = &format!("{}.bin", plan.data);
    let (_guard, _kept, dir) = workdir(opts)?;
    let list = stage(&dir, files, top)?;
    let io = |e| Error::io(&dir, e);
    std::fs::write(dir.join(harness.0), harness.1).map_err(io)?;
    std::fs::write(dir.join("tb_util.h"), TB_UTIL_H).map_err(io)?;
    std::fs::write(dir.join("flags.vc"), VERILATOR_FLAGS).map_err(io)?;
    let jobs = crate::tool::jobs(opts.jobs).to_string();
    let mut cmd = Tool::new("verilator", "verilator", &dir)
        // Lint warnings are `smtgen lint`'s verdict; the simulation still runs, so
        // a design that fails lint gets both verdicts.
        .args([
            "--cc",
            "--exe",
            "--build",
            "-j",
            &jobs,
            "-f",
            "flags.vc",
            "-Wno-fatal",
        ])
        .args(["--top-module", top, "--prefix", "Vdut", "-o", "tb"]);
    for f in &plan.cflags {
        cmd = cmd.args(["-CFLAGS", f]);
    }
    cmd = cmd.args(["-F", &list, harness.0]);
    if opts.waves.is_some() {
        cmd = cmd.args(["--trace-fst", "-CFLAGS", "-DSMTGEN_WAVES"]);
    }
    if opts.fast {
        cmd = cmd
            .args(["--x-assign", "fast", "--x-initial", "fast", "-O3"])
            .args(["-MAKEFLAGS", "OPT_FAST=-O2 OPT_SLOW=-O1"]);
    }
    if crate::tool::available("ccache") {
        cmd = cmd.env("OBJCACHE", "ccache");
    }
    let build_s = cmd.log("verilator_build.log").run()?.seconds;
    (plan.binary)(&dir.join(data_name))?;
    let mut first: Option<String> = None;
    let mut runs = Vec::new();
    for k in 0..opts.repeat.max(1) {
        let mut run_cmd = Tool::new("verilator model", dir.join("obj_dir").join("tb"), &dir)
            .arg(data_name)
            .log(&format!("verilator_run{k}.log"));
        if let Some(w) = &opts.waves {
            run_cmd = run_cmd.arg(w);
        }
        // The bench's exit status is not the verdict: its RESULT line is.
        let out = run_cmd.execute()?;
        let text = out.text()?;
        runs.push(field(&text, "sim_us=").map_or(out.seconds, |us| us as f64 / 1e6));
        first.get_or_insert(text);
    }
    Ok(Ran {
        text: first.unwrap_or_default(),
        build_s,
        runs,
    })
}

/// Builds `plan.top` with its Icarus bench (`-P` parameters, `-D` defines) and runs
/// it with `+<data stem>=<text data file>`.
fn icarus_run(files: &[GeneratedFile], plan: &Plan, opts: &SimOptions) -> Result<Ran> {
    let (_guard, _kept, dir) = workdir(opts)?;
    let list = stage(&dir, files, &plan.top)?;
    std::fs::write(dir.join("tb.v"), plan.bench).map_err(|e| Error::io(&dir, e))?;
    let build_s = Tool::new("iverilog", "iverilog", &dir)
        .args(["-g2005", "-o", "tb.vvp", "-s", "tb"])
        .args(&plan.params)
        .args(["-c", &list, "tb.v"])
        .log("iverilog_build.log")
        .run()?
        .seconds;
    (plan.text)(&dir.join("data.txt"))?;
    let out = Tool::new("vvp", "vvp", &dir)
        .args(["-n", "tb.vvp", &format!("+{}=data.txt", plan.data)])
        .log("vvp_run.log")
        .execute()?;
    let text = out.text()?;
    let run_s = field(&text, "sim_us=").map_or(out.seconds, |us| us as f64 / 1e6);
    Ok(Ran {
        text,
        build_s,
        runs: vec![run_s],
    })
}

/// Builds the PE or the array (`bench`) with `sim`'s bench and replays the
/// stimulus or trace through it, comparing every output on every cycle.
pub fn simulate(
    cfg: &Design,
    files: &[GeneratedFile],
    sim: Simulator,
    bench: Bench,
    opts: &SimOptions,
) -> Result<SimReport> {
    let (want, seed, mut plan) = match bench {
        Bench::Pe(stim) => (
            stim.cycles() as u64,
            stim.seed,
            Plan {
                top: rtl::pe_top(cfg),
                data: "vectors",
                harness: ("pe_tb.cpp", PE_TB_CPP),
                cflags: [format!("-DSMTGEN_LANES={}", cfg.dp().lanes)]
                    .into_iter()
                    .chain(cfg.array.skip.on().then(|| "-DSMTGEN_SKIP".to_string()))
                    .collect(),
                bench: PE_TB_V,
                // A lone PE of a skipping design runs with its skip bit low.
                params: cfg
                    .array
                    .skip
                    .on()
                    .then(|| "-DSKIP".into())
                    .into_iter()
                    .collect(),
                binary: Box::new(|p| stim.write_binary(p)),
                text: Box::new(|p| stim.write_text(p)),
            },
        ),
        Bench::Array(run, seed) => (
            run.inputs.len() as u64,
            seed,
            Plan {
                top: format!("{}_array", cfg.name),
                data: "trace",
                harness: ("array_tb.cpp", ARRAY_TB_CPP),
                cflags: cfg
                    .array
                    .skip
                    .on()
                    .then(|| "-DSMTGEN_SKIP".to_string())
                    .into_iter()
                    .collect(),
                bench: ARRAY_TB_V,
                params: [
                    format!("-Ptb.ROWS={}", cfg.array.rows),
                    format!("-Ptb.COLS={}", cfg.array.cols),
                ]
                .into_iter()
                .chain(cfg.array.skip.on().then(|| "-DSKIP".to_string()))
                .collect(),
                binary: Box::new(move |p| write_array_trace_binary(cfg, run, seed, p)),
                text: Box::new(move |p| write_array_trace_text(cfg, run, seed, p)),
            },
        ),
    };
    // Both Icarus benches take the DUT, then their own parameters, then these.
    plan.params.insert(0, format!("-DDUT={}", plan.top));
    plan.params.extend([
        format!("-Ptb.LANES={}", cfg.dp().lanes),
        format!("-Ptb.ACC_W={}", cfg.pe.acc_width),
    ]);
    let ran = match sim {
        Simulator::Verilator => verilator_run(files, &plan, opts)?,
        Simulator::Icarus => icarus_run(files, &plan, opts)?,
    };
    report(cfg, sim, want, seed, ran)
}

/// Writes the binary trace `testbench/array_tb.cpp` reads: `SMTGENA2`, u32 rows,
/// cols, lanes, acc_width, skip bits S (rows·cols with `array.skip: gate`, else 0),
/// u64 seed, u64 cycles, then per cycle u8 ctrl (bit 0 valid, 1 first, 2 last, 3
/// reset: rst_ni low for the cycle), rows·T activation bytes, cols·T weight bytes,
/// ⌈S/8⌉ skip bytes (bit r·cols+c, least significant first), u8 expected
/// last_ready, rows bytes expected res_valid, rows × i64 expected res. (Version 2
/// added the skip bits.)
pub fn write_array_trace_binary(
    cfg: &Design,
    run: &ArrayRun,
    seed: u64,
    path: &Path,
) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(b"SMTGENA2");
    let skip_bits = if cfg.array.skip.on() {
        cfg.array.rows * cfg.array.cols
    } else {
        0
    };
    for v in [
        cfg.array.rows,
        cfg.array.cols,
        cfg.dp().lanes,
        cfg.pe.acc_width,
        skip_bits,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&seed.to_le_bytes());
    out.extend_from_slice(&(run.inputs.len() as u64).to_le_bytes());
    for (i, o) in run.inputs.iter().zip(&run.outputs) {
        out.push(
            u8::from(i.valid)
                | u8::from(i.first) << 1
                | u8::from(i.last) << 2
                | u8::from(i.reset) << 3,
        );
        out.extend_from_slice(&i.acts);
        out.extend(i.wgts.iter().map(|&w| w as u8));
        out.extend(skip_bytes(&i.skip, skip_bits as usize));
        out.push(u8::from(o.last_ready));
        out.extend(o.res_valid.iter().map(|&v| u8::from(v)));
        for r in &o.res {
            out.extend_from_slice(&r.to_le_bytes());
        }
    }
    std::fs::write(path, out).map_err(|e| Error::io(path, e))
}

/// `bits` skip bits packed least significant first (missing bits are 0).
fn skip_bytes(skip: &[bool], bits: usize) -> Vec<u8> {
    let mut b = vec![0u8; bits.div_ceil(8)];
    for (k, _) in skip.iter().enumerate().take(bits).filter(|(_, &s)| s) {
        b[k / 8] |= 1 << (k % 8);
    }
    b
}

fn hex_le(bytes: impl DoubleEndedIterator<Item = u8>) -> String {
    let s: String = bytes.rev().map(|b| format!("{b:02x}")).collect();
    if s.is_empty() {
        "0".into()
    } else {
        s
    }
}

/// Writes the text trace `testbench/array_tb.v` reads (see there).
pub fn write_array_trace_text(cfg: &Design, run: &ArrayRun, seed: u64, path: &Path) -> Result<()> {
    use std::io::Write;
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::new(f);
    let io = |e| Error::io(path, e);
    writeln!(
        w,
        "# smtgen array trace seed={seed} rows={} cols={} lanes={} cycles={}",
        cfg.array.rows,
        cfg.array.cols,
        cfg.dp().lanes,
        run.inputs.len()
    )
    .map_err(io)?;
    for (i, o) in run.inputs.iter().zip(&run.outputs) {
        let ctrl = u8::from(i.valid)
            | u8::from(i.first) << 1
            | u8::from(i.last) << 2
            | u8::from(i.reset) << 3;
        let valid: String = o
            .res_valid
            .iter()
            .rev()
            .map(|&v| if v { '1' } else { '0' })
            .collect();
        // res_valid as hex from its bit string.
        let mut vhex = String::new();
        let bits: Vec<char> = valid.chars().collect();
        let pad = (4 - bits.len() % 4) % 4;
        let padded: Vec<char> = std::iter::repeat_n('0', pad).chain(bits).collect();
        for chunk in padded.chunks(4) {
            let v = chunk.iter().fold(0u8, |a, &c| a << 1 | u8::from(c == '1'));
            vhex.push_str(&format!("{v:x}"));
        }
        write!(
            w,
            "{ctrl:x} {} {} {} {:x} {vhex}",
            hex_le(i.acts.iter().copied()),
            hex_le(i.wgts.iter().map(|&x| x as u8)),
            hex_le(skip_bytes(&i.skip, i.skip.len()).into_iter()),
            u8::from(o.last_ready)
        )
        .map_err(io)?;
        for r in &o.res {
            write!(w, " {:016x}", *r as u64).map_err(io)?;
        }
        writeln!(w).map_err(io)?;
    }
    w.flush().map_err(io)
}

fn report(
    cfg: &Design,
    sim: Simulator,
    want_cycles: u64,
    seed: u64,
    ran: Ran,
) -> Result<SimReport> {
    let Ran {
        text,
        build_s,
        runs,
    } = ran;
    let (cycles, mismatches) = parse_result(&text).ok_or_else(|| {
        Error::tool(
            sim.name(),
            format!(
                "the bench printed no RESULT line; its last lines:\n{}",
                tail(&text, 20)
            ),
        )
    })?;
    if cycles != want_cycles {
        return Err(Error::tool(
            sim.name(),
            format!("compared {cycles} cycles of {want_cycles}"),
        ));
    }
    Ok(SimReport {
        design: cfg.name.clone(),
        simulator: sim,
        cycles,
        mismatches,
        results: field(&text, "results=").unwrap_or(0),
        seed,
        details: text
            .lines()
            .filter(|l| l.starts_with("MISMATCH"))
            .map(str::to_string)
            .collect(),
        build_s,
        run_s: runs.iter().copied().fold(f64::INFINITY, f64::min),
        runs,
    })
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}
