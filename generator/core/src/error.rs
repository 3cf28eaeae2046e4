//! The crate's error type: every failure a user can cause (a bad config, a bad
//! operand file, a missing tool, a failed simulation) ends up here with a message
//! that names what was wrong, the value and what is allowed.

use std::fmt;

/// An error that smtgen reports to its user and then exits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A configuration field holds a value outside the contract.
    Config {
        /// Dotted path of the field, for example `pe.threads`.
        field: String,
        /// What the user wrote, or a description of it.
        value: String,
        /// What is allowed instead.
        allowed: String,
    },
    /// An input (operand) file is malformed or holds an out-of-range value.
    Input {
        /// The file (or `<stdin>`).
        file: String,
        /// Where in the file: `line 3, field a1`.
        at: String,
        /// What is wrong.
        what: String,
    },
    /// An external tool (verilator, iverilog, yosys, make) is missing or failed.
    Tool {
        /// The tool's name.
        tool: String,
        /// What happened.
        what: String,
    },
    /// An I/O failure on a named path.
    Io {
        /// The path involved.
        path: String,
        /// The OS error text.
        what: String,
    },
    /// A simulation compared outputs and found mismatches.
    Mismatch {
        /// A short summary (design, simulator, first mismatch).
        summary: String,
    },
}

impl Error {
    /// Shorthand for a [`Error::Config`] error.
    pub fn config(
        field: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::Config {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// Shorthand for an [`Error::Io`] error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, err: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            what: err.to_string(),
        }
    }

    /// Shorthand for an [`Error::Tool`] error.
    pub fn tool(tool: impl Into<String>, what: impl Into<String>) -> Self {
        Error::Tool {
            tool: tool.into(),
            what: what.into(),
        }
    }
}

// Every value and location passes the one message formatter (escaped, truncated).
use crate::guard::{shown, shown_text};

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config {
                field,
                value,
                allowed,
            } => write!(
                f,
                "config error: {} = {}: allowed {}",
                shown(field),
                shown(value),
                shown_text(allowed)
            ),
            Error::Input { file, at, what } => write!(
                f,
                "input error: {}: {}: {}",
                shown(file),
                shown(at),
                shown_text(what)
            ),
            Error::Tool { tool, what } => write!(f, "{tool}: {what}"),
            Error::Io { path, what } => {
                write!(f, "I/O error: {}: {}", shown(path), shown_text(what))
            }
            Error::Mismatch { summary } => write!(f, "mismatch: {summary}"),
        }
    }
}

impl std::error::Error for Error {}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
