//! Simulation drivers: lint the generated Verilog with Verilator, build and run the
//! Verilator C++ harness and the Icarus bench on golden-model vectors, and parse what
//! they report. The testbench sources are compiled into the binary, so an installed
//! `smtgen` needs no checkout.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::rtl::{self, GeneratedFile};
use crate::stimulus::Stimulus;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The Verilator harness (`testbench/pe_tb.cpp`).
pub const PE_TB_CPP: &str = include_str!("../../testbench/pe_tb.cpp");
/// The Icarus bench (`testbench/pe_tb.v`).
pub const PE_TB_V: &str = include_str!("../../testbench/pe_tb.v");
/// Shared Verilator flags (`verilator/flags.vc`).
pub const VERILATOR_FLAGS: &str = include_str!("../../verilator/flags.vc");

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
    /// Seed of the random stimulus.
    pub seed: u64,
    /// The simulator's mismatch lines (at most ten).
    pub details: Vec<String>,
    /// Seconds spent building.
    pub build_s: f64,
    /// Seconds spent simulating.
    pub run_s: f64,
}

/// True when `tool` can be started (`tool -V` or `--version` answers).
pub fn tool_available(tool: &str) -> bool {
    ["--version", "-V"].iter().any(|flag| {
        Command::new(tool)
            .arg(flag)
            .output()
            .map(|o| o.status.success() || !o.stdout.is_empty())
            .unwrap_or(false)
    })
}

fn run(cmd: &mut Command, tool: &str) -> Result<String> {
    let out = cmd
        .output()
        .map_err(|e| Error::tool(tool, format!("cannot start: {e} (is it installed?)")))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(Error::tool(
            tool,
            format!("failed ({}):\n{}", out.status, tail(&text, 40)),
        ));
    }
    Ok(text)
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Writes the design's files into `dir` and returns the filelist's name.
fn stage(dir: &Path, files: &[GeneratedFile]) -> Result<String> {
    rtl::write_files(dir, files)?;
    files
        .iter()
        .find(|f| f.name.ends_with(".f"))
        .map(|f| f.name.clone())
        .ok_or_else(|| Error::tool("smtgen", "generated files carry no filelist"))
}

/// Lints generated files with `verilator --lint-only -Wall` (no waivers) and
/// returns Verilator's output (empty when clean).
pub fn lint(files: &[GeneratedFile], top: &str) -> Result<String> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("<tempdir>", e))?;
    let list = stage(dir.path(), files)?;
    std::fs::write(dir.path().join("flags.vc"), VERILATOR_FLAGS)
        .map_err(|e| Error::io(dir.path(), e))?;
    run(
        Command::new("verilator")
            .current_dir(dir.path())
            .args(["--lint-only", "-f", "flags.vc", "--top-module", top, "-F"])
            .arg(&list),
        "verilator",
    )
}

/// Options for a PE simulation.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Write an FST waveform here (Verilator only; slows the run).
    pub waves: Option<PathBuf>,
    /// Keep the build directory here instead of a temporary one.
    pub keep_dir: Option<PathBuf>,
}

fn workdir(opts: &SimOptions) -> Result<(Option<tempfile::TempDir>, PathBuf)> {
    match &opts.keep_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            Ok((None, d.clone()))
        }
        None => {
            let t = tempfile::tempdir().map_err(|e| Error::io("<tempdir>", e))?;
            let p = t.path().to_path_buf();
            Ok((Some(t), p))
        }
    }
}

fn parse_result(out: &str) -> Option<(u64, u64)> {
    let line = out.lines().rev().find(|l| l.starts_with("RESULT "))?;
    let field = |k: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
    };
    Some((field("cycles=")?, field("mismatches=")?))
}

/// Builds the PE with the Verilator harness and replays `stim` through it.
pub fn run_verilator_pe(
    cfg: &Config,
    files: &[GeneratedFile],
    stim: &Stimulus,
    opts: &SimOptions,
) -> Result<SimReport> {
    let (_guard, dir) = workdir(opts)?;
    let list = stage(&dir, files)?;
    let io = |e| Error::io(&dir, e);
    std::fs::write(dir.join("pe_tb.cpp"), PE_TB_CPP).map_err(io)?;
    std::fs::write(dir.join("flags.vc"), VERILATOR_FLAGS).map_err(io)?;
    let top = format!("{}_pe", cfg.name);
    let t0 = Instant::now();
    let mut cmd = Command::new("verilator");
    cmd.current_dir(&dir)
        .args(["--cc", "--exe", "--build", "-j", "2", "-f", "flags.vc"])
        .args(["--top-module", &top, "--prefix", "Vdut", "-o", "pe_tb"])
        .args(["-CFLAGS", &format!("-DSMTGEN_LANES={}", cfg.pe.threads)])
        .args(["-F", &list, "pe_tb.cpp"]);
    if opts.waves.is_some() {
        cmd.args(["--trace-fst", "-CFLAGS", "-DSMTGEN_WAVES"]);
    }
    if tool_available("ccache") {
        cmd.env("OBJCACHE", "ccache");
    }
    run(&mut cmd, "verilator")?;
    let build_s = t0.elapsed().as_secs_f64();

    stim.write_binary(&dir.join("vectors.bin"))?;
    let t1 = Instant::now();
    let mut run_cmd = Command::new(dir.join("obj_dir").join("pe_tb"));
    run_cmd.current_dir(&dir).arg("vectors.bin");
    if let Some(w) = &opts.waves {
        run_cmd.arg(w);
    }
    let out = run_cmd
        .output()
        .map_err(|e| Error::tool("pe_tb", format!("cannot start: {e}")))?;
    let run_s = t1.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    report(
        cfg,
        Simulator::Verilator,
        stim,
        &text,
        &out.stderr,
        build_s,
        run_s,
    )
}

/// Builds the PE with the Icarus bench and replays `stim` through it.
pub fn run_icarus_pe(
    cfg: &Config,
    files: &[GeneratedFile],
    stim: &Stimulus,
    opts: &SimOptions,
) -> Result<SimReport> {
    let (_guard, dir) = workdir(opts)?;
    let list = stage(&dir, files)?;
    std::fs::write(dir.join("pe_tb.v"), PE_TB_V).map_err(|e| Error::io(&dir, e))?;
    let t0 = Instant::now();
    run(
        Command::new("iverilog")
            .current_dir(&dir)
            .args(["-g2005", "-o", "pe_tb.vvp", "-s", "tb"])
            .arg(format!("-DDUT={}_pe", cfg.name))
            .arg(format!("-Ptb.LANES={}", cfg.pe.threads))
            .arg(format!("-Ptb.ACC_W={}", cfg.pe.acc_width))
            .args(["-c", &list, "pe_tb.v"]),
        "iverilog",
    )?;
    let build_s = t0.elapsed().as_secs_f64();
    stim.write_text(&dir.join("vectors.txt"))?;
    let t1 = Instant::now();
    let out = Command::new("vvp")
        .current_dir(&dir)
        .args(["-n", "pe_tb.vvp", "+vectors=vectors.txt"])
        .output()
        .map_err(|e| Error::tool("vvp", format!("cannot start: {e}")))?;
    let run_s = t1.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    report(
        cfg,
        Simulator::Icarus,
        stim,
        &text,
        &out.stderr,
        build_s,
        run_s,
    )
}

fn report(
    cfg: &Config,
    sim: Simulator,
    stim: &Stimulus,
    text: &str,
    stderr: &[u8],
    build_s: f64,
    run_s: f64,
) -> Result<SimReport> {
    let (cycles, mismatches) = parse_result(text).ok_or_else(|| {
        Error::tool(
            sim.name(),
            format!(
                "the bench printed no RESULT line:\n{}{}",
                tail(text, 20),
                String::from_utf8_lossy(stderr)
            ),
        )
    })?;
    if cycles != stim.cycles() as u64 {
        return Err(Error::tool(
            sim.name(),
            format!("compared {cycles} cycles of {}", stim.cycles()),
        ));
    }
    Ok(SimReport {
        design: cfg.name.clone(),
        simulator: sim,
        cycles,
        mismatches,
        seed: stim.seed,
        details: text
            .lines()
            .filter(|l| l.starts_with("MISMATCH"))
            .map(str::to_string)
            .collect(),
        build_s,
        run_s,
    })
}
