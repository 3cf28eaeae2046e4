//! The one ceiling on parallelism: every `--jobs` flag (and the Python `jobs=`
//! argument) is checked here, and every place that starts worker threads asks
//! [`threads_for`] so that threads never outnumber the work.

use crate::error::{Error, Result};

/// How many workers per available core the ceiling allows. Tool runs (Yosys,
/// Verilator) wait on I/O at times, so a few per core can pay; more only adds
/// scheduling and memory.
pub const JOBS_PER_CORE: usize = 4;

/// The cores this machine reports (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The declared ceiling on `--jobs`: [`JOBS_PER_CORE`] times the available cores.
pub fn max_jobs() -> usize {
    cores().saturating_mul(JOBS_PER_CORE)
}

/// Checks a worker count given as `arg`: 0 (every core) up to [`max_jobs`].
pub fn check_jobs(arg: &str, jobs: u64) -> Result<usize> {
    let max = max_jobs();
    match usize::try_from(jobs) {
        Ok(j) if j <= max => Ok(j),
        _ => Err(Error::config(
            arg,
            jobs,
            format!(
                "0 (every core) to {max} ({JOBS_PER_CORE} per core on this machine's {} cores)",
                cores()
            ),
        )),
    }
}

/// The clap value parser of every `--jobs` flag (see [`check_jobs`]).
pub fn parse_jobs(s: &str) -> std::result::Result<usize, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("allowed 0 (every core) to {} workers", max_jobs()))?;
    check_jobs("--jobs", n).map_err(|e| match e {
        Error::Config { allowed, .. } => format!("allowed {allowed}"),
        e => e.to_string(),
    })
}

/// The threads to start for `items` units of work under a `--jobs` value: the
/// workers `jobs` asks for (every core for 0; never above [`max_jobs`]), at most
/// one per unit of work, at least one.
pub fn threads_for(jobs: usize, items: usize) -> usize {
    let j = if jobs == 0 { cores() } else { jobs };
    j.min(max_jobs()).min(items).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_is_declared_and_enforced() {
        let max = max_jobs();
        assert!(max >= JOBS_PER_CORE);
        assert_eq!(check_jobs("--jobs", max as u64).unwrap(), max);
        let e = check_jobs("--jobs", max as u64 + 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--jobs") && e.contains(&format!("to {max}")),
            "{e}"
        );
        assert!(check_jobs("--jobs", u64::MAX).is_err());
        assert!(parse_jobs("100000").is_err());
        assert_eq!(parse_jobs("0").unwrap(), 0);
        assert_eq!(threads_for(100_000, 3), 3);
        assert_eq!(threads_for(2, 0), 1);
    }
}
