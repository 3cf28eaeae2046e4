//! The generated Verilog under the simulators: lint-clean under -Wall for every
//! preset, bit-exact against the golden model under Verilator and Icarus (short runs
//! here; `smtgen regress` runs a million cycles per preset), and a bench that can
//! fail: a corrupted expectation is reported with its cycle.

mod common;
use common::require;
use smtgen_core::config::{ConfigBuilder, Design, PRESETS};
use smtgen_core::stimulus::{pe_stimulus, Depth, Stimulus};
use smtgen_hdl::rtl::{generate_pe, GeneratedFile, Role};
use smtgen_hdl::sim::{self, SimOptions, SimReport, Simulator};

/// Runs `cfg`'s PE (`files`) on `stim` under `simulator` with the default options.
fn run_pe(
    simulator: Simulator,
    cfg: &Design,
    files: &[GeneratedFile],
    stim: &Stimulus,
) -> SimReport {
    simulator
        .pe(cfg, files, stim, &SimOptions::default())
        .unwrap()
}

/// Asserts that `r` reports exactly one mismatch whose detail contains `needle`,
/// and returns that detail.
fn one_mismatch<'a>(r: &'a SimReport, needle: &str) -> &'a str {
    assert_eq!(r.mismatches, 1, "{:?}", r.details);
    let d = &r.details[0];
    assert!(d.contains(needle), "`{needle}` missing from: {d}");
    d
}

/// Every preset's configuration.
fn presets() -> impl Iterator<Item = Design> {
    PRESETS.iter().map(|p| Design::preset(p.name).unwrap())
}

#[test]
fn every_preset_is_lint_clean_under_wall_without_waivers() {
    if !require("verilator") {
        return;
    }
    for cfg in presets() {
        let out = sim::lint(&generate_pe(&cfg).unwrap(), &format!("{}_pe", cfg.name)).unwrap();
        assert!(out.trim().is_empty(), "{}: {out}", cfg.name);
    }
}

#[test]
fn proof_variants_and_references_are_lint_clean_too() {
    if !require("verilator") {
        return;
    }
    for cfg in presets() {
        let pe = generate_pe(&cfg).unwrap();
        let mut extra = smtgen_hdl::rtl::generate_reference(&cfg).unwrap();
        extra.extend(smtgen_hdl::rtl::generate_proof_variants(&cfg).unwrap());
        // Every variant beside the PE's files (a proof wrapper instantiates a cut
        // variant), each linted as the top.
        for f in &extra {
            let top = f.name.trim_end_matches(".v").to_string();
            let mut files = pe.clone();
            files.extend(extra.iter().cloned());
            let list: Vec<String> = files
                .iter()
                .filter(|g| !matches!(g.role, Role::Filelist | Role::PeTop | Role::PeSolo))
                .map(|g| g.name.clone())
                .collect();
            files.push(smtgen_hdl::rtl::GeneratedFile {
                name: format!("{top}.f"),
                role: Role::Filelist,
                part: None,
                text: list.join("\n") + "\n",
            });
            let out = sim::lint(&files, &top).unwrap();
            assert!(out.trim().is_empty(), "{top}: {out}");
        }
    }
}

#[test]
fn every_preset_matches_the_model_under_verilator_and_icarus() {
    let (v, i) = (require("verilator"), require("iverilog"));
    for cfg in presets() {
        let files = generate_pe(&cfg).unwrap();
        let stim = pe_stimulus(&cfg, 11, Depth::Light, 4000);
        if v {
            let r = run_pe(Simulator::Verilator, &cfg, &files, &stim);
            assert_eq!(r.mismatches, 0, "{}: {:?}", cfg.name, r.details);
            assert_eq!(r.cycles, stim.cycles() as u64);
        }
        if i {
            let r = run_pe(Simulator::Icarus, &cfg, &files, &stim);
            assert_eq!(r.mismatches, 0, "{}: {:?}", cfg.name, r.details);
        }
    }
}

#[test]
fn truncating_and_narrow_accumulator_variants_match_too() {
    let (v, i) = (require("verilator"), require("iverilog"));
    for (preset, sets) in [
        ("sysmt4", vec!["pe.rounding=truncate", "pe.zero_test=act"]),
        ("sparq-3b", vec!["pe.rounding=truncate", "pe.acc_width=16"]),
        (
            "sparq-2b",
            vec!["pe.zero_test=act_or_weight", "pe.acc_width=64"],
        ),
        ("sysmt2", vec!["pe.acc_width=17"]),
        // Window and nibble logic at the array edge (PE behind its own edge logic).
        ("sysmt4", vec!["pe.window_logic=edge"]),
        (
            "sysmt4",
            vec![
                "pe.window_logic=edge",
                "pe.zero_test=act",
                "pe.rounding=truncate",
            ],
        ),
        (
            "sparq-4b3opt",
            vec!["pe.window_logic=edge", "pe.rounding=truncate"],
        ),
        // The 2:4 mode at the edge: four lanes' windows in, selection over link words.
        (
            "sparq-stc-4b2opt",
            vec!["pe.window_logic=edge", "pe.rounding=truncate"],
        ),
        // A pipeline stage before the accumulator: acc_o follows one cycle later.
        ("sysmt4", vec!["pe.pipeline=1"]),
        ("baseline", vec!["pe.pipeline=1", "pe.acc_width=16"]),
        ("sysmt2-edge", vec!["pe.pipeline=1"]),
        (
            "bsparq-4b5opt",
            vec!["pe.window=2b7opt", "pe.rounding=truncate"],
        ),
    ] {
        let cfg = ConfigBuilder::new()
            .preset(Some(preset))
            .sets(&sets)
            .build()
            .map(Design::new)
            .unwrap();
        let files = generate_pe(&cfg).unwrap();
        if v {
            let stim = pe_stimulus(&cfg, 12, Depth::Full, 20_000);
            let r = run_pe(Simulator::Verilator, &cfg, &files, &stim);
            assert_eq!(r.mismatches, 0, "{preset} {sets:?}: {:?}", r.details);
        }
        if i {
            let stim = pe_stimulus(&cfg, 12, Depth::Light, 2000);
            let r = run_pe(Simulator::Icarus, &cfg, &files, &stim);
            assert_eq!(r.mismatches, 0, "{preset} {sets:?}: {:?}", r.details);
        }
    }
}

/// A bench that cannot fail proves nothing: corrupt one expected accumulator and
/// the harness must report exactly that cycle, with the lane inputs and the seed.
#[test]
fn benches_report_a_corrupted_expectation_with_its_cycle() {
    let (v, i) = (require("verilator"), require("iverilog"));
    let cfg = Design::preset("sysmt2").unwrap();
    let files = generate_pe(&cfg).unwrap();
    let mut stim = pe_stimulus(&cfg, 13, Depth::Light, 500);
    let k = stim.cycles() / 2;
    stim.vectors[k].acc ^= 1 << 5;
    if v {
        let r = run_pe(Simulator::Verilator, &cfg, &files, &stim);
        let d = one_mismatch(&r, &format!("cycle={k} "));
        assert!(d.contains("seed=13") && d.contains("a0="), "{d}");
    }
    if i {
        let r = run_pe(Simulator::Icarus, &cfg, &files, &stim);
        one_mismatch(&r, &format!("cycle={k} "));
    }
}

/// Small arrays of every policy stream random GEMMs under both simulators; the
/// regression (`smtgen regress`) covers every preset at 1x1 to 16x16.
#[test]
fn small_arrays_match_the_cycle_model_under_verilator_and_icarus() {
    let (v, i) = (require("verilator"), require("iverilog"));
    let tools = smtgen_hdl::regress::Tools {
        verilator: v,
        icarus: i,
        jobs: 0,
    };
    for (preset, r, c) in [("sysmt4", 2, 3), ("sparq-2b", 3, 2), ("baseline", 1, 1)] {
        let line = smtgen_hdl::regress::array_line(preset, r, c, tools, true, 5, 40).unwrap();
        assert!(
            line.ok,
            "{preset} {r}x{c}: {:?} {:?}",
            line.cols, line.notes
        );
    }
    // Design points beyond the presets: four lanes with the window and nibble logic
    // at the edge, and PEs with a pipeline stage (the cell captures a cycle later).
    for (spec, r, c) in [
        ("sysmt4+pe.window_logic=edge", 2, 3),
        ("sparq-stc-4b5opt+pe.window_logic=edge", 2, 3),
        ("baseline+pe.pipeline=1", 3, 2),
        ("sysmt2-edge+pe.pipeline=1", 2, 2),
    ] {
        let size = [format!("array.rows={r}"), format!("array.cols={c}")];
        let cfg = smtgen_core::config::Design::point(spec, &size).unwrap();
        let line = smtgen_hdl::regress::array_line_for(&cfg, spec, tools, true, 5, 40).unwrap();
        assert!(line.ok, "{spec}: {:?} {:?}", line.cols, line.notes);
    }
}

/// The array bench can fail too: a corrupted expected result is reported.
#[test]
fn array_bench_reports_a_corrupted_result() {
    if !require("verilator") {
        return;
    }
    use smtgen_core::array::{run_gemm, Gemm};
    use smtgen_core::stimulus::Rng;
    let cfg = ConfigBuilder::new()
        .preset(Some("sysmt2"))
        .sets(&["array.rows=2", "array.cols=2"])
        .build()
        .map(Design::new)
        .unwrap();
    let mut rng = Rng::new(3);
    let g = Gemm::random(3, 9, 3, 0.3, &mut rng);
    let mut run = run_gemm(&cfg, &g, 0.0, &mut rng);
    let cy = run.outputs.iter().position(|o| o.res_valid[1]).unwrap();
    run.outputs[cy].res[1] += 1;
    let files = smtgen_hdl::rtl::generate_array(&cfg).unwrap();
    let r = Simulator::Verilator
        .array(&cfg, &files, &run, 3, &SimOptions::default())
        .unwrap();
    one_mismatch(&r, &format!("cycle={cy} res row=1"));
}

/// `regress --jobs 1` and the default (every core) print the same lines for one
/// design point: parallelism changes how fast, never what is checked.
#[test]
fn regress_on_one_job_prints_what_every_core_prints() {
    if !(require("verilator") && require("iverilog")) {
        return;
    }
    let run = |jobs: &[&str]| {
        let mut args = vec![
            "regress",
            "--presets",
            "baseline",
            "--pe",
            "--cycles",
            "3000",
            "--icarus-cycles",
            "300",
            "--seed",
            "11",
        ];
        args.extend_from_slice(jobs);
        let o = common::smtgen(&args, None);
        assert!(o.status.success(), "{}", common::stderr(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let one = run(&["--jobs", "1"]);
    assert!(one.contains("1 passed, 0 failed"), "{one}");
    assert_eq!(one, run(&[]));
}

/// `array.skip: gate` under both simulators: seeded random, all-zero and all-one
/// skip masks (inside `array_line_for`), bit-exact with the cycle model; a PE of a
/// skipping design with its skip bit low is the PE without the option (the golden
/// model's vectors pass unchanged: the simulation-based equivalence).
#[test]
fn skip_arrays_match_the_cycle_model_with_random_masks() {
    let (v, i) = (require("verilator"), require("iverilog"));
    let tools = smtgen_hdl::regress::Tools {
        verilator: v,
        icarus: i,
        jobs: 0,
    };
    let seed = 23;
    for (spec, r, c) in [
        ("baseline+array.skip=gate", 3, 2),
        ("sysmt2+array.skip=gate", 2, 3),
        ("sysmt4+pe.window_logic=edge+array.skip=gate", 3, 3),
        ("sparq-stc-4b5opt+pe.pipeline=1+array.skip=gate", 2, 2),
        ("baseline+array.skip=gate", 1, 1),
    ] {
        let size = [format!("array.rows={r}"), format!("array.cols={c}")];
        let cfg = Design::point(spec, &size).unwrap();
        let line = smtgen_hdl::regress::array_line_for(&cfg, spec, tools, true, seed, 40).unwrap();
        assert!(
            line.ok,
            "seed {seed} {spec} {r}x{c}: {:?} {:?}",
            line.cols, line.notes
        );
        if v && i {
            let pe = smtgen_hdl::regress::pe_line(spec, tools, 20_000, 4_000, seed).unwrap();
            assert!(pe.ok, "seed {seed} {spec} PE: {:?} {:?}", pe.cols, pe.notes);
        }
    }
}

/// Off, the option renders nothing (the snapshots hold the byte-identical text);
/// on, the array takes `skip_i` and the PE isolates its datapath.
#[test]
fn skip_off_renders_no_skip_logic_and_on_renders_it() {
    for p in ["baseline", "sysmt4", "sparq-stc-4b5opt"] {
        let off = Design::point(p, &["array.rows=2", "array.cols=3"]).unwrap();
        let on = off.with(|c| c.array.skip = smtgen_core::config::Skip::Gate);
        let text = |d: &Design| -> String {
            smtgen_hdl::rtl::generate_array(d)
                .unwrap()
                .iter()
                .map(|f| f.text.clone())
                .collect()
        };
        let (a, b) = (text(&off), text(&on));
        assert!(!a.contains("skip"), "{p}: skip logic without the option");
        for needle in [
            "input  wire [ROWS*COLS-1:0]     skip_i",
            "wire skip_now = (valid_i & clear_i) ? skip_i : skip_q;",
            "act_d = act_i &",
        ] {
            assert!(
                b.contains(needle),
                "{p}: `{needle}` missing with skip: gate"
            );
        }
    }
}

/// The skip path can fail: a first group's skip bit flipped in the trace after the
/// model ran is reported as a result mismatch under both simulators.
#[test]
fn skip_bench_reports_a_flipped_mask_bit() {
    use smtgen_core::array::{run_gemms_masked, Gemm};
    use smtgen_core::stimulus::Rng;
    let cfg = Design::point("sysmt2+array.skip=gate", &["array.rows=2", "array.cols=2"]).unwrap();
    let mut rng = Rng::new(5);
    let g = Gemm::random(2, 9, 2, 0.0, &mut rng);
    let mask = vec![false, true, false, false];
    let mut run = run_gemms_masked(&cfg, &[g], &[mask], 0.0, &mut rng).unwrap();
    // Output (0, 0) is not skipped in the model; skip it in the trace.
    let first = run.inputs.iter().position(|i| i.valid && i.first).unwrap();
    run.inputs[first].skip[0] = true;
    let files = smtgen_hdl::rtl::generate_array(&cfg).unwrap();
    for (sim, have) in [
        (Simulator::Verilator, require("verilator")),
        (Simulator::Icarus, require("iverilog")),
    ] {
        if !have {
            continue;
        }
        let r = sim
            .array(&cfg, &files, &run, 5, &SimOptions::default())
            .unwrap();
        one_mismatch(&r, "res row=0");
    }
}
