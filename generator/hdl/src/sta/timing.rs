//! OpenSTA timing: finding the `sta` binary, the common script preamble (library,
//! netlist, ideal clock, input and output delays 0, reset a false path), running a
//! script and reading the critical path and both halves from its report.

use super::{Library, Mapped};
use crate::error::{Error, Result};
use crate::tool::Tool;
use std::path::Path;

/// The Debian package that ships `sta`.
pub const STA_PACKAGE: &str = "opensta";
/// Environment variable naming the OpenSTA binary (default `sta` on the PATH).
pub const STA_ENV: &str = "SMTGEN_STA";

/// The OpenSTA binary: `$SMTGEN_STA` or `sta`, checked to start.
pub fn sta_binary() -> Result<String> {
    let bin = std::env::var(STA_ENV).unwrap_or_else(|_| "sta".to_string());
    match crate::tool::probe(&bin, "-version") {
        Ok(o) if o.status.success() => Ok(bin),
        Ok(o) => Err(Error::tool(
            "sta",
            format!(
                "{bin} -version failed ({}): install the Debian package {STA_PACKAGE} (scripts/install-tools.sh)",
                o.status
            ),
        )),
        Err(e) => Err(Error::tool(
            "sta",
            format!(
                "cannot start {bin}: {e}: install the Debian package {STA_PACKAGE} (scripts/install-tools.sh), or name the binary in {STA_ENV}"
            ),
        )),
    }
}

/// One timing path OpenSTA reported.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingPath {
    /// The shortest clock period this path allows, in ps (arrival + setup).
    pub ps: f64,
    /// Where it starts.
    pub start: String,
    /// Where it ends.
    pub end: String,
}

/// OpenSTA's timing of one design.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// The critical path.
    pub critical: TimingPath,
    /// The worst path from the data inputs (with a pipeline register: first half).
    pub from_inputs: Option<TimingPath>,
    /// The worst path from a register (with a pipeline register: second half).
    pub from_registers: Option<TimingPath>,
}

impl Timing {
    /// The clock the critical path allows, in MHz.
    pub fn fmax_mhz(&self) -> f64 {
        1e6 / self.critical.ps
    }
}

pub(super) fn run_sta(dir: &Path, script: &str, what: &str) -> Result<String> {
    let bin = sta_binary()?;
    let file = format!("{what}.tcl");
    std::fs::write(dir.join(&file), script).map_err(|e| Error::io(dir, e))?;
    let out = Tool::new("sta", &bin, dir)
        .args(["-no_splash", "-exit", &file])
        .log(&format!("{what}.log"))
        .execute()?;
    let text = out.text()?;
    // OpenSTA exits 0 after a failed command in a script; its log says "Error:".
    if !out.success() || text.contains("Error:") {
        return Err(out.error(what));
    }
    Ok(text)
}

pub(super) fn sta_setup(lib: &Library, top: &str, period_ps: f64) -> String {
    format!(
        "read_liberty cells.lib\n\
         read_verilog netlist.v\n\
         link_design {top}\n\
         create_clock -name clk -period {} [get_ports clk_i]\n\
         set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports {{clk_i rst_ni}}]]\n\
         set_output_delay 0 -clock clk [all_outputs]\n\
         set_false_path -from [get_ports rst_ni]\n",
        period_ps / lib.time_ps
    )
}

/// The period timing runs at when no clock is given: long enough for any path.
pub const UNCONSTRAINED_PS: f64 = 1e6;

/// Times the mapped netlist in `dir` at `period_ps`.
pub fn timing(dir: &Path, m: &Mapped, lib: &Library, period_ps: f64) -> Result<Timing> {
    std::fs::write(dir.join("netlist.v"), &m.netlist).map_err(|e| Error::io(dir, e))?;
    std::fs::write(dir.join("cells.lib"), &lib.text).map_err(|e| Error::io(dir, e))?;
    let script = sta_setup(lib, &m.top, period_ps)
        + "puts \"@@ critical\"\nreport_checks -path_delay max -digits 4\n\
           puts \"@@ inputs\"\nreport_checks -path_delay max -digits 4 -from [delete_from_list [all_inputs] [get_ports {clk_i rst_ni}]]\n\
           puts \"@@ registers\"\nreport_checks -path_delay max -digits 4 -from [all_registers]\n";
    let text = run_sta(dir, &script, "timing")?;
    let section = |name: &str| -> Option<TimingPath> {
        let s = text.split(&format!("@@ {name}")).nth(1)?;
        let s = s.split("@@ ").next()?;
        parse_path(s, period_ps, lib.time_ps)
    };
    let critical = section("critical")
        .ok_or_else(|| Error::tool("sta", format!("no timing path found in {}", m.top)))?;
    Ok(Timing {
        critical,
        from_inputs: section("inputs"),
        from_registers: section("registers"),
    })
}

fn parse_path(s: &str, period_ps: f64, time_ps: f64) -> Option<TimingPath> {
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.trim().strip_prefix(k))
            .map(|v| v.split(" (").next().unwrap_or(v).trim().to_string())
    };
    let slack: f64 = s
        .lines()
        .find(|l| l.contains("slack ("))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(TimingPath {
        ps: period_ps - slack * time_ps,
        start: field("Startpoint:")?,
        end: field("Endpoint:")?,
    })
}
