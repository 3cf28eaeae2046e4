//! The Liberty library as the flows use it: where the OSU 0.18 µm library lives,
//! reading `--liberty`/`--library`, every cell's area, the `dont_use` cells removed
//! from the text handed to Yosys and OpenSTA, the NAND2 unit and the time unit.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where Debian's `qflow-tech-osu018` puts the OSU 0.18 µm library.
pub const OSU018_LIB: &str = "/usr/share/qflow/tech/osu018/osu018_stdcells.lib";
/// The Debian package that ships [`OSU018_LIB`].
pub const OSU018_PACKAGE: &str = "qflow-tech-osu018";

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
