//! Guards against careless and hostile input: the declared ceilings on work,
//! memory and parallelism (with checked size arithmetic), atomic output writing
//! (single files by rename, sets of files by one directory exchange), output-path
//! checks made before any work, the one stdout writer, the one formatter for values
//! in messages, and removal of work directories when the process is interrupted
//! by any catchable terminating signal (exit code 130).

use crate::error::{Error, Result};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default ceiling on the elements of any one tensor a command reads, builds or
/// writes (A, W, the lowered convolution, C): 2^24, about 16.8 M (128 MB of i64).
pub const DEFAULT_MAX_ELEMENTS: u64 = 1 << 24;
/// Default ceiling on simulated or modelled cycles per run: 2^24, about 16.8 M.
pub const DEFAULT_MAX_CYCLES: u64 = 1 << 24;

static MAX_ELEMENTS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_ELEMENTS);
static MAX_CYCLES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_CYCLES);

/// The most `--max-elements` may be raised to: the 8-byte elements this machine's
/// physical memory holds (2^24 when it cannot be read, the default ceiling).
pub fn elements_ceiling() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only queries system values.
        let (pages, size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if pages > 0 && size > 0 {
            return (pages as u64).saturating_mul(size as u64) / 8;
        }
    }
    DEFAULT_MAX_ELEMENTS
}

/// Raises (or lowers) the ceilings for this process (`--max-elements`,
/// `--max-cycles`). `None` keeps the default. A `--max-elements` above what this
/// machine's memory holds ([`elements_ceiling`]) is refused, so a raised ceiling
/// still ends in an error, not an allocator abort.
pub fn set_limits(max_elements: Option<u64>, max_cycles: Option<u64>) -> Result<()> {
    if let Some(e) = max_elements {
        let top = elements_ceiling().max(DEFAULT_MAX_ELEMENTS);
        if e > top {
            return Err(Error::config(
                "--max-elements",
                e,
                format!("at most {top} (8-byte elements in this machine's physical memory)"),
            ));
        }
        MAX_ELEMENTS.store(e, Ordering::Relaxed);
    }
    if let Some(c) = max_cycles {
        MAX_CYCLES.store(c, Ordering::Relaxed);
    }
    Ok(())
}

/// The ceiling on tensor elements in force.
pub fn max_elements() -> u64 {
    MAX_ELEMENTS.load(Ordering::Relaxed)
}

/// The ceiling on cycles in force.
pub fn max_cycles() -> u64 {
    MAX_CYCLES.load(Ordering::Relaxed)
}

/// The product of `dims` (for example a shape), or an error naming `what`, the
/// factors and the ceiling when it overflows 64 bits or exceeds `--max-elements`.
pub fn elements(what: &str, dims: &[u64]) -> Result<usize> {
    let shown = || {
        dims.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("x")
    };
    let limit = max_elements();
    let n = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= limit)
        .ok_or_else(|| {
            Error::config(
                what,
                format!("{} elements", shown()),
                format!("at most {limit} elements (raise with --max-elements)"),
            )
        })?;
    usize::try_from(n).map_err(|_| Error::config(what, shown(), "a size this machine can address"))
}

/// `a + b` or `a * b` on sizes from input, with the argument named on overflow.
pub fn add(what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_add(b)
        .ok_or_else(|| Error::config(what, format!("{a} + {b}"), "a size below 2^64"))
}

/// Checked `a * b` on sizes from input.
pub fn mul(what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b)
        .ok_or_else(|| Error::config(what, format!("{a} x {b}"), "a size below 2^64"))
}

/// Rejects a cycle count above `--max-cycles` (or zero when `allow_zero` is false).
pub fn cycles(arg: &str, n: u64, allow_zero: bool) -> Result<u64> {
    let limit = max_cycles();
    if n > limit || (n == 0 && !allow_zero) {
        return Err(Error::config(
            arg,
            n,
            format!(
                "{}..{limit} cycles (raise the ceiling with --max-cycles)",
                u64::from(!allow_zero)
            ),
        ));
    }
    Ok(n)
}

/// Checks a cycle-accurate model run before it starts (every command that runs one
/// calls this): its `cycles` within `--max-cycles`, and the trace it records,
/// `values_per_cycle` values a cycle, within `--max-elements`. `what` names the
/// flag that asked for the run.
pub fn cycle_run(what: &str, cycles: u64, values_per_cycle: u64) -> Result<()> {
    self::cycles(what, cycles, true)?;
    elements(
        &format!("{what} trace (cycles x values per cycle)"),
        &[cycles, values_per_cycle.max(1)],
    )?;
    Ok(())
}

/// Rejects an empty dimension: every command treats a 0-sized M, K or N (or a
/// convolution's N, C, H, W, O, KH, KW) as an error, never as an empty result.
pub fn nonzero(what: &str, dims: &[(&str, usize)]) -> Result<()> {
    if let Some((name, _)) = dims.iter().find(|(_, d)| *d == 0) {
        let shown: Vec<String> = dims.iter().map(|(n, d)| format!("{n}={d}")).collect();
        return Err(Error::config(
            what,
            shown.join(", "),
            format!("{name} of at least 1 (empty dimensions are not computed)"),
        ));
    }
    Ok(())
}

/// Checks a GEMM's sizes before anything is allocated: M, K and N at least 1
/// (`what` names the source, e.g. `--a/--w`), and A (M×K), W (K×N) and C (M×N)
/// each within `--max-elements`.
pub fn gemm_dims(what: &str, m: usize, k: usize, n: usize) -> Result<()> {
    nonzero(what, &[("M", m), ("K", k), ("N", n)])?;
    let (m, k, n) = (m as u64, k as u64, n as u64);
    elements(&format!("{what} A (MxK)"), &[m, k])?;
    elements(&format!("{what} W (KxN)"), &[k, n])?;
    elements(&format!("{what} C (MxN)"), &[m, n])?;
    Ok(())
}

/// A convolution's sizes from input: input `[n, c, h, w]`, weights `[o, c, kh,
/// kw]`, stride and padding. Checks every dimension is at least 1, the padded input
/// and the output size without overflow, that the kernel fits, and the lowered GEMM
/// (see [`gemm_dims`]); returns the GEMM's (M, K, N).
pub fn conv_dims(
    input: [usize; 4],
    weights: [usize; 4],
    stride: usize,
    pad: usize,
) -> Result<(usize, usize, usize)> {
    let [n, c, h, w] = input;
    let [o, _, kh, kw] = weights;
    nonzero("--input", &[("N", n), ("C", c), ("H", h), ("W", w)])?;
    nonzero("--weights", &[("O", o), ("KH", kh), ("KW", kw)])?;
    if stride == 0 {
        return Err(Error::config("--stride", 0, "1 or more"));
    }
    let padded = |x: usize| mul("--padding", pad, 2).and_then(|p2| add("--padding", x, p2));
    let (ph, pw) = (padded(h)?, padded(w)?);
    if ph < kh || pw < kw {
        return Err(Error::config(
            "--weights",
            format!("a {kh}x{kw} kernel"),
            format!("a kernel that fits the padded {ph}x{pw} input"),
        ));
    }
    let (oh, ow) = ((ph - kh) / stride + 1, (pw - kw) / stride + 1);
    let m = elements(
        "--input/--padding output pixels (N*OH*OW)",
        &[n as u64, oh as u64, ow as u64],
    )?;
    let k = elements("--weights K (C*KH*KW)", &[c as u64, kh as u64, kw as u64])?;
    gemm_dims("--input/--weights", m, k, o)?;
    Ok((m, k, o))
}

/// Reads all of `r` (named `what` in errors) but at most `limit` bytes: a larger
/// input (a huge file, `/dev/zero`, an endless pipe) is an error naming the limit
/// and the flag that raises it.
pub fn read_bounded(
    mut r: impl std::io::Read,
    what: &str,
    limit: u64,
    raise: &str,
) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    (&mut r)
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(what, e))?;
    if buf.len() as u64 > limit {
        return Err(Error::Input {
            file: what.into(),
            at: "size".into(),
            what: format!("more than {limit} bytes, the ceiling for this input ({raise})"),
        });
    }
    Ok(buf)
}

/// Reads the file at `path` with [`read_bounded`].
pub fn read_file_bounded(path: &Path, limit: u64, raise: &str) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_bounded(f, &path.display().to_string(), limit, raise)
}

/// The byte ceiling of a file of tensor values: 8 bytes per allowed element plus
/// 1 MiB for headers, comments and spacing.
pub fn max_tensor_bytes() -> u64 {
    max_elements().saturating_mul(8).saturating_add(1 << 20)
}

// ---------------------------------------------------------------------------
// Flags a command would ignore.

mod interrupt;
mod jobs;
mod output;
mod show;
pub mod stdout;
pub use interrupt::{install_interrupt_cleanup, register, work_dir, Registration, WorkDir};
pub use jobs::{check_jobs, cores, max_jobs, parse_jobs, threads_for, JOBS_PER_CORE};
pub use show::{shown, shown_max, shown_text, SHOWN_CHARS};
mod set;
pub use output::{check_out_dir, check_out_file, write_file, write_set, write_sets};
pub use set::{check_sets, FileSet, MANIFEST_PREFIX};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_overflow_and_ceilings_are_errors() {
        let e = elements("A", &[1 << 62, 4]).unwrap_err().to_string();
        assert!(
            e.contains("4611686018427387904x4") && e.contains("--max-elements"),
            "{e}"
        );
        assert_eq!(elements("A", &[3, 4]).unwrap(), 12);
        assert_eq!(elements("A", &[]).unwrap(), 1);
        assert!(cycles("--cycles", u64::MAX, false).is_err());
        assert!(cycles("--cycles", 0, false).is_err());
        assert!(cycles("--cycles", 0, true).is_ok());
        assert!(nonzero("gemm", &[("M", 1), ("N", 0)])
            .unwrap_err()
            .to_string()
            .contains("N=0"));
    }
}
