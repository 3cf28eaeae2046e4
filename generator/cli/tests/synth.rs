//! The synthesis flow: every preset's PE and a small array map cleanly (no latches,
//! no undriven or multiply-driven nets, no black boxes), the numbers repeat exactly,
//! a latch is caught, and `smtgen compare` writes its table, CSV, Markdown and SVG
//! (throughput per area counting the lanes a PE consumes: four for a 2:4 PE).

mod common;
use common::{require, smtgen};
use smtgen_core::config::{ConfigBuilder, Design, PRESETS};
use smtgen_hdl::rtl::{GeneratedFile, Part, Role};
use smtgen_hdl::synth::{synth_array, synth_pe, synthesize};

#[test]
fn every_preset_pe_and_a_small_array_synthesize_cleanly() {
    if !require("yosys") {
        return;
    }
    for p in PRESETS {
        let r = synth_pe(&Design::preset(p.name).unwrap(), 0).unwrap();
        assert!(r.area > 500.0, "{}: {} GE", p.name, r.area);
        assert!(r.depth.unwrap_or(0) > 10, "{}", p.name);
        assert!(
            r.part("accumulator") > 0.0 && r.part("multiplier fabric") > 0.0,
            "{}",
            p.name
        );
        assert!(r.yosys.contains("Yosys 0."), "{}", r.yosys);
    }
    let cfg = ConfigBuilder::new()
        .preset(Some("sysmt4"))
        .sets(&["array.rows=2", "array.cols=2"])
        .build()
        .map(Design::new)
        .unwrap();
    let a = synth_array(&cfg).unwrap();
    let pe = synth_pe(&cfg, 0).unwrap();
    assert!(
        a.area > 4.0 * pe.area,
        "array {} vs 4 PEs of {}",
        a.area,
        pe.area
    );
    assert!(a.part("result chain") > 0.0 && a.part("array edge") > 0.0);
}

#[test]
fn same_input_same_numbers() {
    if !require("yosys") {
        return;
    }
    let cfg = Design::preset("sparq-3b").unwrap();
    let (a, b) = (synth_pe(&cfg, 0).unwrap(), synth_pe(&cfg, 1).unwrap());
    assert_eq!((a.area, a.depth, &a.cells), (b.area, b.depth, &b.cells));
}

#[test]
fn a_latch_is_rejected() {
    if !require("yosys") {
        return;
    }
    let v = "module latchy (input wire en_i, input wire d_i, output reg q_o);\n  always @* if (en_i) q_o = d_i;\nendmodule\n";
    let latchy =
        GeneratedFile::module("latchy", Role::Datapath, v.into()).with_part(Part::Conditioning);
    let list = GeneratedFile::filelist("latchy", [&latchy]);
    let files = vec![latchy, list];
    let e = synthesize(&files, "latchy", false, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("latch"), "{e}");
}

/// Runs `smtgen compare --pe-only` with `args` into a fresh directory; returns the
/// directory (holding compare.csv, .md, .svg) and the terminal output.
fn compare_pe(args: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![
        "compare",
        "--pe-only",
        "--out",
        dir.path().to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = smtgen(&all, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    (dir, out)
}

#[test]
fn compare_writes_table_csv_markdown_and_svg() {
    if !require("yosys") {
        return;
    }
    let (dir, out) = compare_pe(&["--presets", "sysmt2,sysmt2+pe.rounding=truncate"]);
    assert!(
        out.contains("baseline")
            && out.contains("sysmt2+pe.rounding=truncate")
            && out.contains("Yosys 0."),
        "{out}"
    );
    let csv = std::fs::read_to_string(dir.path().join("compare.csv")).unwrap();
    assert!(csv.starts_with("design,T,PE GE,PE x"), "{csv}");
    assert_eq!(csv.lines().count(), 4);
    let md = std::fs::read_to_string(dir.path().join("compare.md")).unwrap();
    assert!(md.contains("| baseline | 1 |") && md.contains("Yosys 0."));
    let svg = std::fs::read_to_string(dir.path().join("compare.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 3);
}

#[test]
fn pipelined_pes_compare_against_a_pipelined_baseline_and_cut_the_depth() {
    if !require("yosys") {
        return;
    }
    let (dir, out) = compare_pe(&[
        "--baseline",
        "baseline+pe.pipeline=1",
        "--presets",
        "baseline,sysmt4+pe.pipeline=1",
    ]);
    assert!(
        out.contains("ratios (x) to baseline+pe.pipeline=1"),
        "{out}"
    );
    // design,T,PE GE,PE x,...,depth,depth x: the reference row is 1.00 and the
    // register before the accumulator shortens the baseline's longest path.
    let csv = std::fs::read_to_string(dir.path().join("compare.csv")).unwrap();
    let depth = |name: &str| -> u64 {
        let row = csv
            .lines()
            .find(|l| l.split(',').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing: {csv}"));
        let f: Vec<&str> = row.split(',').collect();
        f[f.len() - 2].parse().unwrap()
    };
    assert!(csv
        .lines()
        .any(|l| l.starts_with("baseline+pe.pipeline=1,1,") && l.contains(",1.00,")));
    assert!(depth("baseline+pe.pipeline=1") < depth("baseline"), "{csv}");
    assert!(depth("sysmt4+pe.pipeline=1") < 56, "{csv}");
}

#[test]
fn a_two_four_pe_counts_the_four_lanes_it_consumes_in_throughput_per_area() {
    if !require("yosys") {
        return;
    }
    let (dir, _) = compare_pe(&["--presets", "sparq-4b5opt,sparq-stc-4b5opt"]);
    // design,T,PE GE,PE x,PE-acc GE,PE-acc x,lanes/area x,depth,depth x
    let csv = std::fs::read_to_string(dir.path().join("compare.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |h: &str| header.iter().position(|x| *x == h).unwrap();
    let row = |name: &str| -> (u32, f64, f64) {
        let l = csv
            .lines()
            .find(|l| l.split(',').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing: {csv}"));
        let f: Vec<&str> = l.split(',').collect();
        (
            f[col("T")].parse().unwrap(),
            f[col("PE x")].parse().unwrap(),
            f[col("lanes/area x")].parse().unwrap(),
        )
    };
    let (t2, x2, l2) = row("sparq-4b5opt");
    let (t4, x4, l4) = row("sparq-stc-4b5opt");
    assert_eq!((t2, t4), (2, 4), "{csv}");
    // The selection in front of the pair costs area, but less than a second pair.
    assert!(x4 > x2 && x4 < 2.0 * x2, "{csv}");
    for (t, x, l) in [(t2, x2, l2), (t4, x4, l4)] {
        assert!((l - f64::from(t) / x).abs() < 0.02, "{csv}");
    }
    assert!(l4 > l2, "{csv}");
}

#[test]
fn compare_on_one_worker_gives_the_numbers_of_every_core_and_says_how_many() {
    if !require("yosys") {
        return;
    }
    let presets = ["--presets", "sysmt2"];
    let (one, out1) = compare_pe(&[presets[0], presets[1], "--jobs", "1"]);
    let (all, out_all) = compare_pe(&presets);
    let csv =
        |d: &tempfile::TempDir| std::fs::read_to_string(d.path().join("compare.csv")).unwrap();
    assert_eq!(csv(&one), csv(&all));
    assert!(out1.contains(" s on 1 core\n"), "{out1}");
    // Two designs (baseline and sysmt2): as many workers as cores, at most two.
    let n = smtgen_hdl::tool::workers(0, 2);
    let want = if n == 1 {
        " s on 1 core\n".to_string()
    } else {
        format!(" s on {n} cores\n")
    };
    assert!(out_all.contains(&want), "{out_all}");
}

#[test]
fn netlist_modules_map_back_to_their_generated_module() {
    use smtgen_hdl::synth::netlist_module;
    assert_eq!(netlist_module("\\x_cond"), "x_cond");
    assert_eq!(netlist_module("x_cond"), "x_cond");
    assert_eq!(netlist_module("$paramod$03d65e78\\x_cell"), "x_cell");
    assert_eq!(
        netlist_module("$paramod\\x_pe\\ACC_W=s32'00000000000000000000000000100000"),
        "x_pe"
    );
}

#[test]
fn every_pe_and_array_module_carries_its_part() {
    let cfg = ConfigBuilder::new()
        .preset(Some("sysmt4"))
        .sets(&["array.rows=2", "array.cols=2", "pe.window_logic=edge"])
        .build()
        .map(Design::new)
        .unwrap();
    let files = smtgen_hdl::rtl::generate_array(&cfg).unwrap();
    // Every preset, in the PE and at the edge where it has an edge form.
    let mut points: Vec<String> = smtgen_core::config::PRESETS
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    points.push("sparq-stc-4b5opt+pe.window_logic=edge".into());
    points.push("sparq-4b5opt+pe.window_logic=edge".into());
    for point in &points {
        let c =
            smtgen_core::config::Design::point(point, &["array.rows=2", "array.cols=2"]).unwrap();
        for f in smtgen_hdl::rtl::generate_array(&c).unwrap() {
            match f.role {
                Role::Filelist => assert_eq!(f.part, None, "{point}: {}", f.name),
                _ => assert!(f.part.is_some(), "{point}: {} has no part", f.name),
            }
        }
    }
    let part = |m: &str| {
        files
            .iter()
            .find(|f| f.name == format!("sysmt4_{m}.v"))
            .and_then(|f| f.part)
    };
    assert_eq!(part("cond"), Some(Part::Conditioning));
    assert_eq!(part("fabric"), Some(Part::MultiplierFabric));
    assert_eq!(part("acc"), Some(Part::Accumulator));
    assert_eq!(part("pe"), Some(Part::PeRegisters));
    assert_eq!(part("cell"), Some(Part::ResultChain));
    assert_eq!(part("pre_act"), Some(Part::ArrayEdge));
}
