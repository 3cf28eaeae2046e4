//! Output paths: checks made before any work, atomic single files, and whole
//! output sets staged inside their directory and renamed into place under a lock.

use super::register;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

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

#[cfg(test)]
mod tests {
    use super::*;

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
