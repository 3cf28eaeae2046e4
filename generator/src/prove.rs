//! Equivalence proofs: the optimized PE datapath (`<name>_cond` + `<name>_fabric`,
//! lane inputs to the cycle's lane sum) against the behavioural reference
//! `<name>_ref`, for every input, with Yosys's SAT solver. A failed proof yields a
//! counterexample (lane inputs, both sums) that the golden model then evaluates.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::PeModel;
use crate::rtl::{self, GeneratedFile};
use std::process::Command;
use std::time::Instant;

/// The outcome of one proof.
#[derive(Debug, Clone, PartialEq)]
pub struct Proof {
    /// Design name.
    pub design: String,
    /// Input bits the proof covers (all of them: 16 per lane).
    pub input_bits: u32,
    /// Proven equal for every input. Neither this nor a counterexample: the proof
    /// ran out of time.
    pub proven: bool,
    /// When refuted: lane activations, weights, optimized sum, reference sum, and
    /// the golden model's sum for the same lanes.
    pub counterexample: Option<Counterexample>,
    /// Seconds Yosys took.
    pub seconds: f64,
}

/// Inputs on which the optimized datapath and the reference disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterexample {
    /// Activations per lane.
    pub acts: Vec<u8>,
    /// Weights per lane.
    pub wgts: Vec<i8>,
    /// The optimized datapath's lane sum.
    pub optimized: i64,
    /// The reference's lane sum.
    pub reference: i64,
    /// The golden model's lane sum on the same lanes.
    pub model: i64,
}

fn miter(cfg: &Config) -> String {
    let p = &cfg.name;
    let t = cfg.pe.threads;
    let us = rtl::units(cfg);
    let xb: u32 = us.iter().map(|u| u.aw).sum();
    let yb: u32 = us.iter().map(|u| u.ww).sum();
    let sb = 4 * us.len();
    let sw = cfg.pe.sum_width();
    format!(
        "module {p}_miter (\n  input  wire [{lw}:0] act_i,\n  input  wire [{lw}:0] wgt_i,\n  output wire signed [{s}:0] opt_o,\n  output wire signed [{s}:0] ref_o,\n  output wire trigger_o\n);\n  wire [{x}:0] x;\n  wire [{y}:0] y;\n  wire [{sh}:0] sh;\n  {p}_cond u_cond (.act_i(act_i), .wgt_i(wgt_i), .x_o(x), .y_o(y), .sh_o(sh));\n  {p}_fabric u_fabric (.x_i(x), .y_i(y), .sh_i(sh), .sum_o(opt_o));\n  {p}_ref u_ref (.act_i(act_i), .wgt_i(wgt_i), .sum_o(ref_o));\n  assign trigger_o = (opt_o != ref_o);\nendmodule\n",
        lw = t * 8 - 1,
        s = sw - 1,
        x = xb - 1,
        y = yb - 1,
        sh = sb - 1,
    )
}

/// Proves `cfg`'s optimized datapath equal to its reference for every input, or
/// returns the counterexample Yosys finds. `files` are the PE's generated files
/// (pass a modified set to check that a broken fabric is refuted).
pub fn prove_files(cfg: &Config, files: &[GeneratedFile], timeout_s: u64) -> Result<Proof> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("<tempdir>", e))?;
    let mut all: Vec<GeneratedFile> = files
        .iter()
        .filter(|f| {
            f.name.ends_with(".v") && !f.name.ends_with("_pe.v") && !f.name.ends_with("_acc.v")
        })
        .cloned()
        .collect();
    all.push(rtl::generate_reference(cfg)?);
    all.push(GeneratedFile {
        name: format!("{}_miter.v", cfg.name),
        text: miter(cfg),
    });
    rtl::write_files(dir.path(), &all)?;
    let sources: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
    // Stage 1: MiniSAT on the word-level miter for a short while. A wrong datapath
    // is refuted here within seconds; small designs are proven outright.
    // Stage 2: the gate-level miter through ABC's SAT sweeping (fraig), which merges
    // equivalent nodes, so an equivalent pair leaves trigger_o constant 0 and `sat`
    // confirms it at once.
    let read = format!(
        "read_verilog {}\nhierarchy -check -top {p}_miter\nproc\nmemory\nmemory_map\nflatten\nopt\n",
        sources.join(" "),
        p = cfg.name
    );
    let quick =
        format!("{read}sat -prove trigger_o 0 -timeout {QUICK_S} -show-inputs -show-outputs\n");
    let sweep = format!("{read}techmap\nopt\nabc -g AND\nopt_clean\nsat -prove trigger_o 0 -show-inputs -show-outputs\n");
    let t0 = Instant::now();
    let mut log = run_yosys(dir.path(), "quick", &quick, timeout_s, &cfg.name)?;
    if let Some(l) = &log {
        if !l.contains("SUCCESS!") && !l.contains("FAIL!") {
            log = run_yosys(dir.path(), "sweep", &sweep, timeout_s, &cfg.name)?;
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let Some(log) = log else {
        return Ok(Proof {
            design: cfg.name.clone(),
            input_bits: 16 * cfg.pe.threads,
            proven: false,
            counterexample: None,
            seconds,
        });
    };
    let t = cfg.pe.lanes();
    let proven = log.contains("SUCCESS!");
    let counterexample = if proven {
        None
    } else {
        Some(parse_counterexample(cfg, &log, t)?)
    };
    Ok(Proof {
        design: cfg.name.clone(),
        input_bits: 16 * cfg.pe.threads,
        proven,
        counterexample,
        seconds,
    })
}

/// Seconds the first, plain SAT attempt may take.
const QUICK_S: u64 = 60;

/// Runs a Yosys script; `None` when it ran out of time, else its log.
fn run_yosys(
    dir: &std::path::Path,
    name: &str,
    script: &str,
    timeout_s: u64,
    design: &str,
) -> Result<Option<String>> {
    let ys = format!("{name}.ys");
    let log = format!("{name}.log");
    std::fs::write(dir.join(&ys), script).map_err(|e| Error::io(dir, e))?;
    let out = Command::new("timeout")
        .current_dir(dir)
        .args([
            "-k",
            "5",
            &timeout_s.to_string(),
            "yosys",
            "-q",
            "-l",
            &log,
            "-s",
            &ys,
        ])
        .output()
        .map_err(|e| Error::tool("yosys", format!("cannot start: {e}")))?;
    if out.status.code() == Some(124) || out.status.code() == Some(137) {
        return Ok(None);
    }
    if !out.status.success() {
        return Err(Error::tool(
            "yosys",
            format!(
                "proof of {design} did not run:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    Ok(Some(
        std::fs::read_to_string(dir.join(&log)).unwrap_or_default(),
    ))
}

/// Proves the generated PE of `cfg` within `timeout_s` seconds (an unfinished
/// proof is neither proven nor refuted).
pub fn prove(cfg: &Config, timeout_s: u64) -> Result<Proof> {
    prove_files(cfg, &rtl::generate_pe(cfg)?, timeout_s)
}

/// Reads `\act_i`, `\wgt_i`, `\opt_o`, `\ref_o` from the value table Yosys prints
/// for a failed proof (`Time Signal Value` rows; the decimal column).
fn parse_counterexample(cfg: &Config, log: &str, t: usize) -> Result<Counterexample> {
    let value = |name: &str| -> Option<u128> {
        log.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == name)?;
            f.get(i + 1)?.parse::<u128>().ok()
        })
    };
    let missing = || {
        Error::tool(
            "yosys",
            format!("refuted {}, but no counterexample was printed", cfg.name),
        )
    };
    let act = value("\\act_i").ok_or_else(missing)?;
    let wgt = value("\\wgt_i").ok_or_else(missing)?;
    let sw = cfg.pe.sum_width();
    let signed = |v: u128| -> i64 {
        let sh = 64 - sw;
        ((v as i64) << sh) >> sh
    };
    let opt = signed(value("\\opt_o").ok_or_else(missing)?);
    let reference = signed(value("\\ref_o").ok_or_else(missing)?);
    let acts: Vec<u8> = (0..t).map(|l| (act >> (8 * l)) as u8).collect();
    let wgts: Vec<i8> = (0..t).map(|l| (wgt >> (8 * l)) as u8 as i8).collect();
    let model = i64::from(PeModel::new(&cfg.pe).products(&acts, &wgts).sum);
    Ok(Counterexample {
        acts,
        wgts,
        optimized: opt,
        reference,
        model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miter_wires_cond_fabric_and_reference() {
        let cfg = Config::preset("sysmt4").unwrap();
        let m = miter(&cfg);
        assert!(m.contains("sysmt4_cond u_cond") && m.contains("sysmt4_ref u_ref"));
        assert!(m.contains("input  wire [31:0] act_i") && m.contains("signed [17:0] opt_o"));
    }
}
