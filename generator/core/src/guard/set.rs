//! One atomic "replace this set of files" for every command that writes a set
//! (`gen`, `eval --report`, `compare --out`).
//!
//! The new directory is built whole beside the old one (a staging directory
//! `.NAME.smtgen-staging-*` in the same parent): the old directory's other files
//! are hard-linked in (copied where links fail), the set's files and a manifest
//! per key (`.smtgen-set-KEY`, each file's size and checksum) written, files the
//! key's previous manifest listed and the new set lacks left out. Then one
//! `renameat2(RENAME_EXCHANGE)` swaps the two directories: a reader, or a run
//! killed at any instant, sees the old directory or the new one, never a mix.
//! The whole step runs under a lock on the parent directory, which also serializes
//! concurrent runs into one directory; stale staging left by a killed run is
//! removed under that lock by the next run. A new output directory (and its
//! parents) appears only when the set is complete, so a failed run leaves none.
//!
//! Where the swap is impossible (not Linux, a file system without it, the output
//! directory is a mount point or holds the current directory) the files are renamed
//! one by one, as before, and a note says so.

use super::register;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The name prefix of a set's manifest inside the output directory.
pub const MANIFEST_PREFIX: &str = ".smtgen-set-";

fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn manifest_text(files: &[(String, Vec<u8>)]) -> String {
    let mut s = String::from("# smtgen output set: name, bytes, FNV-1a 64 checksum\n");
    for (n, b) in files {
        s += &format!("{n} {} {:016x}\n", b.len(), fnv64(b));
    }
    s
}

fn manifest_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(' ').next())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// Checks every set in `dir` against its manifest: each listed file present with
/// the listed size and checksum. Returns the keys checked, or an error naming the
/// first file that does not match (a mixed or damaged set).
pub fn check_sets(dir: &Path) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(key) = name.strip_prefix(MANIFEST_PREFIX) else {
            continue;
        };
        let text = std::fs::read_to_string(e.path()).map_err(|x| Error::io(e.path(), x))?;
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = l.split(' ').collect();
            let [n, size, sum] = f[..] else {
                return Err(Error::Input {
                    file: e.path().display().to_string(),
                    at: "manifest".into(),
                    what: format!("malformed line {l}"),
                });
            };
            let p = dir.join(n);
            let b = std::fs::read(&p).map_err(|x| Error::io(&p, x))?;
            if b.len().to_string() != size || format!("{:016x}", fnv64(&b)) != sum {
                return Err(Error::Input {
                    file: p.display().to_string(),
                    at: format!("set {key}"),
                    what: "does not match its manifest (a mixed or damaged set)".into(),
                });
            }
        }
        keys.push(key.to_string());
    }
    keys.sort();
    Ok(keys)
}

/// `dir` made absolute, with its deepest existing ancestor resolved (links, `.`).
fn absolute(dir: &Path) -> Result<PathBuf> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io(".", e))?
            .join(dir)
    };
    let mut tail = Vec::new();
    let mut p = abs.as_path();
    loop {
        if let Ok(c) = p.canonicalize() {
            let mut out = c;
            for t in tail.iter().rev() {
                out.push(t);
            }
            return Ok(out);
        }
        match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                p = parent;
            }
            _ => return Ok(abs),
        }
    }
}

/// Holds an exclusive lock on a directory until dropped (released by the kernel
/// if the process dies).
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

/// Removes a directory tree when dropped unless disarmed.
struct Staging {
    path: PathBuf,
    _reg: super::Registration,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: renameat2 on two NUL-terminated paths owned by this function.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// True when the process's current directory is `dir` or inside it (swapping it
/// would leave the caller's shell in a removed directory).
fn holds_cwd(dir: &Path) -> bool {
    std::env::current_dir()
        .ok()
        .and_then(|c| c.canonicalize().ok())
        .is_some_and(|c| c.starts_with(dir))
}

/// One output set: its key (such as a design's name) and its files as (name, bytes).
pub type FileSet = (String, Vec<(String, Vec<u8>)>);

/// Writes the sets `sets` (each a key, such as a design's name, and its files)
/// into `dir` (argument `arg`) as one atomic replacement; see the module
/// documentation. Names must be checked by the caller.
pub fn replace_sets(arg: &str, dir: &Path, sets: &[FileSet]) -> Result<()> {
    let dir = absolute(dir)?;
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(Error::config(arg, dir.display(), "a directory below /"));
    };
    let name = name.to_string_lossy().into_owned();
    let mut all: Vec<(String, Vec<u8>)> = Vec::new();
    for (key, files) in sets {
        all.extend(files.iter().cloned());
        all.push((
            format!("{MANIFEST_PREFIX}{key}"),
            manifest_text(files).into_bytes(),
        ));
    }
    // Parents (not the directory itself) are created first: the lock needs one.
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let _lock = lock_dir(parent)?;
    // Under the lock every staging directory of this output is stale.
    let stale = format!(".{name}.smtgen-staging-");
    if let Ok(rd) = std::fs::read_dir(parent) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&stale) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let exists = dir.is_dir();
    // Names the previous manifests of these keys listed: left out of the new set.
    let mut dropped: Vec<String> = Vec::new();
    if exists {
        for (key, _) in sets {
            let m = dir.join(format!("{MANIFEST_PREFIX}{key}"));
            if let Ok(t) = std::fs::read_to_string(&m) {
                dropped.extend(manifest_names(&t));
            }
        }
    }
    let in_set = |n: &str| all.iter().any(|(x, _)| x == n);
    let swap = !exists || !holds_cwd(&dir);
    if swap && try_swap(arg, &dir, parent, &stale, exists, &all, &dropped, &in_set)? {
        return Ok(());
    }
    // One file at a time (see the module documentation).
    eprintln!(
        "smtgen: note: {} cannot be replaced as a whole here ({}); its files are renamed one by one",
        dir.display(),
        if swap { "no atomic directory exchange on this file system" } else { "it holds the current directory" }
    );
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let stage = tempfile::Builder::new()
        .prefix(".smtgen-staging-")
        .tempdir_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    let _reg = register(stage.path(), false);
    for (n, bytes) in &all {
        let p = stage.path().join(n);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    for n in &dropped {
        if !in_set(n) {
            let _ = std::fs::remove_file(dir.join(n));
        }
    }
    for (n, _) in &all {
        let to = dir.join(n);
        std::fs::rename(stage.path().join(n), &to).map_err(|e| Error::io(&to, e))?;
    }
    Ok(())
}

/// The swap itself; `Ok(false)` when the file system cannot exchange directories.
#[allow(clippy::too_many_arguments)]
fn try_swap(
    arg: &str,
    dir: &Path,
    parent: &Path,
    stale: &str,
    exists: bool,
    all: &[(String, Vec<u8>)],
    dropped: &[String],
    in_set: &dyn Fn(&str) -> bool,
) -> Result<bool> {
    // The staging directory, created with the umask's mode like any new directory.
    let path = (0..100)
        .map(|i| {
            parent.join(format!(
                "{stale}{}-{}-{i}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
            ))
        })
        .find(|p| std::fs::create_dir(p).is_ok())
        .ok_or_else(|| {
            Error::io(
                parent,
                std::io::Error::other("cannot create a staging directory"),
            )
        })?;
    let stage = Staging {
        _reg: register(&path, false),
        path,
    };
    if exists {
        if let Ok(m) = std::fs::metadata(dir) {
            let _ = std::fs::set_permissions(&stage.path, m.permissions());
        }
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let old_staging = n.starts_with(".smtgen-staging-") || n.starts_with(".smtgen-tmp-");
            if in_set(&n) || dropped.contains(&n) || old_staging {
                continue;
            }
            let (from, to) = (e.path(), stage.path.join(e.file_name()));
            let ft = e.file_type().map_err(|x| Error::io(&from, x))?;
            if ft.is_symlink() {
                let target = std::fs::read_link(&from).map_err(|x| Error::io(&from, x))?;
                #[cfg(unix)]
                std::os::unix::fs::symlink(&target, &to).map_err(|x| Error::io(&to, x))?;
            } else if ft.is_file() {
                if std::fs::hard_link(&from, &to).is_err() {
                    std::fs::copy(&from, &to).map_err(|x| Error::io(&from, x))?;
                }
            } else {
                return Err(Error::config(
                    arg,
                    from.display(),
                    "an output directory without subdirectories or special files: smtgen replaces its files as one set and does not move those (use another directory)",
                ));
            }
        }
    }
    for (n, bytes) in all {
        let p = stage.path.join(n);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    if exists {
        match exchange(&stage.path, dir) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidInput
                        | std::io::ErrorKind::Unsupported
                        | std::io::ErrorKind::CrossesDevices
                        | std::io::ErrorKind::ResourceBusy
                ) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(Error::io(dir, e)),
        }
        // `stage` now holds the old directory, removed on drop.
    } else {
        std::fs::rename(&stage.path, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(true)
}
