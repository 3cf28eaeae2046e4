//! Output paths: checks made before any work, atomic single files, and whole
//! output sets that replace their directory atomically (see `set.rs`).

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
        if read_only(path) {
            return Err(read_only_error(arg, path));
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
    let mut b = tempfile::Builder::new();
    b.prefix(".smtgen-tmp-");
    // Created with mode 0666 less the umask, like any new file (not 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = b.tempfile_in(parent).map_err(|e| Error::io(parent, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// True when `path` exists and this process may not write it (a read-only
/// output is refused, not silently replaced).
fn read_only(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        if !path.exists() {
            return false;
        }
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return false;
        };
        use std::os::unix::fs::PermissionsExt;
        // No write bit for anyone is read-only even for root, who passes access(2).
        let no_write_bits =
            std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o222 == 0);
        // SAFETY: access(2) on a NUL-terminated path owned here.
        no_write_bits || unsafe { libc::access(c.as_ptr(), libc::W_OK) != 0 }
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
    }
}

/// The error for a read-only output named by `arg`.
fn read_only_error(arg: &str, path: &Path) -> Error {
    Error::config(
        arg,
        path.display(),
        "a writable file (this one is read-only: make it writable or remove it)",
    )
}

/// Writes a whole output set into `dir` (argument `arg`) under the key `key` (for
/// example the design's name): see [`write_sets`].
pub fn write_set(
    arg: &str,
    dir: &Path,
    key: &str,
    files: &[(String, Vec<u8>)],
) -> Result<Vec<PathBuf>> {
    write_sets(arg, dir, &[(key.to_string(), files.to_vec())])
}

/// Writes sets of files into `dir` (argument `arg`), each under a key: every
/// name is checked first (a plain file name; no directory, symbolic link or
/// read-only file in its place), then the directory is replaced as a whole
/// ([`super::set::replace_sets`]), so a failed or killed run leaves `dir` as it
/// was (or absent) and concurrent runs into one directory never mix. Files a key
/// wrote last time and does not write now are removed. Returns the written paths.
pub fn write_sets(arg: &str, dir: &Path, sets: &[super::set::FileSet]) -> Result<Vec<PathBuf>> {
    check_out_dir(arg, dir)?;
    for (name, _) in sets.iter().flat_map(|(_, f)| f) {
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
            if read_only(&p) {
                return Err(read_only_error(arg, &p));
            }
        }
    }
    super::set::replace_sets(arg, dir, sets)?;
    Ok(sets
        .iter()
        .flat_map(|(_, f)| f)
        .map(|(n, _)| dir.join(n))
        .collect())
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
        assert!(write_set("--out", d.path(), "t", &files).is_err());
        assert!(!d.path().join("a.v").exists());
        std::fs::remove_dir(d.path().join("b.v")).unwrap();
        write_set("--out", d.path(), "t", &files).unwrap();
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
