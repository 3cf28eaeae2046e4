//! `smtgen._smtgen`: the compiled half of the Python package. It owns the boundary
//! between numpy arrays and the library: it checks operands the way the CLI does
//! (dtype, rank, shape, design point) and raises `TypeError` / `ValueError` naming
//! the argument, the value and what is allowed; it runs every GEMM through one
//! function ([`run`]) with the GIL released; and it exposes the per-design
//! statistics and the array's cycle formula.

use numpy::{
    dtype, PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString};
use smtgen::array::{gemm_cycles, Gemm};
use smtgen::config::{Design, PRESETS};
use smtgen::eval::{evaluate_design, exact_gemm, lower_conv, ConvShape};
use smtgen::layer::{
    conv_forward_prepared, gemm_into, linear_forward_prepared, prune_2_4_f64, ConvGeom, Dequant,
    Mode, PreparedLayer,
};
use std::sync::{Arc, Mutex};

/// A library error as the Python exception a user expects: bad configs and bad
/// operands are `ValueError`.
fn value_err(e: smtgen::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn type_name(x: &Bound<'_, PyAny>) -> String {
    x.get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// Checks that `x` is a numpy array of `ndim` dimensions and returns it untyped.
fn numpy_array<'py>(
    x: &Bound<'py, PyAny>,
    name: &str,
    ndim: usize,
    what: &str,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let arr = x.downcast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a numpy array ({what}), got {}",
            type_name(x)
        ))
    })?;
    if arr.ndim() != ndim {
        return Err(PyValueError::new_err(format!(
            "{name} must be {ndim}-D ({what}), got shape {:?}",
            arr.shape()
        )));
    }
    Ok(arr.clone())
}

/// An operand's element type: what an array of any other dtype is told.
trait Operand: numpy::Element + Copy {
    /// The error for the array `x` (argument `name`), whose dtype is not this one.
    fn wrong_dtype(x: &Bound<'_, PyAny>, name: &str) -> PyResult<PyErr>;
}

/// Activations: uint8. A signed integer array with a negative value is a
/// `ValueError` naming the value; any other dtype a `TypeError`.
impl Operand for u8 {
    fn wrong_dtype(x: &Bound<'_, PyAny>, name: &str) -> PyResult<PyErr> {
        let arr = x.downcast::<PyUntypedArray>()?;
        let dt = arr.dtype();
        if dt.kind() == b'i' && arr.len() > 0 {
            let min: i64 = x.call_method0("min")?.extract()?;
            if min < 0 {
                let at: usize = x.call_method0("argmin")?.extract()?;
                return Ok(PyValueError::new_err(format!(
                    "{name} holds a negative activation {min} at flat index {at}: activations are unsigned 8-bit (0..255, post-ReLU)"
                )));
            }
        }
        let hint = if dt.kind() == b'f' {
            "; quantize first (smtgen.torch does it the reference way)"
        } else {
            ""
        };
        Ok(PyTypeError::new_err(format!(
            "{name} must have dtype uint8 (unsigned 8-bit activations 0..255), got {}{hint}",
            dt.str()?
        )))
    }
}

/// Weights: int8; any other dtype is a `TypeError`.
impl Operand for i8 {
    fn wrong_dtype(x: &Bound<'_, PyAny>, name: &str) -> PyResult<PyErr> {
        Ok(PyTypeError::new_err(format!(
            "{name} must have dtype int8 (signed 8-bit weights -128..127), got {}",
            x.downcast::<PyUntypedArray>()?.dtype().str()?
        )))
    }
}

/// An operand's values, C order: borrowed from the numpy array when it is
/// C-contiguous (no copy; `as_slice` alone would also take Fortran order), else gathered once into a vector (strided, transposed or
/// Fortran-order arrays are accepted and give the same result).
enum Data<'py, T: numpy::Element> {
    Borrowed(PyReadonlyArrayDyn<'py, T>),
    Owned(Vec<T>),
}

impl<T: numpy::Element + Copy> Data<'_, T> {
    fn slice(&self) -> &[T] {
        match self {
            Data::Borrowed(r) => r.as_slice().unwrap_or(&[]),
            Data::Owned(v) => v,
        }
    }
}

/// An operand: a numpy array of rank `ndim` with element type `T` (see [`Operand`]
/// for any other dtype), at most `limit` elements; its shape and its values in C
/// order (borrowed when contiguous).
fn operand<'py, T: Operand>(
    x: &Bound<'py, PyAny>,
    name: &str,
    ndim: usize,
    what: &str,
    limit: u64,
) -> PyResult<(Vec<usize>, Data<'py, T>)> {
    let arr = numpy_array(x, name, ndim, what)?;
    if !arr.dtype().is_equiv_to(&dtype::<T>(x.py())) {
        return Err(T::wrong_dtype(x, name)?);
    }
    ceiling(name, arr.shape(), limit)?;
    let ro: PyReadonlyArrayDyn<'py, T> = x.extract()?;
    let shape = ro.shape().to_vec();
    let data = if ro.is_c_contiguous() {
        Data::Borrowed(ro)
    } else {
        Data::Owned(ro.as_array().iter().copied().collect())
    };
    Ok((shape, data))
}

/// The default ceiling on elements per tensor, as the CLI's `--max-elements`.
const MAX_ELEMENTS: u64 = smtgen::guard::DEFAULT_MAX_ELEMENTS;

/// Refuses a tensor of more than `limit` elements, naming it, its shape, the
/// ceiling and the keyword that raises it.
fn ceiling(name: &str, shape: &[usize], limit: u64) -> PyResult<()> {
    let n = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    if n > limit {
        return Err(PyValueError::new_err(format!(
            "{name} has {n} elements (shape {shape:?}), more than the ceiling of {limit} elements per tensor; raise it with max_elements=..."
        )));
    }
    Ok(())
}

/// A design point from a preset name, a `PRESET+key=value...` string or a dict
/// `{"preset": NAME, "key": value, ...}`, built over `extra` overrides.
fn design(d: &Bound<'_, PyAny>, extra: &[String]) -> PyResult<Design> {
    if let Ok(s) = d.downcast::<PyString>() {
        return Design::point(&s.to_cow()?, extra).map_err(value_err);
    }
    if let Ok(map) = d.downcast::<PyDict>() {
        let mut name = None;
        let mut sets = Vec::new();
        for (k, v) in map.iter() {
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "design dict keys must be strings (config fields such as 'pe.threads'), got {}",
                    type_name(&k)
                ))
            })?;
            let val = if let Ok(b) = v.downcast::<PyBool>() {
                b.is_true().to_string()
            } else if v.downcast::<PyInt>().is_ok() || v.downcast::<PyString>().is_ok() {
                v.str()?.to_string()
            } else {
                return Err(PyTypeError::new_err(format!(
                    "design[{key:?}] must be a string, int or bool, got {}",
                    type_name(&v)
                )));
            };
            if key == "preset" {
                name = Some(val);
            } else {
                sets.push(format!("{key}={val}"));
            }
        }
        let name = name.ok_or_else(|| {
            PyValueError::new_err(format!(
                "design dict needs a 'preset' key, one of {}",
                preset_names().join(", ")
            ))
        })?;
        sets.extend(extra.iter().cloned());
        return Design::point(&name, &sets).map_err(value_err);
    }
    Err(PyTypeError::new_err(format!(
        "design must be a preset name, a 'PRESET+key=value' string or a dict, got {}",
        type_name(d)
    )))
}

fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

fn jobs_arg(jobs: i64) -> PyResult<usize> {
    let bad = || {
        PyValueError::new_err(format!(
            "jobs = {jobs}: allowed 0 (every core) to {} threads",
            smtgen::guard::max_jobs()
        ))
    };
    let j = u64::try_from(jobs).map_err(|_| bad())?;
    smtgen::guard::check_jobs("jobs", j).map_err(|_| bad())
}

/// Two 2-D operands of a GEMM, borrowed where contiguous.
struct Problem<'py> {
    m: usize,
    k: usize,
    n: usize,
    a: Data<'py, u8>,
    w: Data<'py, i8>,
}

impl Problem<'_> {
    /// The operands as an owned [`Gemm`] (one copy, for the golden model and the
    /// statistics, which take one).
    fn owned(&self) -> Gemm {
        Gemm {
            m: self.m,
            k: self.k,
            n: self.n,
            a: self.a.slice().to_vec(),
            w: self.w.slice().to_vec(),
        }
    }
}

/// Two 2-D operands as a GEMM problem, with the CLI's shape check and ceiling
/// (A, W and C at most `limit` elements each).
fn gemm_problem<'py>(
    a: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    limit: u64,
) -> PyResult<Problem<'py>> {
    let (ashape, a) = operand::<u8>(a, "a", 2, "M x K activations", limit)?;
    let (wshape, w) = operand::<i8>(w, "w", 2, "K x N weights", limit)?;
    if ashape[1] != wshape[0] {
        return Err(PyValueError::new_err(format!(
            "a is {}x{} and w is {}x{}: a's columns must equal w's rows (K)",
            ashape[0], ashape[1], wshape[0], wshape[1]
        )));
    }
    ceiling("the result C", &[ashape[0], wshape[1]], limit)?;
    Ok(Problem {
        m: ashape[0],
        k: ashape[1],
        n: wshape[1],
        a,
        w,
    })
}

/// Two 2-D operands and a design, checked together: the GEMM problem (see
/// [`gemm_problem`]), the design point, and W's 2:4 sparsity where the design needs it.
fn gemm_under<'py>(
    a: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
    limit: u64,
) -> PyResult<(Problem<'py>, Design)> {
    let g = gemm_problem(a, w, limit)?;
    let cfg = self::design(design, &[])?;
    if cfg.dp().requires_2_4() {
        smtgen::sparse::check_2_4(g.w.slice(), g.k, g.n, "w").map_err(value_err)?;
    }
    Ok((g, cfg))
}

/// A result as numpy: int32 when the design's accumulator is at most 32 bits wide
/// (every value fits), else int64, with the given shape.
fn result<'py>(
    py: Python<'py>,
    c: Vec<i64>,
    shape: &[usize],
    cfg: &Design,
) -> PyResult<Bound<'py, PyAny>> {
    if cfg.pe.acc_width > 32 {
        Ok(PyArray1::from_vec(py, c).reshape(shape)?.into_any())
    } else {
        let c32: Vec<i32> = c.into_iter().map(|v| v as i32).collect();
        let arr: Bound<'py, PyArrayDyn<i32>> = PyArray1::from_vec(py, c32).reshape(shape)?;
        Ok(arr.into_any())
    }
}

/// A fresh C-order numpy array of `shape`, filled by `f` on its elements with the
/// GIL released (the result is returned as it is: no copy).
fn filled<'py, T: numpy::Element + Send>(
    py: Python<'py>,
    shape: &[usize],
    f: impl FnOnce(&mut [T]) -> smtgen::Result<()> + Send,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    // SAFETY: every element is written by `f` before the array is returned or
    // read (the layer and GEMM sinks write each index once); on error the array
    // is dropped unread.
    let arr = unsafe { PyArrayDyn::<T>::new(py, shape.to_vec(), false) };
    {
        // SAFETY: the array was just created and no other reference to it exists.
        let out =
            unsafe { arr.as_slice_mut() }.map_err(|e| PyValueError::new_err(e.to_string()))?;
        py.allow_threads(|| f(out)).map_err(value_err)?;
    }
    Ok(arr)
}

/// `C = A·W` under a design: `a` uint8 M×K, `w` int8 K×N; returns int32 M×N (int64
/// when the design's accumulator is wider than 32 bits), bit-exact with
/// `smtgen gemm`. `design="exact"` is the exact integer GEMM (no wrap, int64).
/// Contiguous operands are read in place.
#[pyfunction]
#[pyo3(signature = (a, w, design, jobs = 0, max_elements = MAX_ELEMENTS))]
fn gemm<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
    jobs: i64,
    max_elements: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let jobs = jobs_arg(jobs)?;
    if is_exact(design) {
        let g = gemm_problem(a, w, max_elements)?;
        let (av, wv) = (g.a.slice(), g.w.slice());
        let out = filled::<i64>(py, &[g.m, g.n], |out| {
            gemm_into(Mode::Exact, (g.m, g.k, g.n), av, wv, out, jobs);
            Ok(())
        })?;
        return Ok(out.into_any());
    }
    let (g, cfg) = gemm_under(a, w, design, max_elements)?;
    let (av, wv) = (g.a.slice(), g.w.slice());
    let dims = (g.m, g.k, g.n);
    let mode = Mode::Design(&cfg);
    if cfg.pe.acc_width > 32 {
        let out = filled::<i64>(py, &[g.m, g.n], |out| {
            gemm_into(mode, dims, av, wv, out, jobs);
            Ok(())
        })?;
        Ok(out.into_any())
    } else {
        let out = filled::<i32>(py, &[g.m, g.n], |out| {
            gemm_into(mode, dims, av, wv, out, jobs);
            Ok(())
        })?;
        Ok(out.into_any())
    }
}

/// Whether `design` is the string `"exact"`.
fn is_exact(design: &Bound<'_, PyAny>) -> bool {
    design
        .downcast::<PyString>()
        .is_ok_and(|s| s.to_cow().is_ok_and(|v| v == "exact"))
}

/// The golden model's GEMM (`gemm_functional`, one PE model per output; about a
/// thousand times slower than [`gemm`]): the reference the tests hold [`gemm`] to.
#[pyfunction]
#[pyo3(signature = (a, w, design, max_elements = MAX_ELEMENTS))]
fn gemm_reference<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
    max_elements: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let (g, cfg) = gemm_under(a, w, design, max_elements)?;
    let g = g.owned();
    let c = py.allow_threads(|| smtgen::array::gemm_functional(&cfg, &g));
    result(py, c, &[g.m, g.n], &cfg)
}

fn conv_arg(v: i64, name: &str, min: i64) -> PyResult<usize> {
    if v < min {
        return Err(PyValueError::new_err(format!(
            "{name} = {v}: allowed an integer >= {min}"
        )));
    }
    usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{name} = {v}: too large")))
}

/// A 2-D convolution under a design: `x` uint8 N×C×H×W, `w` int8 O×C×KH×KW, zero
/// padding on every side; lowered to GEMM with K kernel-tap-major and
/// input-channel-innermost (the contract's order). Returns N×O×OH×OW.
#[pyfunction]
#[pyo3(signature = (x, w, design, stride = 1, padding = 0, jobs = 0, max_elements = MAX_ELEMENTS))]
#[allow(clippy::too_many_arguments)]
fn conv2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
    stride: i64,
    padding: i64,
    jobs: i64,
    max_elements: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let (xs, xv) = operand::<u8>(x, "x", 4, "N x C x H x W activations", max_elements)?;
    let (ws, wv) = operand::<i8>(w, "w", 4, "O x C x KH x KW weights", max_elements)?;
    let (xv, wv) = (xv.slice(), wv.slice());
    let stride = conv_arg(stride, "stride", 1)?;
    let pad = conv_arg(padding, "padding", 0)?;
    let jobs = jobs_arg(jobs)?;
    if xs[1] != ws[1] {
        return Err(PyValueError::new_err(format!(
            "x has {} input channels (shape {xs:?}) and w expects {} (shape {ws:?}): they must be equal",
            xs[1], ws[1]
        )));
    }
    if xs[2] + 2 * pad < ws[2] || xs[3] + 2 * pad < ws[3] {
        return Err(PyValueError::new_err(format!(
            "the {}x{} kernel does not fit the {}x{} input with padding {pad}",
            ws[2], ws[3], xs[2], xs[3]
        )));
    }
    let s = ConvShape {
        n: xs[0],
        c: xs[1],
        h: xs[2],
        w: xs[3],
        o: ws[0],
        kh: ws[2],
        kw: ws[3],
        stride,
        pad,
    };
    let cfg = self::design(design, &[])?;
    let (oh, ow) = s.out_hw();
    ceiling(
        "the lowered convolution A",
        &[s.n * s.out_hw().0 * s.out_hw().1, s.kh * s.kw * s.c],
        max_elements,
    )?;
    let g = lower_conv(&s, xv, wv);
    // Lowered, column o is output channel o and k runs tap-major, input-channel-innermost.
    if cfg.dp().requires_2_4() {
        let what = "w (as K x O, k = tap * C + input channel)";
        smtgen::sparse::check_2_4(&g.w, g.k, g.n, what).map_err(value_err)?;
    }
    let out = py.allow_threads(|| {
        let c = smtgen::engine::gemm(&cfg, &g, jobs);
        let mut out = vec![0i64; c.len()];
        for b in 0..s.n {
            for p in 0..oh * ow {
                for o in 0..s.o {
                    out[(b * s.o + o) * oh * ow + p] = c[(b * oh * ow + p) * s.o + o];
                }
            }
        }
        out
    });
    result(py, out, &[s.n, s.o, oh, ow], &cfg)
}

/// `C = A·W` under a design with the design's statistics against the exact integer
/// GEMM: returns `(C, stats)`; `stats` holds idle, collision and reduced-precision
/// shares, the active-lane histogram and the output error (SQNR in dB).
#[pyfunction]
#[pyo3(signature = (a, w, design, max_elements = MAX_ELEMENTS))]
fn gemm_stats<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
    max_elements: u64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let (g, cfg) = gemm_under(a, w, design, max_elements)?;
    let g = g.owned();
    let (ev, c) = py.allow_threads(|| {
        let exact = exact_gemm(&g);
        evaluate_design(&cfg, &g, &exact, &|| {})
    });
    let d = PyDict::new(py);
    let cycles: u64 = ev.active_histogram.iter().sum();
    let collide: u64 = ev.active_histogram.iter().skip(2).sum();
    d.set_item("design", &ev.design)?;
    d.set_item("lanes", ev.lanes)?;
    d.set_item("macs", ev.macs)?;
    d.set_item("lane_slots", ev.lane_slots)?;
    d.set_item("idle_fraction", ev.idle_fraction)?;
    d.set_item("active_histogram", ev.active_histogram.clone())?;
    d.set_item(
        "collide_fraction",
        if cycles > 0 {
            collide as f64 / cycles as f64
        } else {
            0.0
        },
    )?;
    d.set_item("reduced_fraction", ev.reduced_fraction)?;
    d.set_item("max_abs_error", ev.max_abs_error)?;
    d.set_item("mean_abs_error", ev.mean_abs_error)?;
    d.set_item("rel_l2_error", ev.rel_l2_error)?;
    d.set_item("sqnr_db", ev.sqnr_db)?;
    Ok((result(py, c, &[g.m, g.n], &cfg)?, d))
}

/// Cycles of an M×K·K×N GEMM on a `rows`×`cols` array of the design (the published
/// formula) and of the baseline on the same array: returns a dict with `cycles`,
/// `baseline_cycles`, `speedup`, `tiles` and `groups`.
#[pyfunction]
#[pyo3(signature = (m, k, n, design, rows = 16, cols = 16))]
fn cycles<'py>(
    py: Python<'py>,
    m: i64,
    k: i64,
    n: i64,
    design: &Bound<'py, PyAny>,
    rows: i64,
    cols: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let (m, k, n) = (
        conv_arg(m, "m", 1)?,
        conv_arg(k, "k", 1)?,
        conv_arg(n, "n", 1)?,
    );
    let extra = [format!("array.rows={rows}"), format!("array.cols={cols}")];
    let cfg = self::design(design, &extra)?;
    let g = Gemm {
        m,
        k,
        n,
        a: Vec::new(),
        w: Vec::new(),
    };
    let (r, c) = (u64::from(cfg.array.rows), u64::from(cfg.array.cols));
    let tiles = g.tiles(r as usize, c as usize) as u64;
    let groups = g.groups(cfg.lanes()) as u64;
    let cyc = gemm_cycles(r, c, cfg.pe.extra_latency(), groups, tiles);
    let base = gemm_cycles(r, c, 0, k as u64, tiles);
    let d = PyDict::new(py);
    d.set_item("cycles", cyc)?;
    d.set_item("baseline_cycles", base)?;
    d.set_item("speedup", base as f64 / cyc.max(1) as f64)?;
    d.set_item("tiles", tiles)?;
    d.set_item("groups", groups)?;
    Ok(d)
}

/// The presets' names, in the order `smtgen presets` lists them.
#[pyfunction]
fn designs() -> Vec<&'static str> {
    preset_names()
}

/// What a design point is: a dict with its name, lanes, policy, accumulator width,
/// the preset's one-line description (when it is a preset) and the full YAML.
#[pyfunction]
fn describe<'py>(py: Python<'py>, design: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let cfg = self::design(design, &[])?;
    let d = PyDict::new(py);
    d.set_item("name", cfg.name.replace('_', "-"))?;
    d.set_item("lanes", cfg.dp().lanes)?;
    d.set_item("policy", cfg.pe.policy.name())?;
    d.set_item("acc_width", cfg.pe.acc_width)?;
    d.set_item("stc", cfg.pe.stc)?;
    if let Ok(s) = design.extract::<String>() {
        if let Some(p) = PRESETS.iter().find(|p| p.name == s) {
            d.set_item("about", p.about())?;
        }
    }
    d.set_item("yaml", cfg.to_yaml())?;
    Ok(d)
}

/// A convolution's geometry as Python passes it: (stride_h, stride_w, pad_top,
/// pad_bottom, pad_left, pad_right, dilation_h, dilation_w, groups).
type Geometry = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

/// A float activation tensor, borrowed where contiguous.
enum FloatData<'py> {
    F32(Vec<usize>, Data<'py, f32>),
    F64(Vec<usize>, Data<'py, f64>),
}

/// `x` as float32 or float64 of rank `ndim`; any other dtype is a `TypeError`.
fn float_operand<'py>(
    x: &Bound<'py, PyAny>,
    ndim: usize,
    what: &str,
    limit: u64,
) -> PyResult<FloatData<'py>> {
    let arr = numpy_array(x, "x", ndim, what)?;
    ceiling("x", arr.shape(), limit)?;
    let take = |shape: Vec<usize>| shape;
    if arr.dtype().is_equiv_to(&dtype::<f32>(x.py())) {
        let ro: PyReadonlyArrayDyn<'py, f32> = x.extract()?;
        let shape = take(ro.shape().to_vec());
        let d = if ro.is_c_contiguous() {
            Data::Borrowed(ro)
        } else {
            Data::Owned(ro.as_array().iter().copied().collect())
        };
        return Ok(FloatData::F32(shape, d));
    }
    if arr.dtype().is_equiv_to(&dtype::<f64>(x.py())) {
        let ro: PyReadonlyArrayDyn<'py, f64> = x.extract()?;
        let shape = take(ro.shape().to_vec());
        let d = if ro.is_c_contiguous() {
            Data::Borrowed(ro)
        } else {
            Data::Owned(ro.as_array().iter().copied().collect())
        };
        return Ok(FloatData::F64(shape, d));
    }
    Err(PyTypeError::new_err(format!(
        "x must have dtype float32 or float64 ({what}), got {}",
        arr.dtype().str()?
    )))
}

/// A 1-D float64 vector of `len` values (scales, bias).
fn f64_vector(x: &Bound<'_, PyAny>, name: &str, len: usize) -> PyResult<Vec<f64>> {
    let arr = numpy_array(x, name, 1, "one value per output channel")?;
    if !arr.dtype().is_equiv_to(&dtype::<f64>(x.py())) || arr.len() != len {
        return Err(PyValueError::new_err(format!(
            "{name} must be a float64 vector of {len} values (one per output channel), got dtype {} and shape {:?}",
            arr.dtype().str()?,
            arr.shape()
        )));
    }
    let ro: PyReadonlyArrayDyn<'_, f64> = x.extract()?;
    Ok(ro.as_array().iter().copied().collect())
}

/// A layer's weights prepared for the engine (lowered, planned, transformed and
/// packed), kept between `layer_forward` calls that pass it as `cache=`. It holds a
/// copy of the weights and the design it was prepared for, and prepares again
/// whenever a call's weights, design or weight shape differ: it can never give a
/// stale result. Copies (`copy.copy`, `copy.deepcopy`, pickling) are empty caches.
#[pyclass(module = "smtgen._smtgen")]
#[derive(Default)]
struct LayerCache {
    slot: Mutex<Option<Arc<PreparedLayer>>>,
    /// How many times the weights were prepared.
    prepared: Mutex<u64>,
}

#[pymethods]
impl LayerCache {
    #[new]
    fn new() -> Self {
        LayerCache::default()
    }

    /// How many times this cache prepared weights (a call that found them prepared
    /// does not count).
    #[getter]
    fn preparations(&self) -> u64 {
        *self.prepared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the prepared weights (the next call prepares again).
    fn clear(&self) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn __copy__(&self) -> Self {
        LayerCache::default()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        LayerCache::default()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let cls = py.get_type::<LayerCache>();
        Ok((cls, ()).into_pyobject(py)?.into_any())
    }
}

impl LayerCache {
    /// The prepared weights for `mode`, `g` (None: a linear layer) and `wq`: the
    /// cached ones when they match, else `make()`'s, which are then kept.
    fn get(
        &self,
        mode: Mode<'_>,
        g: Option<&ConvGeom>,
        io: (usize, usize),
        wq: &[i8],
        make: impl FnOnce() -> smtgen::Result<PreparedLayer>,
    ) -> smtgen::Result<Arc<PreparedLayer>> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = slot.as_ref() {
            if p.matches(mode, g, io, wq) {
                return Ok(p.clone());
            }
        }
        *slot = None;
        let p = Arc::new(make()?);
        *slot = Some(p.clone());
        *self.prepared.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Ok(p)
    }
}

/// The prepared weights from `cache` when given, else freshly prepared; and the
/// seconds it took.
fn prepared(
    cache: Option<&LayerCache>,
    mode: Mode<'_>,
    g: Option<&ConvGeom>,
    io: (usize, usize),
    wq: &[i8],
    make: impl FnOnce() -> smtgen::Result<PreparedLayer>,
) -> smtgen::Result<(Arc<PreparedLayer>, f64)> {
    let t = std::time::Instant::now();
    let p = match cache {
        Some(c) => c.get(mode, g, io, wq, make)?,
        None => Arc::new(make()?),
    };
    Ok((p, t.elapsed().as_secs_f64()))
}

/// One layer's integer work in one call (docs/numerics.md §8): `x` (float32 or
/// float64; N×C×H×W for a convolution, rows×I for a linear layer) quantized with
/// scale `dx` (round half to even, clamp 0..255; NaN, infinite or negative values
/// raise `ValueError` naming the layer `name`), lowered in the contract's K order
/// inside the engine, multiplied under `design` (`"exact"`: the exact int8 layer)
/// per group, and dequantized (`C · dx · dw[o] + bias[o]`, float64, one rounding to
/// `x`'s dtype) into a new array of `x`'s dtype (N×O×OH×OW or rows×O). `w` is int8,
/// O×C/groups×KH×KW or O×I. `conv` is `None` for a linear layer, else `(stride_h,
/// stride_w, pad_top, pad_bottom, pad_left, pad_right, dilation_h, dilation_w,
/// groups)`. With `times=True` returns `(y, times)`, `times` the seconds per stage.
/// `cache`, a `LayerCache`, keeps the weights prepared between calls (prepared
/// again whenever the weights or the design differ).
#[pyfunction]
#[pyo3(signature = (x, w, dx, dw, bias, design, conv = None, jobs = 0, name = "layer", max_elements = MAX_ELEMENTS, times = false, cache = None))]
#[allow(clippy::too_many_arguments)]
fn layer_forward<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    dx: f64,
    dw: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    design: &Bound<'py, PyAny>,
    conv: Option<Geometry>,
    jobs: i64,
    name: &str,
    max_elements: u64,
    times: bool,
    cache: Option<PyRef<'py, LayerCache>>,
) -> PyResult<Bound<'py, PyAny>> {
    let jobs = jobs_arg(jobs)?;
    let cache: Option<&LayerCache> = cache.as_deref();
    let cfg = if is_exact(design) {
        None
    } else {
        Some(self::design(design, &[])?)
    };
    let mode = cfg.as_ref().map_or(Mode::Exact, Mode::Design);
    let ndim = if conv.is_some() { 4 } else { 2 };
    let what = if conv.is_some() {
        "N x C x H x W activations"
    } else {
        "rows x features activations"
    };
    let wwhat = if conv.is_some() {
        "O x C/groups x KH x KW weights"
    } else {
        "O x I weights"
    };
    let xd = float_operand(x, ndim, what, max_elements)?;
    let (wshape, wd) = operand::<i8>(w, "w", ndim, wwhat, max_elements)?;
    let o = wshape[0];
    let dwv = f64_vector(dw, "dw", o)?;
    let biasv = match bias {
        Some(b) if !b.is_none() => Some(f64_vector(b, "bias", o)?),
        _ => None,
    };
    let dq = Dequant {
        dx,
        dw: &dwv,
        bias: biasv.as_deref(),
    };
    let xshape = match &xd {
        FloatData::F32(s, _) | FloatData::F64(s, _) => s.clone(),
    };
    let wv = wd.slice();
    let mut t = smtgen::layer::LayerTimes::default();
    let out_shape: Vec<usize>;
    let out: Bound<'py, PyAny> = match conv {
        Some((sh, sw, pt, pb, pl, pr, dh, dwl, groups)) => {
            let g = ConvGeom {
                n: xshape[0],
                c: xshape[1],
                h: xshape[2],
                w: xshape[3],
                o,
                kh: wshape[2],
                kw: wshape[3],
                stride: (sh, sw),
                pad: [pt, pb, pl, pr],
                dilation: (dh, dwl),
                groups,
            };
            if groups == 0 || wshape[1] * groups != g.c {
                return Err(PyValueError::new_err(format!(
                    "layer {name:?}: x has {} channels and w {wshape:?} expects {} x groups = {groups}",
                    g.c, wshape[1]
                )));
            }
            g.check(name).map_err(value_err)?;
            let (oh, ow) = g.out_hw();
            out_shape = vec![g.n, o, oh, ow];
            ceiling("the output", &out_shape, max_elements)?;
            let tr = &mut t;
            match &xd {
                FloatData::F32(_, d) => {
                    let xv = d.slice();
                    filled::<f32>(py, &out_shape, |out| {
                        let (p, prep) = prepared(cache, mode, Some(&g), (0, 0), wv, || {
                            PreparedLayer::conv(mode, &g, wv, name, jobs)
                        })?;
                        *tr = conv_forward_prepared(&p, &g, xv, &dq, out, name, jobs)?;
                        tr.prepare = prep;
                        tr.wall += prep;
                        Ok(())
                    })?
                    .into_any()
                }
                FloatData::F64(_, d) => {
                    let xv = d.slice();
                    filled::<f64>(py, &out_shape, |out| {
                        let (p, prep) = prepared(cache, mode, Some(&g), (0, 0), wv, || {
                            PreparedLayer::conv(mode, &g, wv, name, jobs)
                        })?;
                        *tr = conv_forward_prepared(&p, &g, xv, &dq, out, name, jobs)?;
                        tr.prepare = prep;
                        tr.wall += prep;
                        Ok(())
                    })?
                    .into_any()
                }
            }
        }
        None => {
            let (rows, i_f) = (xshape[0], xshape[1]);
            if wshape[1] != i_f {
                return Err(PyValueError::new_err(format!(
                    "layer {name:?}: x has {i_f} features and w {wshape:?} expects {}",
                    wshape[1]
                )));
            }
            out_shape = vec![rows, o];
            ceiling("the output", &out_shape, max_elements)?;
            let dims = (rows, i_f, o);
            let tr = &mut t;
            match &xd {
                FloatData::F32(_, d) => {
                    let xv = d.slice();
                    filled::<f32>(py, &out_shape, |out| {
                        let (p, prep) = prepared(cache, mode, None, (dims.1, dims.2), wv, || {
                            PreparedLayer::linear(mode, (dims.1, dims.2), wv, name, jobs)
                        })?;
                        *tr = linear_forward_prepared(&p, dims.0, xv, &dq, out, name, jobs)?;
                        tr.prepare = prep;
                        tr.wall += prep;
                        Ok(())
                    })?
                    .into_any()
                }
                FloatData::F64(_, d) => {
                    let xv = d.slice();
                    filled::<f64>(py, &out_shape, |out| {
                        let (p, prep) = prepared(cache, mode, None, (dims.1, dims.2), wv, || {
                            PreparedLayer::linear(mode, (dims.1, dims.2), wv, name, jobs)
                        })?;
                        *tr = linear_forward_prepared(&p, dims.0, xv, &dq, out, name, jobs)?;
                        tr.prepare = prep;
                        tr.wall += prep;
                        Ok(())
                    })?
                    .into_any()
                }
            }
        }
    };
    if !times {
        return Ok(out);
    }
    let d = PyDict::new(py);
    d.set_item("prepare", t.prepare)?;
    d.set_item("quantize", t.quantize)?;
    d.set_item("lower", t.lower)?;
    d.set_item("transform", t.transform)?;
    d.set_item("gemm", t.gemm)?;
    d.set_item("dequantize", t.dequantize)?;
    d.set_item("wall", t.wall)?;
    Ok((out, d).into_pyobject(py)?.into_any())
}

/// Prunes float64 weights to 2:4 along the reduction (see `smtgen.prune_2_4`):
/// a 2-D K×N matrix along `axis` (0 by default), or 4-D O×C×KH×KW convolution
/// weights along the lowered K (`k = tap · C + c`; `axis` None or 1). Returns
/// `(pruned copy, number zeroed)`.
#[pyfunction]
#[pyo3(signature = (w, axis = None))]
fn prune_2_4<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
    axis: Option<i64>,
) -> PyResult<(Bound<'py, PyAny>, usize)> {
    let arr = w.downcast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!("w must be a numpy array, got {}", type_name(w)))
    })?;
    let shape = arr.shape().to_vec();
    if !arr.dtype().is_equiv_to(&dtype::<f64>(py)) {
        return Err(PyTypeError::new_err(format!(
            "w must have dtype float64 here, got {}",
            arr.dtype().str()?
        )));
    }
    let ro: PyReadonlyArrayDyn<'py, f64> = w.extract()?;
    // `as_slice` also accepts Fortran order; only C order is the values' order.
    let mut v: Vec<f64> = match ro.as_slice() {
        Ok(s) if ro.is_c_contiguous() => s.to_vec(),
        _ => ro.as_array().iter().copied().collect(),
    };
    let zeroed = match shape.len() {
        2 => {
            let (k0, n0) = (shape[0], shape[1]);
            match axis.unwrap_or(0) {
                0 | -2 => prune_2_4_f64(&mut v, n0, k0, |j, kk| kk * n0 + j),
                1 | -1 => prune_2_4_f64(&mut v, k0, n0, |i, kk| i * n0 + kk),
                a => {
                    return Err(PyValueError::new_err(format!(
                        "axis = {a}: allowed 0 or 1 for a 2-D matrix"
                    )))
                }
            }
        }
        4 => {
            if !matches!(axis, None | Some(1)) {
                return Err(PyValueError::new_err(format!(
                    "axis = {}: allowed 1 (the input channels) or None for 4-D weights",
                    axis.unwrap_or_default()
                )));
            }
            let (c, taps) = (shape[1], shape[2] * shape[3]);
            prune_2_4_f64(&mut v, shape[0], taps * c, |o, kk| {
                let (tap, ch) = (kk / c, kk % c);
                (o * c + ch) * taps + tap
            })
        }
        _ => {
            return Err(PyValueError::new_err(format!(
                "w has shape {shape:?}: allowed a 2-D K x N matrix or 4-D O x C x KH x KW weights"
            )))
        }
    }
    .map_err(value_err)?;
    let out = PyArray1::from_vec(py, v).reshape(shape)?;
    Ok((out.into_any(), zeroed))
}

/// A layer's GEMM operands as the layer op builds them (for statistics): `x`
/// quantized with `dx` and lowered per group; returns a list of `(A, W)` pairs,
/// A uint8 M×K, W int8 K×Og (one pair for a linear layer, `conv=None`).
#[pyfunction]
#[pyo3(signature = (x, w, dx, conv = None, name = "layer", max_elements = MAX_ELEMENTS))]
fn lower<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    dx: f64,
    conv: Option<Geometry>,
    name: &str,
    max_elements: u64,
) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let ndim = if conv.is_some() { 4 } else { 2 };
    let xd = float_operand(x, ndim, "activations", max_elements)?;
    let (ws, wd) = operand::<i8>(w, "w", ndim, "weights", max_elements)?;
    let (xs, xq) = match &xd {
        FloatData::F32(s, d) => {
            let hw: usize = s[2..].iter().product();
            (
                s.clone(),
                smtgen::layer::quantize_nhwc(d.slice(), (s[0], s[1], hw), dx, name),
            )
        }
        FloatData::F64(s, d) => {
            let hw: usize = s[2..].iter().product();
            (
                s.clone(),
                smtgen::layer::quantize_nhwc(d.slice(), (s[0], s[1], hw), dx, name),
            )
        }
    };
    let xq = xq.map_err(value_err)?;
    let wv = wd.slice();
    let mut out = Vec::new();
    match conv {
        None => {
            let (o, i_f) = (ws[0], ws[1]);
            let mut wt = vec![0i8; i_f * o];
            for oo in 0..o {
                for i in 0..i_f {
                    wt[i * o + oo] = wv[oo * i_f + i];
                }
            }
            let a = PyArray1::from_vec(py, xq).reshape([xs[0], xs[1]])?;
            let w = PyArray1::from_vec(py, wt).reshape([i_f, o])?;
            out.push((a.into_any(), w.into_any()));
        }
        Some((sh, sw, pt, pb, pl, pr, dh, dwl, groups)) => {
            let g = ConvGeom {
                n: xs[0],
                c: xs[1],
                h: xs[2],
                w: xs[3],
                o: ws[0],
                kh: ws[2],
                kw: ws[3],
                stride: (sh, sw),
                pad: [pt, pb, pl, pr],
                dilation: (dh, dwl),
                groups,
            };
            g.check(name).map_err(value_err)?;
            ceiling("the lowered A", &[g.m(), g.k()], max_elements)?;
            for gi in 0..groups {
                let a = smtgen::layer::lower_a(&g, &xq, gi);
                let lw = smtgen::layer::lower_weights(&g, wv, gi);
                let a = PyArray1::from_vec(py, a).reshape([g.m(), g.k()])?;
                let w = PyArray1::from_vec(py, lw).reshape([g.k(), g.og()])?;
                out.push((a.into_any(), w.into_any()));
            }
        }
    }
    Ok(out)
}

/// The extension module `smtgen._smtgen`; `smtgen/__init__.py` re-exports it.
#[pymodule]
fn _smtgen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gemm, m)?)?;
    m.add_function(wrap_pyfunction!(layer_forward, m)?)?;
    m.add_class::<LayerCache>()?;
    m.add_function(wrap_pyfunction!(lower, m)?)?;
    m.add_function(wrap_pyfunction!(prune_2_4, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(gemm_reference, m)?)?;
    m.add_function(wrap_pyfunction!(gemm_stats, m)?)?;
    m.add_function(wrap_pyfunction!(cycles, m)?)?;
    m.add_function(wrap_pyfunction!(designs, m)?)?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    Ok(())
}
