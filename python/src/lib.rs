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
use smtgen::config::{design_point, PRESETS};
use smtgen::eval::{evaluate_design, exact_gemm, lower_conv, ConvShape};
use smtgen::Config;

/// The one place a GEMM is computed: `A·W` under `cfg`'s per-cycle rule on the fast
/// engine (bit-exact with the golden model's `gemm_functional`), on `jobs` threads
/// (0 = every core). Every entry point goes through here.
fn run(cfg: &Config, g: &Gemm, jobs: usize) -> Vec<i64> {
    smtgen::engine::gemm(cfg, g, jobs)
}

/// Refuses weights a 2:4-sparse design cannot take (spec §5.1) before any work,
/// naming the column, the group of k and its count; other designs take any weights.
fn two_four(cfg: &Config, g: &Gemm, what: &str) -> PyResult<()> {
    if cfg.pe.datapath().requires_2_4() {
        smtgen::sparse::check_2_4(&g.w, g.k, g.n, what).map_err(value_err)?;
    }
    Ok(())
}

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

/// An operand: a numpy array of rank `ndim` with element type `T` (see [`Operand`]
/// for any other dtype); its shape and its values in C order.
fn operand<T: Operand>(
    x: &Bound<'_, PyAny>,
    name: &str,
    ndim: usize,
    what: &str,
) -> PyResult<(Vec<usize>, Vec<T>)> {
    let arr = numpy_array(x, name, ndim, what)?;
    if !arr.dtype().is_equiv_to(&dtype::<T>(x.py())) {
        return Err(T::wrong_dtype(x, name)?);
    }
    let ro: PyReadonlyArrayDyn<'_, T> = x.extract()?;
    let v = ro.as_array();
    Ok((v.shape().to_vec(), v.iter().copied().collect()))
}

/// A design point from a preset name, a `PRESET+key=value...` string or a dict
/// `{"preset": NAME, "key": value, ...}`, built over `extra` overrides.
fn design(d: &Bound<'_, PyAny>, extra: &[String]) -> PyResult<Config> {
    if let Ok(s) = d.downcast::<PyString>() {
        return design_point(&s.to_cow()?, extra).map_err(value_err);
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
        return design_point(&name, &sets).map_err(value_err);
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

/// Two 2-D operands as a GEMM problem, with the CLI's shape check.
fn gemm_problem(a: &Bound<'_, PyAny>, w: &Bound<'_, PyAny>) -> PyResult<Gemm> {
    let (ashape, a) = operand::<u8>(a, "a", 2, "M x K activations")?;
    let (wshape, w) = operand::<i8>(w, "w", 2, "K x N weights")?;
    if ashape[1] != wshape[0] {
        return Err(PyValueError::new_err(format!(
            "a is {}x{} and w is {}x{}: a's columns must equal w's rows (K)",
            ashape[0], ashape[1], wshape[0], wshape[1]
        )));
    }
    Ok(Gemm {
        m: ashape[0],
        k: ashape[1],
        n: wshape[1],
        a,
        w,
    })
}

/// Two 2-D operands and a design, checked together: the GEMM problem (see
/// [`gemm_problem`]), the design point, and W's 2:4 sparsity where the design needs it.
fn gemm_under(
    a: &Bound<'_, PyAny>,
    w: &Bound<'_, PyAny>,
    design: &Bound<'_, PyAny>,
) -> PyResult<(Gemm, Config)> {
    let g = gemm_problem(a, w)?;
    let cfg = self::design(design, &[])?;
    two_four(&cfg, &g, "w")?;
    Ok((g, cfg))
}

/// A result as numpy: int32 when the design's accumulator is at most 32 bits wide
/// (every value fits), else int64, with the given shape.
fn result<'py>(
    py: Python<'py>,
    c: Vec<i64>,
    shape: &[usize],
    cfg: &Config,
) -> PyResult<Bound<'py, PyAny>> {
    if cfg.pe.acc_width > 32 {
        Ok(PyArray1::from_vec(py, c).reshape(shape)?.into_any())
    } else {
        let c32: Vec<i32> = c.into_iter().map(|v| v as i32).collect();
        let arr: Bound<'py, PyArrayDyn<i32>> = PyArray1::from_vec(py, c32).reshape(shape)?;
        Ok(arr.into_any())
    }
}

/// `C = A·W` under a design: `a` uint8 M×K, `w` int8 K×N; returns int32 M×N (int64
/// when the design's accumulator is wider than 32 bits), bit-exact with
/// `smtgen gemm`.
#[pyfunction]
#[pyo3(signature = (a, w, design, jobs = 0))]
fn gemm<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
    jobs: i64,
) -> PyResult<Bound<'py, PyAny>> {
    let (g, cfg) = gemm_under(a, w, design)?;
    let jobs = jobs_arg(jobs)?;
    let c = py.allow_threads(|| run(&cfg, &g, jobs));
    result(py, c, &[g.m, g.n], &cfg)
}

/// The golden model's GEMM (`gemm_functional`, one PE model per output; about a
/// thousand times slower than [`gemm`]): the reference the tests hold [`gemm`] to.
#[pyfunction]
fn gemm_reference<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let (g, cfg) = gemm_under(a, w, design)?;
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
#[pyo3(signature = (x, w, design, stride = 1, padding = 0, jobs = 0))]
fn conv2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
    stride: i64,
    padding: i64,
    jobs: i64,
) -> PyResult<Bound<'py, PyAny>> {
    let (xs, xv) = operand::<u8>(x, "x", 4, "N x C x H x W activations")?;
    let (ws, wv) = operand::<i8>(w, "w", 4, "O x C x KH x KW weights")?;
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
    let g = lower_conv(&s, &xv, &wv);
    // Lowered, column o is output channel o and k runs tap-major, input-channel-innermost.
    two_four(&cfg, &g, "w (as K x O, k = tap * C + input channel)")?;
    let out = py.allow_threads(|| {
        let c = run(&cfg, &g, jobs);
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
fn gemm_stats<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    design: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let (g, cfg) = gemm_under(a, w, design)?;
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
    let groups = g.groups(cfg.pe.lanes()) as u64;
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
    d.set_item("lanes", cfg.pe.threads)?;
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

/// The extension module `smtgen._smtgen`; `smtgen/__init__.py` re-exports it.
#[pymodule]
fn _smtgen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gemm, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(gemm_reference, m)?)?;
    m.add_function(wrap_pyfunction!(gemm_stats, m)?)?;
    m.add_function(wrap_pyfunction!(cycles, m)?)?;
    m.add_function(wrap_pyfunction!(designs, m)?)?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    Ok(())
}
