//! `smtgen sweep` as a launcher: a missing spec and an interpreter that cannot run
//! the sweep are one-line errors saying what is allowed and how to install it.

mod common;
use std::process::Command;

fn sweep(args: &[&str], python: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtgen"));
    cmd.arg("sweep").args(args);
    if let Some(p) = python {
        cmd.env("SMTGEN_PYTHON", p);
    }
    let o = cmd.output().expect("smtgen starts");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn a_missing_spec_names_the_path_and_what_is_allowed() {
    let (code, err) = sweep(&["/nonexistent/spec.yaml", "--executor", "serial"], None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("SPEC = /nonexistent/spec.yaml: allowed an existing YAML sweep spec file"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_interpreter_without_the_package_says_how_to_install_it() {
    let dir = std::env::temp_dir().join(format!("smtgen-sweep-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("spec.yaml");
    std::fs::write(&spec, "points: [sysmt2]\nmeasure: {probe: {}}\n").unwrap();
    let spec = spec.to_string_lossy().to_string();
    // Not there at all, and there but failing (as an interpreter without smtgen does).
    for (python, what) in [
        ("/nonexistent/bin/python", "cannot run it"),
        ("/bin/false", "importing smtgen failed"),
    ] {
        let (code, err) = sweep(&[&spec], Some(python));
        assert_eq!(code, 2, "{python}: {err}");
        assert!(
            err.contains(&format!("Python (SMTGEN_PYTHON) = {python} ({what}")),
            "{python}: {err}"
        );
        assert!(err.contains("make pyenv"), "{python}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
