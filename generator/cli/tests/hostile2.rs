//! Hostile and careless input, second round, through the release binary: each
//! numbered case of the second hardening issue is a test named after it. The
//! binary is `SMTGEN_TEST_BIN` when set (to show a case failing on an older build),
//! else this build's. A rejected input exits non-zero with one line naming the
//! argument, the value (escaped and truncated) and what is allowed, and never panics.

mod common;
use common::files::{gemm_args, s, write_operands};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> PathBuf {
    std::env::var_os("SMTGEN_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_smtgen")))
}

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Failed cleanly: exit 2, no panic, one line holding every needle.
fn clean_failure(o: &Output, needles: &[&str]) {
    let e = err(o);
    assert_eq!(o.status.code(), Some(2), "exit {:?}: {e}", o.status.code());
    assert!(!e.contains("panicked"), "{e}");
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line: {e}");
    for n in needles {
        assert!(lines[0].contains(n), "`{n}` missing from: {}", lines[0]);
    }
}

fn operands(d: &Path) -> (PathBuf, PathBuf) {
    let a: Vec<u8> = (0..32).map(|i| (i * 7 % 256) as u8).collect();
    let w: Vec<i8> = (0..64).map(|i| (i * 5 % 200) as i8).collect();
    write_operands(d, (4, 8, 8), &a, &w)
}

#[test]
fn r2_case01_jobs_have_a_declared_ceiling() {
    let d = tempfile::tempdir().unwrap();
    let (a, w) = operands(d.path());
    let c = d.path().join("c.npy");
    let base = [
        "gemm",
        "--preset",
        "baseline",
        "--a",
        s(&a),
        "--w",
        s(&w),
        "--out",
        s(&c),
    ];
    let mut args = base.to_vec();
    args.extend(["--jobs", "100000"]);
    let o = run(&args);
    let e = err(&o);
    assert!(
        !o.status.success() && e.contains("--jobs") && e.contains("per core"),
        "{e}"
    );
    assert!(!c.exists());
    // At the ceiling, a tiny GEMM runs (one thread per row at most).
    let max = smtgen_core::guard::max_jobs().to_string();
    let mut args = base.to_vec();
    args.extend(["--jobs", &max]);
    let o = run(&args);
    assert!(o.status.success(), "{}", err(&o));
    // Every command with --jobs takes the same ceiling.
    let o = run(&["regress", "--pe", "--jobs", "100000"]);
    assert!(err(&o).contains("per core"), "{}", err(&o));
}

#[test]
fn r2_case02_max_cycles_bounds_every_simulating_command() {
    let d = tempfile::tempdir().unwrap();
    let (a, w) = operands(d.path());
    let c = d.path().join("c.npy");
    let o = run(&[
        "gemm",
        "--preset",
        "baseline",
        "--a",
        s(&a),
        "--w",
        s(&w),
        "--out",
        s(&c),
        "--cycle-accurate",
        "--max-cycles",
        "10",
    ]);
    clean_failure(&o, &["--cycle-accurate", "cycles", "--max-cycles"]);
    assert!(!c.exists());
    let ops = d.path().join("ops.csv");
    std::fs::write(&ops, "1,2\n3,4\n5,6\n7,8\n").unwrap();
    let o = run(&[
        "model",
        "--preset",
        "baseline",
        "--input",
        s(&ops),
        "--max-cycles",
        "3",
    ]);
    clean_failure(&o, &["cycles = 4", "0..3 cycles"]);
    let o = run(&[
        "model",
        "--preset",
        "baseline",
        "--input",
        s(&ops),
        "--max-cycles",
        "0",
    ]);
    clean_failure(&o, &["cycles = 4", "0..0 cycles"]);
    assert!(!err(&o).contains("bytes"), "{}", err(&o));
    let o = run(&[
        "model",
        "--preset",
        "baseline",
        "--input",
        s(&ops),
        "--max-cycles",
        "4",
    ]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn r2_case03_stdout_failures_are_one_line_errors() {
    let d = tempfile::tempdir().unwrap();
    let (a, w) = operands(d.path());
    let c = d.path().join("c.npy");
    let out = d.path().join("rtl");
    let cases: Vec<Vec<&str>> = vec![
        vec!["presets"],
        vec!["config"],
        vec!["gen", "--preset", "baseline", "--out", s(&out)],
        gemm_args(&a, &w, &c, &["--preset", "baseline"]),
        vec![
            "eval",
            "--presets",
            "baseline",
            "--synthetic",
            "relu",
            "--m",
            "4",
            "--k",
            "8",
            "--n",
            "4",
        ],
    ];
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for args in &cases {
        let o = cmd(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        clean_failure(&o, &["<stdout>", "No space left"]);
    }
    // Standard output closed: refused, not lost.
    for args in &cases {
        let mut c = cmd(args);
        use std::os::unix::process::CommandExt;
        // SAFETY: close(2) on descriptor 1 in the child between fork and exec.
        unsafe {
            c.pre_exec(|| {
                libc::close(1);
                Ok(())
            });
        }
        let o = c.output().unwrap();
        clean_failure(&o, &["standard output is closed"]);
    }
    // A reader that goes away: the command still writes its files.
    let json = d.path().join("e.json");
    let mut child = cmd(&[
        "eval",
        "--presets",
        "baseline",
        "--synthetic",
        "relu",
        "--m",
        "64",
        "--json",
        s(&json),
    ])
    .spawn()
    .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    // Ends by SIGPIPE like a Unix filter (or succeeds if it printed before the
    // close), quietly, and only after writing its file.
    assert!(
        o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {}",
        o.status,
        err(&o)
    );
    assert!(!err(&o).contains("panicked"), "{}", err(&o));
    assert!(json.exists(), "eval --json f | head never wrote f");
}

#[test]
fn r2_case04_bench_shapes_and_raised_ceilings_refuse_not_abort() {
    for (shape, needle) in [
        ("1x1x99999999999", "99999999999"),
        ("4097x4097x1", "4097x4097"),
    ] {
        let o = run(&[
            "bench",
            "--gemm",
            "--shapes",
            shape,
            "--presets",
            "baseline",
        ]);
        clean_failure(&o, &["--shapes", needle, "--max-elements"]);
    }
    let o = run(&[
        "eval",
        "--presets",
        "baseline",
        "--synthetic",
        "relu",
        "--max-elements",
        "18446744073709551615",
    ]);
    clean_failure(&o, &["--max-elements", "18446744073709551615", "memory"]);
}

#[test]
fn r2_case05_deep_yaml_is_refused_before_parsing() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("deep.yaml");
    let depth = 300_000;
    std::fs::write(&f, "[".repeat(depth) + &"]".repeat(depth)).unwrap();
    let o = run(&["config", "--config", s(&f)]);
    clean_failure(&o, &["deep.yaml", "line 1, column 33", "deeper than 32"]);
    let o = run(&[
        "config",
        "--set",
        &format!("pe.threads={}", "[".repeat(1000)),
    ]);
    clean_failure(&o, &["--set", "deeper than 32"]);
}

/// Every `.v` of `dir` from one config (the `rounding` line of each header agrees),
/// and every set matches its manifest.
fn consistent(dir: &Path) -> Result<usize, String> {
    if !dir.exists() {
        return Ok(0);
    }
    smtgen_core::guard::check_sets(dir).map_err(|e| e.to_string())?;
    let mut kinds = std::collections::BTreeSet::new();
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".v") {
            let t = std::fs::read_to_string(e.path()).unwrap();
            kinds.insert(t.contains("acc_width: 40"));
            n += 1;
        }
    }
    if kinds.len() > 1 {
        return Err(format!("mixed set in {}", dir.display()));
    }
    Ok(n)
}

fn staging_left(parent: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in walk(parent) {
        let n = e.file_name().unwrap().to_string_lossy().into_owned();
        if n.contains("smtgen-staging") || n.contains("smtgen-tmp") {
            v.push(e.display().to_string());
        }
    }
    v
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

#[test]
fn r2_case06_killed_gen_leaves_one_whole_set_and_no_staging() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("rtl");
    let kills: usize = std::env::var("SMTGEN_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut seed = 0x5eed_u64;
    for i in 0..kills {
        let acc = if i % 2 == 0 { "32" } else { "40" };
        let mut child = cmd(&[
            "gen",
            "--preset",
            "sysmt2",
            "--set",
            &format!("pe.acc_width={acc}"),
            "--out",
            s(&out),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(std::time::Duration::from_micros((seed >> 33) % 40_000));
        let _ = child.kill();
        let _ = child.wait();
        if let Err(e) = consistent(&out) {
            panic!("after kill {i}: {e}");
        }
    }
    let o = run(&["gen", "--preset", "sysmt2", "--out", s(&out)]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(consistent(&out), Ok(8));
    assert!(
        staging_left(d.path()).is_empty(),
        "{:?}",
        staging_left(d.path())
    );
    // A design's set is replaced whole: --pe-only drops its array files, other
    // files in the directory stay.
    std::fs::write(out.join("mine.txt"), "keep").unwrap();
    let o = run(&["gen", "--preset", "sysmt2", "--pe-only", "--out", s(&out)]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(!out.join("sysmt2_array.v").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("mine.txt")).unwrap(),
        "keep"
    );
    assert!(consistent(&out).is_ok());
    // A failed gen into a new directory leaves no directory behind.
    let fresh = d.path().join("new").join("dir");
    let o = run(&[
        "gen",
        "--preset",
        "sysmt2",
        "--set",
        "pe.threads=3",
        "--out",
        s(&fresh),
    ]);
    assert!(!o.status.success());
    assert!(!fresh.exists() && !d.path().join("new").exists());
}

#[test]
fn r2_case07_sighup_and_other_signals_remove_the_work_directory() {
    if !common::require("verilator") {
        return;
    }
    for sig in [libc::SIGHUP, libc::SIGQUIT, libc::SIGTERM] {
        let tmp = tempfile::tempdir().unwrap();
        let child = cmd(&[
            "sim", "--preset", "baseline", "--cycles", "16000000", "--seed", "1",
        ])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
        let mut seen = false;
        for _ in 0..600 {
            if std::fs::read_dir(tmp.path()).unwrap().next().is_some() {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(seen, "no work directory appeared");
        std::thread::sleep(std::time::Duration::from_millis(100));
        // SAFETY: signals the child this test spawned, by its id.
        unsafe {
            libc::kill(child.id() as i32, sig);
        }
        let o = child.wait_with_output().unwrap();
        let e = err(&o);
        assert_eq!(o.status.code(), Some(130), "signal {sig}: {e}");
        assert!(e.contains("interrupted") && e.contains("removed"), "{e}");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "signal {sig}: left behind: {left:?}");
    }
}

#[test]
fn r2_case08_output_files_modes_read_only_and_extensions() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let d = tempfile::tempdir().unwrap();
    let (a, w) = operands(d.path());
    // Files get 0666 less the umask, like every other new file.
    let c = d.path().join("c.npy");
    let json = d.path().join("e.json");
    for args in [
        gemm_args(&a, &w, &c, &["--preset", "baseline"]),
        vec![
            "eval",
            "--presets",
            "baseline",
            "--synthetic",
            "relu",
            "--m",
            "8",
            "--json",
            s(&json),
        ],
    ] {
        let mut k = cmd(&args);
        // SAFETY: umask(2) in the child between fork and exec.
        unsafe {
            k.pre_exec(|| {
                libc::umask(0o022);
                Ok(())
            });
        }
        let o = k.output().unwrap();
        assert!(o.status.success(), "{}", err(&o));
    }
    for f in [&c, &json] {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}", f.display());
    }
    // A read-only output is refused, not replaced.
    std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&c).unwrap();
    let o = run(&[
        "gemm",
        "--preset",
        "baseline",
        "--a",
        s(&a),
        "--w",
        s(&w),
        "--out",
        s(&c),
    ]);
    clean_failure(&o, &["--out", "read-only"]);
    assert_eq!(std::fs::read(&c).unwrap(), before);
    // Extensions in any case: C.NPY is .npy, A.NPY is read as .npy.
    let up = d.path().join("C.NPY");
    let a_up = d.path().join("A.NPY");
    std::fs::copy(&a, &a_up).unwrap();
    let o = run(&[
        "gemm",
        "--preset",
        "baseline",
        "--a",
        s(&a_up),
        "--w",
        s(&w),
        "--out",
        s(&up),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(std::fs::read(&up).unwrap().starts_with(b"\x93NUMPY"));
}

#[test]
fn r2_case09_silently_accepted_input_is_rejected() {
    let d = tempfile::tempdir().unwrap();
    let area = d.path().join("area.csv");
    for (body, needle) in [
        ("design,array x\nbaseline,NaN\n", "NaN"),
        ("design,array x\nbaseline,-1.5\n", "-1.5"),
        (
            "design,array x\nbaseline,1.0\nbaseline,2.0\n",
            "first at line 2",
        ),
    ] {
        std::fs::write(&area, body).unwrap();
        let o = run(&[
            "eval",
            "--presets",
            "baseline",
            "--synthetic",
            "relu",
            "--m",
            "8",
            "--area",
            s(&area),
        ]);
        clean_failure(&o, &["area.csv", needle]);
    }
    let o = cmd(&["sim", "--preset", "baseline", "--cycles", "10"])
        .env("SMTGEN_SEED", "abc")
        .output()
        .unwrap();
    clean_failure(&o, &["SMTGEN_SEED", "abc", "unsigned integer"]);
    let (a, w) = operands(d.path());
    let c = d.path().join("c.npy");
    use std::os::unix::ffi::OsStrExt;
    let o = cmd(&[
        "gemm",
        "--preset",
        "baseline",
        "--a",
        s(&a),
        "--w",
        s(&w),
        "--out",
        s(&c),
    ])
    .env(
        "SMTGEN_ENGINE_KERNEL",
        std::ffi::OsStr::from_bytes(b"avx\xff2"),
    )
    .output()
    .unwrap();
    clean_failure(&o, &["SMTGEN_ENGINE_KERNEL", "not UTF-8"]);
}

#[test]
fn r2_case10_messages_escape_truncate_and_name_the_right_flag() {
    let d = tempfile::tempdir().unwrap();
    // Control bytes never reach the terminal raw; huge values are truncated.
    let o = run(&["config", "--preset", "bad\x1b[31m\x07name"]);
    let e = err(&o);
    assert!(!e.contains('\x1b') && !e.contains('\x07'), "{e:?}");
    assert!(e.contains("\\x1b[31m\\x07"), "{e}");
    let huge = "7".repeat(100_000);
    let o = run(&["config", "--preset", &huge]);
    let e = err(&o);
    assert!(
        e.len() < 2000 && e.contains("100000 bytes in all"),
        "{} bytes",
        e.len()
    );
    // --a without --w names --w.
    let (a, _) = operands(d.path());
    let o = run(&["eval", "--presets", "baseline", "--a", s(&a)]);
    clean_failure(&o, &["--w", "missing"]);
    assert!(!err(&o).contains("--input/--weights"), "{}", err(&o));
    // A large plain integer is a too-large integer, not a string.
    let o = run(&["config", "--set", "pe.threads=99999999999999999999"]);
    clean_failure(&o, &["pe.threads", "99999999999999999999", "64 bits"]);
    assert!(!err(&o).contains("without quotes"), "{}", err(&o));
    // A malformed design point is a --preset error.
    let o = run(&["config", "--preset", "x+"]);
    clean_failure(&o, &["--preset", "x+"]);
    assert!(!err(&o).contains("--set"), "{}", err(&o));
    // A NUL in YAML is reported on its line.
    let y = d.path().join("c.yaml");
    std::fs::write(&y, "pe:\n  policy: sysmt\n  threads: 2\0\n").unwrap();
    let o = run(&["config", "--config", s(&y)]);
    clean_failure(&o, &["c.yaml", "line 3"]);
    // A byte-order mark is shown, not invisible.
    let csv = d.path().join("a.csv");
    std::fs::write(&csv, "\u{feff}1,2\n3,4\n").unwrap();
    let w = d.path().join("w.csv");
    std::fs::write(&w, "1,2\n3,4\n").unwrap();
    let c = d.path().join("c.csv");
    let o = run(&[
        "gemm",
        "--preset",
        "baseline",
        "--a",
        s(&csv),
        "--w",
        s(&w),
        "--out",
        s(&c),
    ]);
    if !o.status.success() {
        clean_failure(&o, &["a.csv", "\\u{feff}"]);
    }
    // A bad .npy header is one line.
    let n = d.path().join("bad.npy");
    common::files::raw_npy(&n, "|u1", "(2, 2", &[0; 4]);
    let o = run(&[
        "gemm",
        "--preset",
        "baseline",
        "--a",
        s(&n),
        "--w",
        s(&w),
        "--out",
        s(&c),
    ]);
    clean_failure(&o, &["bad.npy"]);
}
