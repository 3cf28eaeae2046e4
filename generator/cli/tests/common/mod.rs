//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod files;

use std::process::{Command, Output};

/// Runs the `smtgen` binary with `args` and optional standard input.
pub fn smtgen(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtgen"));
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("smtgen starts");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("smtgen finishes")
}

/// A finished command's standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// True when `tool` is installed. When it is not: under CI=true the test fails
/// (CI must not skip), elsewhere the test says it is skipped and returns false.
pub fn require(tool: &str) -> bool {
    if smtgen_hdl::tool::available(tool) {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{tool} is not installed and CI=true forbids skipping");
    }
    eprintln!("SKIPPED: {tool} not installed");
    false
}

// The spec transcription lives with the core's tests; every crate's tests share it.
#[path = "../../../core/tests/spec/mod.rs"]
mod spec;
#[allow(unused_imports)]
pub use spec::*;
