//! Gate-level energy: a layer replayed through the mapped array netlist under
//! Icarus with the library's cell models (checked against the cycle-accurate
//! model), every net's toggles and time high read from the VCD, and OpenSTA's
//! power analysis with that activity; power, per-layer and per-MAC energy.

use super::timing::{run_sta, sta_setup};
use super::{Library, Mapped};
use crate::array::{self, Gemm};
use crate::config::Design;
use crate::error::{Error, Result};
use crate::tool::Tool;
use std::collections::BTreeMap;
use std::path::Path;

/// Every net's switching activity over a simulation.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// Clock cycles simulated.
    pub cycles: u64,
    /// Per net bit: (toggles per cycle, fraction of time high).
    pub nets: BTreeMap<String, (f64, f64)>,
}

/// Reads an Icarus VCD of the netlist's top scope: toggles and time high per bit.
pub fn read_vcd(text: &str, clock: &str) -> Result<Activity> {
    struct Var {
        bits: Vec<String>,
    }
    struct State {
        val: Vec<u8>,
        toggles: Vec<u64>,
        high: Vec<u64>,
        last: u64,
    }
    let mut vars: BTreeMap<String, Vec<Var>> = BTreeMap::new();
    let mut lines = text.lines();
    for l in lines.by_ref() {
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.first() == Some(&"$var") && t.len() >= 5 {
            let w: usize = t[2].parse().unwrap_or(1);
            let (name, range) = (t[4], t.get(5).filter(|r| r.starts_with('[')));
            let bits = match range {
                Some(r) => {
                    let r = r.trim_matches(|c| c == '[' || c == ']');
                    let (a, b) = r.split_once(':').unwrap_or((r, r));
                    let (hi, lo): (i64, i64) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
                    // Bit strings are MSB first: bit index of position p.
                    (0..w as i64)
                        .map(|p| if hi >= lo { hi - p } else { hi + p })
                        .map(|i| format!("{name}[{i}]"))
                        .collect()
                }
                None => vec![name.to_string()],
            };
            vars.entry(t[3].to_string()).or_default().push(Var { bits });
        } else if l.starts_with("$enddefinitions") {
            break;
        }
    }
    let mut st: BTreeMap<String, State> = vars
        .iter()
        .map(|(id, v)| {
            let w = v[0].bits.len();
            (
                id.clone(),
                State {
                    val: vec![b'x'; w],
                    toggles: vec![0; w],
                    high: vec![0; w],
                    last: 0,
                },
            )
        })
        .collect();
    let mut now = 0u64;
    let apply = |id: &str, value: &str, now: u64, st: &mut BTreeMap<String, State>| {
        let Some(s) = st.get_mut(id) else { return };
        let w = s.val.len();
        let v = value.as_bytes();
        let pad = if v.first().is_some_and(|c| matches!(c, b'x' | b'z')) {
            v[0]
        } else {
            b'0'
        };
        for p in 0..w {
            let nv = if p + v.len() >= w {
                v[p + v.len() - w]
            } else {
                pad
            };
            if s.val[p] == b'1' {
                s.high[p] += now - s.last;
            }
            if (s.val[p] == b'0' && nv == b'1') || (s.val[p] == b'1' && nv == b'0') {
                s.toggles[p] += 1;
            }
            s.val[p] = nv;
        }
        s.last = now;
    };
    for l in lines {
        let l = l.trim();
        if let Some(t) = l.strip_prefix('#') {
            now = t
                .parse()
                .map_err(|_| Error::tool("vvp", format!("bad VCD time {l}")))?;
        } else if let Some(rest) = l.strip_prefix('b') {
            if let Some((v, id)) = rest.split_once(' ') {
                apply(id.trim(), v, now, &mut st);
            }
        } else if let Some(c) = l.chars().next() {
            if matches!(c, '0' | '1' | 'x' | 'z' | 'X' | 'Z') && l.len() > 1 {
                apply(&l[1..], &c.to_ascii_lowercase().to_string(), now, &mut st);
            }
        }
    }
    let clk_id = vars
        .iter()
        .find(|(_, v)| v.iter().any(|x| x.bits[0] == clock))
        .map(|(id, _)| id.clone())
        .ok_or_else(|| Error::tool("vvp", format!("the VCD has no {clock}")))?;
    let cycles = st[&clk_id].toggles[0] / 2;
    if cycles == 0 || now == 0 {
        return Err(Error::tool("vvp", "the VCD holds no clock cycles"));
    }
    let mut nets = BTreeMap::new();
    for (id, s) in &mut st {
        for p in 0..s.val.len() {
            if s.val[p] == b'1' {
                s.high[p] += now - s.last;
            }
        }
        for v in &vars[id] {
            for (p, b) in v.bits.iter().enumerate() {
                nets.insert(
                    b.clone(),
                    (
                        s.toggles[p] as f64 / cycles as f64,
                        s.high[p] as f64 / now as f64,
                    ),
                );
            }
        }
    }
    Ok(Activity { cycles, nets })
}

/// What OpenSTA's power analysis reported, in W, at the period it ran at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Power {
    /// Internal power of the cells.
    pub internal: f64,
    /// Switching power of the nets (pin capacitance only).
    pub switching: f64,
    /// Leakage.
    pub leakage: f64,
    /// The period it was computed at, in ps.
    pub period_ps: f64,
}

impl Power {
    /// Dynamic energy per clock cycle in J (independent of the clock).
    pub fn dynamic_per_cycle(&self) -> f64 {
        (self.internal + self.switching) * self.period_ps * 1e-12
    }

    /// Total power in W at another clock period: dynamic scales with frequency.
    pub fn at(&self, period_ps: f64) -> f64 {
        self.dynamic_per_cycle() / (period_ps * 1e-12) + self.leakage
    }
}

/// Power of the mapped netlist with the simulated activity, at `period_ps`.
pub fn power(
    dir: &Path,
    m: &Mapped,
    lib: &Library,
    act: &Activity,
    period_ps: f64,
) -> Result<Power> {
    std::fs::write(dir.join("netlist.v"), &m.netlist).map_err(|e| Error::io(dir, e))?;
    std::fs::write(dir.join("cells.lib"), &lib.text).map_err(|e| Error::io(dir, e))?;
    let mut s = sta_setup(lib, &m.top, period_ps);
    s += "proc act {n a d} {\n  set ns [get_nets -quiet $n]\n  if {$ns != \"\"} { foreach p [get_pins -quiet -of_objects $ns] { sta::set_power_pin_activity $p $a $d } }\n  set ps [get_ports -quiet $n]\n  if {$ps != \"\"} { if {[get_property $ps direction] == \"input\"} { sta::set_power_input_port_activity $ps $a $d } }\n}\n";
    for (n, (a, d)) in &act.nets {
        if n == "clk_i" {
            continue;
        }
        s += &format!("act {{{n}}} {a:.6} {d:.6}\n");
    }
    s += "report_power -digits 8\n";
    let text = run_sta(dir, &s, "power")?;
    let total = text
        .lines()
        .find(|l| l.trim_start().starts_with("Total") && l.contains('%'))
        .ok_or_else(|| Error::tool("sta", "report_power printed no Total line"))?;
    let v: Vec<f64> = total
        .split_whitespace()
        .skip(1)
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() != 3 {
        return Err(Error::tool(
            "sta",
            format!("unreadable report_power line: {total}"),
        ));
    }
    Ok(Power {
        internal: v[0],
        switching: v[1],
        leakage: v[2],
        period_ps,
    })
}

/// The bench module that dumps the netlist's top-level nets.
const DUMP_V: &str = "module dump;\n  initial begin\n    $dumpfile(\"sim.vcd\");\n    $dumpvars(1, tb.dut);\n  end\nendmodule\n";

/// Replays `g` through the mapped array netlist under Icarus with the library's
/// cell models, checks every result against the cycle-accurate model and returns
/// each net's activity and the cycles the layer took. `skip` (M×N, true = skip) is
/// the output skip mask a design with `array.skip: gate` runs with; a design
/// without the option computes every output.
pub fn simulate_array(
    dir: &Path,
    cfg: &Design,
    m: &Mapped,
    lib: &Library,
    g: &Gemm,
    seed: u64,
    skip: Option<&[bool]>,
) -> Result<(Activity, array::ArrayRun)> {
    let models = lib.models.as_ref().ok_or_else(|| {
        Error::config(
            "--cell-models",
            format!("none beside {}", lib.path.display()),
            "a Verilog file with the library's cell models, for the energy simulation",
        )
    })?;
    let mut rng = crate::stimulus::Rng::new(seed);
    let run = match skip {
        Some(mask) if cfg.array.skip.on() => array::run_gemms_masked(
            cfg,
            std::slice::from_ref(g),
            &[mask.to_vec()],
            0.0,
            &mut rng,
        )?,
        _ => array::run_gemm(cfg, g, 0.0, &mut rng),
    };
    let tb = include_str!("../../../../testbench/array_tb.v");
    let inst = "`DUT #(.ROWS(ROWS), .COLS(COLS), .ACC_W(ACC_W)) dut (";
    if !tb.contains(inst) {
        return Err(Error::tool(
            "smtgen",
            "testbench/array_tb.v no longer instantiates the DUT as expected",
        ));
    }
    std::fs::write(dir.join("tb.v"), tb.replace(inst, "`DUT dut ("))
        .map_err(|e| Error::io(dir, e))?;
    std::fs::write(dir.join("dump.v"), DUMP_V).map_err(|e| Error::io(dir, e))?;
    std::fs::write(dir.join("netlist.v"), &m.netlist).map_err(|e| Error::io(dir, e))?;
    crate::sim::write_array_trace_text(cfg, &run, seed, &dir.join("trace.txt"))?;
    let models = models.to_path_buf();
    Tool::new("iverilog", "iverilog", dir)
        .args(["-g2005", "-o", "gate.vvp", "-s", "tb", "-s", "dump"])
        .arg(format!("-DDUT={}", m.top))
        .args([
            format!("-Ptb.ROWS={}", cfg.array.rows),
            format!("-Ptb.COLS={}", cfg.array.cols),
            format!("-Ptb.LANES={}", cfg.dp().lanes),
            format!("-Ptb.ACC_W={}", cfg.pe.acc_width),
        ])
        .args(cfg.array.skip.on().then_some("-DSKIP"))
        .arg(&models)
        .args(["netlist.v", "tb.v", "dump.v"])
        .log("gate_build.log")
        .execute()
        .and_then(|o| {
            if o.success() {
                Ok(o)
            } else {
                Err(o.error(&format!("gate-level build of {}", m.top)))
            }
        })?;
    let text = Tool::new("vvp", "vvp", dir)
        .args(["-n", "gate.vvp", "+trace=trace.txt"])
        .log("gate_run.log")
        .execute()?
        .text()?;
    let result = text
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .ok_or_else(|| {
            Error::tool(
                "vvp",
                format!("gate-level run of {} printed no RESULT", m.top),
            )
        })?;
    if !result.contains("mismatches=0 ") {
        let first: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("MISMATCH"))
            .take(3)
            .collect();
        return Err(Error::Mismatch {
            summary: format!(
                "gate-level {} on {} (seed {seed}): {result}\n{}",
                m.top,
                lib.label,
                first.join("\n")
            ),
        });
    }
    let vcd = std::fs::read_to_string(dir.join("sim.vcd"))
        .map_err(|e| Error::io(dir.join("sim.vcd"), e))?;
    let _ = std::fs::remove_file(dir.join("sim.vcd"));
    Ok((read_vcd(&vcd, "clk_i")?, run))
}

/// The layer energy runs on.
#[derive(Debug, Clone)]
pub struct Workload {
    /// What it is, for the reports.
    pub label: String,
    /// The GEMM.
    pub gemm: Gemm,
    /// Seed of the replay.
    pub seed: u64,
    /// Output skip mask (M×N row-major, true = skip), applied on designs with
    /// `array.skip: gate`; designs without the option compute every output.
    pub skip: Option<Vec<bool>>,
}

/// Energy of one array on the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Energy {
    /// Cycles the gate-level run took (reset and drain included).
    pub cycles: u64,
    /// MACs of the layer (M·K·N).
    pub macs: u64,
    /// Power at the analysis period, with the measured activity.
    pub power: Power,
}

impl Energy {
    /// Energy of the layer in J at `period_ps`.
    pub fn layer(&self, period_ps: f64) -> f64 {
        self.cycles as f64 * self.power.at(period_ps) * period_ps * 1e-12
    }

    /// Energy per MAC in J at `period_ps`.
    pub fn per_mac(&self, period_ps: f64) -> f64 {
        self.layer(period_ps) / self.macs as f64
    }
}
