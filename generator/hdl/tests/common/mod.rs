//! Helpers shared by the HDL crate's integration tests.
#![allow(dead_code)]

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

#[path = "../../../core/tests/spec/mod.rs"]
mod spec;
#[allow(unused_imports)]
pub use spec::*;
