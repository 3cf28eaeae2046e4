//! The output-stationary array: its published latency formula, a cycle-accurate
//! model that mirrors the generated RTL register by register (what comes out on
//! which cycle), and a driver that streams a tiled GEMM through it.
//!
//! Timing contract (the RTL, this model and the tests agree on it): a tile whose last
//! group is presented at cycle `tL` puts `C[r][c]` on row `r`'s result port at cycle
//! `tL + 2·COLS + r − c + E`, where `E` counts the extra register stages on the way:
//! the edge stage (1 when the window logic sits at the array edge) plus the PE's
//! pipeline stages (`pe.pipeline`); see [`crate::config::PeConfig::extra_latency`]. Consecutive last groups must be
//! at least `COLS` cycles apart (`last_ready`), so tiles of `G ≥ COLS` groups stream
//! back to back.

use crate::config::Config;
use crate::model::{PeModel, MAX_LANES};
use crate::stimulus::Rng;
use std::collections::VecDeque;

/// Cycles from a tile's first group at the array's inputs to its last result at the
/// outputs, inclusive: `G + R + 2C − 1 + E` for `G` groups on an R×C array with `E`
/// extra stages (edge and PE pipeline).
pub fn tile_latency(rows: u64, cols: u64, edge: u64, groups: u64) -> u64 {
    groups + rows + 2 * cols - 1 + edge
}

/// Cycles for `tiles` tiles of `groups` groups each, presented as early as the array
/// accepts them (no idle cycles of the user's):
/// `(tiles − 1)·max(G, C) + G + R + 2C − 1 + E`.
pub fn gemm_cycles(rows: u64, cols: u64, edge: u64, groups: u64, tiles: u64) -> u64 {
    stream_cycles(rows, cols, edge, &vec![groups; tiles as usize])
}

/// Cycles for a stream of tiles with `groups[i]` groups each, presented as early as
/// the array accepts them: `G₀ + Σ_{i≥1} max(Gᵢ, C) + R + 2C − 1 + E` (the first group
/// in to the last result out, inclusive). Tile i's last group enters `max(Gᵢ, C)`
/// cycles after tile i−1's.
pub fn stream_cycles(rows: u64, cols: u64, edge: u64, groups: &[u64]) -> u64 {
    match groups.split_first() {
        None => 0,
        Some((g0, rest)) => {
            g0 + rest.iter().map(|&g| g.max(cols)).sum::<u64>() + rows + 2 * cols - 1 + edge
        }
    }
}

/// One cycle at the array's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayInput {
    /// `in_valid_i`.
    pub valid: bool,
    /// `in_first_i`.
    pub first: bool,
    /// `in_last_i`.
    pub last: bool,
    /// `rst_ni` held low for this cycle (asynchronous: the outputs of this cycle are
    /// already the reset values, and nothing is captured at its edge).
    pub reset: bool,
    /// Row-major lanes: row r lane t at `r*T + t`.
    pub acts: Vec<u8>,
    /// Column-major lanes: column c lane t at `c*T + t`.
    pub wgts: Vec<i8>,
}

/// One cycle at the array's outputs (all register outputs, valid before the edge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayOutput {
    /// `last_ready_o`.
    pub last_ready: bool,
    /// `res_valid_o`, per row.
    pub res_valid: Vec<bool>,
    /// `res_o`, per row (sign-extended; meaningful where `res_valid`).
    pub res: Vec<i64>,
}

/// A delay line of fixed depth whose output is the value entered `depth` cycles ago.
#[derive(Debug, Clone)]
struct Delay<T: Clone> {
    q: VecDeque<T>,
}

impl<T: Clone> Delay<T> {
    fn new(depth: usize, init: T) -> Self {
        Delay {
            q: std::iter::repeat_n(init, depth).collect(),
        }
    }
    fn out(&self) -> &T {
        self.q.back().expect("depth >= 1")
    }
    fn push(&mut self, v: T) {
        self.q.push_front(v);
        self.q.pop_back();
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ctl {
    valid: bool,
    first: bool,
    last: bool,
}

#[derive(Clone)]
struct Cell {
    pe: PeModel,
    act_q: [u8; MAX_LANES],
    wgt_q: [i8; MAX_LANES],
    ctl_q: Ctl,
    res_q: i64,
    /// With `pe.pipeline = 1`: the lanes, valid and clear in the PE's pipeline
    /// register (applied to the accumulator one cycle late), and `last` delayed once
    /// more, when the cell captures the finished sum.
    pipe: Option<Pipe>,
}

#[derive(Clone, Copy, Default)]
struct Pipe {
    acts: [u8; MAX_LANES],
    wgts: [i8; MAX_LANES],
    valid: bool,
    clear: bool,
    last_q: bool,
}

/// Cycle-accurate model of the generated `<name>_array`.
#[derive(Clone)]
pub struct ArrayModel {
    rows: usize,
    cols: usize,
    lanes: usize,
    edge: usize,
    cells: Vec<Cell>,
    row_skew: Vec<Delay<(Ctl, [u8; MAX_LANES])>>,
    col_skew: Vec<Delay<[i8; MAX_LANES]>>,
    gap: usize,
    last_delay: Delay<bool>,
    run: bool,
    step: usize,
    row_drain: Vec<(bool, usize)>,
    cycle: u64,
}

impl ArrayModel {
    /// The array of `cfg` just after reset.
    pub fn new(cfg: &Config) -> Self {
        let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
        let edge = cfg.pe.window_logic.edge_stages() as usize;
        let cell = Cell {
            pe: PeModel::new(&cfg.pe),
            act_q: [0; MAX_LANES],
            wgt_q: [0; MAX_LANES],
            ctl_q: Ctl::default(),
            res_q: 0,
            pipe: (cfg.pe.pipeline > 0).then(Pipe::default),
        };
        ArrayModel {
            rows,
            cols,
            lanes: cfg.pe.lanes(),
            edge,
            cells: vec![cell; rows * cols],
            // Row r's operands and controls reach the mesh r + E cycles after entry
            // (E edge stages); a delay of zero is a direct connection.
            row_skew: (0..rows)
                .map(|r| Delay::new((r + edge).max(1), (Ctl::default(), [0; MAX_LANES])))
                .collect(),
            col_skew: (0..cols)
                .map(|c| Delay::new((c + edge).max(1), [0; MAX_LANES]))
                .collect(),
            gap: cols - 1,
            last_delay: Delay::new(cols + edge + cfg.pe.pipeline as usize, false),
            run: false,
            step: 0,
            row_drain: vec![(false, 0); rows],
            cycle: 0,
        }
    }

    /// Cycles stepped since reset.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// `last_ready_o` this cycle.
    pub fn last_ready(&self) -> bool {
        self.gap == self.cols - 1
    }

    /// The outputs of the current cycle (before the clock edge).
    pub fn outputs(&self) -> ArrayOutput {
        let drains = self.drains();
        ArrayOutput {
            last_ready: self.last_ready(),
            res_valid: drains.iter().map(|d| d.0).collect(),
            res: (0..self.rows)
                .map(|r| self.cells[r * self.cols + self.cols - 1].res_q)
                .collect(),
        }
    }

    fn drains(&self) -> Vec<(bool, usize)> {
        let mut d = self.row_drain.clone();
        d[0] = (self.run, self.step);
        d
    }

    /// What `rst_ni` low does, as the RTL resets: every control register clears (the
    /// controls in the skew lines and the edge, each PE's valid/clear/last, the
    /// accumulators, the drain state; `last_ready` rises), so tiles in flight are
    /// dropped and no result of theirs appears. Operand and result registers keep
    /// their values: nothing reads them until a new tile's controls arrive.
    pub fn reset(&mut self) {
        for d in &mut self.row_skew {
            for e in d.q.iter_mut() {
                e.0 = Ctl::default();
            }
        }
        for cell in &mut self.cells {
            cell.pe.reset();
            cell.ctl_q = Ctl::default();
            if let Some(p) = &mut cell.pipe {
                p.valid = false;
                p.clear = false;
                p.last_q = false;
            }
        }
        self.gap = self.cols - 1;
        for e in self.last_delay.q.iter_mut() {
            *e = false;
        }
        self.run = false;
        self.step = 0;
        for d in &mut self.row_drain {
            *d = (false, 0);
        }
    }

    /// Returns this cycle's outputs, then applies `inp` at the clock edge (with
    /// `inp.reset`, resets first: the cycle's outputs are the reset state's and its
    /// inputs are not captured).
    pub fn step(&mut self, inp: &ArrayInput) -> ArrayOutput {
        if inp.reset {
            self.reset();
            self.cycle += 1;
            return self.outputs();
        }
        let out = self.outputs();
        let (rows, cols, t) = (self.rows, self.cols, self.lanes);
        let ctl = Ctl {
            valid: inp.valid,
            first: inp.valid && inp.first,
            last: inp.valid && inp.last,
        };
        let lane = |v: &[u8], i: usize| -> [u8; MAX_LANES] {
            let mut x = [0; MAX_LANES];
            x[..t].copy_from_slice(&v[i * t..(i + 1) * t]);
            x
        };
        let wlane = |v: &[i8], i: usize| -> [i8; MAX_LANES] {
            let mut x = [0; MAX_LANES];
            x[..t].copy_from_slice(&v[i * t..(i + 1) * t]);
            x
        };
        // West and north edge values seen by the mesh this cycle.
        let west: Vec<(Ctl, [u8; MAX_LANES])> = (0..rows)
            .map(|r| {
                if r + self.edge == 0 {
                    (ctl, lane(&inp.acts, 0))
                } else {
                    *self.row_skew[r].out()
                }
            })
            .collect();
        let north: Vec<[i8; MAX_LANES]> = (0..cols)
            .map(|c| {
                if c + self.edge == 0 {
                    wlane(&inp.wgts, 0)
                } else {
                    *self.col_skew[c].out()
                }
            })
            .collect();
        let drains = self.drains();

        // Mesh, south-east first so every cell reads its neighbours' old registers.
        for r in (0..rows).rev() {
            for c in (0..cols).rev() {
                let (in_ctl, in_act) = if c == 0 {
                    west[r]
                } else {
                    let w = &self.cells[r * cols + c - 1];
                    (w.ctl_q, w.act_q)
                };
                let in_wgt = if r == 0 {
                    north[c]
                } else {
                    self.cells[(r - 1) * cols + c].wgt_q
                };
                let chain = if c > 0 {
                    self.cells[r * cols + c - 1].res_q
                } else {
                    0
                };
                let cell = &mut self.cells[r * cols + c];
                let capture = match &cell.pipe {
                    Some(p) => p.last_q,
                    None => cell.ctl_q.last,
                };
                if capture {
                    cell.res_q = cell.pe.acc();
                } else if drains[r].0 && drains[r].1 < c {
                    cell.res_q = chain;
                }
                match &mut cell.pipe {
                    Some(p) => {
                        cell.pe.step(&p.acts[..t], &p.wgts[..t], p.valid, p.clear);
                        *p = Pipe {
                            acts: in_act,
                            wgts: in_wgt,
                            valid: in_ctl.valid,
                            clear: in_ctl.first,
                            last_q: cell.ctl_q.last,
                        };
                    }
                    None => {
                        cell.pe
                            .step(&in_act[..t], &in_wgt[..t], in_ctl.valid, in_ctl.first);
                    }
                }
                cell.act_q = in_act;
                cell.wgt_q = in_wgt;
                cell.ctl_q = in_ctl;
            }
        }

        // Skew lines.
        for r in 0..rows {
            if r + self.edge > 0 {
                self.row_skew[r].push((ctl, lane(&inp.acts, r)));
            }
        }
        for c in 0..cols {
            if c + self.edge > 0 {
                self.col_skew[c].push(wlane(&inp.wgts, c));
            }
        }
        // Drain control.
        let start = *self.last_delay.out();
        if ctl.last {
            self.gap = 0;
        } else if self.gap != cols - 1 {
            self.gap += 1;
        }
        self.last_delay.push(ctl.last);
        for r in (1..rows).rev() {
            self.row_drain[r] = drains[r - 1];
        }
        if start {
            self.run = true;
            self.step = 0;
        } else if self.run {
            if self.step == cols - 1 {
                self.run = false;
            } else {
                self.step += 1;
            }
        }
        self.cycle += 1;
        out
    }
}

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
pub fn run_gemm(cfg: &Config, g: &Gemm, idle: f64, rng: &mut Rng) -> ArrayRun {
    run_gemms(cfg, std::slice::from_ref(g), idle, rng)
}

/// Streams GEMMs back to back through the cycle-accurate array, tile by tile (M tiles
/// outer, N tiles inner), each tile's groups in order with K zero-padded to a
/// multiple of T. With `idle > 0`, idle cycles (valid low) are inserted before groups
/// with that probability. A last group waits for `last_ready`.
pub fn run_gemms(cfg: &Config, gemms: &[Gemm], idle: f64, rng: &mut Rng) -> ArrayRun {
    let (rows, cols, t) = (
        cfg.array.rows as usize,
        cfg.array.cols as usize,
        cfg.pe.lanes(),
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
                step(&mut model, &mut inputs, &mut outputs, idle_in.clone());
            }
            while last && !model.last_ready() {
                step(&mut model, &mut inputs, &mut outputs, idle_in.clone());
            }
            let mut inp = ArrayInput {
                valid: true,
                first: grp == 0,
                last,
                ..idle_in.clone()
            };
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
    cfg: &Config,
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

/// The functional GEMM on the spec's lane mapping: each output is one PE's
/// accumulation over the groups of K (zero-padded), with the PE's per-cycle rule.
pub fn gemm_functional(cfg: &Config, g: &Gemm) -> Vec<i64> {
    let (wt, kp) = g.padded_columns(cfg.pe.lanes());
    let mut ap = vec![0u8; g.m * kp];
    for i in 0..g.m {
        ap[i * kp..i * kp + g.k].copy_from_slice(&g.a[i * g.k..(i + 1) * g.k]);
    }
    let mut model = PeModel::new(&cfg.pe);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigBuilder;

    fn cfg(preset: &str, r: u32, c: u32) -> Config {
        ConfigBuilder::new()
            .preset(Some(preset))
            .sets(&[format!("array.rows={r}"), format!("array.cols={c}")])
            .build()
            .unwrap()
    }

    #[test]
    fn a_mid_stream_reset_drops_tiles_in_flight_and_restarts_clean() {
        let mut rng = Rng::new(21);
        for (preset, r, c) in [
            ("baseline", 3u32, 2u32),
            ("sysmt2-edge+pe.pipeline=1", 4, 4),
            ("sysmt4", 2, 3),
        ] {
            let size = [format!("array.rows={r}"), format!("array.cols={c}")];
            let cfg = crate::config::design_point(preset, &size).unwrap();
            let gs = vec![Gemm::random(7, 13, 9, 0.3, &mut rng)];
            let plain = run_gemms(&cfg, &gs, 0.0, &mut rng);
            for at in [1, plain.inputs.len() / 3, plain.inputs.len() / 2] {
                let (run, clean) = run_with_reset(&cfg, &gs, at, 2, &mut rng);
                assert!(
                    clean,
                    "{preset} {r}x{c}: reset at {at} did not restart clean"
                );
                assert_eq!(
                    run.c[0],
                    gemm_functional(&cfg, &gs[0]),
                    "{preset} reset at {at}"
                );
                // In the reset cycles nothing is valid and last_ready is high.
                for (i, o) in run.inputs.iter().zip(&run.outputs) {
                    if i.reset {
                        assert!(o.last_ready && o.res_valid.iter().all(|v| !v));
                    }
                }
                // Results were in flight when reset came: fewer results than two full runs.
                let valid: usize = run
                    .outputs
                    .iter()
                    .map(|o| o.res_valid.iter().filter(|v| **v).count())
                    .sum();
                assert!(
                    valid < 2 * plain.tiles * (c * r) as usize,
                    "{preset}: nothing dropped"
                );
            }
        }
    }

    #[test]
    fn cycle_model_equals_functional_gemm_and_the_latency_formula() {
        let mut rng = Rng::new(9);
        for (preset, r, c, m, k, n) in [
            ("baseline", 1u32, 1u32, 3, 5, 2),
            ("sysmt2", 2, 3, 5, 7, 7),
            ("sysmt4", 4, 4, 9, 33, 6),
            ("sparq-3b", 3, 2, 4, 2, 5),
            ("ideal4", 2, 5, 2, 1, 11),
            ("sysmt2-edge", 1, 1, 2, 9, 3),
            ("sysmt2-edge", 3, 2, 5, 12, 4),
            ("baseline+pe.pipeline=1", 1, 1, 3, 4, 2),
            ("sysmt4+pe.pipeline=1", 3, 3, 7, 21, 5),
            ("sysmt2-edge+pe.pipeline=1", 2, 4, 3, 10, 9),
        ] {
            let size = [format!("array.rows={r}"), format!("array.cols={c}")];
            let cfg = crate::config::design_point(preset, &size).unwrap();
            let g = Gemm::random(m, k, n, 0.5, &mut rng);
            let run = run_gemm(&cfg, &g, 0.0, &mut rng);
            assert_eq!(run.c[0], gemm_functional(&cfg, &g), "{preset} {r}x{c}");
            let groups = g.groups(cfg.pe.lanes()) as u64;
            assert_eq!(
                run.cycles,
                gemm_cycles(
                    r.into(),
                    c.into(),
                    cfg.pe.extra_latency(),
                    groups,
                    run.tiles as u64
                ),
                "{preset} {r}x{c} G={groups}"
            );
            // Idle cycles between groups change the timing, never the result.
            let run = run_gemm(&cfg, &g, 0.3, &mut rng);
            assert_eq!(
                run.c[0],
                gemm_functional(&cfg, &g),
                "{preset} {r}x{c} with idles"
            );
        }
    }

    #[test]
    fn streamed_gemms_follow_the_stream_formula() {
        for (preset, e) in [("sysmt2", 0), ("sysmt2-edge", 1)] {
            let mut rng = Rng::new(4);
            let cfg = cfg(preset, 3, 5);
            let gs: Vec<Gemm> = [(4, 3, 6), (2, 40, 5), (7, 9, 1)]
                .iter()
                .map(|&(m, k, n)| Gemm::random(m, k, n, 0.3, &mut rng))
                .collect();
            let run = run_gemms(&cfg, &gs, 0.0, &mut rng);
            for (g, c) in gs.iter().zip(&run.c) {
                assert_eq!(c, &gemm_functional(&cfg, g));
            }
            assert_eq!(
                run.cycles,
                stream_cycles(3, 5, e, &run.tile_groups),
                "{preset}"
            );
        }
    }

    #[test]
    fn results_appear_at_the_documented_cycle() {
        // Sparq-4b2opt with the edge: 12 reduction indices are 6 two-lane groups.
        for (preset, k, e) in [
            ("baseline", 6, 0u64),
            ("sparq-4b2opt+pe.window_logic=edge", 12, 1),
            ("baseline+pe.pipeline=1", 6, 1),
            ("sparq-4b2opt+pe.window_logic=edge+pe.pipeline=1", 12, 2),
        ] {
            let cfg =
                crate::config::design_point(preset, &["array.rows=3", "array.cols=4"]).unwrap();
            let mut rng = Rng::new(1);
            let g = Gemm::random(3, k, 4, 0.0, &mut rng);
            let run = run_gemm(&cfg, &g, 0.0, &mut rng);
            let tl = 5u64; // last group presented at cycle G - 1
            for r in 0..3u64 {
                for c in 0..4u64 {
                    let cy = (tl + 2 * 4 + r - c + e) as usize;
                    assert!(
                        run.outputs[cy].res_valid[r as usize],
                        "{preset} r{r} c{c} at {cy}"
                    );
                    assert!(!run.outputs[cy - 1].res_valid[r as usize] || c < 3);
                    assert_eq!(
                        run.outputs[cy].res[r as usize],
                        run.c[0][(r * 4 + c) as usize]
                    );
                }
            }
        }
    }
}
