//! The array's cycle-accurate model: what the generated RTL holds in which register
//! on every cycle, and what it puts on its result ports (timing contract in
//! [`crate::array`]).

use crate::config::Design;
use crate::model::{PeModel, MAX_LANES};
use std::collections::VecDeque;

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
    /// `skip_i` (designs with `array.skip: gate`; empty otherwise): row-major, output
    /// (r, c) at `r*C + c`, true to skip it. Read with a tile's first group only.
    pub skip: Vec<bool>,
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
    /// The row's skip bits on their way east (bit 0 is the next cell's), and the
    /// PE's skip state for the tile in progress (`array.skip: gate`).
    skip_fwd_q: u128,
    skip_q: bool,
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
    skip: bool,
    cells: Vec<Cell>,
    row_skew: Vec<Delay<(Ctl, [u8; MAX_LANES], u128)>>,
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
    pub fn new(cfg: &Design) -> Self {
        let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
        let edge = cfg.pe.window_logic.edge_stages() as usize;
        let cell = Cell {
            pe: PeModel::new(cfg),
            act_q: [0; MAX_LANES],
            wgt_q: [0; MAX_LANES],
            ctl_q: Ctl::default(),
            res_q: 0,
            skip_fwd_q: 0,
            skip_q: false,
            pipe: cfg.dp().pipelined.then(Pipe::default),
        };
        ArrayModel {
            rows,
            cols,
            lanes: cfg.lanes(),
            edge,
            skip: cfg.array.skip.on(),
            cells: vec![cell; rows * cols],
            // Row r's operands and controls reach the mesh r + E cycles after entry
            // (E edge stages); a delay of zero is a direct connection.
            row_skew: (0..rows)
                .map(|r| Delay::new((r + edge).max(1), (Ctl::default(), [0; MAX_LANES], 0)))
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
            cell.skip_q = false;
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
        // Row r's skip bits, column c at bit c (none without the option).
        let skip_on = self.skip;
        let skip_row = |r: usize| -> u128 {
            if !skip_on {
                return 0;
            }
            (0..cols)
                .filter(|&c| inp.skip.get(r * cols + c).copied().unwrap_or(false))
                .fold(0u128, |m, c| m | 1 << c)
        };
        // West and north edge values seen by the mesh this cycle.
        let west: Vec<(Ctl, [u8; MAX_LANES], u128)> = (0..rows)
            .map(|r| {
                if r + self.edge == 0 {
                    (ctl, lane(&inp.acts, 0), skip_row(0))
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
                let (in_ctl, in_act, in_skip) = if c == 0 {
                    west[r]
                } else {
                    let w = &self.cells[r * cols + c - 1];
                    (w.ctl_q, w.act_q, w.skip_fwd_q)
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
                let skip = self.skip;
                let cell = &mut self.cells[r * cols + c];
                // Skip: the bit is sampled with the tile's first group and held for
                // the tile; a skipped PE's datapath sees zero operands, so it adds 0.
                let skip_now = skip
                    && if in_ctl.valid && in_ctl.first {
                        in_skip & 1 == 1
                    } else {
                        cell.skip_q
                    };
                let (pe_act, pe_wgt) = if skip_now {
                    ([0; MAX_LANES], [0; MAX_LANES])
                } else {
                    (in_act, in_wgt)
                };
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
                            acts: pe_act,
                            wgts: pe_wgt,
                            valid: in_ctl.valid,
                            clear: in_ctl.first,
                            last_q: cell.ctl_q.last,
                        };
                    }
                    None => {
                        cell.pe
                            .step(&pe_act[..t], &pe_wgt[..t], in_ctl.valid, in_ctl.first);
                    }
                }
                cell.act_q = in_act;
                cell.wgt_q = in_wgt;
                cell.ctl_q = in_ctl;
                cell.skip_q = skip_now;
                cell.skip_fwd_q = in_skip >> 1;
            }
        }

        // Skew lines.
        for r in 0..rows {
            if r + self.edge > 0 {
                self.row_skew[r].push((ctl, lane(&inp.acts, r), skip_row(r)));
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
