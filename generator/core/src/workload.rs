//! Evaluation workloads: a GEMM `C = A·W` read from tensor files (a GEMM pair or a
//! convolution lowered to one) or built synthetically, with float tensors quantized
//! here (activations per tensor, weights per output channel). `smtgen eval` and any
//! library user load layers through these functions, which check shapes up front.

use crate::array::Gemm;
use crate::error::{Error, Result};
use crate::eval::{self as ev, ConvShape, QuantParams};
use crate::tensors::{self, read_tensor, NpyValues};
use std::path::Path;

/// A loaded workload: what it is (one line, for reports), the integer GEMM the
/// designs run, and the quantization parameters when floats were quantized here.
#[derive(Debug, Clone)]
pub struct Workload {
    /// One-line description, e.g. `GEMM 64x576x64 (a.npy . w.npy)`.
    pub name: String,
    /// The integer GEMM (uint8 activations, int8 weights).
    pub gemm: Gemm,
    /// Scales of the quantized tensors; `None` when both were integer already.
    pub quant: Option<QuantParams>,
}

/// A synthetic layer: `M×K·K×N` with `dist` activations (relu | exp | uniform),
/// `zero` of them zero, from `seed`.
pub fn synthetic(
    dist: &str,
    m: usize,
    k: usize,
    n: usize,
    zero: f64,
    seed: u64,
) -> Result<Workload> {
    crate::guard::gemm_dims("--m/--k/--n", m, k, n)?;
    let (g, q) = ev::synthetic(m, k, n, ev::Distribution::parse(dist)?, zero, seed)?;
    let name = format!(
        "synthetic {dist} {}x{}x{} ({:.0}% zero activations, seed {})",
        m,
        k,
        n,
        100.0 * zero,
        seed
    );
    Ok(Workload {
        name,
        gemm: g,
        quant: Some(q),
    })
}

/// Reads activations: `.npy` uint8 (as is) or float32/float64 (quantized per
/// tensor, scale returned), else CSV. Returns the shape, the values and the scale.
pub fn read_activations(p: &Path, what: &str) -> Result<(Vec<usize>, Vec<u8>, Option<f32>)> {
    if !tensors::is_npy(p) {
        let m = tensors::read_activations(p)?;
        return Ok((vec![m.rows, m.cols], m.data, None));
    }
    let (shape, v, _) = read_tensor(p, &["|u1", "<f4", "<f8"], what)?;
    Ok(match v {
        NpyValues::Int(v) => (shape, v.into_iter().map(|x| x as u8).collect(), None),
        NpyValues::Float(v) => {
            let f: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
            let (q, s) = ev::quantize_activations(&f, &p.display().to_string())?;
            (shape, q, Some(s))
        }
    })
}

/// Reads weights: `.npy` int8 or float32/float64 (left for the caller to
/// quantize along its output channels), else CSV. Returns the shape and values.
pub fn read_weights(p: &Path, what: &str) -> Result<(Vec<usize>, NpyValues)> {
    if !tensors::is_npy(p) {
        let m = tensors::read_weights(p)?;
        return Ok((
            vec![m.rows, m.cols],
            NpyValues::Int(m.data.into_iter().map(i64::from).collect()),
        ));
    }
    let (shape, v, _) = read_tensor(p, &["|i1", "<f4", "<f8"], what)?;
    Ok((shape, v))
}

/// Quantizes a row-major `K×N` float weight matrix per output channel (column
/// `o` of W is channel `o`): the int8 matrix, still `K×N` row-major, and the `N`
/// scales.
pub fn quantize_weight_columns(v: &[f64], k: usize, n: usize) -> (Vec<i8>, Vec<f32>) {
    let by_col: Vec<f32> = (0..n)
        .flat_map(|o| (0..k).map(move |kk| (o, kk)))
        .map(|(o, kk)| v[kk * n + o] as f32)
        .collect();
    let (q, s) = ev::quantize_weights(&by_col, n);
    let mut w = vec![0i8; k * n];
    for o in 0..n {
        for kk in 0..k {
            w[kk * n + o] = q[o * k + kk];
        }
    }
    (w, s)
}

fn shape_err(file: &Path, what: String) -> Error {
    Error::Input {
        file: file.display().to_string(),
        at: "shape".into(),
        what,
    }
}

fn quant_params(ascale: Option<f32>, wscales: Option<Vec<f32>>, n: usize) -> Option<QuantParams> {
    (ascale.is_some() || wscales.is_some()).then(|| QuantParams {
        act_scale: ascale.unwrap_or(1.0),
        weight_scales: wscales.unwrap_or_else(|| vec![1.0; n]),
    })
}

/// A GEMM from files: activations A (`M×K`) and weights W (`K×N`), each `.npy`
/// (integer or float, quantized) or `.csv`.
pub fn gemm(ap: &Path, wp: &Path) -> Result<Workload> {
    let (ash, av, ascale) = read_activations(ap, "activations (uint8 or float32)")?;
    let (wsh, wv) = read_weights(wp, "weights (int8 or float32)")?;
    if ash.len() != 2 || wsh.len() != 2 {
        return Err(shape_err(
            if ash.len() != 2 { ap } else { wp },
            "A and W must be 2-D".into(),
        ));
    }
    if ash[1] != wsh[0] {
        return Err(shape_err(
            ap,
            format!(
                "A is {}x{} and W is {}x{}: A's columns must equal W's rows (K)",
                ash[0], ash[1], wsh[0], wsh[1]
            ),
        ));
    }
    let (k, n) = (wsh[0], wsh[1]);
    crate::guard::gemm_dims("--a/--w", ash[0], k, n)?;
    let (w, wscales) = match wv {
        NpyValues::Int(v) => (v.into_iter().map(|x| x as i8).collect(), None),
        NpyValues::Float(v) => {
            let (w, s) = quantize_weight_columns(&v, k, n);
            (w, Some(s))
        }
    };
    let q = quant_params(ascale, wscales, n);
    let g = Gemm {
        m: ash[0],
        k,
        n,
        a: av,
        w,
    };
    Ok(Workload {
        name: format!(
            "GEMM {}x{}x{} ({} . {})",
            g.m,
            g.k,
            g.n,
            ap.display(),
            wp.display()
        ),
        gemm: g,
        quant: q,
    })
}

/// A convolution from files, lowered to a GEMM: input NCHW and weights OIHW, each
/// `.npy` (integer or float, quantized), with `stride` and zero `padding`.
pub fn conv(ip: &Path, wp: &Path, stride: usize, padding: usize) -> Result<Workload> {
    let (ish, iv, ascale) = read_activations(ip, "convolution input NCHW (uint8 or float32)")?;
    let (wsh, wv) = read_weights(wp, "convolution weights OIHW (int8 or float32)")?;
    if ish.len() != 4 {
        return Err(shape_err(ip, format!("{ish:?} is not NCHW (4-D)")));
    }
    if wsh.len() != 4 {
        return Err(shape_err(wp, format!("{wsh:?} is not OIHW (4-D)")));
    }
    if ish[1] != wsh[1] {
        return Err(shape_err(
            wp,
            format!(
                "weights take {} input channels, the input has {}",
                wsh[1], ish[1]
            ),
        ));
    }
    crate::guard::conv_dims(
        [ish[0], ish[1], ish[2], ish[3]],
        [wsh[0], wsh[1], wsh[2], wsh[3]],
        stride,
        padding,
    )?;
    let s = ConvShape {
        n: ish[0],
        c: ish[1],
        h: ish[2],
        w: ish[3],
        o: wsh[0],
        kh: wsh[2],
        kw: wsh[3],
        stride,
        pad: padding,
    };
    if s.h + 2 * s.pad < s.kh || s.w + 2 * s.pad < s.kw {
        return Err(shape_err(
            wp,
            format!(
                "a {}x{} kernel does not fit the padded {}x{} input",
                s.kh,
                s.kw,
                s.h + 2 * s.pad,
                s.w + 2 * s.pad
            ),
        ));
    }
    let (wq, wscales) = match wv {
        NpyValues::Int(v) => (v.into_iter().map(|x| x as i8).collect::<Vec<i8>>(), None),
        NpyValues::Float(v) => {
            let f: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
            let (q, sc) = ev::quantize_weights(&f, s.o);
            (q, Some(sc))
        }
    };
    let q = quant_params(ascale, wscales, s.o);
    let g = ev::lower_conv(&s, &iv, &wq);
    let (oh, ow) = s.out_hw();
    Ok(Workload {
        name: format!("conv {}x{}x{}x{} * {}x{}x{}x{}, stride {}, padding {} -> GEMM {}x{}x{} ({oh}x{ow} outputs)", s.n, s.c, s.h, s.w, s.o, s.c, s.kh, s.kw, s.stride, s.pad, g.m, g.k, g.n),
        gemm: g,
        quant: q,
    })
}
