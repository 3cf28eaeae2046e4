//! Matrix files for GEMMs: `.npy` (uint8 activations, int8 weights, int32/int64
//! results, float32 tensors for quantization) through the `npyz` crate, and `.csv`
//! (one row per line). Every malformed file, wrong dtype or out-of-range value is
//! rejected by file and position; nothing is clamped.

use crate::error::{Error, Result};
use std::path::Path;

/// A row-major 2-D matrix read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix<T> {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Row-major values.
    pub data: Vec<T>,
}

fn input_err(path: &Path, at: impl Into<String>, what: impl Into<String>) -> Error {
    Error::Input {
        file: path.display().to_string(),
        at: at.into(),
        what: what.into(),
    }
}

/// True when `path` names a `.npy` file: the extension in any case (`C.NPY`).
pub fn is_npy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Reads an N-d `.npy` array whose dtype descriptor is one of `dtypes` (for example
/// `|u1`); returns its shape and values in C order, as i64 or f64 by `float`.
fn read_npy(path: &Path, dtypes: &[&str], what: &str) -> Result<(Vec<usize>, NpyValues)> {
    // The file is read whole, but never more of it than the element ceiling
    // allows (8 bytes per element at most, plus room for the header).
    let bytes = crate::guard::read_file_bounded(
        path,
        crate::guard::max_tensor_bytes(),
        "raise with --max-elements",
    )?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .map_err(|e| input_err(path, "header", format!("not a readable .npy file: {e}")))?;
    let descr = match npy.dtype() {
        npyz::DType::Plain(ts) => ts.to_string(),
        other => other.descr(),
    };
    if !dtypes.contains(&descr.as_str()) {
        return Err(input_err(
            path,
            "dtype",
            format!(
                "{descr} is not allowed for {what}; allowed {}",
                dtypes.join(", ")
            ),
        ));
    }
    let dims = npy.shape().to_vec();
    let shown = format!("{dims:?}");
    let limit = crate::guard::max_elements();
    let count = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= limit)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            input_err(
                path,
                "shape",
                format!("{shown} holds more than {limit} elements, the ceiling (raise with --max-elements)"),
            )
        })?;
    let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    let fortran = npy.order() == npyz::Order::Fortran;
    let io = |e: std::io::Error| input_err(path, "data", format!("cannot read values: {e}"));
    let mut vals = match descr.as_str() {
        "|u1" => NpyValues::Int(widened::<u8, _>(npy).map_err(io)?),
        "|i1" => NpyValues::Int(widened::<i8, _>(npy).map_err(io)?),
        "<i4" => NpyValues::Int(widened::<i32, _>(npy).map_err(io)?),
        "<i8" => NpyValues::Int(npy.into_vec::<i64>().map_err(io)?),
        "<f4" => NpyValues::Float(widened::<f32, _>(npy).map_err(io)?),
        "<f8" => NpyValues::Float(npy.into_vec::<f64>().map_err(io)?),
        d => return Err(input_err(path, "dtype", format!("{d} is not supported"))),
    };
    let got = match &vals {
        NpyValues::Int(v) => v.len(),
        NpyValues::Float(v) => v.len(),
    };
    if got != count {
        return Err(input_err(
            path,
            "data",
            format!("{got} values, but the shape {shown} needs {count}"),
        ));
    }
    if let NpyValues::Float(v) = &vals {
        check_f32(path, v)?;
    }
    if fortran {
        vals = vals.permuted(&fortran_to_c(&shape));
    }
    Ok((shape, vals))
}

/// A `.npy` file's values stored as `T`, each widened losslessly to `U`.
fn widened<T: npyz::Deserialize, U: From<T>>(npy: npyz::NpyFile<&[u8]>) -> std::io::Result<Vec<U>> {
    Ok(npy.into_vec::<T>()?.into_iter().map(U::from).collect())
}

/// Rejects a finite float that float32 cannot hold (it would become infinite).
fn check_f32(path: &Path, v: &[f64]) -> Result<()> {
    if let Some(i) = v
        .iter()
        .position(|x| x.is_finite() && x.abs() > f64::from(f32::MAX))
    {
        return Err(input_err(
            path,
            format!("flat index {i}"),
            format!(
                "{:e} is beyond the float32 range (magnitude at most {:e})",
                v[i],
                f32::MAX
            ),
        ));
    }
    Ok(())
}

/// Values of a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyValues {
    /// Integer dtypes.
    Int(Vec<i64>),
    /// Float dtypes.
    Float(Vec<f64>),
}

impl NpyValues {
    fn permuted(self, perm: &[usize]) -> Self {
        match self {
            NpyValues::Int(v) => NpyValues::Int(perm.iter().map(|&i| v[i]).collect()),
            NpyValues::Float(v) => NpyValues::Float(perm.iter().map(|&i| v[i]).collect()),
        }
    }
}

/// For each C-order position, the index of that element in Fortran-order storage.
fn fortran_to_c(shape: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|c_idx| {
            let mut rem = c_idx;
            let mut idx = vec![0; shape.len()];
            for d in (0..shape.len()).rev() {
                idx[d] = rem % shape[d].max(1);
                rem /= shape[d].max(1);
            }
            let mut f = 0;
            let mut stride = 1;
            for d in 0..shape.len() {
                f += idx[d] * stride;
                stride *= shape[d];
            }
            f
        })
        .collect()
}

fn read_csv(path: &Path, lo: i64, hi: i64, what: &str) -> Result<Matrix<i64>> {
    let bytes = crate::guard::read_file_bounded(
        path,
        crate::guard::max_tensor_bytes(),
        "raise with --max-elements",
    )?;
    let lines = crate::operands::text_lines(&bytes, &path.display().to_string())?;
    let mut data = Vec::new();
    let mut cols = None;
    let mut rows = 0;
    for (i, line) in lines.into_iter().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if *cols.get_or_insert(fields.len()) != fields.len() {
            return Err(input_err(
                path,
                format!("line {}", i + 1),
                format!(
                    "{} values, but earlier rows have {}",
                    fields.len(),
                    cols.unwrap_or(0)
                ),
            ));
        }
        for (j, f) in fields.iter().enumerate() {
            let at = format!("line {}, column {}", i + 1, j + 1);
            let v: i64 = f
                .parse()
                .map_err(|_| input_err(path, at.clone(), format!("`{f}` is not an integer")))?;
            if !(lo..=hi).contains(&v) {
                return Err(input_err(
                    path,
                    at,
                    format!("{v} is out of range {lo}..{hi} for {what}"),
                ));
            }
            data.push(v);
        }
        rows += 1;
        if data.len() as u64 > crate::guard::max_elements() {
            return Err(input_err(
                path,
                format!("line {}", i + 1),
                format!(
                    "more than {} values, the element ceiling (raise with --max-elements)",
                    crate::guard::max_elements()
                ),
            ));
        }
    }
    let cols = cols.ok_or_else(|| input_err(path, "file", "no values"))?;
    crate::guard::elements(&path.display().to_string(), &[rows as u64, cols as u64])?;
    Ok(Matrix { rows, cols, data })
}

fn read_int_matrix(path: &Path, dtype: &str, lo: i64, hi: i64, what: &str) -> Result<Matrix<i64>> {
    if !is_npy(path) {
        return read_csv(path, lo, hi, what);
    }
    let (shape, vals) = read_npy(path, &[dtype], what)?;
    if shape.len() != 2 {
        return Err(input_err(
            path,
            "shape",
            format!(
                "{shape:?} has {} dimensions; {what} must be 2-D",
                shape.len()
            ),
        ));
    }
    let NpyValues::Int(data) = vals else {
        return Err(input_err(path, "dtype", format!("{what} must be integers")));
    };
    Ok(Matrix {
        rows: shape[0],
        cols: shape[1],
        data,
    })
}

/// Reads an activation matrix: `.npy` of dtype uint8 or `.csv` of 0..255.
pub fn read_activations(path: &Path) -> Result<Matrix<u8>> {
    let m = read_int_matrix(path, "|u1", 0, 255, "activations (uint8)")?;
    Ok(Matrix {
        rows: m.rows,
        cols: m.cols,
        data: m.data.into_iter().map(|v| v as u8).collect(),
    })
}

/// Reads an output skip mask (M×N, 1 = skip): `.npy` of dtype uint8 or `.csv`,
/// every value 0 or 1.
pub fn read_skip_mask(path: &Path) -> Result<Matrix<bool>> {
    let m = read_int_matrix(path, "|u1", 0, 1, "a skip mask (uint8, 0 or 1)")?;
    Ok(Matrix {
        rows: m.rows,
        cols: m.cols,
        data: m.data.into_iter().map(|v| v == 1).collect(),
    })
}

/// Reads a weight matrix: `.npy` of dtype int8 or `.csv` of −128..127.
pub fn read_weights(path: &Path) -> Result<Matrix<i8>> {
    let m = read_int_matrix(path, "|i1", -128, 127, "weights (int8)")?;
    Ok(Matrix {
        rows: m.rows,
        cols: m.cols,
        data: m.data.into_iter().map(|v| v as i8).collect(),
    })
}

/// Reads a float tensor of any rank from `.npy` (float32 or float64), rejecting NaN
/// and infinities with their index.
pub fn read_float_tensor(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let (shape, vals) = read_npy(path, &["<f4", "<f8"], "a float tensor")?;
    let NpyValues::Float(v) = vals else {
        return Err(input_err(path, "dtype", "expected float32"));
    };
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(input_err(
            path,
            format!("flat index {i}"),
            format!("{} is not a finite number", v[i]),
        ));
    }
    Ok((shape, v.into_iter().map(|x| x as f32).collect()))
}

/// Reads a tensor of any rank whose dtype is one of `dtypes`; returns the shape,
/// the values and the dtype descriptor.
pub fn read_tensor(
    path: &Path,
    dtypes: &[&str],
    what: &str,
) -> Result<(Vec<usize>, NpyValues, String)> {
    let (shape, vals) = read_npy(path, dtypes, what)?;
    let d = match &vals {
        NpyValues::Int(_) => "int",
        NpyValues::Float(_) => "float",
    };
    if let NpyValues::Float(v) = &vals {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(input_err(
                path,
                format!("flat index {i}"),
                format!("{} is not a finite number", v[i]),
            ));
        }
    }
    Ok((shape, vals, d.to_string()))
}

/// Reads an integer tensor of any rank from `.npy` with the given dtype descriptor.
pub fn read_int_tensor(path: &Path, dtype: &str, what: &str) -> Result<(Vec<usize>, Vec<i64>)> {
    let (shape, vals) = read_npy(path, &[dtype], what)?;
    match vals {
        NpyValues::Int(v) => Ok((shape, v)),
        NpyValues::Float(_) => Err(input_err(path, "dtype", format!("{what} must be integers"))),
    }
}

/// Writes a result matrix: `.npy` as int32 when every value fits (`wide == false`)
/// or int64, or `.csv`.
pub fn write_result(path: &Path, rows: usize, cols: usize, data: &[i64], wide: bool) -> Result<()> {
    if is_npy(path) {
        if wide {
            write_npy(path, &[rows, cols], data)
        } else {
            let narrow: Vec<i32> = data.iter().map(|&x| x as i32).collect();
            write_npy(path, &[rows, cols], &narrow)
        }
    } else {
        let mut s = String::with_capacity(data.len() * 6);
        for r in 0..rows {
            let row: Vec<String> = data[r * cols..(r + 1) * cols]
                .iter()
                .map(i64::to_string)
                .collect();
            s += &row.join(",");
            s.push('\n');
        }
        crate::guard::write_file(path, s.as_bytes())
    }
}

/// Writes an N-d array of `u8`, `i8`, `i32`, `i64` or `f32` as `.npy` (for tests,
/// examples and saved quantization results).
pub fn write_npy<T: npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[usize],
    data: &[T],
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let mut buf = Vec::new();
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    use npyz::WriterBuilder;
    let mut w = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut buf)
        .begin_nd()
        .map_err(io)?;
    w.extend(data.iter().copied()).map_err(io)?;
    w.finish().map_err(io)?;
    crate::guard::write_file(path, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips_and_dtypes_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.npy");
        write_npy(&a, &[2, 3], &[0u8, 1, 2, 253, 254, 255]).unwrap();
        let m = read_activations(&a).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, vec![0, 1, 2, 253, 254, 255]);
        let e = read_weights(&a).unwrap_err().to_string();
        assert!(
            e.contains("a.npy") && e.contains("|u1") && e.contains("|i1"),
            "{e}"
        );
        let f = d.path().join("f.npy");
        write_npy(&f, &[2], &[1.0f32, f32::NAN]).unwrap();
        let e = read_float_tensor(&f).unwrap_err().to_string();
        assert!(e.contains("flat index 1") && e.contains("NaN"), "{e}");
        let c = d.path().join("c.npy");
        write_result(&c, 1, 2, &[-5, 7], false).unwrap();
        assert_eq!(read_int_tensor(&c, "<i4", "C").unwrap().1, vec![-5, 7]);
    }

    #[test]
    fn csv_values_out_of_range_name_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("w.csv");
        std::fs::write(&p, "1,2\n3,-200\n").unwrap();
        let e = read_weights(&p).unwrap_err().to_string();
        assert!(e.contains("line 2, column 2") && e.contains("-200"), "{e}");
        std::fs::write(&p, "1,2\n3\n").unwrap();
        assert!(read_weights(&p)
            .unwrap_err()
            .to_string()
            .contains("1 values"));
    }

    #[test]
    fn fortran_order_maps_to_c_order() {
        assert_eq!(fortran_to_c(&[2, 3]), vec![0, 2, 4, 1, 3, 5]);
    }
}
