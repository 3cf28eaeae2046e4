//! `smtgen sweep`: a thin launcher for the Python sweep runner (`smtgen.sweep`),
//! since the executors (a process pool, Ray) live in Python. It finds an
//! interpreter that has the package, checks the spec file exists, passes every
//! other argument through and returns the runner's exit status.

use super::args::SweepArgs;
use smtgen_core::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Where the interpreter came from, for the error when it cannot be used.
fn interpreter() -> (PathBuf, &'static str) {
    if let Some(p) = std::env::var_os("SMTGEN_PYTHON") {
        return (PathBuf::from(p), "SMTGEN_PYTHON");
    }
    // The project's venv: beside the binary's checkout (target/release/smtgen) or
    // under the working directory.
    let mut roots = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(root) = exe.ancestors().nth(3) {
            roots.push(root.to_path_buf());
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    for r in roots {
        let p = r.join(".venv/bin/python");
        if p.is_file() {
            return (p, "the project's .venv");
        }
    }
    (PathBuf::from("python3"), "PATH")
}

const INSTALL: &str = "an interpreter with the smtgen Python package: run `make pyenv` (builds it into .venv), or `pip install ./python` into yours and set SMTGEN_PYTHON=/path/to/python";

/// Runs `python -m smtgen.sweep SPEC ARGS...` with `SMTGEN_BIN` set to this binary.
pub fn run(a: SweepArgs) -> Result<ExitCode> {
    if !a.spec.is_file() {
        return Err(Error::config(
            "SPEC",
            a.spec.display(),
            "an existing YAML sweep spec file (see docs/sweep.md, examples/sweep/spec.yaml)",
        ));
    }
    let (py, from) = interpreter();
    check_package(&py, from)?;
    let mut cmd = Command::new(&py);
    cmd.arg("-m").arg("smtgen.sweep").arg(&a.spec).args(&a.args);
    if std::env::var_os("SMTGEN_BIN").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            cmd.env("SMTGEN_BIN", exe);
        }
    }
    let status = cmd.status().map_err(|e| {
        Error::config(
            format!("Python ({from})"),
            py.display(),
            format!("{INSTALL} ({e})"),
        )
    })?;
    Ok(match status.code() {
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}

/// Fails with what to install unless `py` runs and imports `smtgen.sweep`.
fn check_package(py: &Path, from: &str) -> Result<()> {
    let out = Command::new(py)
        .args([
            "-c",
            "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('smtgen.sweep') else 3)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let what = match out {
        Err(e) => format!("cannot run it ({e})"),
        Ok(o) if o.status.success() => return Ok(()),
        Ok(o) if o.status.code() == Some(3) => "it has no smtgen.sweep".to_string(),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            match err.lines().rev().find(|l| !l.trim().is_empty()) {
                Some(last) => format!("importing smtgen failed: {last}"),
                None => format!("importing smtgen failed: {}", o.status),
            }
        }
    };
    Err(Error::config(
        format!("Python ({from})"),
        format!("{} ({what})", py.display()),
        INSTALL,
    ))
}
