//! Unit tests of presets, YAML parsing, overrides, design points and defaults.

use super::*;

fn err(yaml: &str) -> String {
    Config::from_yaml(yaml).unwrap_err().to_string()
}

#[test]
fn every_preset_validates_and_round_trips() {
    for p in PRESETS {
        let c = Config::preset(p.name).unwrap();
        let again = Config::from_yaml(&c.to_yaml()).unwrap();
        assert_eq!(c, again, "{}", p.name);
    }
}

#[test]
fn presets_are_the_files_under_configs_presets() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/presets");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = PRESETS.iter().map(|p| p.name.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "configs/presets/*.yaml vs PRESETS");
    for p in PRESETS {
        assert!(
            !p.about().is_empty(),
            "{}: first line must be `# what it is`",
            p.name
        );
        // A preset file is also a config file a user can copy and pass to --config.
        let path = dir.join(format!("{}.yaml", p.name));
        let from_file = ConfigBuilder::new().file(Some(&path)).build().unwrap();
        assert_eq!(
            from_file.pe,
            Config::preset(p.name).unwrap().pe,
            "{}",
            p.name
        );
    }
}

#[test]
fn bad_configs_name_field_value_and_allowed() {
    let cases: &[(&str, &[&str])] = &[
        (
            "pe: {policy: sysmt, threads: 3}",
            &["pe.threads = 3", "2, 4"],
        ),
        (
            "pe: {policy: sysmt, threads: 1}",
            &["pe.threads = 1", "sysmt"],
        ),
        (
            "pe: {policy: sparq, window: 5b}",
            &["pe.window = 5b", "4b5opt"],
        ),
        (
            "pe: {policy: baseline, acc_width: 8}",
            &["pe.acc_width = 8", "16..64"],
        ),
        (
            "pe: {policy: baseline, colour: red}",
            &["pe.colour", "unknown"],
        ),
        ("pe: {policy: baseline}\nfoo: 1", &["foo", "unknown"]),
        (
            "pe: {policy: sparq, window: 6b3opt}",
            &["pe.window = 6b3opt"],
        ),
        (
            "pe: {policy: baseline}\narray: {rows: 0}",
            &["array.rows = 0", "1..128"],
        ),
        ("pe: {policy: warp}", &["pe.policy = warp", "sysmt"]),
        (
            "pe: {policy: ideal, rounding: truncate}",
            &["pe.rounding = truncate", "which is exact (remove the key)"],
        ),
        // Keys only some policies take: a value where it does not apply, or a bad one.
        (
            "pe: {policy: baseline, window: 4b5opt}",
            &[
                "pe.window = 4b5opt",
                "no window for policy baseline (remove the key)",
            ],
        ),
        (
            "pe: {policy: sysmt, window: 4b5opt}",
            &["pe.window = 4b5opt", "only 4b2opt for policy sysmt"],
        ),
        (
            "pe: {policy: sparq, rounding: up}",
            &["pe.rounding = up", "nearest_even, truncate"],
        ),
        (
            "pe: {policy: bsparq, zero_test: act}",
            &[
                "pe.zero_test = act",
                "whose lanes never share (remove the key)",
            ],
        ),
        (
            "pe: {policy: sysmt, zero_test: weight}",
            &["pe.zero_test = weight", "act, act_or_weight"],
        ),
        (
            "pe: {policy: sparq, window: 3b6opt, window_logic: edge}",
            &["pe.window_logic = edge", "4-bit window"],
        ),
        // 2:4 mode: the edge applies with a 4-bit window only, as without it.
        (
            "pe: {policy: sparq, stc: true, window: 3b6opt, window_logic: edge}",
            &["pe.window_logic = edge", "4-bit window"],
        ),
        (
            "pe: {policy: sparq, stc: true, window: 2b7opt, window_logic: edge}",
            &["pe.window_logic = edge"],
        ),
        (
            "pe: {policy: sysmt, pipeline: 2}",
            &["pe.pipeline = 2", "0, 1"],
        ),
        (
            "pe: {policy: sysmt, window_logic: west}",
            &["pe.window_logic = west", "in_pe, edge"],
        ),
    ];
    for (yaml, needles) in cases {
        let e = err(yaml);
        for n in *needles {
            assert!(e.contains(n), "{yaml:?}: `{n}` not in: {e}");
        }
    }
}

#[test]
fn overrides_apply_in_order_and_are_validated() {
    let c = ConfigBuilder::new()
        .preset(Some("sysmt4"))
        .sets(&["pe.rounding=truncate", "array.rows=16"])
        .build()
        .unwrap();
    assert_eq!(c.pe.rounding, Some(Rounding::Truncate));
    assert_eq!(c.array.rows, 16);
    assert_eq!(c.pe.threads, 4);
    let e = ConfigBuilder::new()
        .preset(Some("sysmt4"))
        .sets(&["pe.threads=3"])
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("pe.threads = 3"));
    let e = ConfigBuilder::new()
        .sets(&["pe.nope=1"])
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("pe.nope"));
}

#[test]
fn design_points_are_a_preset_plus_overrides() {
    let c = design_point(
        "sysmt4+pe.window_logic=edge+pe.rounding=truncate",
        &["array.rows=4"],
    )
    .unwrap();
    assert_eq!(c.pe.window_logic, WindowLogic::Edge);
    assert_eq!(c.pe.rounding, Some(Rounding::Truncate));
    assert_eq!((c.name.as_str(), c.array.rows), ("sysmt4", 4));
    for p in ["sparq-stc-4b5opt", "sparq-stc-4b2opt+pe.window=4b3opt"] {
        let c = design_point(&format!("{p}+pe.window_logic=edge"), &[] as &[&str]).unwrap();
        assert!(c.pe.stc && c.pe.window_logic == WindowLogic::Edge, "{p}");
    }
    let e = design_point("ideal2+pe.window_logic=edge", &[] as &[&str]).unwrap_err();
    assert!(e.to_string().contains("pe.window_logic = edge"), "{e}");
    let e = design_point("sysmt5", &[] as &[&str]).unwrap_err();
    assert!(e.to_string().contains("preset = sysmt5"), "{e}");
}

#[test]
fn defaults_follow_the_spec() {
    let c = Config::from_yaml("pe: {policy: sysmt}").unwrap();
    assert_eq!(c.pe.threads, 2);
    assert_eq!(c.pe.zero_test, Some(ZeroTest::ActOrWeight));
    assert_eq!(c.pe.rounding, Some(Rounding::NearestEven));
    let c = Config::from_yaml("pe: {policy: sparq}").unwrap();
    assert_eq!(c.pe.zero_test, Some(ZeroTest::Act));
    assert_eq!(c.pe.window, Some(WindowSet::W4b5opt));
    assert_eq!(c.pe.acc_width, 32);
}

#[test]
fn array_skip_parses_validates_and_round_trips() {
    let c = Config::from_yaml("pe: {policy: sysmt}").unwrap();
    assert_eq!(c.array.skip, Skip::None);
    assert!(!c.to_yaml().contains("skip"), "off: the YAML is as before");
    assert!(!c.pe_yaml().contains("skip"));
    let c = Config::from_yaml("pe: {policy: sysmt}\narray: {rows: 4, skip: gate}").unwrap();
    assert_eq!(c.array.skip, Skip::Gate);
    assert_eq!(Config::from_yaml(&c.to_yaml()).unwrap(), c);
    assert!(
        c.pe_yaml().ends_with("array:\n  skip: gate\n"),
        "{}",
        c.pe_yaml()
    );
    let c = design_point("baseline+array.skip=gate", &["array.rows=2"]).unwrap();
    assert_eq!((c.array.skip, c.array.rows), (Skip::Gate, 2));
    for (yaml, needles) in [
        (
            "pe: {policy: baseline}\narray: {skip: hold}",
            &["array.skip = hold", "none, gate"][..],
        ),
        (
            "pe: {policy: baseline}\narray: {skip: 1}",
            &["array.skip = 1", "none, gate"][..],
        ),
    ] {
        let e = err(yaml);
        for n in needles {
            assert!(e.contains(n), "{yaml:?}: `{n}` not in: {e}");
        }
    }
}
