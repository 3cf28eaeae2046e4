//! Hostile and careless input, through the release binary: each numbered case of
//! the hardening issue is a test named after it. A rejected input exits non-zero
//! with one line naming the argument or field, the value and what is allowed, and
//! never panics; a failed or interrupted output leaves its directory untouched.

mod common;
use common::files::{fails_clearly, gemm, gemm_args, raw_npy, rejects, s, write_operands};
use common::{require, smtgen, stderr};
use std::path::Path;
use std::process::Output;

/// Runs `smtgen eval --presets baseline`, then `args`.
fn eval(args: &[&str]) -> Output {
    let mut v = vec!["eval", "--presets", "baseline"];
    v.extend_from_slice(args);
    smtgen(&v, None)
}

/// Every file under `dir` with its bytes, sorted (to show a directory untouched).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            let b = if p.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                b"<dir>".to_vec()
            };
            (e.file_name().to_string_lossy().into_owned(), b)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn case01_npy_shape_past_2_pow_64_is_rejected_not_wrapped() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.npy");
    let w = d.path().join("w.npy");
    raw_npy(&a, "|u1", "(4611686018427387904, 4)", &[]);
    raw_npy(&w, "|i1", "(4, 2)", &[0; 8]);
    let c = d.path().join("c.npy");
    for o in [gemm(&a, &w, &c, &[]), eval(&["--a", s(&a), "--w", s(&w)])] {
        fails_clearly(
            &o,
            &["a.npy", "shape", "4611686018427387904, 4", "--max-elements"],
        );
    }
    assert!(!c.exists());
    // A shape whose product fits but whose data is short is rejected too.
    raw_npy(&a, "|u1", "(2, 4)", &[1, 2, 3]);
    fails_clearly(&gemm(&a, &w, &c, &[]), &["a.npy", "data"]);
    // A small shape over a file far larger than the ceiling allows is not read.
    raw_npy(&a, "|u1", "(2, 2)", &vec![0; 3 << 20]);
    fails_clearly(
        &gemm(&a, &w, &c, &["--max-elements", "4"]),
        &["a.npy", "bytes", "--max-elements"],
    );
}

#[test]
fn case02_empty_dimensions_are_rejected_the_same_way_everywhere() {
    let o = eval(&["--synthetic", "relu", "--n", "0"]);
    fails_clearly(&o, &["--m/--k/--n", "N=0", "at least 1"]);
    let d = tempfile::tempdir().unwrap();
    let (a, w) = write_operands(d.path(), (2, 3, 0), &[1; 6], &[]);
    let c = d.path().join("c.npy");
    fails_clearly(
        &eval(&["--a", s(&a), "--w", s(&w)]),
        &["--a/--w", "N=0", "at least 1"],
    );
    fails_clearly(&gemm(&a, &w, &c, &[]), &["--a/--w", "N=0", "at least 1"]);
    // Convolution weights with no outputs.
    let x = d.path().join("x.npy");
    let k = d.path().join("k.npy");
    smtgen_core::tensors::write_npy(&x, &[1, 1, 2, 2], &[1u8; 4]).unwrap();
    smtgen_core::tensors::write_npy(&k, &[0, 1, 1, 1], &[] as &[i8]).unwrap();
    fails_clearly(
        &eval(&["--input", s(&x), "--weights", s(&k)]),
        &["--weights", "O=0", "at least 1"],
    );
}

#[test]
fn case03_bench_cycles_beyond_the_ceiling_are_rejected_up_front() {
    rejects(
        &["bench", "--cycles", "18446744073709551615"],
        &["--cycles", "18446744073709551615", "--max-cycles"],
    );
    rejects(&["bench", "--cycles", "0"], &["--cycles", "0", "1.."]);
}

#[test]
fn case04_padding_is_checked_arithmetic_against_the_ceiling() {
    let d = tempfile::tempdir().unwrap();
    let x = d.path().join("x.npy");
    let k = d.path().join("k.npy");
    smtgen_core::tensors::write_npy(&x, &[1, 1, 1, 1], &[3u8]).unwrap();
    smtgen_core::tensors::write_npy(&k, &[1, 1, 1, 1], &[2i8]).unwrap();
    let run = |pad: &str| eval(&["--input", s(&x), "--weights", s(&k), "--padding", pad]);
    fails_clearly(
        &run("9223372036854775807"),
        &["--input/--padding", "--max-elements"],
    );
    fails_clearly(
        &run("9223372036854775808"),
        &["--padding", "9223372036854775808"],
    );
    fails_clearly(&run("100000"), &["200001x200001", "at most 16777216"]);
    // A padding within the ceiling still works.
    let o = run("1");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn case05_work_and_memory_have_a_declared_ceiling() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.npy");
    let w = d.path().join("w.npy");
    let c = d.path().join("c.npy");
    raw_npy(&a, "|u1", "(100000, 0)", &[]);
    raw_npy(&w, "|i1", "(0, 100000)", &[]);
    fails_clearly(&gemm(&a, &w, &c, &[]), &["--a/--w", "K=0"]);
    write_operands(d.path(), (5000, 1, 5000), &[1; 5000], &[1; 5000]);
    fails_clearly(
        &gemm(&a, &w, &c, &[]),
        &["C (MxN)", "5000x5000", "at most 16777216", "--max-elements"],
    );
    // The flag raises the ceiling; a lower one is honoured as well.
    let o = gemm(&a, &w, &c, &["--max-elements", "30000000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Endless inputs are read only up to the ceiling.
    let zero = Path::new("/dev/zero");
    for args in [
        vec!["config", "--config", "/dev/zero"],
        vec!["model", "--input", "/dev/zero"],
        gemm_args(zero, zero, &c, &[]),
        vec!["eval", "--synthetic", "relu", "--area", "/dev/zero"],
    ] {
        rejects(&args, &["/dev/zero", "size", "more than"]);
    }
    rejects(
        &["sim", "--cycles", "1000000000000"],
        &["--cycles", "1000000000000", "--max-cycles"],
    );
    rejects(
        &["eval", "--synthetic", "relu", "--m", "100000000000"],
        &["--m/--k/--n", "100000000000x576", "--max-elements"],
    );
    rejects(
        &["regress", "--max-k", "100000000"],
        &["--max-k", "100000000", "--max-elements"],
    );
}

#[test]
fn case06_float64_beyond_float32_is_rejected_not_quantized_to_zero() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.npy");
    let w = d.path().join("w.npy");
    smtgen_core::tensors::write_npy(&a, &[1, 2], &[1e300f64, 1.0]).unwrap();
    smtgen_core::tensors::write_npy(&w, &[2, 1], &[1i8, 2]).unwrap();
    fails_clearly(
        &eval(&["--a", s(&a), "--w", s(&w)]),
        &["a.npy", "flat index 0", "1e300", "float32"],
    );
}

#[test]
fn case07_empty_or_null_set_values_are_errors_not_defaults() {
    for (set, field) in [
        ("pe.threads=", "pe.threads"),
        ("array.rows=", "array.rows"),
        ("name=", "name"),
        ("pe.threads=~", "pe.threads"),
        ("pe.threads=null", "pe.threads"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let o = smtgen(
            &[
                "gen",
                "--preset",
                "sysmt4",
                "--set",
                set,
                "--out",
                s(d.path()),
            ],
            None,
        );
        fails_clearly(&o, &[field, "(empty)", "leave the key out"]);
        assert!(snapshot(d.path()).is_empty(), "{set}: wrote files");
    }
    // The same in a YAML file.
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("c.yaml");
    std::fs::write(&f, "pe:\n  policy: sysmt\n  threads:\n").unwrap();
    rejects(&["config", "--config", s(&f)], &["pe.threads", "(empty)"]);
}

#[test]
fn case08_design_points_flags_and_unused_flags_never_silently_lose() {
    // A design point's own override against a flag that would replace it.
    rejects(
        &[
            "eval",
            "--presets",
            "sysmt2+array.rows=2",
            "--synthetic",
            "relu",
        ],
        &["array.rows", "sysmt2+array.rows=2", "--rows 16 by default"],
    );
    // prove applies --set to every design point (the second one rejects it).
    rejects(
        &[
            "prove",
            "--presets",
            "sysmt2,baseline",
            "--set",
            "pe.rounding=truncate",
        ],
        &["pe.rounding", "truncate", "baseline"],
    );
    // ... and proves every one of them (two cheap exact designs).
    if require("yosys") {
        let o = smtgen(
            &[
                "prove",
                "--presets",
                "baseline,ideal2",
                "--set",
                "pe.acc_width=40",
            ],
            None,
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}{out}", stderr(&o));
        assert!(out.contains("2 passed, 0 failed"), "{out}");
    }
    // lint --all takes the overrides and the size.
    rejects(
        &["lint", "--all", "--set", "pe.bogus=1"],
        &["pe.bogus", "unknown key"],
    );
    rejects(
        &["lint", "--all", "--rows", "999"],
        &["array.rows", "999", "1..128"],
    );
    // sim --waves into a missing directory, or with Icarus.
    let d = tempfile::tempdir().unwrap();
    let fst = d.path().join("missing").join("w.fst");
    rejects(
        &["sim", "--waves", s(&fst)],
        &["--waves", "missing", "existing directory"],
    );
    rejects(
        &[
            "sim",
            "--simulator",
            "icarus",
            "--waves",
            s(&d.path().join("w.fst")),
        ],
        &["--waves", "verilator"],
    );
    // Flags a command does not use.
    rejects(
        &["eval", "--synthetic", "relu", "--stride", "2"],
        &["--stride", "2", "--input"],
    );
    rejects(&["bench", "--sizes", "2x2"], &["--sizes", "2x2", "--array"]);
    // Every command takes PRESET+key=value the same way (bench --array too).
    rejects(
        &[
            "bench",
            "--array",
            "--sizes",
            "2x2",
            "--presets",
            "baseline+pe.bogus=1",
        ],
        &["pe.bogus", "unknown key"],
    );
    let o = smtgen(&["config", "--preset", "sysmt4+pe.window_logic=edge"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("window_logic: edge"));
    let o = smtgen(
        &[
            "gen",
            "--preset",
            "sysmt4+pe.window_logic=edge",
            "--pe-only",
            "--out",
            s(d.path()),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Lists: gen writes every design point, gemm (one result) names what it takes.
    let o = smtgen(
        &["gen", "--presets", "sysmt2,sysmt4", "--out", s(d.path())],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["sysmt2_array.f", "sysmt4_array.f"] {
        assert!(d.path().join(f).is_file(), "{f} missing");
    }
    rejects(
        &[
            "gen",
            "--presets",
            "sysmt4,sysmt4+pe.rounding=truncate",
            "--out",
            s(d.path()),
        ],
        &["sysmt4+pe.rounding=truncate", "both write", "+name="],
    );
    rejects(
        &[
            "gemm",
            "--preset",
            "sysmt2,sysmt4",
            "--a",
            "a.npy",
            "--w",
            "w.npy",
            "--out",
            "c.npy",
        ],
        &["--preset", "sysmt2,sysmt4", "one design point"],
    );
}

#[test]
fn case09_cycle_accurate_and_fast_paths_agree_on_empty_gemms() {
    let d = tempfile::tempdir().unwrap();
    let (a, w) = write_operands(d.path(), (0, 3, 2), &[], &[1; 6]);
    let c = d.path().join("c.npy");
    let plain = gemm(&a, &w, &c, &[]);
    let exact = gemm(&a, &w, &c, &["--cycle-accurate"]);
    fails_clearly(&plain, &["--a/--w", "M=0", "at least 1"]);
    assert_eq!(stderr(&plain), stderr(&exact));
    assert!(!stderr(&exact).contains("mismatch"));
}

#[test]
fn case10_failed_and_concurrent_outputs_are_never_half_written() {
    // A directory where an output file should go: nothing is written.
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("sysmt2_fabric.v")).unwrap();
    std::fs::write(d.path().join("keep.txt"), "mine").unwrap();
    let before = snapshot(d.path());
    rejects(
        &["gen", "--preset", "sysmt2", "--out", s(d.path())],
        &["--out", "sysmt2_fabric.v", "directory"],
    );
    assert_eq!(snapshot(d.path()), before);
    // eval --report likewise, and --json / compare --out are checked before work.
    let r = tempfile::tempdir().unwrap();
    std::fs::create_dir(r.path().join("report.svg")).unwrap();
    let before = snapshot(r.path());
    let o = eval(&["--synthetic", "relu", "--m", "8", "--report", s(r.path())]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("report.svg"), "{}", stderr(&o));
    assert_eq!(snapshot(r.path()), before);
    let bad = r.path().join("missing").join("e.json");
    let o = eval(&["--synthetic", "relu", "--json", s(&bad)]);
    fails_clearly(&o, &["--json", "existing directory"]);
    assert!(o.stdout.is_empty(), "work was done before the path check");
    let file = r.path().join("f");
    std::fs::write(&file, "x").unwrap();
    rejects(
        &["compare", "--presets", "baseline", "--out", s(&file)],
        &["--out", "is a file"],
    );
    // Two concurrent runs into one directory, same file names, different configs:
    // every file comes from one run.
    for round in 0..6 {
        let o = tempfile::tempdir().unwrap();
        let out = s(o.path()).to_string();
        let spawn = |extra: &[&str]| {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_smtgen"));
            c.args(["gen", "--preset", "sysmt2", "--out", &out])
                .args(extra);
            c.stdout(std::process::Stdio::null()).spawn().unwrap()
        };
        let mut x = spawn(&[]);
        let mut y = spawn(&["--set", "pe.rounding=truncate"]);
        assert!(x.wait().unwrap().success() && y.wait().unwrap().success());
        let v: Vec<bool> = std::fs::read_dir(o.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".v"))
            .map(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap()
                    .contains("rounding: truncate")
            })
            .collect();
        assert_eq!(v.len(), 8, "round {round}");
        assert!(v.iter().all(|&t| t == v[0]), "round {round}: mixed {v:?}");
        let left: Vec<_> = snapshot(o.path())
            .into_iter()
            .filter(|(n, _)| {
                n.starts_with('.') && !n.starts_with(smtgen_core::guard::MANIFEST_PREFIX)
            })
            .collect();
        assert!(left.is_empty(), "staging left behind: {left:?}");
        smtgen_core::guard::check_sets(o.path()).unwrap();
    }
}

#[test]
fn case11_links_in_out_and_inputs_as_outputs_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let victim = d.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("sysmt2_cond.v")).unwrap();
    rejects(
        &["gen", "--preset", "sysmt2", "--out", s(&out)],
        &["sysmt2_cond.v", "symbolic link"],
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let a = d.path().join("a.csv");
    let w = d.path().join("w.csv");
    std::fs::write(&a, "1,2\n3,4\n").unwrap();
    std::fs::write(&w, "1,2\n3,4\n").unwrap();
    fails_clearly(
        &gemm(&a, &w, &a, &[]),
        &["--out", "a.csv", "other than the input"],
    );
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "1,2\n3,4\n");
    // A device or pipe (/dev/null, /dev/stdout) is written in place, never replaced
    // by a regular file: shown on a FIFO read by another thread.
    let fifo = d.path().join("pipe.csv");
    let cpath = std::ffi::CString::new(s(&fifo)).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path inside this test's directory.
    assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
    let reader = {
        let f = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(f).unwrap())
    };
    let o = gemm(&a, &w, &fifo, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(reader.join().unwrap(), "7,10\n15,22\n");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let link = d.path().join("c.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    fails_clearly(&gemm(&a, &w, &link, &[]), &["--out", "symbolic link"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn case12_interrupted_runs_remove_their_work_directories_and_exit_130() {
    if !require("verilator") {
        return;
    }
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let tmp = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_smtgen"))
            .args([
                "sim", "--preset", "baseline", "--cycles", "16000000", "--seed", "1",
            ])
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the work directory exists (the build is under way).
        let mut seen = false;
        for _ in 0..600 {
            if std::fs::read_dir(tmp.path()).unwrap().next().is_some() {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(seen, "no work directory appeared");
        // Soon after: with a warm compiler cache a short run could end first.
        std::thread::sleep(std::time::Duration::from_millis(100));
        // SAFETY: signals the child this test spawned, by its id.
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        let o = child.wait_with_output().unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(130), "{e}");
        assert!(e.contains("interrupted") && e.contains("removed"), "{e}");
        assert!(!e.contains("panicked"), "{e}");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

#[test]
fn case13_messages_say_what_is_wrong_where() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("c.yaml");
    std::fs::write(&f, "pe:\n  policy: sysmt\n  threads: \"2\"\n").unwrap();
    rejects(
        &["config", "--config", s(&f)],
        &["pe.threads", "\"2\"", "an integer"],
    );
    std::fs::write(
        &f,
        "pe:\n  policy: sysmt\n  threads: 2\n  rounding: truncate\n  threads: 4\n",
    )
    .unwrap();
    rejects(
        &["config", "--config", s(&f)],
        &["c.yaml", "line 5", "duplicate key `threads`", "line 3"],
    );
    // A CR-only line break is a line break.
    let a = d.path().join("a.csv");
    let w = d.path().join("w.csv");
    let c = d.path().join("c.csv");
    std::fs::write(&a, "1,2\r3,4\r").unwrap();
    std::fs::write(&w, "1,0\r0,1").unwrap();
    let o = gemm(&a, &w, &c, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&c).unwrap(), "1,2\n3,4\n");
    let o = smtgen(
        &["model", "--preset", "baseline", "--input", "-"],
        Some("4,1\r5,1\r"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "p0,acc\n4,4\n5,9\n");
    // A non-UTF-8 CSV names its line.
    std::fs::write(&a, b"1,2\n3,\xff\n").unwrap();
    fails_clearly(&gemm(&a, &w, &c, &[]), &["a.csv", "line 2", "UTF-8"]);
    let f2 = d.path().join("ops.csv");
    std::fs::write(&f2, b"1,2\n\xfe,1\n").unwrap();
    rejects(
        &["model", "--preset", "baseline", "--input", s(&f2)],
        &["ops.csv", "line 2", "UTF-8"],
    );
}
