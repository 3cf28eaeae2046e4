//! Streaming a tiled GEMM through the array model: the problem type, tiling and
//! padding to whole lane groups, back-to-back and idle-cycle streams, a stream with
//! reset held mid-way, and the functional GEMM the streams are checked against.

use super::{ArrayInput, ArrayModel, ArrayOutput};
use crate::config::Design;
use crate::model::PeModel;
use crate::stimulus::Rng;

/// A GEMM problem: `C[M×N] = A[M×K] · W[K×N]`, row-major operands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gemm {
    /// Rows of A and C.
    pub m: usize,
    /// Reduction length.
    pub k: usize,
    /// Columns of W and C.
    pub n: usize,
    /// A, M×K, row-major.
    pub a: Vec<u8>,
    /// W, K×N, row-major.
    pub w: Vec<i8>,
}

impl Gemm {
    /// Groups per tile: K padded with zeros to a multiple of T, divided by T.
    pub fn groups(&self, lanes: usize) -> usize {
        self.k.div_ceil(lanes).max(1)
    }

    /// Tiles on an R×C array.
    pub fn tiles(&self, rows: usize, cols: usize) -> usize {
        self.m.div_ceil(rows) * self.n.div_ceil(cols)
    }

    /// W transposed to column-major with each column zero-padded to `groups(t)·t`
    /// reduction indices, so output column j's weights are one contiguous slice.
    pub fn padded_columns(&self, t: usize) -> (Vec<i8>, usize) {
        let kp = self.groups(t) * t;
        let mut wt = vec![0i8; self.n * kp];
        for k in 0..self.k {
            for j in 0..self.n {
                wt[j * kp + k] = self.w[k * self.n + j];
            }
        }
        (wt, kp)
    }

    /// A random problem with activations zero with probability `zero`.
    pub fn random(m: usize, k: usize, n: usize, zero: f64, rng: &mut Rng) -> Gemm {
        let a = (0..m * k)
            .map(|_| if rng.chance(zero) { 0 } else { rng.byte() })
            .collect();
        let w = (0..k * n).map(|_| rng.byte() as i8).collect();
        Gemm { m, k, n, a, w }
    }
}

/// What streaming GEMMs through the array produced.
#[derive(Debug, Clone)]
pub struct ArrayRun {
    /// Per GEMM, C (M×N row-major) as the array's outputs delivered it.
    pub c: Vec<Vec<i64>>,
    /// Groups of every tile streamed, in order.
    pub tile_groups: Vec<u64>,
    /// Every cycle's inputs.
    pub inputs: Vec<ArrayInput>,
    /// Every cycle's outputs.
    pub outputs: Vec<ArrayOutput>,
    /// Cycles from the first group presented to the last result out, inclusive.
    pub cycles: u64,
    /// Tiles streamed.
    pub tiles: usize,
}

/// Streams one GEMM through the cycle-accurate array (see [`run_gemms`]).
pub fn run_gemm(cfg: &Design, g: &Gemm, idle: f64, rng: &mut Rng) -> ArrayRun {
    run_gemms(cfg, std::slice::from_ref(g), idle, rng)
}

/// Streams GEMMs back to back through the cycle-accurate array, tile by tile (M tiles
/// outer, N tiles inner), each tile's groups in order with K zero-padded to a
/// multiple of T. With `idle > 0`, idle cycles (valid low) are inserted before groups
/// with that probability. A last group waits for `last_ready`. On a design with
/// `array.skip: gate` no output is skipped (an all-zero mask; see [`run_gemms_masked`]).
pub fn run_gemms(cfg: &Design, gemms: &[Gemm], idle: f64, rng: &mut Rng) -> ArrayRun {
    run_stream(cfg, gemms, None, idle, rng)
}

/// Output skip masks for [`run_gemms_masked`]: per GEMM, M×N row-major, true where
/// the output is skipped (delivered as 0).
pub type SkipMasks<'a> = &'a [Vec<bool>];

/// [`run_gemms`] with a skip mask per GEMM, on a design with `array.skip: gate`:
/// each tile's first group carries the mask's bits of that tile's outputs (positions
/// outside the GEMM, the padding of a partial tile, get random bits: their results
/// are dropped). Every other cycle's `skip` bits are random too: the array reads
/// them with a first group only. Rejected with the field and what is allowed when
/// the design has no skip or a mask's length is not M·N.
pub fn run_gemms_masked(
    cfg: &Design,
    gemms: &[Gemm],
    masks: SkipMasks,
    idle: f64,
    rng: &mut Rng,
) -> crate::error::Result<ArrayRun> {
    use crate::error::Error;
    if !cfg.array.skip.on() {
        return Err(Error::config(
            "array.skip",
            cfg.array.skip.name(),
            "gate (a skip mask needs an array that takes one)",
        ));
    }
    if masks.len() != gemms.len() {
        return Err(Error::config(
            "skip masks",
            masks.len(),
            format!("one mask per GEMM ({})", gemms.len()),
        ));
    }
    for (i, (g, m)) in gemms.iter().zip(masks).enumerate() {
        if m.len() != g.m * g.n {
            return Err(Error::config(
                format!("skip mask {i}"),
                format!("{} entries", m.len()),
                format!("M·N = {} entries, row-major", g.m * g.n),
            ));
        }
    }
    Ok(run_stream(cfg, gemms, Some(masks), idle, rng))
}

fn run_stream(
    cfg: &Design,
    gemms: &[Gemm],
    masks: Option<SkipMasks>,
    idle: f64,
    rng: &mut Rng,
) -> ArrayRun {
    let (rows, cols, t) = (
        cfg.array.rows as usize,
        cfg.array.cols as usize,
        cfg.lanes(),
    );
    let mut model = ArrayModel::new(cfg);
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let idle_in = ArrayInput {
        valid: false,
        first: false,
        last: false,
        reset: false,
        acts: vec![0; rows * t],
        wgts: vec![0; cols * t],
        skip: vec![false; if cfg.array.skip.on() { rows * cols } else { 0 }],
    };
    // With a mask: every cycle's skip bits random, overwritten at first groups.
    let noise = |rng: &mut Rng, inp: &mut ArrayInput| {
        if masks.is_some() {
            for b in inp.skip.iter_mut() {
                *b = rng.chance(0.5);
            }
        }
    };
    // (gemm, row offset, column offset) of every tile.
    let mut tiles = Vec::new();
    for (gi, g) in gemms.iter().enumerate() {
        for mt in 0..g.m.div_ceil(rows) {
            for nt in 0..g.n.div_ceil(cols) {
                tiles.push((gi, mt * rows, nt * cols));
            }
        }
    }
    let mut first_cycle = None;
    fn step(
        model: &mut ArrayModel,
        inputs: &mut Vec<ArrayInput>,
        outputs: &mut Vec<ArrayOutput>,
        inp: ArrayInput,
    ) {
        outputs.push(model.step(&inp));
        inputs.push(inp);
    }
    for &(gi, m0, n0) in &tiles {
        let g = &gemms[gi];
        let groups = g.groups(t);
        for grp in 0..groups {
            let last = grp + 1 == groups;
            while idle > 0.0 && rng.chance(idle) {
                let mut i = idle_in.clone();
                noise(rng, &mut i);
                step(&mut model, &mut inputs, &mut outputs, i);
            }
            while last && !model.last_ready() {
                let mut i = idle_in.clone();
                noise(rng, &mut i);
                step(&mut model, &mut inputs, &mut outputs, i);
            }
            let mut inp = ArrayInput {
                valid: true,
                first: grp == 0,
                last,
                ..idle_in.clone()
            };
            noise(rng, &mut inp);
            if let (Some(ms), true) = (masks, grp == 0) {
                for r in 0..rows {
                    for c in 0..cols {
                        let (i, j) = (m0 + r, n0 + c);
                        if i < g.m && j < g.n {
                            inp.skip[r * cols + c] = ms[gi][i * g.n + j];
                        }
                    }
                }
            }
            for r in 0..rows {
                for l in 0..t {
                    let (i, k) = (m0 + r, grp * t + l);
                    if i < g.m && k < g.k {
                        inp.acts[r * t + l] = g.a[i * g.k + k];
                    }
                }
            }
            for c in 0..cols {
                for l in 0..t {
                    let (j, k) = (n0 + c, grp * t + l);
                    if j < g.n && k < g.k {
                        inp.wgts[c * t + l] = g.w[k * g.n + j];
                    }
                }
            }
            first_cycle.get_or_insert(model.cycle());
            step(&mut model, &mut inputs, &mut outputs, inp);
        }
    }
    // Drain: the results of the last tile are out within R + 2C cycles.
    for _ in 0..rows + 2 * cols + 2 {
        step(&mut model, &mut inputs, &mut outputs, idle_in.clone());
    }
    // Collect: each row delivers COLS results per tile, columns descending.
    let mut c: Vec<Vec<i64>> = gemms.iter().map(|g| vec![0i64; g.m * g.n]).collect();
    let mut seen = vec![0usize; rows];
    let mut last_out = 0u64;
    for (cy, o) in outputs.iter().enumerate() {
        for (r, count) in seen.iter_mut().enumerate() {
            if o.res_valid[r] {
                let idx = *count;
                *count += 1;
                let Some(&(gi, m0, n0)) = tiles.get(idx / cols) else {
                    continue;
                };
                let g = &gemms[gi];
                let (i, j) = (m0 + r, n0 + cols - 1 - idx % cols);
                if i < g.m && j < g.n {
                    c[gi][i * g.n + j] = o.res[r];
                }
                last_out = cy as u64;
            }
        }
    }
    debug_assert!(seen.iter().all(|&s| s == tiles.len() * cols));
    ArrayRun {
        c,
        tile_groups: tiles
            .iter()
            .map(|&(gi, _, _)| gemms[gi].groups(t) as u64)
            .collect(),
        cycles: last_out - first_cycle.unwrap_or(0) + 1,
        inputs,
        outputs,
        tiles: tiles.len(),
    }
}

/// Streams `gemms` as [`run_gemms`] does (back to back), holds reset for `hold`
/// cycles from cycle `at` of that stream (the tiles then in flight are dropped), then
/// streams them again. The outputs are those of one model over the whole sequence;
/// `c`, `tile_groups`, `cycles` and `tiles` are the second stream's. The flag says
/// whether everything after the reset equals the same stream from power-up, which is
/// what reset promises.
pub fn run_with_reset(
    cfg: &Design,
    gemms: &[Gemm],
    at: usize,
    hold: usize,
    rng: &mut Rng,
) -> (ArrayRun, bool) {
    let before = run_gemms(cfg, gemms, 0.0, rng);
    let after = run_gemms(cfg, gemms, 0.0, rng);
    let at = at.min(before.inputs.len());
    let mut inputs: Vec<ArrayInput> = before.inputs[..at].to_vec();
    let idle = after.inputs.last().cloned().map(|mut i| {
        i.valid = false;
        i.first = false;
        i.last = false;
        i
    });
    if let Some(idle) = idle {
        for _ in 0..hold {
            inputs.push(ArrayInput {
                reset: true,
                ..idle.clone()
            });
        }
    }
    let resumed = inputs.len();
    inputs.extend(after.inputs.iter().cloned());
    let mut model = ArrayModel::new(cfg);
    let outputs: Vec<ArrayOutput> = inputs.iter().map(|i| model.step(i)).collect();
    // Results are compared where valid: the result registers carry no reset.
    let same = |a: &ArrayOutput, b: &ArrayOutput| {
        a.last_ready == b.last_ready
            && a.res_valid == b.res_valid
            && (0..a.res.len()).all(|r| !a.res_valid[r] || a.res[r] == b.res[r])
    };
    let clean = outputs.len() - resumed == after.outputs.len()
        && outputs[resumed..]
            .iter()
            .zip(&after.outputs)
            .all(|(a, b)| same(a, b));
    (
        ArrayRun {
            c: after.c,
            tile_groups: after.tile_groups,
            inputs,
            outputs,
            cycles: after.cycles,
            tiles: after.tiles,
        },
        clean,
    )
}

/// [`gemm_functional`] with outputs skipped where `mask` (M×N row-major) is true:
/// a skipped output is 0 (docs/numerics.md, "Skipped outputs").
pub fn gemm_functional_masked(cfg: &Design, g: &Gemm, mask: &[bool]) -> Vec<i64> {
    let mut c = gemm_functional(cfg, g);
    for (v, &s) in c.iter_mut().zip(mask) {
        if s {
            *v = 0;
        }
    }
    c
}

/// The functional GEMM on the spec's lane mapping: each output is one PE's
/// accumulation over the groups of K (zero-padded), with the PE's per-cycle rule.
pub fn gemm_functional(cfg: &Design, g: &Gemm) -> Vec<i64> {
    let (wt, kp) = g.padded_columns(cfg.lanes());
    let mut ap = vec![0u8; g.m * kp];
    for i in 0..g.m {
        ap[i * kp..i * kp + g.k].copy_from_slice(&g.a[i * g.k..(i + 1) * g.k]);
    }
    let mut model = PeModel::new(cfg);
    let mut c = vec![0i64; g.m * g.n];
    for i in 0..g.m {
        let arow = &ap[i * kp..(i + 1) * kp];
        for j in 0..g.n {
            model.reset();
            c[i * g.n + j] = model.run(arow, &wt[j * kp..(j + 1) * kp]);
        }
    }
    c
}
