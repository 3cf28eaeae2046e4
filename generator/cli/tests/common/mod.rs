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

// `require` and the spec transcription: the HDL crate's test helpers, shared here.
#[path = "../../../hdl/tests/common/mod.rs"]
mod hdl_common;
#[allow(unused_imports)]
pub use hdl_common::*;
