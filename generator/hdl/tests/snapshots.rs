//! Golden RTL: everything smtgen renders for every point of the covering set (the
//! array with its PE, the reference PE, the proof variants) is kept under
//! `tests/snapshots/`, one file per point, so that a template change shows up in
//! review as a Verilog diff and a behaviour-preserving change shows none.
//!
//! Refresh after an intended change with `make snapshots` (or
//! `SMTGEN_BLESS=1 cargo test --release -p smtgen-hdl --test snapshots`).

use smtgen_core::config::WindowLogic;
use smtgen_hdl::cover::covering_set;
use smtgen_hdl::rtl;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// Every file rendered for one design point, as one text with a line before each file.
fn render_all(cfg: &smtgen_core::Design) -> String {
    let mut files = rtl::generate_array(cfg).unwrap();
    let rcfg = cfg.with(|c| {
        c.name = format!("{}_r", c.name);
        c.pe.window_logic = WindowLogic::InPe;
    });
    files.extend(rtl::generate_reference_pe(&rcfg).unwrap());
    files.extend(rtl::generate_proof_variants(cfg).unwrap());
    let mut s = String::new();
    for f in files {
        s += &format!("==> {} <==\n{}", f.name, f.text);
    }
    s
}

#[test]
fn generated_rtl_matches_the_snapshots_over_the_covering_set() {
    let dir = snapshot_dir();
    let bless = std::env::var_os("SMTGEN_BLESS").is_some();
    let points = covering_set().unwrap();
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    for p in &points {
        want.insert(format!("{}.snap", p.spec), render_all(&p.cfg));
    }
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "snap") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, text) in &want {
            std::fs::write(dir.join(name), text).unwrap();
        }
        eprintln!("wrote {} snapshots into {}", want.len(), dir.display());
        return;
    }
    let mut problems = Vec::new();
    for (name, text) in &want {
        match std::fs::read_to_string(dir.join(name)) {
            Err(_) => problems.push(format!("{name}: no snapshot")),
            Ok(old) if old != *text => {
                let (ol, nl): (Vec<&str>, Vec<&str>) =
                    (old.lines().collect(), text.lines().collect());
                let at = ol
                    .iter()
                    .zip(&nl)
                    .position(|(a, b)| a != b)
                    .unwrap_or(ol.len().min(nl.len()));
                let file = nl[..at.min(nl.len())]
                    .iter()
                    .rev()
                    .find(|l| l.starts_with("==> "))
                    .unwrap_or(&"?");
                problems.push(format!(
                    "{name}: differs first at line {} (in {file}):\n  snapshot: {}\n  now:      {}",
                    at + 1,
                    ol.get(at).unwrap_or(&"(end)"),
                    nl.get(at).unwrap_or(&"(end)")
                ));
            }
            Ok(_) => {}
        }
    }
    for e in std::fs::read_dir(&dir).into_iter().flatten() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".snap") && !want.contains_key(&name) {
            problems.push(format!("{name}: a snapshot of no covering point (stale)"));
        }
    }
    assert!(
        problems.is_empty(),
        "generated RTL differs from tests/snapshots ({} of {} points); if the change is \
         intended, refresh with `make snapshots`:\n{}",
        problems.len(),
        want.len(),
        problems.join("\n")
    );
}
