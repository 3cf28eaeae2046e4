//! The command line: [`args`] holds every flag, and each other module one
//! subcommand's body (`smtgen gen` is [`gen::run`], and so on). Helpers more than
//! one subcommand uses live here.

pub mod args;
pub mod bench;
pub mod compare;
pub mod eval;
pub mod flags;
pub mod gemm;
pub mod gen;
pub mod lint;
pub mod model;
pub mod prove;
pub mod regress;
pub mod sim;
pub mod sweep;
pub mod synth;

use smtgen_core::error::{Error, Result};

/// The seed given, else `SMTGEN_SEED`, else one from the clock. A `SMTGEN_SEED`
/// that is set but not an unsigned integer is an error, not ignored.
pub fn seed_or_clock(seed: Option<u64>) -> Result<u64> {
    if let Some(s) = seed {
        return Ok(s);
    }
    match std::env::var_os("SMTGEN_SEED") {
        Some(v) if !v.is_empty() => {
            v.to_str()
                .and_then(|t| t.trim().parse().ok())
                .ok_or_else(|| {
                    Error::config(
                        "SMTGEN_SEED",
                        smtgen_core::guard::shown(&v.to_string_lossy()),
                        "an unsigned integer below 2^64 (or unset for a seed from the clock)",
                    )
                })
        }
        _ => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000_007)
            .unwrap_or(1)),
    }
}

/// Parses `--sizes` entries `RxC` (1 <= R, C <= 128).
pub fn parse_sizes(s: &[String]) -> Result<Vec<(u32, u32)>> {
    s.iter()
        .map(|x| {
            let bad = || Error::config("--sizes", x, "RxC with 1 <= R, C <= 128, e.g. 4x4");
            let (r, c) = x.split_once('x').ok_or_else(bad)?;
            let r: u32 = r.parse().map_err(|_| bad())?;
            let c: u32 = c.parse().map_err(|_| bad())?;
            if !(1..=128).contains(&r) || !(1..=128).contains(&c) {
                return Err(bad());
            }
            Ok((r, c))
        })
        .collect()
}
