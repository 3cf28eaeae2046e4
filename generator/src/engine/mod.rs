//! The GEMM engine: `C = A·W` under any design point, bit-exact to the golden model
//! ([`crate::array::gemm_functional`]), at the speed of an exact integer GEMM.
//!
//! Every design's per-cycle rule (spec §5) is rewritten as one exact u8 × s8 GEMM
//! over transformed operands (see [`plan`]): each lane's product is
//! `f(a) · g(w)` where `f` is the identity or a window table (u8 → u8) and `g` the
//! identity or `nib4` (s8 → s8), and which `f` and `g` apply depends only on the
//! group's activation zero pattern and its weight zero pattern. Grouping the
//! (group, column) pairs by their weight zero pattern ("class") gives one block of
//! reduction indices per class and weight transform; the blocks are concatenated
//! along K and run through one exact kernel ([`kernel`]). The accumulator's
//! per-cycle wrap is modular, so wrapping the exact total once at the end equals
//! it. The statistics `eval` reports are counted from the zero patterns alone
//! ([`lane_stats`]).

pub mod kernel;
pub mod plan;

pub use kernel::{Kernel, KERNEL_ENV};
pub use plan::Plan;

use crate::array::Gemm;
use crate::config::Config;
use crate::model::{wrap, MAX_LANES};
use rayon::prelude::*;

/// C = A·W under cfg's design, bit-exact: returns exactly what
/// [`crate::array::gemm_functional`] returns (M×N row-major, `acc_width` wrap,
/// sign-extended to i64). `jobs == 0`: all available cores. The kernel is the
/// fastest this machine runs, or the one [`KERNEL_ENV`] names; an invalid value of
/// that variable is reported on stderr and the fastest kernel used (the command
/// line rejects it before anything runs).
pub fn gemm(cfg: &Config, g: &Gemm, jobs: usize) -> Vec<i64> {
    let kernel = Kernel::from_env().unwrap_or_else(|e| {
        eprintln!("smtgen: {e}; using {}", Kernel::best());
        Kernel::best()
    });
    gemm_with(cfg, g, jobs, kernel, &|_| {})
}

/// [`gemm`] on a chosen kernel. `done(rows)` is called as blocks of rows finish
/// (for a progress bar). The result does not depend on `jobs` or `kernel`.
pub fn gemm_with(
    cfg: &Config,
    g: &Gemm,
    jobs: usize,
    kernel: Kernel,
    done: &(dyn Fn(usize) + Sync),
) -> Vec<i64> {
    let kernel = if kernel.available() {
        kernel
    } else {
        Kernel::Portable
    };
    let mut c = run_pool(jobs, || {
        let plan = Plan::new(&cfg.pe, g);
        exact_gemm_planned(&plan, g, kernel, done)
    });
    let bits = cfg.pe.acc_width;
    if bits < 64 {
        c.iter_mut().for_each(|x| *x = wrap(*x, bits));
    }
    c
}

/// Runs `f` on a pool of `jobs` threads (0: all cores).
pub(crate) fn run_pool<R: Send>(jobs: usize, f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool.install(f),
        // A pool that cannot start (no threads left) still computes, on this thread.
        Err(_) => f(),
    }
}

/// The exact GEMM of the planned transformed operands, rows in parallel.
fn exact_gemm_planned(
    plan: &Plan,
    g: &Gemm,
    kernel: Kernel,
    done: &(dyn Fn(usize) + Sync),
) -> Vec<i64> {
    let n = g.n;
    let mut c = vec![0i64; g.m * n];
    if g.m == 0 || n == 0 {
        return c;
    }
    let wp = plan.packed_weights(g, kernel);
    let kp = wp.kp();
    let mr = kernel.mr();
    // Blocks of rows: enough for every thread to stay busy, large enough to amortize.
    let threads = rayon::current_num_threads().max(1);
    let mc = (g.m.div_ceil(threads * 8)).clamp(mr, 256).div_ceil(mr) * mr;
    c.par_chunks_mut(mc * n).enumerate().for_each_init(
        Vec::new,
        |abuf: &mut Vec<u8>, (bi, cblk)| {
            let r0 = bi * mc;
            let rows = cblk.len() / n;
            let rows_p = rows.div_ceil(mr) * mr;
            abuf.clear();
            abuf.resize(rows_p * kp, 0);
            for r in 0..rows {
                let i = r0 + r;
                plan.transform_row(
                    &g.a[i * g.k..(i + 1) * g.k],
                    &mut abuf[r * kp..(r + 1) * kp],
                );
            }
            wp.gemm_rows(abuf, rows, cblk);
            done(rows);
        },
    );
    c
}

/// Per-cycle lane statistics of a design on a GEMM, as `eval` reports them: PE
/// cycles (one per output and group, padding included) by active-lane count, and
/// lane totals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaneStats {
    /// PE cycles with 0, 1, ..., T active lanes (index = count).
    pub hist: [u64; MAX_LANES + 1],
    /// Idle lane slots (T per cycle minus the active ones).
    pub idle: u64,
    /// Active lane slots.
    pub active: u64,
    /// Active lanes whose product went through a window or nibble.
    pub reduced: u64,
}

/// Counts [`LaneStats`] from the zero patterns alone: per group, how many rows of A
/// have each activation pattern and how many columns of W each weight pattern;
/// every (row, column) pair of patterns is one cycle whose counts the PE rule fixes.
pub fn lane_stats(cfg: &Config, g: &Gemm, jobs: usize) -> LaneStats {
    let t = cfg.pe.lanes();
    let groups = g.groups(t);
    let pats = 1usize << t;
    let (on, red) = plan::cycle_counts(&cfg.pe);
    let pattern = |vals: &mut dyn Iterator<Item = bool>| {
        vals.enumerate()
            .fold(0usize, |m, (l, nz)| m | (usize::from(nz) << l))
    };
    run_pool(jobs, || {
        // Per group, rows of A by activation pattern (rows in parallel blocks).
        let ca = (0..g.m)
            .into_par_iter()
            .fold(
                || vec![[0u64; 16]; groups],
                |mut acc, i| {
                    let row = &g.a[i * g.k..(i + 1) * g.k];
                    for (gi, cnt) in acc.iter_mut().enumerate() {
                        let lo = (gi * t).min(g.k);
                        let hi = (gi * t + t).min(g.k);
                        cnt[pattern(&mut row[lo..hi].iter().map(|&x| x != 0))] += 1;
                    }
                    acc
                },
            )
            .reduce(
                || vec![[0u64; 16]; groups],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(&b) {
                        for (p, q) in x.iter_mut().zip(y) {
                            *p += q;
                        }
                    }
                    a
                },
            );
        let mut s = LaneStats::default();
        for (gi, cag) in ca.iter().enumerate() {
            let mut cw = [0u64; 16];
            for j in 0..g.n {
                let lo = (gi * t).min(g.k);
                let hi = (gi * t + t).min(g.k);
                cw[pattern(&mut (lo..hi).map(|k| g.w[k * g.n + j] != 0))] += 1;
            }
            for ma in 0..pats {
                if cag[ma] == 0 {
                    continue;
                }
                for mw in 0..pats {
                    let cnt = cag[ma] * cw[mw];
                    if cnt == 0 {
                        continue;
                    }
                    let n_on = on[ma][mw] as usize;
                    s.hist[n_on] += cnt;
                    s.active += cnt * n_on as u64;
                    s.idle += cnt * (t - n_on) as u64;
                    s.reduced += cnt * u64::from(red[ma][mw]);
                }
            }
        }
        s
    })
}
