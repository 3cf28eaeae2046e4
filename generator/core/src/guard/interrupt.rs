//! Interruption: work directories registered while they live, removed (kept ones
//! named) by a watcher thread when any catchable terminating signal arrives
//! (SIGINT, SIGTERM, SIGHUP, SIGQUIT, ...: see `TERMINATING`), then exit code 130.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

struct Entry {
    id: u64,
    path: PathBuf,
    kept: bool,
}

static REGISTRY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Unregisters its directory when dropped.
#[must_use]
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut r) = REGISTRY.lock() {
            r.retain(|e| e.id != self.0);
        }
    }
}

/// Registers `path` for the interrupt handler: removed (or, when `kept`, named as
/// kept) if the process is interrupted while the registration lives.
pub fn register(path: &Path, kept: bool) -> Registration {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut r) = REGISTRY.lock() {
        r.push(Entry {
            id,
            path: path.to_path_buf(),
            kept,
        });
    }
    Registration(id)
}

/// A temporary work directory that is removed when dropped and also when the
/// process is interrupted.
pub struct WorkDir {
    dir: tempfile::TempDir,
    _reg: Registration,
}

impl WorkDir {
    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A new temporary work directory (see [`WorkDir`]).
pub fn work_dir() -> Result<WorkDir> {
    let dir = tempfile::Builder::new()
        .prefix("smtgen-")
        .tempdir()
        .map_err(|e| Error::io("<tempdir>", e))?;
    let reg = register(dir.path(), false);
    Ok(WorkDir { dir, _reg: reg })
}

/// Every descendant process of this one (Linux `/proc/<pid>/task/*/children`;
/// empty elsewhere), parents before children.
fn descendants() -> Vec<i32> {
    let mut out = Vec::new();
    let mut todo = vec![std::process::id() as i32];
    while let Some(pid) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for k in kids
                .split_whitespace()
                .filter_map(|k| k.parse::<i32>().ok())
            {
                out.push(k);
                todo.push(k);
            }
        }
    }
    out
}

/// Removes every registered work directory and names the kept ones; returns the
/// lines to print. Child tools (which may still be writing there) are stopped
/// first.
fn cleanup() -> Vec<String> {
    #[cfg(unix)]
    for pid in descendants() {
        // SAFETY: kill(2) on a process id read from /proc as our descendant.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let entries = match REGISTRY.lock() {
        Ok(mut r) => std::mem::take(&mut *r),
        Err(_) => return vec![],
    };
    let mut lines = Vec::new();
    for e in entries {
        if e.kept {
            lines.push(format!("kept {}", e.path.display()));
            continue;
        }
        // A child process may still be writing: retry a few times.
        let mut ok = false;
        for _ in 0..5 {
            if std::fs::remove_dir_all(&e.path).is_ok() || !e.path.exists() {
                ok = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if ok {
            lines.push(format!("removed {}", e.path.display()));
        } else {
            lines.push(format!("could not remove {}", e.path.display()));
        }
    }
    lines
}

/// Every signal whose default action ends the process and that a process may
/// catch: each removes the work directories before the exit. (SIGPIPE is left
/// ignored: a write to a closed pipe is an error the stdout writer reports.)
#[cfg(unix)]
const TERMINATING: &[(libc::c_int, &str)] = &[
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::SIGPWR, "SIGPWR"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::SIGSTKFLT, "SIGSTKFLT"),
];

#[cfg(unix)]
static SIGNAL_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a local byte.
        unsafe {
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// Installs the handler of every catchable terminating signal: a watcher thread removes the registered
/// work directories, prints what it removed or kept and exits with code 130. Call
/// once, early in `main`.
pub fn install_interrupt_cleanup() {
    #[cfg(unix)]
    {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe(2) fills the two descriptors of a local array.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        for fd in fds {
            // SAFETY: sets close-on-exec on descriptors this function just created,
            // so child tools do not inherit them.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
        let reader = fds[0];
        std::thread::spawn(move || {
            let mut b = 0u8;
            // SAFETY: a blocking one-byte read into a local from our own pipe.
            let n = unsafe { libc::read(reader, (&mut b as *mut u8).cast(), 1) };
            if n != 1 {
                return;
            }
            let name = TERMINATING
                .iter()
                .find(|(s, _)| *s == i32::from(b))
                .map_or("a signal", |(_, n)| *n);
            let lines = cleanup();
            eprintln!("smtgen: interrupted by {name}");
            for l in lines {
                eprintln!("smtgen: {l}");
            }
            std::process::exit(130);
        });
        for &(sig, _) in TERMINATING {
            // SAFETY: installs a handler that only calls write(2) on a pipe.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    }
}
