//! The one writer for standard output. Every line a command prints goes through
//! [`write`] (the [`crate::outln!`] and [`crate::out!`] macros): a failed write
//! never panics; the first failure is remembered, later output is dropped, and
//! [`finish`] turns it into one error line at the end of the command (a reader that
//! went away, `smtgen presets | head`, ends quietly by SIGPIPE instead). The command's files
//! are still written: `eval --json f | head` writes `f`. [`check_open`] refuses to
//! start with standard output closed (`>&-`), where output would be lost.

use crate::error::{Error, Result};
use std::io::Write;
use std::sync::Mutex;

static FAILED: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes `args` to standard output and flushes; see the module documentation.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut failed = FAILED.lock().unwrap_or_else(|p| p.into_inner());
    if failed.is_some() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        *failed = Some(e);
    }
}

/// Flushes standard output and reports the first failed write: `Ok` when every
/// write succeeded; when the reader went away (a closed pipe) the process ends by
/// SIGPIPE here, after its work; else an error naming standard output and the OS
/// error.
pub fn finish() -> Result<()> {
    // Every write was flushed; a failure here would repeat an earlier one.
    let _ = std::io::stdout().lock().flush();
    let failed = FAILED.lock().unwrap_or_else(|p| p.into_inner()).take();
    match failed {
        None => Ok(()),
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            // Like other Unix filters, end by SIGPIPE (now that the files are
            // written), so `set -o pipefail` still sees it.
            #[cfg(unix)]
            // SAFETY: restores SIGPIPE's default action and raises it on this
            // process; no handler runs.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
            Ok(())
        }
        Some(e) => Err(Error::io("<stdout>", e)),
    }
}

static CLOSED_AT_START: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records whether standard output is closed. The Rust runtime reopens a closed
/// descriptor 1 on `/dev/null` before `main` runs, so the binary calls this from
/// an `.init_array` entry, before the runtime starts.
pub fn record_at_start() {
    #[cfg(unix)]
    // SAFETY: fcntl(F_GETFD) only queries descriptor 1.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        CLOSED_AT_START.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Refuses to run with standard output closed (`>&-`; see [`record_at_start`]):
/// the output would be lost. Call first in `main`.
pub fn check_open() -> Result<()> {
    #[cfg(unix)]
    {
        let closed = CLOSED_AT_START.load(std::sync::atomic::Ordering::Relaxed)
            // SAFETY: fcntl(F_GETFD) only queries descriptor 1.
            || unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
        if closed {
            return Err(Error::Io {
                path: "<stdout>".into(),
                what: "standard output is closed, so the output would be lost (redirect it to a file or /dev/null)".into(),
            });
        }
    }
    Ok(())
}

/// Prints to standard output through [`write`] (like `print!`, never panics).
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {
        $crate::guard::stdout::write(format_args!($($t)*))
    };
}

/// Prints a line to standard output through [`write`] (like `println!`, never
/// panics).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::guard::stdout::write(format_args!("\n"))
    };
    ($($t:tt)*) => {
        $crate::guard::stdout::write(format_args!("{}\n", format_args!($($t)*)))
    };
}
