//! Area, timing and energy on a real cell library: maps a generated PE or array
//! flat onto a Liberty library with Yosys (cells marked `dont_use` removed first),
//! times it with OpenSTA (ideal clock, input and output delays 0, reset a false
//! path), replays a layer through the mapped array netlist under Icarus with the
//! library's Verilog cell models, counts every net's toggles from the VCD and hands
//! them to OpenSTA's power analysis. Owns the library, the flows and their reports.

use crate::array::{self, Gemm};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::report::Table;
use crate::rtl::{self, GeneratedFile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Where Debian's `qflow-tech-osu018` puts the OSU 0.18 µm library.
pub const OSU018_LIB: &str = "/usr/share/qflow/tech/osu018/osu018_stdcells.lib";
/// The Debian package that ships [`OSU018_LIB`].
pub const OSU018_PACKAGE: &str = "qflow-tech-osu018";
/// The Debian package that ships `sta`.
pub const STA_PACKAGE: &str = "opensta";
/// Environment variable naming the OpenSTA binary (default `sta` on the PATH).
pub const STA_ENV: &str = "SMTGEN_STA";

/// A Liberty library as the flows use it.
#[derive(Debug, Clone)]
pub struct Library {
    /// How the user named it (`osu018` or the file's path).
    pub label: String,
    /// The Liberty file.
    pub path: PathBuf,
    /// The library text with every `dont_use` cell removed.
    pub text: String,
    /// Area of every usable cell, in the library's units (µm² by convention).
    pub areas: BTreeMap<String, f64>,
    /// Cells the library marks `dont_use` (left out of the mapping).
    pub dont_use: Vec<String>,
    /// The smallest two-input NAND and its area: the unit of NAND2 equivalents.
    pub nand2: (String, f64),
    /// Picoseconds per library time unit.
    pub time_ps: f64,
    /// Verilog models of the cells, for simulating a mapped netlist (energy).
    pub models: Option<PathBuf>,
}

impl Library {
    /// The library chosen by `--liberty FILE` or `--library NAME` (`None` when
    /// neither is given: the built-in GE table). `models` overrides the Verilog cell
    /// models, by default the `.v` file beside the Liberty file with the same stem.
    pub fn from_args(
        liberty: Option<&Path>,
        library: Option<&str>,
        models: Option<&Path>,
    ) -> Result<Option<Library>> {
        let (label, path) = match (liberty, library) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "--liberty/--library",
                    "both given",
                    "one of --liberty FILE or --library osu018",
                ))
            }
            (Some(p), None) => (p.display().to_string(), p.to_path_buf()),
            (None, Some("osu018")) => ("osu018".to_string(), PathBuf::from(OSU018_LIB)),
            (None, Some(other)) => {
                return Err(Error::config(
                    "--library",
                    other,
                    "osu018 (or --liberty FILE for any other library)",
                ))
            }
        };
        if !path.is_file() {
            let hint = if label == "osu018" {
                format!(": install the Debian package {OSU018_PACKAGE} (scripts/install-tools.sh)")
            } else {
                String::new()
            };
            return Err(Error::config(
                if label == "osu018" {
                    "--library"
                } else {
                    "--liberty"
                },
                format!("{label} ({} does not exist)", path.display()),
                format!("a readable Liberty (.lib) file{hint}"),
            ));
        }
        let raw = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut lib = Library::parse(&label, &path, &raw)?;
        lib.models = match models {
            Some(m) if m.is_file() => Some(m.to_path_buf()),
            Some(m) => {
                return Err(Error::config(
                    "--cell-models",
                    m.display(),
                    "a Verilog file with the library's cell models",
                ))
            }
            None => Some(path.with_extension("v")).filter(|p| p.is_file()),
        };
        Ok(Some(lib))
    }

    /// Parses Liberty text: cells, areas, `dont_use`, the NAND2 unit, the time unit.
    pub fn parse(label: &str, path: &Path, raw: &str) -> Result<Library> {
        let bad = |what: String| Error::Input {
            file: path.display().to_string(),
            at: "liberty".into(),
            what,
        };
        let cells = cell_groups(raw);
        if cells.is_empty() {
            return Err(bad("no cell groups: not a Liberty library".into()));
        }
        let mut areas = BTreeMap::new();
        let mut dont_use = Vec::new();
        let mut text = String::with_capacity(raw.len());
        let mut at = 0;
        for c in &cells {
            let body = &raw[c.body.0..c.body.1];
            if attr(body, "dont_use").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                dont_use.push(c.name.clone());
                text.push_str(&raw[at..c.span.0]);
                at = c.span.1;
                continue;
            }
            let area = attr(body, "area")
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| bad(format!("cell {} has no area", c.name)))?;
            areas.insert(c.name.clone(), area);
        }
        text.push_str(&raw[at..]);
        let nand2 = areas
            .iter()
            .filter(|(n, _)| {
                let l = n.to_ascii_lowercase();
                l.contains("nand2") && !l.contains("nand2b")
            })
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(n, a)| (n.clone(), *a))
            .ok_or_else(|| bad("no usable NAND2 cell (the unit of NAND2 equivalents)".into()))?;
        let time_ps = match attr(raw, "time_unit").map(|s| s.to_ascii_lowercase()) {
            Some(u) => {
                let (num, unit) =
                    u.split_at(u.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(u.len()));
                let n: f64 = num.trim().parse().unwrap_or(1.0);
                n * match unit.trim() {
                    "ps" => 1.0,
                    "ns" => 1e3,
                    "us" => 1e6,
                    other => return Err(bad(format!("time_unit {other}: allowed ps, ns, us"))),
                }
            }
            None => 1e3,
        };
        Ok(Library {
            label: label.to_string(),
            path: path.to_path_buf(),
            text,
            areas,
            dont_use,
            nand2,
            time_ps,
            models: None,
        })
    }
}

struct CellGroup {
    name: String,
    span: (usize, usize),
    body: (usize, usize),
}

/// Every `cell (NAME) { ... }` group: its name, whole span and body span.
fn cell_groups(s: &str) -> Vec<CellGroup> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = s[i..].find("cell") {
        let start = i + off;
        i = start + 4;
        let before_ok =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if !before_ok || j >= b.len() || b[j] != b'(' {
            continue;
        }
        let Some(close) = s[j..].find(')').map(|k| j + k) else {
            break;
        };
        let name = s[j + 1..close].trim().trim_matches('"').to_string();
        let mut k = close + 1;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if k >= b.len() || b[k] != b'{' {
            continue;
        }
        // Match braces, skipping strings and comments.
        let (mut depth, mut p) = (0usize, k);
        let mut end = None;
        while p < b.len() {
            match b[p] {
                b'"' => {
                    p += 1;
                    while p < b.len() && b[p] != b'"' {
                        p += 1;
                    }
                }
                b'/' if b.get(p + 1) == Some(&b'*') => {
                    p = s[p + 2..].find("*/").map_or(b.len(), |q| p + 2 + q + 1);
                }
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(p);
                        break;
                    }
                }
                _ => {}
            }
            p += 1;
        }
        let Some(end) = end else { break };
        out.push(CellGroup {
            name,
            span: (start, end + 1),
            body: (k + 1, end),
        });
        i = end + 1;
    }
    out
}

/// The first simple attribute `name : value ;` in `s` (quotes stripped).
fn attr<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(off) = s[i..].find(name) {
        let at = i + off;
        i = at + name.len();
        let before_ok = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
        let rest = s[i..].trim_start();
        if before_ok && rest.starts_with(':') {
            let v = rest[1..]
                .split([';', '\n'])
                .next()?
                .trim()
                .trim_matches('"');
            return Some(v);
        }
    }
    None
}

/// The OpenSTA binary: `$SMTGEN_STA` or `sta`, checked to start.
pub fn sta_binary() -> Result<String> {
    let bin = std::env::var(STA_ENV).unwrap_or_else(|_| "sta".to_string());
    match Command::new(&bin).arg("-version").output() {
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

/// A flat netlist mapped onto the library.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The top module.
    pub top: String,
    /// Area in library units (µm²).
    pub area: f64,
    /// Area in the library's NAND2 equivalents.
    pub nand2_eq: f64,
    /// Mapped cells by type.
    pub cells: BTreeMap<String, u64>,
    /// The netlist text (nets renamed `n<k>`, registers after the wire they drive).
    pub netlist: String,
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

/// Maps `top` (from `files`) flat onto the library.
pub fn map(files: &[GeneratedFile], top: &str, lib: &Library, dir: &Path) -> Result<Mapped> {
    rtl::write_files(dir, files)?;
    std::fs::write(dir.join("cells.lib"), &lib.text).map_err(|e| Error::io(dir, e))?;
    let sources: Vec<&str> = files
        .iter()
        .filter(|f| f.name.ends_with(".v"))
        .map(|f| f.name.as_str())
        .collect();
    // Yosys 0.23's delay-mode ABC script, plus buffering and sizing (without them
    // high-fanout nets stay unbuffered and the timing is not meaningful).
    let abc = "+strash;&get,-n;&fraig,-x;&put;scorr;dc2;dretime;strash;&get,-n;&dch,-f;&nf,{D};&put;buffer,-p;upsize,{D};dnsize,{D}";
    let script = format!(
        "read_liberty -lib cells.lib\n\
         read_verilog -defer {}\n\
         hierarchy -check -top {top}\n\
         synth -top {top} -flatten\n\
         dfflibmap -liberty cells.lib\n\
         dfflegalize -cell $_DFFSR_PNN_ 01 -cell $_DFF_P_ 01\n\
         dfflibmap -liberty cells.lib\n\
         abc -liberty cells.lib -D 1000 -script {abc}\n\
         opt_clean -purge\n\
         check -assert\n\
         rename -wire -suffix _reg t:DFF*\n\
         rename -hide w:* x:* %d\n\
         rename -enumerate -pattern n%\n\
         write_verilog -noattr -noexpr netlist.v\n",
        sources.join(" ")
    );
    std::fs::write(dir.join("map.ys"), &script).map_err(|e| Error::io(dir, e))?;
    let out = Command::new("yosys")
        .current_dir(dir)
        .args(["-q", "-l", "map.log", "-s", "map.ys"])
        .output()
        .map_err(|e| {
            Error::tool(
                "yosys",
                format!("cannot start: {e} (run scripts/install-tools.sh)"),
            )
        })?;
    if !out.status.success() {
        let log = std::fs::read_to_string(dir.join("map.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        return Err(Error::tool(
            "yosys",
            format!(
                "mapping {top} onto {} failed:\n{}{}",
                lib.label,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    let netlist = std::fs::read_to_string(dir.join("netlist.v"))
        .map_err(|e| Error::io(dir.join("netlist.v"), e))?;
    let netlist = bitwise_assigns(&netlist).ok_or_else(|| {
        Error::tool(
            "yosys",
            format!("{top}: an assign in the netlist could not be split into bits"),
        )
    })?;
    std::fs::write(dir.join("netlist.v"), &netlist).map_err(|e| Error::io(dir, e))?;
    let cells = netlist_cells(&netlist);
    let mut area = 0.0;
    for (t, n) in &cells {
        let a = lib.areas.get(t).ok_or_else(|| {
            Error::tool(
                "yosys",
                format!("{top} holds {t}: not a usable cell of {} (the library lacks a flip-flop or gate the design needs)", lib.label),
            )
        })?;
        area += a * *n as f64;
    }
    Ok(Mapped {
        top: top.to_string(),
        area,
        nand2_eq: area / lib.nand2.1,
        cells,
        netlist,
    })
}

/// Rewrites every `assign` holding a concatenation as one assign per bit (OpenSTA's
/// netlist reader takes no concatenations there). `None` on an unreadable assign.
pub fn bitwise_assigns(v: &str) -> Option<String> {
    if !v
        .lines()
        .any(|l| l.trim_start().starts_with("assign ") && l.contains('{'))
    {
        return Some(v.to_string());
    }
    // Declared ranges: name -> (msb, lsb); one-bit nets without a range are absent.
    let mut ranges: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for l in v.lines() {
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.len() == 3 && matches!(t[0], "wire" | "input" | "output") && t[1].starts_with('[') {
            let r = t[1].trim_matches(|c| c == '[' || c == ']');
            let (a, b) = r.split_once(':')?;
            ranges.insert(
                t[2].trim_end_matches(';'),
                (a.parse().ok()?, b.parse().ok()?),
            );
        }
    }
    let bits = |e: &str| -> Option<Vec<String>> {
        let e = e.trim();
        let e = e
            .strip_prefix('{')
            .map_or(e, |x| x.strip_suffix('}').unwrap_or(x));
        let mut out = Vec::new();
        for part in e.split(',') {
            let p = part.trim();
            if let Some((w, val)) = p.split_once('\'') {
                let w: usize = w.parse().ok()?;
                let (base, digits) = val.split_at(1);
                let mut b: Vec<char> = match base {
                    "b" => digits.chars().collect(),
                    "h" => digits
                        .chars()
                        .flat_map(|c| match c.to_digit(16) {
                            Some(d) => (0..4)
                                .rev()
                                .map(|i| if d >> i & 1 == 1 { '1' } else { '0' })
                                .collect::<Vec<_>>(),
                            None => vec![c; 4],
                        })
                        .collect(),
                    "d" => {
                        let n: u128 = digits.parse().ok()?;
                        (0..w)
                            .rev()
                            .map(|i| if i < 128 && n >> i & 1 == 1 { '1' } else { '0' })
                            .collect()
                    }
                    _ => return None,
                };
                while b.len() < w {
                    b.insert(0, '0');
                }
                out.extend(b[b.len() - w..].iter().map(|c| format!("1'b{c}")));
            } else if let Some((name, sel)) = p.split_once('[') {
                let sel = sel.trim_end_matches(']');
                let (h, l): (i64, i64) = match sel.split_once(':') {
                    Some((h, l)) => (h.parse().ok()?, l.parse().ok()?),
                    None => (sel.parse().ok()?, sel.parse().ok()?),
                };
                let name = name.trim();
                if h >= l {
                    out.extend((l..=h).rev().map(|i| format!("{name}[{i}]")));
                } else {
                    out.extend((h..=l).map(|i| format!("{name}[{i}]")));
                }
            } else {
                match ranges.get(p) {
                    Some(&(h, l)) if h >= l => {
                        out.extend((l..=h).rev().map(|i| format!("{p}[{i}]")))
                    }
                    Some(&(h, l)) => out.extend((h..=l).map(|i| format!("{p}[{i}]"))),
                    None => out.push(p.to_string()),
                }
            }
        }
        Some(out)
    };
    let mut s = String::with_capacity(v.len());
    for l in v.lines() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix("assign ").filter(|_| l.contains('{')) {
            let (lhs, rhs) = rest.trim_end().trim_end_matches(';').split_once(" = ")?;
            let (lb, rb) = (bits(lhs)?, bits(rhs)?);
            if lb.len() != rb.len() {
                return None;
            }
            for (a, b) in lb.iter().zip(&rb) {
                s += &format!("  assign {a} = {b};\n");
            }
        } else {
            s += l;
            s.push('\n');
        }
    }
    Some(s)
}

/// Cell instances by type in a Yosys-written flat netlist.
fn netlist_cells(v: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for l in v.lines() {
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.len() == 3 && t[2] == "(" && !matches!(t[0], "module" | "input" | "output" | "wire") {
            *out.entry(t[0].trim_start_matches('\\').to_string())
                .or_insert(0) += 1;
        }
    }
    out
}

fn run_sta(dir: &Path, script: &str, what: &str) -> Result<String> {
    let bin = sta_binary()?;
    let file = format!("{what}.tcl");
    std::fs::write(dir.join(&file), script).map_err(|e| Error::io(dir, e))?;
    let out = Command::new(&bin)
        .current_dir(dir)
        .args(["-no_splash", "-exit", &file])
        .output()
        .map_err(|e| Error::tool("sta", format!("cannot start {bin}: {e}")))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || text.contains("Error:") {
        let tail: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Error") || l.contains("Warning"))
            .take(10)
            .collect();
        return Err(Error::tool(
            "sta",
            format!("{what} failed: {}", tail.join("\n")),
        ));
    }
    Ok(text)
}

fn sta_setup(lib: &Library, top: &str, period_ps: f64) -> String {
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
/// each net's activity and the cycles the layer took.
pub fn simulate_array(
    dir: &Path,
    cfg: &Config,
    m: &Mapped,
    lib: &Library,
    g: &Gemm,
    seed: u64,
) -> Result<(Activity, array::ArrayRun)> {
    let models = lib.models.as_ref().ok_or_else(|| {
        Error::config(
            "--cell-models",
            format!("none beside {}", lib.path.display()),
            "a Verilog file with the library's cell models, for the energy simulation",
        )
    })?;
    let mut rng = crate::stimulus::Rng::new(seed);
    let run = array::run_gemm(cfg, g, 0.0, &mut rng);
    let tb = include_str!("../../testbench/array_tb.v");
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
    let out = Command::new("iverilog")
        .current_dir(dir)
        .args(["-g2005", "-o", "gate.vvp", "-s", "tb", "-s", "dump"])
        .arg(format!("-DDUT={}", m.top))
        .args([
            format!("-Ptb.ROWS={}", cfg.array.rows),
            format!("-Ptb.COLS={}", cfg.array.cols),
            format!("-Ptb.LANES={}", cfg.pe.threads),
            format!("-Ptb.ACC_W={}", cfg.pe.acc_width),
        ])
        .arg(models)
        .args(["netlist.v", "tb.v", "dump.v"])
        .output()
        .map_err(|e| {
            Error::tool(
                "iverilog",
                format!("cannot start: {e} (run scripts/install-tools.sh)"),
            )
        })?;
    if !out.status.success() {
        return Err(Error::tool(
            "iverilog",
            format!(
                "gate-level build of {} failed: {}",
                m.top,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .take(10)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        ));
    }
    let out = Command::new("vvp")
        .current_dir(dir)
        .args(["-n", "gate.vvp", "+trace=trace.txt"])
        .output()
        .map_err(|e| Error::tool("vvp", format!("cannot start: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
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

/// One design on the real library.
#[derive(Debug, Clone)]
pub struct StaCost {
    /// Design point.
    pub preset: String,
    /// Lanes per cycle.
    pub lanes: u32,
    /// The PE, mapped.
    pub pe: Mapped,
    /// The PE's timing.
    pub pe_timing: Timing,
    /// The array, mapped, timed and (with cell models) its energy.
    pub array: Option<(Mapped, Timing, Option<Energy>)>,
    /// Seconds the flows took.
    pub seconds: f64,
}

/// Runs the flows for one design: PE mapped and timed; with `workload`, the
/// `rows`×`cols` array mapped, timed and simulated for energy.
pub fn cost(
    cfg: &Config,
    preset: &str,
    lib: &Library,
    workload: Option<&Workload>,
    period_ps: f64,
) -> Result<StaCost> {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| Error::io("<tempdir>", e))?;
    let pe_dir = dir.path().join("pe");
    let pe = map(&rtl::generate_pe(cfg)?, &rtl::pe_top(cfg), lib, &pe_dir)?;
    let pe_timing = timing(&pe_dir, &pe, lib, period_ps)?;
    let array = match workload {
        None => None,
        Some(w) => {
            let ad = dir.path().join("array");
            let a = map(
                &rtl::generate_array(cfg)?,
                &format!("{}_array", cfg.name),
                lib,
                &ad,
            )?;
            let t = timing(&ad, &a, lib, period_ps)?;
            let e = if lib.models.is_some() {
                let (act, _run) = simulate_array(&ad, cfg, &a, lib, &w.gemm, w.seed)?;
                let p = power(&ad, &a, lib, &act, t.critical.ps.max(1.0))?;
                Some(Energy {
                    cycles: act.cycles,
                    macs: (w.gemm.m * w.gemm.k * w.gemm.n) as u64,
                    power: p,
                })
            } else {
                None
            };
            Some((a, t, e))
        }
    };
    Ok(StaCost {
        preset: preset.to_string(),
        lanes: cfg.pe.threads,
        pe,
        pe_timing,
        array,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// [`cost`] for every design point on both cores, the reference `base` first.
pub fn compare(
    presets: &[String],
    base: &str,
    rows: u32,
    cols: u32,
    lib: &Library,
    workload: Option<&Workload>,
    clock_ps: Option<f64>,
) -> Result<Vec<StaCost>> {
    let mut names: Vec<String> = presets.to_vec();
    if !names.iter().any(|n| n == base) {
        names.insert(0, base.into());
    }
    let size = [format!("array.rows={rows}"), format!("array.cols={cols}")];
    let cfgs: Vec<Config> = names
        .iter()
        .map(|n| crate::config::design_point(n, &size))
        .collect::<Result<_>>()?;
    sta_binary()?;
    let period = clock_ps.unwrap_or(UNCONSTRAINED_PS);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<BTreeMap<usize, Result<StaCost>>> =
        std::sync::Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(cfg) = cfgs.get(i) else { break };
                let r = cost(cfg, &names[i], lib, workload, period);
                if let Ok(c) = &r {
                    eprintln!(
                        "smtgen compare: {} mapped, timed{} in {:.0} s",
                        c.preset,
                        if c.array.as_ref().is_some_and(|a| a.2.is_some()) {
                            " and simulated"
                        } else {
                            ""
                        },
                        c.seconds
                    );
                }
                if let Ok(mut v) = results.lock() {
                    v.insert(i, r);
                }
            });
        }
    });
    let mut map = results
        .into_inner()
        .map_err(|_| Error::tool("smtgen", "poisoned lock"))?;
    (0..cfgs.len())
        .map(|i| {
            map.remove(&i)
                .unwrap_or_else(|| Err(Error::tool("smtgen", "a job did not run")))
        })
        .collect()
}

/// The clock energy is reported at: `--clock-ps`, else the slowest design's
/// critical path (array when synthesized, else PE), so every design meets it.
pub fn report_clock(costs: &[StaCost], clock_ps: Option<f64>) -> f64 {
    clock_ps.unwrap_or_else(|| {
        costs
            .iter()
            .map(|c| {
                c.array
                    .as_ref()
                    .map_or(c.pe_timing.critical.ps, |a| a.1.critical.ps)
            })
            .fold(0.0, f64::max)
    })
}

/// The side-by-side table on the real library: µm², NAND2 equivalents, critical
/// path, fmax, both halves, and with energy: power, energy per MAC and per layer.
pub fn compare_table(costs: &[StaCost], base: &str, clock_ps: f64) -> Table {
    let Some(b) = costs.iter().find(|c| c.preset == base) else {
        return Table::new(&["design"]);
    };
    let arrays = costs.iter().all(|c| c.array.is_some());
    let energy = arrays
        && costs
            .iter()
            .all(|c| c.array.as_ref().is_some_and(|a| a.2.is_some()));
    let mut h = vec!["design", "T", "PE um2", "PE NAND2", "PE x"];
    if arrays {
        h.extend(["array um2", "array x"]);
    }
    h.extend(["crit ps", "crit x", "fmax MHz", "in->reg ps", "reg->reg ps"]);
    if arrays {
        h.extend(["array crit ps"]);
    }
    h.push("lanes/area x");
    if energy {
        h.extend([
            "power mW", "pJ/MAC", "E/MAC x", "saving %", "layer nJ", "cycles",
        ]);
    }
    let mut t = Table::new(&h);
    let opt = |p: &Option<TimingPath>| {
        p.as_ref()
            .map_or("-".to_string(), |p| format!("{:.0}", p.ps))
    };
    for c in costs {
        let mut r = vec![
            c.preset.clone(),
            c.lanes.to_string(),
            format!("{:.0}", c.pe.area),
            format!("{:.0}", c.pe.nand2_eq),
            format!("{:.2}", c.pe.area / b.pe.area),
        ];
        let mut ratio = c.pe.area / b.pe.area;
        if let (Some(a), Some(ba)) = (&c.array, &b.array) {
            ratio = a.0.area / ba.0.area;
            r.extend([format!("{:.0}", a.0.area), format!("{ratio:.2}")]);
        }
        r.extend([
            format!("{:.0}", c.pe_timing.critical.ps),
            format!("{:.2}", c.pe_timing.critical.ps / b.pe_timing.critical.ps),
            format!("{:.0}", c.pe_timing.fmax_mhz()),
            opt(&c.pe_timing.from_inputs),
            opt(&c.pe_timing.from_registers),
        ]);
        if let Some(a) = &c.array {
            r.push(format!("{:.0}", a.1.critical.ps));
        }
        r.push(format!("{:.2}", f64::from(c.lanes) / ratio));
        if energy {
            if let (Some((_, _, Some(e))), Some((_, _, Some(be)))) = (&c.array, &b.array) {
                let x = e.per_mac(clock_ps) / be.per_mac(clock_ps);
                r.extend([
                    format!("{:.3}", e.power.at(clock_ps) * 1e3),
                    format!("{:.3}", e.per_mac(clock_ps) * 1e12),
                    format!("{x:.2}"),
                    format!("{:.0}", 100.0 * (1.0 - x)),
                    format!("{:.2}", e.layer(clock_ps) * 1e9),
                    e.cycles.to_string(),
                ]);
            }
        }
        t.rows.push(r);
    }
    t
}

/// Start and end points of every design's paths (PE).
pub fn paths_table(costs: &[StaCost]) -> Table {
    let mut t = Table::new(&[
        "design",
        "critical path",
        "ps",
        "first half (from inputs)",
        "second half (from registers)",
    ]);
    let p = |x: &Option<TimingPath>| {
        x.as_ref().map_or("-".to_string(), |p| {
            format!("{} -> {} ({:.0} ps)", p.start, p.end, p.ps)
        })
    };
    for c in costs {
        let k = &c.pe_timing.critical;
        t.rows.push(vec![
            c.preset.clone(),
            format!("{} -> {}", k.start, k.end),
            format!("{:.0}", k.ps),
            p(&c.pe_timing.from_inputs),
            p(&c.pe_timing.from_registers),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = "library (t) {\n  time_unit : \"1ns\";\n  cell (NAND2X1) {\n    area : 24;\n    pin (Y) { function : \"(!(A B))\"; }\n  }\n  cell (BAD) {\n    dont_use : true;\n    area : 1;\n  }\n  cell(INVX1){ area : 16; }\n}\n";

    #[test]
    fn liberty_cells_areas_and_dont_use_are_read() {
        let l = Library::parse("t", Path::new("t.lib"), LIB).expect("parses");
        assert_eq!(l.areas.get("NAND2X1"), Some(&24.0));
        assert_eq!(l.areas.get("INVX1"), Some(&16.0));
        assert_eq!(l.dont_use, vec!["BAD".to_string()]);
        assert!(
            !l.text.contains("BAD"),
            "dont_use cell left in the library text"
        );
        assert_eq!(l.nand2, ("NAND2X1".to_string(), 24.0));
        assert_eq!(l.time_ps, 1000.0);
    }

    #[test]
    fn a_library_without_nand2_is_rejected() {
        let e = Library::parse(
            "t",
            Path::new("t.lib"),
            "library (t) { cell (INV) { area : 1; } }",
        )
        .expect_err("no NAND2");
        assert!(e.to_string().contains("NAND2"), "{e}");
    }

    #[test]
    fn concatenating_assigns_are_split_into_bits() {
        let v = "module m (a, y);\n  input [1:0] a;\n  output [3:0] y;\n  wire n1;\n  assign { y[3], y[2:0] } = { n1, a, 1'h0 };\n  assign n1 = a[0];\nendmodule\n";
        let out = bitwise_assigns(v).expect("splits");
        for want in [
            "assign y[3] = n1;",
            "assign y[2] = a[1];",
            "assign y[1] = a[0];",
            "assign y[0] = 1'b0;",
            "assign n1 = a[0];",
        ] {
            assert!(out.contains(want), "{want} missing in\n{out}");
        }
        assert!(!out.contains('{'), "{out}");
        assert!(
            bitwise_assigns("  wire [1:0] w;\n  assign w = { a };\n  assign { w } = 3'h0;\n")
                .is_none()
        );
    }

    #[test]
    fn vcd_toggles_and_duty_are_counted_per_bit() {
        let vcd = "$scope module dut $end\n$var wire 1 ! clk_i $end\n$var wire 2 \" n5 [1:0] $end\n$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n0!\nb00 \"\n$end\n#1\n1!\nb1 \"\n#2\n0!\n#3\n1!\nb10 \"\n#4\n0!\n";
        let a = read_vcd(vcd, "clk_i").expect("reads");
        assert_eq!(a.cycles, 2);
        // n5[0]: 0 -> 1 at 1, -> 0 at 3: 2 toggles over 2 cycles, high 2 of 4.
        assert_eq!(a.nets["n5[0]"], (1.0, 0.5));
        // n5[1]: 0 -> 1 at 3: 1 toggle, high 1 of 4.
        assert_eq!(a.nets["n5[1]"], (0.5, 0.25));
    }
}

/// Command-line options of the real-library flows (`synth`, `compare`).
#[derive(Debug, Clone, clap::Args)]
pub struct LibArgs {
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
    /// ReLU layer.
    pub fn workload(&self) -> Result<Workload> {
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
pub fn synth_cmd(cfg: &Config, lib: &Library, args: &LibArgs, array: bool) -> Result<()> {
    let w = if array { Some(args.workload()?) } else { None };
    sta_binary()?;
    let c = cost(
        cfg,
        &cfg.name,
        lib,
        w.as_ref(),
        args.clock_ps.unwrap_or(UNCONSTRAINED_PS),
    )?;
    println!("{} on {}; {:.1} s", cfg.name, describe(lib), c.seconds);
    let show = |m: &Mapped, t: &Timing| {
        println!(
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
                println!(
                    "  worst path {what}: {:.0} ps ({} -> {})",
                    p.ps, p.start, p.end
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
                println!(
                    "  energy on {}: {} cycles, {:.3} mW at {clk:.0} ps, {:.3} pJ/MAC, {:.2} nJ per layer",
                    w.label,
                    e.cycles,
                    e.power.at(clk) * 1e3,
                    e.per_mac(clk) * 1e12,
                    e.layer(clk) * 1e9
                );
            }
            _ => println!("  energy: not measured (no Verilog cell models; give --cell-models)"),
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
) -> Result<()> {
    use crate::report::{scatter_svg_spread as scatter_svg, Point};
    let w = if pe_only {
        None
    } else {
        Some(args.workload()?)
    };
    let t0 = Instant::now();
    let costs = compare(names, base, rows, cols, lib, w.as_ref(), args.clock_ps)?;
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
    println!(
        "smtgen compare on {}: {scope}; ratios (x) to {base}; {clock_note}; {energy_note}; {secs:.0} s on 2 cores",
        describe(lib)
    );
    print!("{}", table.to_text());
    println!("\nPE timing paths (OpenSTA, ideal clock, input/output delay 0, reset false path):");
    print!("{}", paths.to_text());
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
            "# smtgen compare on {} ({scope})\n\nProduced by smtgen {}; library {}; {clock_note}; {energy_note}; {secs:.0} s on 2 cores. Areas in library units (µm²) and NAND2 equivalents; `crit` is the PE's critical path (period - slack), `in->reg` and `reg->reg` the worst paths from the data inputs and from registers (the two halves of a pipelined PE).\n\n{}\n## PE timing paths\n\n{}",
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
    println!(
        "wrote {}",
        wrote
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
