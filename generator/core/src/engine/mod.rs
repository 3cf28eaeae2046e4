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
pub(crate) mod rare;
pub mod rows;

pub use kernel::{Kernel, KERNEL_ENV};
pub use plan::Plan;

use crate::array::Gemm;
use crate::config::Design;
use crate::model::MAX_LANES;
use rayon::prelude::*;

/// C = A·W under cfg's design, bit-exact: returns exactly what
/// [`crate::array::gemm_functional`] returns (M×N row-major, `acc_width` wrap,
/// sign-extended to i64). `jobs == 0`: all available cores. The kernel is the
/// fastest this machine runs, or the one [`KERNEL_ENV`] names; an invalid value of
/// that variable is reported on stderr and the fastest kernel used (the command
/// line rejects it before anything runs).
pub fn gemm(cfg: &Design, g: &Gemm, jobs: usize) -> Vec<i64> {
    gemm_with(cfg, g, jobs, env_kernel(), &|_| {})
}

/// The kernel [`KERNEL_ENV`] names, or the fastest available; an invalid value is
/// reported on stderr (naming the variable, the value and what is allowed) and the
/// fastest kernel used. Commands call [`Kernel::from_env`] first and stop on it.
pub fn env_kernel() -> Kernel {
    Kernel::from_env().unwrap_or_else(|e| {
        eprintln!("smtgen: {e}; using {}", Kernel::best());
        Kernel::best()
    })
}

/// Columns per weight block when the rule depends on weight zero patterns: each
/// block gets its own plan, so a class costs reduction indices only in the groups
/// where one of these columns has it.
const COL_BLOCK: usize = 64;

/// One block of columns of W with its plan and packed transformed weights, and
/// its rare weight patterns when they are computed per pair.
pub(crate) struct ColBlock {
    j0: usize,
    width: usize,
    plan: Plan,
    packed: kernel::PackedW,
    rare: Option<rare::Rare>,
}

/// The plans of `g`'s column blocks (one block unless the rule depends on weight
/// zero patterns and N exceeds [`COL_BLOCK`]).
fn col_blocks(cfg: &Design, g: &Gemm, kernel: Kernel) -> Vec<ColBlock> {
    col_blocks_of(cfg, &g.w, g.k, g.n, kernel)
}

/// The work of a rare (group, column) pair computed per pair, in multiply-adds
/// of the transformed GEMM: what one costs against the dense blocks of A' it
/// replaces. Measured on ResNet-18, two threads: sysmt2's dense blocks cost about 60
/// multiply-adds per rare pair and the per-pair path ran its GEMM and transform in
/// 17 instead of 21 ms of CPU per image; sysmt4's about 340, 26 instead of 73.
const RARE_MACS: usize = 40;

/// [`col_blocks`] for a K×N weight matrix alone: the plan's dense blocks (in
/// blocks of [`COL_BLOCK`] columns when the rule depends on weight zero patterns),
/// or, where the rare weight patterns' pairs cost less one by one
/// ([`rare::Rare`], [`RARE_MACS`] each), one block of the dense class plus them.
fn col_blocks_of(cfg: &Design, gw: &[i8], gk: usize, gn: usize, kernel: Kernel) -> Vec<ColBlock> {
    let build = |j0: usize, width: usize, allow_rare: bool| -> ColBlock {
        let sub: Vec<i8>;
        let w: &[i8] = if width == gn {
            gw
        } else {
            sub = (0..gk)
                .flat_map(|k| gw[k * gn + j0..k * gn + j0 + width].iter().copied())
                .collect();
            &sub
        };
        let wv = plan::Weights { k: gk, n: width, w };
        let mut plan = Plan::for_weights(cfg, &wv);
        // The vector transform goes with the vector kernel, so forcing the
        // portable kernel tests the portable transform too.
        plan.use_simd(kernel == Kernel::Avx512);
        let rare = allow_rare
            .then(|| rare::Rare::new(&plan, &wv, kernel == Kernel::Avx512))
            .flatten();
        if rare.is_some() {
            plan.keep_dense_class();
        }
        let packed = plan.packed_weights(&wv, kernel);
        ColBlock {
            j0,
            width,
            plan,
            packed,
            rare,
        }
    };
    let dense_blocks = |whole: Option<ColBlock>| -> Vec<ColBlock> {
        let whole = whole.unwrap_or_else(|| build(0, gn, false));
        if whole.plan.classes() == 1 || gn <= COL_BLOCK {
            return vec![whole];
        }
        (0..gn)
            .step_by(COL_BLOCK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|j0| build(j0, COL_BLOCK.min(gn - j0), false))
            .collect()
    };
    let whole = build(0, gn, true);
    let Some(pairs) = whole.rare.as_ref().map(|r| r.len()) else {
        return dense_blocks(Some(whole));
    };
    let dense = dense_blocks(None);
    let work = |b: &ColBlock| b.plan.kprime() * b.width;
    if work(&whole) + RARE_MACS * pairs <= dense.iter().map(work).sum::<usize>() {
        vec![whole]
    } else {
        dense
    }
}

/// How many (group, column) pairs of `g`'s weights the engine computes one by one
/// on `kernel` (rare weight zero patterns, see [`rare`]); 0 when it runs the
/// plan's dense blocks for every class.
pub fn rare_pairs(cfg: &Design, g: &Gemm, kernel: Kernel) -> usize {
    col_blocks(cfg, g, kernel)
        .iter()
        .map(|b| b.rare.as_ref().map_or(0, |r| r.len()))
        .sum()
}

/// Reduction indices of the transformed GEMM over K, averaged over the column
/// blocks (the engine's work relative to one exact GEMM); the rare weight patterns
/// computed per pair count their T lanes each.
pub fn k_expansion(cfg: &Design, g: &Gemm) -> f64 {
    let blocks = col_blocks(cfg, g, Kernel::Portable);
    let sum: f64 = blocks
        .iter()
        .map(|b| {
            let rare = b.rare.as_ref().map_or(0, |r| r.len() * cfg.lanes());
            (b.plan.kprime() * b.width + rare) as f64
        })
        .sum();
    sum / (g.n.max(1) * g.k.max(1)) as f64
}

/// [`gemm`] on a chosen kernel. `done(rows)` is called as blocks of rows finish
/// (for a progress bar). The result does not depend on `jobs` or `kernel`.
pub fn gemm_with(
    cfg: &Design,
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
    // Threads never outnumber the rows (the unit the pool splits).
    run_pool(crate::guard::threads_for(jobs, g.m), || {
        let blocks = col_blocks(cfg, g, kernel);
        exact_gemm_blocks(&blocks, g, kernel, cfg.pe.acc_width, done)
    })
}

/// Runs `f` on a pool of `jobs` threads (0: all cores). Pools are kept per thread
/// count, so repeated calls do not start threads again.
pub(crate) fn run_pool<R: Send>(jobs: usize, f: impl FnOnce() -> R + Send) -> R {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let pool = {
        let mut pools = POOLS
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match pools.get(&jobs) {
            Some(p) => Some(p.clone()),
            None => rayon::ThreadPoolBuilder::new()
                .num_threads(jobs)
                .build()
                .ok()
                .map(|p| {
                    let p = Arc::new(p);
                    pools.insert(jobs, p.clone());
                    p
                }),
        }
    };
    match pool {
        Some(p) => p.install(f),
        // A pool that cannot start (no threads left) still computes, on this thread.
        None => f(),
    }
}

/// The exact GEMMs of the column blocks' transformed operands, rows in parallel.
fn exact_gemm_blocks(
    blocks: &[ColBlock],
    g: &Gemm,
    kernel: Kernel,
    acc_width: u32,
    done: &(dyn Fn(usize) + Sync),
) -> Vec<i64> {
    let n = g.n;
    let mut c = vec![0i64; g.m * n];
    if g.m == 0 || n == 0 {
        return c;
    }
    let mc = row_block(g.m, kernel);
    let a = rows::Rows::Slice(&g.a);
    c.par_chunks_mut(mc * n)
        .enumerate()
        .for_each_init(rows::Bufs::default, |bufs, (bi, cblk)| {
            let r0 = bi * mc;
            let rows = cblk.len() / n;
            rows::compute_block(
                blocks, &a, g.k, n, kernel, acc_width, r0, rows, bufs, cblk, None,
            );
            done(rows);
        });
    c
}

/// Rows of A per parallel block: enough for every thread to stay busy, large
/// enough to amortize, a multiple of the kernel's micro-tile rows.
fn row_block(m: usize, kernel: Kernel) -> usize {
    let mr = kernel.mr();
    let threads = rayon::current_num_threads().max(1);
    (m.div_ceil(threads * 8)).clamp(mr, 256).div_ceil(mr) * mr
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
pub fn lane_stats(cfg: &Design, g: &Gemm, jobs: usize) -> LaneStats {
    let t = cfg.lanes();
    let groups = g.groups(t);
    let pats = 1usize << t;
    let (on, red) = plan::cycle_counts(cfg);
    let pattern = |vals: &mut dyn Iterator<Item = bool>| {
        vals.enumerate()
            .fold(0usize, |m, (l, nz)| m | (usize::from(nz) << l))
    };
    run_pool(crate::guard::threads_for(jobs, g.m.max(g.n)), || {
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
