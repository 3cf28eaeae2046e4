//! Guards against careless and hostile input: the declared ceiling on work and memory
//! per command (with checked size arithmetic), atomic output writing (staging next to
//! the destination, then renames under a per-directory lock), output-path checks
//! made before any work, and removal of work directories when the process is
//! interrupted (SIGINT/SIGTERM, exit code 130).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Default ceiling on the elements of any one tensor a command reads, builds or
/// writes (A, W, the lowered convolution, C): 2^24, about 16.8 M (128 MB of i64).
pub const DEFAULT_MAX_ELEMENTS: u64 = 1 << 24;
/// Default ceiling on simulated or modelled cycles per run: 2^24, about 16.8 M.
pub const DEFAULT_MAX_CYCLES: u64 = 1 << 24;

static MAX_ELEMENTS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_ELEMENTS);
static MAX_CYCLES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_CYCLES);

/// Raises (or lowers) the ceilings for this process (`--max-elements`,
/// `--max-cycles`). `None` keeps the default.
pub fn set_limits(max_elements: Option<u64>, max_cycles: Option<u64>) {
    if let Some(e) = max_elements {
        MAX_ELEMENTS.store(e, Ordering::Relaxed);
    }
    if let Some(c) = max_cycles {
        MAX_CYCLES.store(c, Ordering::Relaxed);
    }
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

/// `(subcommand, when, flags, why)`: with the condition `when` (a flag given or
/// not, `!` negating it), the `flags` are not used and are an error.
const UNUSED: &[(&str, &str, &[&str], &str)] = &[
    (
        "eval",
        "!synthetic",
        &["m", "k", "n", "zero", "seed"],
        "used only with --synthetic",
    ),
    (
        "eval",
        "!input",
        &["stride", "padding"],
        "used only with --input/--weights",
    ),
    (
        "bench",
        "eval",
        &["cycles", "array", "sizes", "presets", "repeat"],
        "not used by bench --eval",
    ),
    (
        "bench",
        "!array",
        &["sizes", "presets", "repeat"],
        "used only with --array",
    ),
    (
        "sim",
        "array",
        &["cycles"],
        "not used by sim --array (it runs its own tiled GEMMs)",
    ),
    (
        "lint",
        "all",
        &["preset", "config"],
        "not used with --all (it lints every preset)",
    ),
    (
        "regress",
        "pe",
        &["sizes", "max_k"],
        "used only by the array regression (not with --pe)",
    ),
    (
        "regress",
        "array",
        &["cycles", "icarus_cycles"],
        "used only by the PE regression (not with --array)",
    ),
    (
        "compare",
        "pe_only",
        &["rows", "cols"],
        "used only for the array (not with --pe-only)",
    ),
];

fn given(m: &clap::ArgMatches, id: &str) -> bool {
    m.try_get_raw(id).is_ok_and(|v| v.is_some())
        && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
}

/// Rejects a flag that the chosen subcommand would ignore (for example
/// `eval --stride` without `--input`), naming the flag, its value and why.
pub fn unused_flags(m: &clap::ArgMatches) -> Result<()> {
    let Some((cmd, sub)) = m.subcommand() else {
        return Ok(());
    };
    for (c, when, flags, why) in UNUSED {
        if *c != cmd {
            continue;
        }
        let (neg, id) = when.strip_prefix('!').map_or((false, *when), |w| (true, w));
        if given(sub, id) == neg {
            continue;
        }
        for f in *flags {
            if given(sub, f) {
                let value = sub
                    .get_raw(f)
                    .map(|v| {
                        v.map(|x| x.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                return Err(Error::config(
                    format!("--{}", f.replace('_', "-")),
                    if value.is_empty() {
                        "(given)".into()
                    } else {
                        value
                    },
                    format!("{why}: remove it"),
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Output paths.

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Checks an output file named by `arg` before any work: its directory exists, it
/// is not a directory or a symbolic link, and it is none of `inputs`.
pub fn check_out_file(arg: &str, path: &Path, inputs: &[&Path]) -> Result<()> {
    let shown = path.display().to_string();
    if path.as_os_str().is_empty() {
        return Err(Error::config(arg, "(empty)", "a file path"));
    }
    if is_special(path) {
        // A device, pipe or socket (/dev/null, /dev/stdout): written in place.
        return Ok(());
    }
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_symlink() {
            return Err(Error::config(
                arg,
                shown,
                "a path that is not a symbolic link (smtgen does not write through links)",
            ));
        }
        if m.is_dir() {
            return Err(Error::config(arg, shown, "a file path, not a directory"));
        }
    }
    if let Some(i) = inputs.iter().find(|i| same_file(path, i)) {
        return Err(Error::config(
            arg,
            shown,
            format!("a path other than the input {}", i.display()),
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::config(
            arg,
            shown,
            format!(
                "a file in an existing directory ({} is none)",
                parent.display()
            ),
        ));
    }
    Ok(())
}

/// Checks an output directory named by `arg` before any work: it is a directory
/// or can be created (no file on the way).
pub fn check_out_dir(arg: &str, dir: &Path) -> Result<()> {
    let shown = dir.display().to_string();
    if dir.as_os_str().is_empty() {
        return Err(Error::config(arg, "(empty)", "a directory path"));
    }
    let mut p = Some(dir);
    while let Some(d) = p {
        if d.as_os_str().is_empty() {
            break;
        }
        if let Ok(m) = std::fs::metadata(d) {
            if !m.is_dir() {
                return Err(Error::config(
                    arg,
                    shown,
                    format!("a directory ({} is a file)", d.display()),
                ));
            }
            break;
        }
        p = d.parent();
    }
    Ok(())
}

/// True when `path` (after links) is a device, pipe or socket rather than a
/// regular file or directory.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Writes one file atomically: a temporary file next to `path`, then a rename.
/// A reader sees the old file or the whole new one, never a part. A device, pipe
/// or socket (`/dev/null`, `/dev/stdout`) is written in place, never replaced.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    if is_special(path) {
        return std::fs::write(path, bytes).map_err(|e| Error::io(path, e));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".smtgen-tmp-")
        .tempfile_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Holds an exclusive lock on an output directory until dropped (released by the
/// kernel if the process dies).
struct DirLock {
    _file: std::fs::File,
}

fn lock_dir(dir: &Path) -> Result<DirLock> {
    let file = std::fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns (the directory itself,
        // so no lock file is left behind).
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(Error::io(dir, std::io::Error::last_os_error()));
        }
    }
    Ok(DirLock { _file: file })
}

/// Writes a whole output set into `dir` (argument `arg`): every name is checked
/// first (a plain file name; no directory or symbolic link in its place), then all
/// files are written into a staging directory inside `dir` and renamed into place
/// while `dir` is locked, so a failed run leaves `dir` untouched and concurrent runs
/// into one directory never mix. Returns the written paths.
pub fn write_set(arg: &str, dir: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    check_out_dir(arg, dir)?;
    for (name, _) in files {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && Path::new(name).file_name() == Some(std::ffi::OsStr::new(name));
        if !plain {
            return Err(Error::config(
                arg,
                name,
                "plain file names inside the directory",
            ));
        }
        let p = dir.join(name);
        if let Ok(m) = std::fs::symlink_metadata(&p) {
            if m.file_type().is_symlink() {
                return Err(Error::config(
                    arg,
                    p.display(),
                    "no symbolic link in place of an output (smtgen does not write through links; remove it)",
                ));
            }
            if m.is_dir() {
                return Err(Error::config(
                    arg,
                    p.display(),
                    "no directory in place of an output file (remove it)",
                ));
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let stage = tempfile::Builder::new()
        .prefix(".smtgen-staging-")
        .tempdir_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let _reg = register(stage.path(), false);
    for (name, bytes) in files {
        let p = stage.path().join(name);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    let _lock = lock_dir(dir)?;
    let mut out = Vec::new();
    for (name, _) in files {
        let to = dir.join(name);
        std::fs::rename(stage.path().join(name), &to).map_err(|e| Error::io(&to, e))?;
        out.push(to);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Interruption.

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

/// Installs the SIGINT/SIGTERM handler: a watcher thread removes the registered
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
            let name = if i32::from(b) == libc::SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            };
            let lines = cleanup();
            eprintln!("smtgen: interrupted by {name}");
            for l in lines {
                eprintln!("smtgen: {l}");
            }
            std::process::exit(130);
        });
        for sig in [libc::SIGINT, libc::SIGTERM] {
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

    #[test]
    fn a_set_with_a_directory_in_the_way_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("b.v")).unwrap();
        let files = vec![
            ("a.v".to_string(), b"x".to_vec()),
            ("b.v".to_string(), b"y".to_vec()),
        ];
        assert!(write_set("--out", d.path(), &files).is_err());
        assert!(!d.path().join("a.v").exists());
        std::fs::remove_dir(d.path().join("b.v")).unwrap();
        write_set("--out", d.path(), &files).unwrap();
        assert_eq!(std::fs::read(d.path().join("b.v")).unwrap(), b"y");
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".smtgen-staging")
            })
            .collect();
        assert!(left.is_empty());
    }
}
