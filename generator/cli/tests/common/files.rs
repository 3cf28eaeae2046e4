//! Helpers for the tests that drive `smtgen` on files: writing operand files (well
//! formed or with a hand-made `.npy` header), running `smtgen gemm` on them, and
//! checking that a rejected input fails in one clear line.

use std::path::{Path, PathBuf};
use std::process::Output;

/// A path as the `&str` a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes A (`m`×`k`, `|u1`) and W (`k`×`n`, `|i1`) as `a.npy` and `w.npy` in `dir`
/// and returns their paths.
pub fn write_operands(
    dir: &Path,
    (m, k, n): (usize, usize, usize),
    a: &[u8],
    w: &[i8],
) -> (PathBuf, PathBuf) {
    let (ap, wp) = (dir.join("a.npy"), dir.join("w.npy"));
    smtgen_core::tensors::write_npy(&ap, &[m, k], a).unwrap();
    smtgen_core::tensors::write_npy(&wp, &[k, n], w).unwrap();
    (ap, wp)
}

/// The arguments of `smtgen gemm --a A --w W --out C`, then `extra`.
pub fn gemm_args<'a>(a: &'a Path, w: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["gemm", "--a", s(a), "--w", s(w), "--out", s(out)];
    v.extend_from_slice(extra);
    v
}

/// Runs `smtgen gemm --a A --w W --out C`, then `extra`.
pub fn gemm(a: &Path, w: &Path, out: &Path, extra: &[&str]) -> Output {
    super::smtgen(&gemm_args(a, w, out, extra), None)
}

/// Asserts `o` failed cleanly: non-zero exit, no panic, and exactly one line on
/// standard error that contains every one of `needles`.
pub fn fails_clearly(o: &Output, needles: &[&str]) {
    let e = super::stderr(o);
    assert!(!o.status.success(), "expected failure, got success: {e}");
    assert_ne!(o.status.code(), Some(101), "exit 101 (panic): {e}");
    assert!(!e.contains("panicked"), "panicked: {e}");
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {e}");
    for n in needles {
        assert!(lines[0].contains(n), "`{n}` missing from: {}", lines[0]);
    }
}

/// The bytes of a version-1 `.npy` file with a hand-made header: `descr`,
/// `fortran_order` and `shape` as written (so the shape need not match `data`),
/// padded to a 64-byte boundary, then `data`.
pub fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let f = if fortran { "True" } else { "False" };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(data);
    b
}

/// Writes a `.npy` file with a hand-made header (see [`npy_bytes`]).
pub fn raw_npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    std::fs::write(path, npy_bytes(descr, false, shape, data)).unwrap();
}

/// Runs `smtgen args` and asserts it fails cleanly naming every one of `needles`
/// (see [`fails_clearly`]).
pub fn rejects(args: &[&str], needles: &[&str]) {
    fails_clearly(&super::smtgen(args, None), needles);
}
