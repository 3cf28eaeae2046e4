//! The engine over borrowed operands: A read in place or produced row by row (a
//! convolution's lowering fused into the transform of A, so the im2col matrix is
//! never stored whole), W borrowed, and each finished block of rows handed to a sink
//! (the caller writes it where it belongs: an int32 result, a dequantized NCHW
//! float tensor). The arithmetic is [`super::gemm_with`]'s: the same plans, the
//! same kernels, the same per-block code ([`compute_block`]).

use super::{col_blocks_of, row_block, run_pool, ColBlock, Kernel};
use crate::config::Design;
use crate::model::wrap;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Where the engine reads row `i` of A (K activations).
pub enum Rows<'a> {
    /// A row-major M×K matrix, read in place.
    Slice(&'a [u8]),
    /// A function that writes row `i` into the K-byte buffer it is given (every
    /// byte: the buffer holds the previous row's values).
    Fill(&'a (dyn Fn(usize, &mut [u8]) + Sync)),
}

/// A block's result: `sink(r0, rows, c)` with `c` the `rows`×N values (row-major,
/// wrapped to the accumulator width) of rows `r0..r0 + rows` of C. Called once per
/// block, from several threads at once; blocks never overlap.
pub type Sink<'a> = &'a (dyn Fn(usize, usize, &[i64]) + Sync);

/// CPU time per stage, summed over threads (nanoseconds): lowering (producing the
/// rows of A), the design's transform of A, the exact GEMM, and the sink
/// (dequantization, or the copy into the result).
#[derive(Default, Debug)]
pub struct StageClock {
    /// Producing rows of A ([`Rows::Fill`]).
    pub lower: AtomicU64,
    /// The transform of A into A′.
    pub transform: AtomicU64,
    /// The exact integer GEMM.
    pub gemm: AtomicU64,
    /// The sink.
    pub sink: AtomicU64,
}

impl StageClock {
    fn add(field: &AtomicU64, since: Instant) -> Instant {
        let now = Instant::now();
        field.fetch_add((now - since).as_nanos() as u64, Ordering::Relaxed);
        now
    }
}

/// Per-thread buffers of [`compute_block`].
#[derive(Default)]
pub(crate) struct Bufs {
    abuf: Vec<u8>,
    scratch: Vec<u8>,
    cbuf: Vec<i64>,
    rowbuf: Vec<u8>,
    gm: Vec<u32>,
    corr: Vec<i32>,
}

/// Rows `r0..r0 + rows` of C into `cblk` (`rows`×N): every column block's
/// transform of A and exact GEMM, then the accumulator's wrap.
#[allow(clippy::too_many_arguments)]
pub(crate) fn compute_block(
    blocks: &[ColBlock],
    a: &Rows<'_>,
    k: usize,
    n: usize,
    kernel: Kernel,
    acc_width: u32,
    r0: usize,
    rows: usize,
    bufs: &mut Bufs,
    cblk: &mut [i64],
    clock: Option<&StageClock>,
) {
    // Narrow weights take rows unpadded (every block of one GEMM is alike).
    let mr = blocks.first().map_or(kernel.mr(), |b| b.packed.mr());
    let rows_p = rows.div_ceil(mr) * mr;
    let Bufs {
        abuf,
        scratch,
        cbuf,
        rowbuf,
        gm,
        corr,
    } = bufs;
    let mut t = Instant::now();
    // A lowered block is produced once and shared by the column blocks.
    let mut lowered: Option<usize> = None;
    for b in blocks {
        let kp = b.packed.kp();
        let identity = b.plan.is_identity(k);
        match a {
            Rows::Slice(s) if b.width == n && kp == k && rows == rows_p && identity => {
                // A is its own transform and already has the kernel's layout.
                b.packed.gemm_rows(&s[r0 * k..(r0 + rows) * k], rows, cblk);
                if let Some(rare) = &b.rare {
                    let row = |r: usize| &s[(r0 + r) * k..(r0 + r + 1) * k];
                    rare.add(rows, &row, cblk, n, b.j0, gm, corr);
                }
                if let Some(c) = clock {
                    t = StageClock::add(&c.gemm, t);
                }
                continue;
            }
            _ => {}
        }
        // Rows past `rows` and the columns past K' must be zero; the transform
        // overwrites everything else.
        abuf.resize(rows_p * kp, 0);
        abuf[rows * kp..rows_p * kp].fill(0);
        match a {
            Rows::Fill(f) if identity => {
                // The lowering writes straight into the kernel's layout.
                for r in 0..rows {
                    abuf[r * kp + k..(r + 1) * kp].fill(0);
                    f(r0 + r, &mut abuf[r * kp..r * kp + k]);
                }
                if let Some(c) = clock {
                    t = StageClock::add(&c.lower, t);
                }
            }
            Rows::Fill(f) => {
                if lowered != Some(r0) {
                    rowbuf.resize(rows * k, 0);
                    for r in 0..rows {
                        f(r0 + r, &mut rowbuf[r * k..(r + 1) * k]);
                    }
                    lowered = Some(r0);
                    if let Some(c) = clock {
                        t = StageClock::add(&c.lower, t);
                    }
                }
                for r in 0..rows {
                    abuf[r * kp + b.plan.kprime()..(r + 1) * kp].fill(0);
                    b.plan.transform_row(
                        &rowbuf[r * k..(r + 1) * k],
                        &mut abuf[r * kp..(r + 1) * kp],
                        scratch,
                    );
                }
                if let Some(c) = clock {
                    t = StageClock::add(&c.transform, t);
                }
            }
            Rows::Slice(s) => {
                for r in 0..rows {
                    abuf[r * kp + b.plan.kprime()..(r + 1) * kp].fill(0);
                    let i = r0 + r;
                    b.plan.transform_row(
                        &s[i * k..(i + 1) * k],
                        &mut abuf[r * kp..(r + 1) * kp],
                        scratch,
                    );
                }
                if let Some(c) = clock {
                    t = StageClock::add(&c.transform, t);
                }
            }
        }
        if b.width == n {
            b.packed.gemm_rows(abuf, rows, cblk);
        } else {
            cbuf.resize(rows * b.width, 0);
            b.packed.gemm_rows(abuf, rows, cbuf);
            for r in 0..rows {
                cblk[r * n + b.j0..r * n + b.j0 + b.width]
                    .copy_from_slice(&cbuf[r * b.width..(r + 1) * b.width]);
            }
        }
        if let Some(rare) = &b.rare {
            // The rows of A as they were before the transform.
            let (ab, rb): (&[u8], &[u8]) = (abuf, rowbuf);
            let row = |r: usize| -> &[u8] {
                match a {
                    Rows::Slice(s) => &s[(r0 + r) * k..(r0 + r + 1) * k],
                    Rows::Fill(_) if identity => &ab[r * kp..r * kp + k],
                    Rows::Fill(_) => &rb[r * k..(r + 1) * k],
                }
            };
            rare.add(rows, &row, cblk, n, b.j0, gm, corr);
        }
        if let Some(c) = clock {
            t = StageClock::add(&c.gemm, t);
        }
    }
    // The accumulator's wrap, once on the exact total (it is modular).
    if acc_width < 64 {
        cblk.iter_mut().for_each(|x| *x = wrap(*x, acc_width));
    }
}

/// A K×N weight matrix prepared for the engine under one design: its column
/// blocks' plans and packed transformed weights, built once ([`PreparedW::new`])
/// and reused by every [`gemm_prepared`] call on the same weights and design.
pub struct PreparedW {
    pub(crate) blocks: Vec<ColBlock>,
    pub(crate) kernel: Kernel,
    pub(crate) k: usize,
    pub(crate) n: usize,
    pub(crate) acc_width: u32,
}

impl PreparedW {
    /// Plans and packs `w` (K×N, row-major) under `cfg`'s design (`exact`: the exact
    /// integer GEMM with no wrap; `cfg` must then be a design whose plan is the
    /// identity, such as the baseline preset) for the kernel [`super::env_kernel`]
    /// names. `jobs == 0`: every core.
    pub fn new(cfg: &Design, exact: bool, w: &[i8], (k, n): (usize, usize), jobs: usize) -> Self {
        assert_eq!(w.len(), k * n, "W must hold K x N values");
        let kernel = super::env_kernel();
        let blocks = run_pool(jobs, || col_blocks_of(cfg, w, k, n, kernel));
        PreparedW {
            blocks,
            kernel,
            k,
            n,
            acc_width: if exact { 64 } else { cfg.pe.acc_width },
        }
    }

    /// The kernel the weights are packed for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }
}

/// `C = A·W` under `cfg`'s design (M×K·K×N, W row-major and borrowed), bit-exact
/// with [`super::gemm`], each block of rows of C handed to `sink` instead of a
/// result matrix. `exact`: the exact integer GEMM with no wrap at all (the int8
/// reference; `cfg` must then be a design whose plan is the identity, such as the
/// baseline preset). `jobs == 0`: every core. `clock`, when given, gathers the CPU
/// time of each stage.
#[allow(clippy::too_many_arguments)]
pub fn gemm_rows(
    cfg: &Design,
    exact: bool,
    (m, k, n): (usize, usize, usize),
    a: Rows<'_>,
    w: &[i8],
    jobs: usize,
    sink: Sink<'_>,
    clock: Option<&StageClock>,
) {
    assert_eq!(w.len(), k * n, "W must hold K x N values");
    if m == 0 || n == 0 {
        if let Rows::Slice(s) = a {
            assert_eq!(s.len(), m * k, "A must hold M x K values");
        }
        return;
    }
    let t = Instant::now();
    let p = PreparedW::new(cfg, exact, w, (k, n), jobs);
    if let Some(c) = clock {
        StageClock::add(&c.transform, t);
    }
    gemm_prepared(&p, m, a, jobs, sink, clock);
}

/// [`gemm_rows`] on weights prepared beforehand: M rows of A times the prepared
/// K×N weights, each block of rows of C handed to `sink`.
pub fn gemm_prepared(
    p: &PreparedW,
    m: usize,
    a: Rows<'_>,
    jobs: usize,
    sink: Sink<'_>,
    clock: Option<&StageClock>,
) {
    let (k, n) = (p.k, p.n);
    if let Rows::Slice(s) = a {
        assert_eq!(s.len(), m * k, "A must hold M x K values");
    }
    if m == 0 || n == 0 {
        return;
    }
    run_pool(jobs, || {
        let mc = row_block(m, p.kernel);
        (0..m.div_ceil(mc)).into_par_iter().for_each_init(
            || (Bufs::default(), Vec::new()),
            |(bufs, cblk), bi| {
                let r0 = bi * mc;
                let rows = mc.min(m - r0);
                cblk.resize(rows * n, 0);
                compute_block(
                    &p.blocks,
                    &a,
                    k,
                    n,
                    p.kernel,
                    p.acc_width,
                    r0,
                    rows,
                    bufs,
                    cblk,
                    clock,
                );
                let t = Instant::now();
                sink(r0, rows, cblk);
                if let Some(c) = clock {
                    StageClock::add(&c.sink, t);
                }
            },
        );
    });
}
