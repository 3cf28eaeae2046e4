//! The command line as a user meets it: presets, the model on CSV, generation, and
//! one-line errors for bad configs and operand files.

mod common;
use common::{smtgen, stderr};
use smtgen_core::config::{Design, PRESETS};
use smtgen_core::model::PeModel;

#[test]
fn presets_lists_every_preset() {
    let o = smtgen(&["presets"], None);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for p in PRESETS {
        assert!(out.contains(p.name), "{} missing", p.name);
    }
}

#[test]
fn model_answers_for_every_preset_as_the_library_does() {
    let rows: &[[i32; 2]] = &[
        [255, -128],
        [255, 127],
        [0, 5],
        [37, -3],
        [124, 100],
        [200, 1],
        [1, -1],
        [16, 0],
    ];
    for p in PRESETS {
        let cfg = Design::preset(p.name).unwrap();
        let t = cfg.lanes();
        let mut csv = String::new();
        let mut cycles = Vec::new();
        for (i, _) in rows.iter().enumerate() {
            let lane: Vec<[i32; 2]> = (0..t).map(|l| rows[(i + 3 * l) % rows.len()]).collect();
            csv += &lane
                .iter()
                .map(|x| format!("{},{}", x[0], x[1]))
                .collect::<Vec<_>>()
                .join(",");
            csv += "\n";
            cycles.push(lane);
        }
        let o = smtgen(&["model", "--preset", p.name, "--input", "-"], Some(&csv));
        assert!(o.status.success(), "{}: {}", p.name, stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let mut lines = out.lines();
        let header: Vec<String> = (0..t)
            .map(|l| format!("p{l}"))
            .chain(["acc".into()])
            .collect();
        assert_eq!(lines.next().unwrap(), header.join(","));
        let mut m = PeModel::new(&cfg);
        for lane in &cycles {
            let a: Vec<u8> = lane.iter().map(|x| x[0] as u8).collect();
            let w: Vec<i8> = lane.iter().map(|x| x[1] as i8).collect();
            let c = m.step(&a, &w, true, false);
            let want: Vec<String> = c.products[..t]
                .iter()
                .map(|p| p.to_string())
                .chain([m.acc().to_string()])
                .collect();
            assert_eq!(lines.next().unwrap(), want.join(","), "{}", p.name);
        }
    }
}

#[test]
fn model_rejects_out_of_range_operands_with_file_line_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ops.csv");
    std::fs::write(&f, "1,2,3,4\n5,6,300,1\n").unwrap();
    let o = smtgen(
        &[
            "model",
            "--preset",
            "sysmt2",
            "--input",
            f.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("ops.csv") && e.contains("line 2") && e.contains("a1") && e.contains("300"),
        "{e}"
    );
    assert!(o.stdout.is_empty(), "nothing is written half-way");
}

#[test]
fn bad_configs_get_one_line_errors_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("pe:\n  policy: sysmt\n  threads: 3\n", &["pe.threads", "3"]),
        (
            "pe:\n  policy: sysmt\n  threads: 1\n",
            &["pe.threads", "1", "sysmt"],
        ),
        (
            "pe:\n  policy: sparq\n  window: 5b\n",
            &["pe.window", "5b", "4b5opt"],
        ),
        (
            "pe:\n  policy: baseline\n  acc_width: 8\n",
            &["pe.acc_width", "8", "16..64"],
        ),
        (
            "pe:\n  policy: baseline\n  speed: 9\n",
            &["pe.speed", "unknown"],
        ),
        ("pe:\n  policy: [oops\n", &["cfg.yaml", "YAML"]),
    ];
    for (yaml, needles) in cases {
        let f = dir.path().join("cfg.yaml");
        std::fs::write(&f, yaml).unwrap();
        let out = dir.path().join("out");
        let o = smtgen(
            &[
                "gen",
                "--config",
                f.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(o.status.code(), Some(2), "{yaml}");
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
        for n in *needles {
            assert!(e.contains(n), "`{n}` not in: {e}");
        }
        assert!(!out.exists(), "nothing written for a bad config");
    }
    let o = smtgen(
        &["gen", "--preset", "sysmt4", "--set", "pe.threads=3"],
        None,
    );
    assert!(stderr(&o).contains("pe.threads = 3"));
    let o = smtgen(&["gen", "--preset", "nope"], None);
    assert!(stderr(&o).contains("preset = nope"));
    // Design points (regress, compare, eval) are validated before anything runs.
    for cmd in ["regress", "compare", "eval"] {
        let o = smtgen(
            &[cmd, "--presets", "sysmt2,ideal2+pe.window_logic=edge"],
            None,
        );
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let e = stderr(&o);
        assert!(e.contains("pe.window_logic = edge"), "{cmd}: {e}");
        let o = smtgen(&[cmd, "--presets", "sysmt4+pe.pipeline=3"], None);
        assert!(stderr(&o).contains("pe.pipeline = 3"), "{cmd}");
    }
}

#[test]
fn gen_writes_every_module_and_a_filelist_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rtl");
    let o = smtgen(
        &["gen", "--preset", "sysmt4", "--out", out.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(out.to_str().unwrap()));
    let list = std::fs::read_to_string(out.join("sysmt4_pe.f")).unwrap();
    for f in list.lines() {
        assert!(out.join(f).exists(), "{f}");
    }
    assert!(list.lines().last() == Some("sysmt4_pe.v"));
}

#[test]
fn set_overrides_reach_the_generated_header() {
    let o = smtgen(
        &[
            "config",
            "--preset",
            "sysmt2",
            "--set",
            "pe.rounding=truncate",
            "--set",
            "pe.acc_width=24",
        ],
        None,
    );
    let y = String::from_utf8_lossy(&o.stdout);
    assert!(
        y.contains("rounding: truncate") && y.contains("acc_width: 24"),
        "{y}"
    );
}

#[test]
fn example_configs_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            // configs/presets: checked as config files by the unit tests of config.
            continue;
        }
        let o = smtgen(&["config", "--config", p.to_str().unwrap()], None);
        assert!(o.status.success(), "{}: {}", p.display(), stderr(&o));
        n += 1;
    }
    assert!(n >= 2);
}

/// Regression: `smtgen ... | head` used to end with a panic or an I/O error once
/// `head` closed the pipe; now the process finishes its work (files included) and
/// ends quietly on SIGPIPE, like other Unix filters.
#[cfg(unix)]
#[test]
fn closed_stdout_pipe_ends_quietly() {
    use std::io::{Read, Write};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let rows: String = (0..200_000)
        .map(|i| format!("{},{},{},{}\n", i % 256, i % 255 - 127, i * 7 % 256, 5))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtgen"))
        .args(["model", "--preset", "sysmt2", "--input", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("smtgen starts");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(rows.as_bytes());
    });
    // Read one line's worth, then close the pipe as `head -1` does.
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?}",
        out.status
    );
}

#[test]
fn every_parallel_command_takes_jobs_the_same_way() {
    let mut help = None;
    for cmd in [
        "synth", "prove", "regress", "compare", "sim", "eval", "gemm", "bench",
    ] {
        let o = smtgen(&[cmd, "--help"], None);
        assert!(o.status.success(), "{cmd}");
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let line = out
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("--jobs <JOBS>"))
            .unwrap_or_else(|| panic!("{cmd} has no --jobs: {out}"))
            .trim()
            .to_string();
        assert!(
            line.contains("0 or absent: every available core"),
            "{cmd}: {out}"
        );
        assert_eq!(help.get_or_insert(line.clone()), &line, "{cmd}");
    }
    // A count that is not a number is rejected naming the flag.
    let o = smtgen(&["synth", "--jobs", "two"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--jobs"), "{}", stderr(&o));
}
