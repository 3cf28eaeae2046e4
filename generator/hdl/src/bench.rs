//! Throughput measurements (never asserted by tests): how many lane-MACs per second
//! the golden model sustains per preset on one core, Verilator's array speed,
//! `eval`'s, and the GEMM engine's against a float32 GEMM measured in the same run.

use crate::config::{Design, PRESETS};
use crate::error::Result;
use crate::model::PeModel;
use crate::stimulus::Rng;
use std::time::Instant;

/// One preset's measured model throughput.
#[derive(Debug, Clone)]
pub struct ModelThroughput {
    /// Preset name.
    pub preset: String,
    /// Lane-MACs computed per second, best of the repetitions.
    pub lane_macs_per_s: f64,
    /// Final accumulator (printed so the work cannot be optimized away).
    pub checksum: i64,
}

/// Measures the golden model on `cycles` random cycles (50 % zero activations,
/// full operand ranges) per preset, best of `reps` runs.
pub fn model_throughput(cycles: usize, reps: usize) -> Result<Vec<ModelThroughput>> {
    let mut out = Vec::new();
    for p in PRESETS {
        let cfg = Design::preset(p.name)?;
        let t = cfg.lanes();
        let mut rng = Rng::new(0x5eed);
        let acts: Vec<u8> = (0..cycles * t)
            .map(|_| if rng.chance(0.5) { 0 } else { rng.byte() })
            .collect();
        let wgts: Vec<i8> = (0..cycles * t).map(|_| rng.byte() as i8).collect();
        let mut model = PeModel::new(&cfg);
        let mut best = f64::INFINITY;
        let mut checksum = 0;
        for _ in 0..reps.max(1) {
            model.reset();
            let t0 = Instant::now();
            checksum = model.run(std::hint::black_box(&acts), std::hint::black_box(&wgts));
            best = best.min(t0.elapsed().as_secs_f64());
        }
        out.push(ModelThroughput {
            preset: p.name.to_string(),
            lane_macs_per_s: (cycles * t) as f64 / best,
            checksum,
        });
    }
    Ok(out)
}

/// Verilator simulation speed of one array: streams about `cycles` cycles of
/// back-to-back random tiles (50 % zero activations) through the generated array,
/// one speed build run `repeat` times, and reports the harness's own loop time per
/// run (cycles compared every cycle included) in `runs`. Timing on a shared
/// machine varies from run to run: compare the fastest or the median, not one run.
/// `jobs` is the build's compile jobs ([`crate::tool::jobs`]); the model runs on one.
pub fn array_throughput(
    cfg: &Design,
    cycles: usize,
    repeat: u32,
    jobs: usize,
) -> Result<crate::sim::SimReport> {
    use crate::array::{run_gemm, Gemm};
    let (r, c, t) = (
        cfg.array.rows as usize,
        cfg.array.cols as usize,
        cfg.lanes(),
    );
    let groups = c.max(256);
    let tiles = cycles.div_ceil(groups).max(1);
    let mut rng = Rng::new(0xBE7C);
    // One GEMM whose N spans `tiles` column tiles.
    let g = Gemm::random(r, groups * t, c * tiles, 0.5, &mut rng);
    let run = run_gemm(cfg, &g, 0.0, &mut rng);
    let files = crate::rtl::generate_array(cfg)?;
    // SMTGEN_KEEP_DIR keeps the build (model, harness, trace) for inspection.
    let opts = crate::sim::SimOptions {
        keep_dir: std::env::var_os("SMTGEN_KEEP_DIR").map(std::path::PathBuf::from),
        fast: true,
        repeat,
        jobs,
        ..Default::default()
    };
    crate::sim::Simulator::Verilator.array(cfg, &files, &run, 0xBE7C, &opts)
}

/// Evaluation throughput per preset: MACs per second of `eval` on a synthetic
/// ReLU layer of `m`×`k`×`n` (50 % zero activations), all cores.
pub fn eval_throughput(m: usize, k: usize, n: usize) -> Result<Vec<(String, f64)>> {
    use crate::eval::{evaluate_design, exact_gemm, synthetic, Distribution};
    let (g, _) = synthetic(m, k, n, Distribution::Relu, 0.5, 1)?;
    let exact = exact_gemm(&g);
    let mut out = Vec::new();
    for p in PRESETS {
        let cfg = Design::preset(p.name)?;
        let t0 = Instant::now();
        let _ = evaluate_design(&cfg, &g, &exact, &|| {});
        out.push((
            p.name.to_string(),
            (m * k * n) as f64 / t0.elapsed().as_secs_f64(),
        ));
    }
    Ok(out)
}

/// One design's engine throughput on one GEMM shape.
#[derive(Debug, Clone)]
pub struct EngineThroughput {
    /// Design name (as given).
    pub design: String,
    /// Reduction indices of the transformed GEMM over K (the engine's extra work).
    pub k_expansion: f64,
    /// MACs (M·N·K) per second on one thread, best of the repetitions.
    pub one_core: f64,
    /// MACs per CPU second on one thread (NaN where the platform does not tell).
    pub one_core_cpu: f64,
    /// MACs per second on `jobs` threads, best of the repetitions.
    pub all_cores: f64,
}

/// The float32 reference and every design's engine on one shape.
#[derive(Debug, Clone)]
pub struct GemmBench {
    /// M, K, N.
    pub shape: (usize, usize, usize),
    /// float32 GEMM (`matrixmultiply::sgemm`, one thread) MACs per second.
    pub float32: f64,
    /// The same per CPU second.
    pub float32_cpu: f64,
    /// Per design.
    pub designs: Vec<EngineThroughput>,
    /// The engine kernel used.
    pub kernel: crate::engine::Kernel,
    /// The kernel alone on data that stays in L1 (8×1024 by 1024×64, repeated):
    /// MACs per second, the ceiling of this kernel on this core.
    pub kernel_peak: f64,
}

/// The exact kernel's throughput on one thread with everything in L1: 8 rows of
/// A (1024 wide) against 64 packed columns, 2000 times per run, best of `reps`.
pub fn kernel_peak(kernel: crate::engine::Kernel, reps: usize) -> f64 {
    use crate::engine::kernel::PackedW;
    let (m, k, n, times) = (8usize, 1024usize, 64usize, 2000usize);
    let w: Vec<i8> = (0..k * n).map(|i| (i % 251) as u8 as i8).collect();
    let a: Vec<u8> = (0..m * k).map(|i| (i % 253) as u8).collect();
    let p = PackedW::new(kernel, &w, k, n);
    let mut out = vec![0i64; m * n];
    let (t, _) = best_of(reps, || {
        for _ in 0..times {
            p.gemm_rows(std::hint::black_box(&a), m, &mut out);
        }
        std::hint::black_box(&out);
    });
    (m * k * n * times) as f64 / t
}

/// CPU seconds this process has used (all threads), where the platform tells.
fn process_cpu_s() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec into `ts`.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Best wall time and best process CPU time of `reps` runs of `f` (CPU time is
/// what a run costs when other processes share the cores; NaN where unknown).
fn best_of(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..reps.max(1) {
        let c0 = process_cpu_s();
        let t0 = Instant::now();
        f();
        wall = wall.min(t0.elapsed().as_secs_f64());
        cpu = match (c0, process_cpu_s()) {
            (Some(a), Some(b)) => cpu.min(b - a),
            _ => f64::NAN,
        };
    }
    (wall, cpu)
}

/// Measures, in one run on the same operands (a synthetic ReLU layer: half the
/// activations zero, Gaussian weights, quantized as `eval` does), a float32 GEMM on
/// one thread and each design's engine GEMM on one thread and on `jobs` threads
/// (0: all cores), best of `reps`.
pub fn gemm_throughput(
    shape: (usize, usize, usize),
    designs: &[(String, Design)],
    jobs: usize,
    reps: usize,
) -> Result<GemmBench> {
    use crate::engine::{gemm_with, k_expansion, Kernel};
    let (m, k, n) = shape;
    let (g, _) = crate::eval::synthetic(m, k, n, crate::eval::Distribution::Relu, 0.5, 7)?;
    let af: Vec<f32> = g.a.iter().map(|&x| f32::from(x)).collect();
    let wf: Vec<f32> = g.w.iter().map(|&x| f32::from(x)).collect();
    let mut cf = vec![0f32; m * n];
    let macs = (m * k * n) as f64;
    let (t, tc) = best_of(reps, || {
        // SAFETY: the slices hold m×k, k×n and m×n elements, row-major strides as given.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                af.as_ptr(),
                k as isize,
                1,
                wf.as_ptr(),
                n as isize,
                1,
                0.0,
                cf.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        std::hint::black_box(&cf);
    });
    let kernel = Kernel::from_env()?;
    let mut out = Vec::new();
    for (name, cfg) in designs {
        let (one, one_cpu) = best_of(reps, || {
            std::hint::black_box(gemm_with(cfg, &g, 1, kernel, &|_| {}));
        });
        let (all, _) = best_of(reps, || {
            std::hint::black_box(gemm_with(cfg, &g, jobs, kernel, &|_| {}));
        });
        out.push(EngineThroughput {
            design: name.clone(),
            k_expansion: k_expansion(cfg, &g),
            one_core: macs / one,
            one_core_cpu: macs / one_cpu,
            all_cores: macs / all,
        });
    }
    Ok(GemmBench {
        shape,
        float32: macs / t,
        float32_cpu: macs / tc,
        designs: out,
        kernel,
        kernel_peak: kernel_peak(kernel, reps),
    })
}
