//! Yosys mapping: a generated PE or array flattened onto the library, its netlist
//! rewritten for OpenSTA's reader (one assign per bit), its cells counted and its
//! area summed in µm² and NAND2 equivalents.

use super::Library;
use crate::error::{Error, Result};
use crate::rtl::{self, GeneratedFile};
use crate::tool::Tool;
use std::collections::BTreeMap;
use std::path::Path;

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

/// Maps `top` (from `files`) flat onto the library.
pub fn map(files: &[GeneratedFile], top: &str, lib: &Library, dir: &Path) -> Result<Mapped> {
    rtl::write_files(dir, files)?;
    std::fs::write(dir.join("cells.lib"), &lib.text).map_err(|e| Error::io(dir, e))?;
    let sources: Vec<&str> = files
        .iter()
        .filter(|f| f.role != rtl::Role::Filelist)
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
    let out = Tool::new("yosys", "yosys", dir)
        .args(["-s", "map.ys"])
        .log("map.log")
        .execute()?;
    if !out.success() {
        return Err(out.error(&format!("mapping {top} onto {}", lib.label)));
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
