//! Synthesis reports: runs Yosys (generic synthesis, then flip-flop and gate mapping
//! to the project's NAND2-equivalent library `synth/smtgen_ge.lib`) on a generated PE
//! or array and reads back area per module and per part of the design, cell counts,
//! a transistor estimate and the logic depth of the longest combinational path.
//! The flow also checks the netlist: no latches, no undriven or multiply-driven
//! nets, no cells that are neither library cells nor design modules.

use crate::config::Design;
use crate::error::{Error, Result};
use crate::rtl::{self, GeneratedFile};
use crate::tool::Tool;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The cell library (areas in NAND2 gate equivalents), compiled into the binary.
pub const LIBERTY: &str = include_str!("../../../synth/smtgen_ge.lib");

/// Static-CMOS transistor count of each library cell, for the transistor estimate
/// (Yosys's `stat -tech cmos` leaves asynchronous-reset flip-flops uncounted).
pub const TRANSISTORS: &[(&str, u64)] = &[
    ("BUF", 4),
    ("INV", 2),
    ("NAND2", 4),
    ("NOR2", 4),
    ("AND2", 6),
    ("OR2", 6),
    ("AOI21", 6),
    ("OAI21", 6),
    ("XOR2", 12),
    ("XNOR2", 12),
    ("MUX2", 12),
    ("DFF", 24),
    ("DFFR", 28),
];

/// Cell areas parsed from the Liberty text: `cell (NAME) { area : X; ...`.
pub fn liberty_areas(lib: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut cell: Option<String> = None;
    for line in lib.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("cell (") {
            cell = rest.split(')').next().map(|s| s.trim().to_string());
        } else if let (Some(c), Some(rest)) = (&cell, l.strip_prefix("area :")) {
            if let Ok(a) = rest.trim().trim_end_matches(';').trim().parse::<f64>() {
                out.insert(c.clone(), a);
            }
            cell = None;
        }
    }
    out
}

/// One part of the design and its area.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// What it is (`conditioning`, `multiplier fabric`, ...).
    pub name: &'static str,
    /// Area in GE, every instance counted.
    pub area: f64,
}

/// What Yosys made of one top module.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthReport {
    /// `yosys -V`.
    pub yosys: String,
    /// The top module.
    pub top: String,
    /// Total area in GE.
    pub area: f64,
    /// Area by part of the design, largest first.
    pub parts: Vec<Part>,
    /// Area of each module's own cells (GE) and how many instances the top holds.
    pub modules: Vec<(String, f64, u64)>,
    /// Mapped cells by type, every instance counted.
    pub cells: BTreeMap<String, u64>,
    /// Transistor estimate from the mapped cells.
    pub transistors: u64,
    /// Cells on the longest combinational path (flattened netlist), if measured.
    pub depth: Option<u64>,
    /// Seconds Yosys took.
    pub seconds: f64,
}

impl SynthReport {
    /// Area of the parts named `name`, 0 when absent.
    pub fn part(&self, name: &str) -> f64 {
        self.parts
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.area)
            .sum()
    }
}

/// The generated module a netlist module was elaborated from: the name itself, or
/// for a parameterized instance (`$paramod$<hash>\\m`, `$paramod\\m\\P=V...`) `m`.
pub fn netlist_module(name: &str) -> &str {
    let name = name.trim_start_matches('\\');
    match name.strip_prefix("$paramod") {
        Some(rest) => {
            let rest = match rest.strip_prefix('$') {
                Some(hashed) => hashed.split_once('\\').map_or(hashed, |(_, m)| m),
                None => rest.trim_start_matches('\\'),
            };
            rest.split('\\').next().unwrap_or(rest)
        }
        None => name,
    }
}

/// `yosys -V`, or an error saying Yosys is missing.
pub fn yosys_version() -> Result<String> {
    crate::tool::version("yosys", "-V")
}

/// Synthesizes `top` from `files`: hierarchically for the area breakdown, and, when
/// `depth` is set, flattened as well for the longest combinational path. With
/// `jobs` ([`crate::tool::jobs`]) of 2 or more the two flows run at once.
pub fn synthesize(
    files: &[GeneratedFile],
    top: &str,
    depth: bool,
    jobs: usize,
) -> Result<SynthReport> {
    let yosys = yosys_version()?;
    let dir = crate::guard::work_dir()?;
    rtl::write_files(dir.path(), files)?;
    std::fs::write(dir.path().join("cells.lib"), LIBERTY).map_err(|e| Error::io(dir.path(), e))?;
    let sources: Vec<&str> = files
        .iter()
        .filter(|f| f.role != rtl::Role::Filelist)
        .map(|f| f.name.as_str())
        .collect();
    let t0 = Instant::now();
    let (stats, flat) = if depth && crate::tool::jobs(jobs) >= 2 {
        std::thread::scope(|s| {
            let flat = s.spawn(|| run_yosys(dir.path(), &sources, top, true));
            let hier = run_yosys(dir.path(), &sources, top, false);
            let flat = flat
                .join()
                .unwrap_or_else(|_| Err(Error::tool("smtgen", "a synthesis thread panicked")));
            (hier, Some(flat))
        })
    } else {
        let hier = run_yosys(dir.path(), &sources, top, false);
        let flat = depth.then(|| run_yosys(dir.path(), &sources, top, true));
        (hier, flat)
    };
    let areas = liberty_areas(LIBERTY);
    let mut report = summarize(&stats?, top, &areas, files)?;
    if let Some(flat) = flat {
        report.depth = flat?.1;
    }
    report.yosys = yosys;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Runs one Yosys flow; returns `stat -json` text and the ltp depth (flat runs).
/// The two flows write to their own files, so they may run at once in one directory.
fn run_yosys(dir: &Path, sources: &[&str], top: &str, flat: bool) -> Result<(String, Option<u64>)> {
    let name = if flat { "flat" } else { "hier" };
    let stat = format!("{name}.json");
    let script = format!(
        "read_liberty -lib cells.lib\n\
         read_verilog -defer {}\n\
         hierarchy -check -top {top}\n\
         synth -top {top}{}\n\
         dfflibmap -liberty cells.lib\n\
         abc -liberty cells.lib\n\
         opt_clean\n\
         check -assert\n\
         tee -q -o {stat} stat -json\n\
         {}",
        sources.join(" "),
        if flat { " -flatten" } else { "" },
        if flat {
            "tee -q -o ltp.txt ltp -noff t:DFF t:DFFR %u %n\n"
        } else {
            ""
        }
    );
    let ys = format!("{name}.ys");
    std::fs::write(dir.join(&ys), &script).map_err(|e| Error::io(dir, e))?;
    let out = Tool::new("yosys", "yosys", dir)
        .args(["-s", &ys])
        .log(&format!("{name}.log"))
        .execute()?;
    if !out.success() {
        return Err(out.error(&format!("synthesis of {top}")));
    }
    let json =
        std::fs::read_to_string(dir.join(&stat)).map_err(|e| Error::io(dir.join(&stat), e))?;
    let depth = if flat {
        let ltp = std::fs::read_to_string(dir.join("ltp.txt"))
            .map_err(|e| Error::io(dir.join("ltp.txt"), e))?;
        ltp.lines()
            .find_map(|l| l.split("(length=").nth(1))
            .and_then(|s| {
                s.trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .ok()
            })
    } else {
        None
    };
    Ok((json, depth))
}

fn summarize(
    stats: &(String, Option<u64>),
    top: &str,
    areas: &BTreeMap<String, f64>,
    files: &[GeneratedFile],
) -> Result<SynthReport> {
    // Each module's part, as the generator set it on its file.
    let part_of: BTreeMap<&str, rtl::Part> = files
        .iter()
        .filter_map(|f| Some((f.module_name()?, f.part?)))
        .collect();
    // Yosys 0.23 writes the hierarchy of its "design" section into the JSON as raw
    // text; the "modules" object before it is well formed, so read only that.
    let text = match stats
        .0
        .find("\n      \"design\"")
        .or_else(|| stats.0.find("\n   \"design\""))
    {
        Some(i) => {
            let head = &stats.0[..i];
            let cut = head.rfind("\n   }").unwrap_or(head.len());
            format!("{}\n   }}\n}}\n", &head[..cut])
        }
        None => stats.0.clone(),
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::tool("yosys", format!("unreadable stat -json: {e}")))?;
    let modules = v
        .get("modules")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::tool("yosys", "stat -json has no modules"))?;
    // Module name (without the leading backslash) -> its own cells by type.
    let mut own: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (name, m) in modules {
        let name = name.trim_start_matches('\\').to_string();
        let mut cells = BTreeMap::new();
        if let Some(by) = m.get("num_cells_by_type").and_then(|c| c.as_object()) {
            for (t, n) in by {
                let t = t.trim_start_matches('\\').to_string();
                cells.insert(t, n.as_u64().unwrap_or(0));
            }
        }
        own.insert(name, cells);
    }
    for (m, cells) in &own {
        for t in cells.keys() {
            if !areas.contains_key(t) && !own.contains_key(t) {
                let what = if t.contains("LATCH") || t.contains("DLATCH") {
                    "a latch"
                } else if t.starts_with('$') {
                    "an unmapped cell"
                } else {
                    "a black box (neither a library cell nor a design module)"
                };
                return Err(Error::tool(
                    "yosys",
                    format!("module {m} holds {t}: {what}"),
                ));
            }
        }
    }
    // Multiplicity of every module under the top.
    let mut count: BTreeMap<String, u64> = BTreeMap::new();
    fn walk(
        m: &str,
        k: u64,
        own: &BTreeMap<String, BTreeMap<String, u64>>,
        count: &mut BTreeMap<String, u64>,
    ) {
        *count.entry(m.to_string()).or_insert(0) += k;
        if let Some(cells) = own.get(m) {
            for (t, n) in cells {
                if own.contains_key(t) {
                    walk(t, k * n, own, count);
                }
            }
        }
    }
    if !own.contains_key(top) {
        return Err(Error::tool(
            "yosys",
            format!("no module {top} in the netlist"),
        ));
    }
    walk(top, 1, &own, &mut count);
    let mut parts: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut cells_total: BTreeMap<String, u64> = BTreeMap::new();
    let mut mods = Vec::new();
    let mut total = 0.0;
    for (m, k) in &count {
        let cells = &own[m];
        let a: f64 = cells
            .iter()
            .filter_map(|(t, n)| areas.get(t).map(|x| x * *n as f64))
            .sum();
        for (t, n) in cells.iter().filter(|(t, _)| areas.contains_key(*t)) {
            *cells_total.entry(t.clone()).or_insert(0) += n * k;
        }
        let part = part_of.get(netlist_module(m)).ok_or_else(|| {
            Error::tool(
                "yosys",
                format!("netlist module {m} comes from no generated file with a part"),
            )
        })?;
        *parts.entry(part.name()).or_insert(0.0) += a * *k as f64;
        total += a * *k as f64;
        mods.push((m.clone(), a, *k));
    }
    let transistors = cells_total
        .iter()
        .map(|(t, n)| {
            TRANSISTORS
                .iter()
                .find(|(c, _)| c == t)
                .map_or(0, |(_, x)| x * n)
        })
        .sum();
    let mut parts: Vec<Part> = parts
        .into_iter()
        .map(|(name, area)| Part { name, area })
        .collect();
    parts.sort_by(|a, b| b.area.total_cmp(&a.area));
    Ok(SynthReport {
        yosys: String::new(),
        top: top.to_string(),
        area: total,
        parts,
        modules: mods,
        cells: cells_total,
        transistors,
        depth: stats.1,
        seconds: 0.0,
    })
}

/// Synthesizes a config's PE (with depth); `jobs` as in [`synthesize`].
pub fn synth_pe(cfg: &Design, jobs: usize) -> Result<SynthReport> {
    synthesize(
        &rtl::generate_pe(cfg)?,
        &format!("{}_pe", cfg.name),
        true,
        jobs,
    )
}

/// Synthesizes a config's array (hierarchical only; depth is the PE's).
pub fn synth_array(cfg: &Design) -> Result<SynthReport> {
    synthesize(
        &rtl::generate_array(cfg)?,
        &format!("{}_array", cfg.name),
        false,
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liberty_areas_are_read_for_every_cell() {
        let a = liberty_areas(LIBERTY);
        assert_eq!(a.get("NAND2"), Some(&1.0));
        assert_eq!(a.get("DFF"), Some(&4.67));
        assert_eq!(a.len(), TRANSISTORS.len());
        for (c, _) in TRANSISTORS {
            assert!(a.contains_key(*c), "{c}");
        }
    }
}

/// One design's cost, for `smtgen compare`.
#[derive(Debug, Clone)]
pub struct DesignCost {
    /// Preset name.
    pub preset: String,
    /// Lanes per cycle.
    pub lanes: u32,
    /// The PE's report (with depth).
    pub pe: SynthReport,
    /// The array's report, when arrays were synthesized.
    pub array: Option<SynthReport>,
}

/// The design points a comparison covers, at `rows`×`cols`: `base` first unless
/// `presets` already names it, then `presets`, each with its validated config.
pub fn compare_points(
    presets: &[String],
    base: &str,
    rows: u32,
    cols: u32,
) -> Result<(Vec<String>, Vec<Design>)> {
    let mut names: Vec<String> = presets.to_vec();
    if !names.iter().any(|n| n == base) {
        names.insert(0, base.into());
    }
    let size = [format!("array.rows={rows}"), format!("array.cols={cols}")];
    let cfgs = names
        .iter()
        .map(|n| Design::point(n, &size))
        .collect::<Result<Vec<Design>>>()?;
    Ok((names, cfgs))
}

/// Synthesizes each design point's PE (and array at `rows`×`cols` when `arrays`) on
/// `jobs` workers ([`crate::tool::jobs`]: 0 is every core); a point is a preset with
/// optional overrides, `PRESET[+key=value...]` ([`crate::config::design_point`]).
/// The reference point `base` (usually `baseline`; `baseline+pe.pipeline=1` to
/// compare pipelined PEs) is added first when missing, since every ratio is against
/// it. The numbers do not depend on `jobs`.
pub fn compare(
    presets: &[String],
    base: &str,
    rows: u32,
    cols: u32,
    arrays: bool,
    jobs: usize,
) -> Result<Vec<DesignCost>> {
    let (names, cfgs) = compare_points(presets, base, rows, cols)?;
    crate::tool::parallel_map(jobs, &cfgs, |i, cfg| {
        Ok(DesignCost {
            preset: names[i].clone(),
            lanes: cfg.dp().lanes,
            // One Yosys at a time per worker: the workers are the parallelism.
            pe: synth_pe(cfg, 1)?,
            array: if arrays {
                Some(synth_array(cfg)?)
            } else {
                None
            },
        })
    })
    .into_iter()
    .collect()
}

/// The side-by-side table: area and ratio to the reference point `base` (PE and
/// array, with and without the accumulator), lanes, throughput per area, logic depth.
pub fn compare_table(costs: &[DesignCost], base: &str) -> crate::report::Table {
    use crate::report::Table;
    let Some(base) = costs.iter().find(|c| c.preset == base) else {
        return Table::new(&["design"]);
    };
    let arrays = costs.iter().all(|c| c.array.is_some());
    let mut header = vec!["design", "T", "PE GE", "PE x", "PE-acc GE", "PE-acc x"];
    if arrays {
        header.extend(["array GE", "array x", "array-acc GE", "array-acc x"]);
    }
    header.extend(["lanes/area x", "depth", "depth x"]);
    let mut t = Table::new(&header);
    let noacc = |r: &SynthReport| r.area - r.part("accumulator");
    for c in costs {
        let mut row = vec![
            c.preset.clone(),
            c.lanes.to_string(),
            format!("{:.0}", c.pe.area),
            format!("{:.2}", c.pe.area / base.pe.area),
            format!("{:.0}", noacc(&c.pe)),
            format!("{:.2}", noacc(&c.pe) / noacc(&base.pe)),
        ];
        let ratio = match (&c.array, &base.array) {
            (Some(a), Some(b)) if arrays => {
                row.extend([
                    format!("{:.0}", a.area),
                    format!("{:.2}", a.area / b.area),
                    format!("{:.0}", noacc(a)),
                    format!("{:.2}", noacc(a) / noacc(b)),
                ]);
                a.area / b.area
            }
            _ => c.pe.area / base.pe.area,
        };
        let (d, bd) = (c.pe.depth.unwrap_or(0), base.pe.depth.unwrap_or(1).max(1));
        row.extend([
            format!("{:.2}", f64::from(c.lanes) / ratio),
            d.to_string(),
            format!("{:.2}", d as f64 / bd as f64),
        ]);
        t.rows.push(row);
    }
    t
}

/// The per-part breakdown of every design's PE, in GE.
pub fn parts_table(costs: &[DesignCost]) -> crate::report::Table {
    let names = [
        "conditioning",
        "multiplier fabric",
        "accumulator",
        "PE registers",
    ];
    let mut header = vec!["design"];
    header.extend(names);
    header.push("total");
    let mut t = crate::report::Table::new(&header);
    for c in costs {
        let mut row = vec![c.preset.clone()];
        row.extend(names.iter().map(|n| format!("{:.0}", c.pe.part(n))));
        row.push(format!("{:.0}", c.pe.area));
        t.rows.push(row);
    }
    t
}
