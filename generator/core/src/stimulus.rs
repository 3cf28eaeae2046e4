//! Seeded test stimulus for a PE and the golden model's expected response: directed
//! corners (extreme operands, every pattern of active lanes, exhaustive single-lane
//! and lane-pair sweeps, clear and reset mid-stream, accumulator wrap) followed by
//! seeded random cycles over the full operand ranges at several sparsity levels.
//! Vectors are written in the formats the Verilator and Icarus benches read.

use crate::config::Design;
use crate::error::{Error, Result};
use crate::model::{PeModel, MAX_LANES};
use std::io::Write;
use std::path::Path;

/// SplitMix64: a small, fast, seedable generator whose sequence never changes
/// between releases (a printed seed reproduces a failure forever).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    /// A uniform byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

/// One cycle of PE input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Input {
    /// The `valid_i` control.
    pub valid: bool,
    /// The `clear_i` control.
    pub clear: bool,
    /// Hold `rst_ni` low during this cycle (asynchronous reset of acc and controls).
    pub reset: bool,
    /// Activations, lanes 0..T.
    pub acts: [u8; MAX_LANES],
    /// Weights, lanes 0..T.
    pub wgts: [i8; MAX_LANES],
}

/// One cycle of input with the golden model's expected response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vector {
    /// What is driven.
    pub input: Input,
    /// The accumulator after the clock edge, sign-extended.
    pub acc: i64,
    /// The lane products the PE forms this cycle (for diagnostics).
    pub products: [i32; MAX_LANES],
}

/// How much directed stimulus to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Everything, including exhaustive single-lane and lane-pair sweeps and the
    /// accumulator wrap (hundreds of thousands of cycles; for Verilator).
    Full,
    /// Corners and active-lane patterns only (a few thousand cycles; for Icarus).
    Light,
}

/// A named stretch of stimulus, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// What the segment exercises.
    pub name: String,
    /// Its length in cycles.
    pub cycles: usize,
}

/// Stimulus for one PE with its expected response.
#[derive(Debug, Clone)]
pub struct Stimulus {
    /// The seed of the random parts.
    pub seed: u64,
    /// Lanes per cycle.
    pub lanes: usize,
    /// Accumulator width.
    pub acc_width: u32,
    /// Every cycle, in order.
    pub vectors: Vec<Vector>,
    /// How the cycles divide into segments.
    pub segments: Vec<Segment>,
}

/// Activation values at the edges of windows, rounding and ranges.
pub const ACT_CORNERS: &[u8] = &[
    0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 37, 47, 48, 63, 64, 65, 95, 96, 100,
    119, 120, 124, 127, 128, 129, 143, 144, 191, 192, 200, 223, 231, 239, 240, 241, 247, 248, 254,
    255,
];
/// Weight values at the edges of the nibble, rounding and ranges.
pub const WGT_CORNERS: &[i8] = &[
    0, 1, -1, 2, 7, -7, -8, 8, -9, 9, 15, -15, 16, -16, 17, 23, 24, -24, 25, 40, -40, 56, 63, 64,
    -64, 111, 112, 119, 120, 121, 126, 127, -120, -121, -127, -128,
];

struct Builder {
    model: PeModel,
    /// With `pe.pipeline = 1`: the previous cycle's input, which the PE's pipeline
    /// register applies to the accumulator this cycle (a hold after reset).
    pending: Option<Option<Input>>,
    lanes: usize,
    zt_weight: bool,
    vectors: Vec<Vector>,
    segments: Vec<Segment>,
    start: usize,
}

impl Builder {
    fn push(&mut self, input: Input) {
        let t = self.lanes;
        let c = if input.reset {
            self.model.reset();
            if let Some(p) = &mut self.pending {
                *p = None;
            }
            self.model.products(&input.acts[..t], &input.wgts[..t])
        } else if let Some(p) = &mut self.pending {
            if let Some(prev) = p.take() {
                self.model
                    .step(&prev.acts[..t], &prev.wgts[..t], prev.valid, prev.clear);
            }
            *p = Some(input);
            self.model.products(&input.acts[..t], &input.wgts[..t])
        } else {
            self.model
                .step(&input.acts[..t], &input.wgts[..t], input.valid, input.clear)
        };
        self.vectors.push(Vector {
            input,
            acc: self.model.acc(),
            products: c.products,
        });
    }

    fn mac(&mut self, acts: [u8; MAX_LANES], wgts: [i8; MAX_LANES]) {
        self.push(Input {
            valid: true,
            acts,
            wgts,
            ..Input::default()
        });
    }

    fn end(&mut self, name: impl Into<String>) {
        self.segments.push(Segment {
            name: name.into(),
            cycles: self.vectors.len() - self.start,
        });
        self.start = self.vectors.len();
    }

    /// An idle lane value pair: a = 0, or (under act_or_weight) sometimes w = 0.
    fn idle(&self, rng: &mut Rng) -> (u8, i8) {
        if self.zt_weight && rng.chance(0.5) {
            (rng.byte().max(1), 0)
        } else {
            (0, rng.byte() as i8)
        }
    }

    fn active(&self, rng: &mut Rng) -> (u8, i8) {
        let a = rng.byte().max(1);
        let mut w = rng.byte() as i8;
        if self.zt_weight && w == 0 {
            w = 1;
        }
        (a, w)
    }
}

/// Builds the regression stimulus for one PE: directed segments at `depth`, then
/// `random_cycles` seeded random cycles.
pub fn pe_stimulus(d: &Design, seed: u64, depth: Depth, random_cycles: usize) -> Stimulus {
    let cfg = &d.pe;
    let t = d.lanes();
    let two_of_four = d.dp().requires_2_4();
    let mut b = Builder {
        model: PeModel::new(d),
        pending: d.dp().pipelined.then_some(None),
        lanes: t,
        zt_weight: d.dp().rule.weight_tested(),
        vectors: Vec::new(),
        segments: Vec::new(),
        start: 0,
    };
    let mut rng = Rng::new(seed);
    let all = |a: u8, w: i8| ([a; MAX_LANES], [w; MAX_LANES]);

    // Controls: idle, clear alone, clear with valid, reset in mid-stream.
    for _ in 0..3 {
        b.push(Input::default());
    }
    let (a, w) = all(255, -128);
    b.mac(a, w);
    b.mac(a, w);
    b.push(Input {
        clear: true,
        acts: a,
        wgts: w,
        ..Input::default()
    });
    b.mac(a, w);
    b.push(Input {
        valid: true,
        clear: true,
        acts: [200; MAX_LANES],
        wgts: [-77; MAX_LANES],
        ..Input::default()
    });
    b.mac(a, w);
    b.push(Input {
        valid: true,
        reset: true,
        acts: a,
        wgts: w,
        ..Input::default()
    });
    b.mac(a, w);
    b.push(Input {
        valid: false,
        acts: a,
        wgts: w,
        ..Input::default()
    });
    b.end("controls: idle, clear, clear+valid, reset, hold");

    // Every lane at the same extreme operands.
    for &(a, w) in &[
        (255u8, -128i8),
        (255, 127),
        (128, -128),
        (1, -1),
        (255, 0),
        (0, -128),
    ] {
        for _ in 0..4 {
            let (x, y) = all(a, w);
            b.mac(x, y);
        }
    }
    b.end("all lanes at extremes (255x-128, 255x127, ...)");

    // Every pattern of active lanes (so every active count), corner operands on the
    // active lanes, both kinds of idle lane.
    let reps = if depth == Depth::Full { 400 } else { 24 };
    for mask in 0..(1u32 << t) {
        for r in 0..reps {
            let mut acts = [0u8; MAX_LANES];
            let mut wgts = [0i8; MAX_LANES];
            for l in 0..t {
                let (a, w) = if mask >> l & 1 == 1 {
                    if r % 2 == 0 {
                        let a = ACT_CORNERS[rng.below(ACT_CORNERS.len() as u64) as usize].max(1);
                        let w = WGT_CORNERS[rng.below(WGT_CORNERS.len() as u64) as usize];
                        (a, if b.zt_weight && w == 0 { -128 } else { w })
                    } else {
                        b.active(&mut rng)
                    }
                } else {
                    b.idle(&mut rng)
                };
                acts[l] = a;
                wgts[l] = w;
            }
            b.mac(acts, wgts);
        }
    }
    b.end(format!(
        "every active-lane pattern ({} patterns)",
        1u32 << t
    ));

    if depth == Depth::Full {
        // Each lane alone, over every (a, w): the c <= 1 path exhaustively.
        for l in 0..t {
            for a in 0..=255u8 {
                for w in -128..=127i8 {
                    let mut acts = [0u8; MAX_LANES];
                    let mut wgts = [0i8; MAX_LANES];
                    for o in 0..t {
                        (acts[o], wgts[o]) = b.idle(&mut rng);
                    }
                    acts[l] = a;
                    wgts[l] = w;
                    b.mac(acts, wgts);
                }
            }
        }
        b.end(format!("each lane alone, all 65536 (a, w) ({t} lanes)"));

        if t >= 2 {
            // Every pair of activations on lanes 0 and 1 (random weights), with the
            // other lanes idle or active: every window pair and rounding case.
            for a0 in 0..=255u8 {
                for a1 in 0..=255u8 {
                    let mut acts = [0u8; MAX_LANES];
                    let mut wgts = [0i8; MAX_LANES];
                    for o in 2..t {
                        (acts[o], wgts[o]) = if rng.chance(0.5) {
                            b.active(&mut rng)
                        } else {
                            b.idle(&mut rng)
                        };
                    }
                    acts[0] = a0;
                    acts[1] = a1;
                    wgts[0] = rng.byte() as i8;
                    wgts[1] = rng.byte() as i8;
                    b.mac(acts, wgts);
                }
            }
            b.end("lanes 0 and 1 over all 65536 activation pairs");
        }
        if t == 4 {
            // Every weight on every lane with all four lanes active: every nib4 case.
            for w in -128..=127i8 {
                for &a in ACT_CORNERS.iter().filter(|&&a| a != 0) {
                    let mut acts = [a; MAX_LANES];
                    let mut wgts = [w; MAX_LANES];
                    for o in 0..4 {
                        if rng.chance(0.5) {
                            (acts[o], wgts[o]) = b.active(&mut rng);
                        }
                        if b.zt_weight && wgts[o] == 0 {
                            wgts[o] = 1;
                        }
                    }
                    wgts[(w as u8 % 4) as usize] = if b.zt_weight && w == 0 { 1 } else { w };
                    b.mac(acts, wgts);
                }
            }
            b.end("every weight with four lanes active");
        }

        if two_of_four {
            // 2:4-sparse groups: every pair of lanes as the two non-zero weights (and
            // groups with one or none), the other lanes' activations random.
            for i in 0..4 {
                for j in i..4 {
                    for r in 0..4096 {
                        let mut acts = [0u8; MAX_LANES];
                        let mut wgts = [0i8; MAX_LANES];
                        for a in acts.iter_mut().take(4) {
                            *a = if rng.chance(0.25) { 0 } else { rng.byte() };
                        }
                        let nz = |rng: &mut Rng| (rng.byte() as i8).max(1 - 2 * (r % 2) as i8);
                        wgts[i] = nz(&mut rng);
                        if j != i {
                            wgts[j] = if r % 7 == 0 { 0 } else { nz(&mut rng) };
                        }
                        b.mac(acts, wgts);
                    }
                }
            }
            b.end("2:4 weights: every lane pair selected, random activations");
        }

        // Accumulator wrap, both directions, where it is reachable in few cycles.
        let max_sum = 32385i64 * t as i64;
        let need = (1i64 << (cfg.acc_width - 1).min(62)) / max_sum + 4;
        if cfg.acc_width < 64 && need < 400_000 {
            b.push(Input {
                clear: true,
                ..Input::default()
            });
            for _ in 0..need {
                let (x, y) = all(255, 127);
                b.mac(x, y);
            }
            b.push(Input {
                clear: true,
                ..Input::default()
            });
            for _ in 0..need {
                let (x, y) = all(255, -128);
                b.mac(x, y);
            }
            b.end(format!(
                "accumulator wrap at {} bits, both ways",
                cfg.acc_width
            ));
        }
    }

    // Seeded random cycles over the full ranges at several sparsity levels.
    let levels: &[(&str, f64, f64)] = &[
        ("dense", 0.0, 0.0),
        ("50% zero activations", 0.5, 0.0),
        ("90% zero activations", 0.9, 0.0),
        ("50% zero activations, 30% zero weights", 0.5, 0.3),
        ("small activations (bit-sparse), 30% zeros", 0.3, 0.1),
    ];
    let per = random_cycles.div_ceil(levels.len());
    for (i, &(name, za, zw)) in levels.iter().enumerate() {
        for _ in 0..per {
            let mut acts = [0u8; MAX_LANES];
            let mut wgts = [0i8; MAX_LANES];
            for l in 0..t {
                acts[l] = if rng.chance(za) {
                    0
                } else if i == 4 {
                    rng.byte() >> rng.below(8)
                } else {
                    rng.byte()
                };
                wgts[l] = if rng.chance(zw) { 0 } else { rng.byte() as i8 };
            }
            if two_of_four && rng.chance(0.75) {
                // Mostly 2:4-legal groups: keep two random lanes' weights.
                let (x, y) = (rng.below(4) as usize, rng.below(4) as usize);
                for (l, w) in wgts.iter_mut().enumerate().take(t) {
                    if l != x && l != y {
                        *w = 0;
                    }
                }
            }
            let valid = !rng.chance(0.05);
            let clear = rng.chance(0.004);
            b.push(Input {
                valid,
                clear,
                reset: false,
                acts,
                wgts,
            });
        }
        b.end(format!("random: {name}"));
    }

    Stimulus {
        seed,
        lanes: t,
        acc_width: cfg.acc_width,
        vectors: b.vectors,
        segments: b.segments,
    }
}

/// Magic bytes that open a binary vector file.
pub const MAGIC: &[u8; 8] = b"SMTGENV1";

impl Stimulus {
    /// Cycles in the stimulus.
    pub fn cycles(&self) -> usize {
        self.vectors.len()
    }

    /// Writes the binary format `testbench/pe_tb.cpp` reads: the magic, then
    /// little-endian u32 lanes, u32 acc_width, u64 seed, u64 cycles, then per cycle
    /// u8 ctrl (bit 0 valid, 1 clear, 2 reset), 4 activation bytes, 4 weight bytes,
    /// i64 expected accumulator and 4 × i32 expected lane products.
    pub fn write_binary(&self, path: &Path) -> Result<()> {
        let mut out = Vec::with_capacity(32 + self.vectors.len() * 33);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.lanes as u32).to_le_bytes());
        out.extend_from_slice(&self.acc_width.to_le_bytes());
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&(self.vectors.len() as u64).to_le_bytes());
        for v in &self.vectors {
            out.push(ctrl(&v.input));
            out.extend_from_slice(&v.input.acts);
            out.extend(v.input.wgts.iter().map(|&w| w as u8));
            out.extend_from_slice(&v.acc.to_le_bytes());
            for p in v.products {
                out.extend_from_slice(&p.to_le_bytes());
            }
        }
        std::fs::write(path, out).map_err(|e| Error::io(path, e))
    }

    /// Writes the text format `testbench/pe_tb.v` reads: a `#` comment line, then per
    /// cycle `ctrl act wgt acc p0 p1 p2 p3` in hex (lane 0 in the low byte; acc as 16
    /// hex digits, products as 8, two's complement).
    pub fn write_text(&self, path: &Path) -> Result<()> {
        let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut w = std::io::BufWriter::new(f);
        let io = |e| Error::io(path, e);
        writeln!(
            w,
            "# smtgen vectors seed={} lanes={} acc_width={} cycles={}",
            self.seed,
            self.lanes,
            self.acc_width,
            self.vectors.len()
        )
        .map_err(io)?;
        for v in &self.vectors {
            let pack = |f: &dyn Fn(usize) -> u8| -> u32 {
                (0..MAX_LANES).fold(0u32, |acc, l| acc | (u32::from(f(l)) << (8 * l)))
            };
            let a = pack(&|l| v.input.acts[l]);
            let wg = pack(&|l| v.input.wgts[l] as u8);
            let p = &v.products;
            writeln!(
                w,
                "{:x} {a:08x} {wg:08x} {:016x} {:08x} {:08x} {:08x} {:08x}",
                ctrl(&v.input),
                v.acc as u64,
                p[0] as u32,
                p[1] as u32,
                p[2] as u32,
                p[3] as u32
            )
            .map_err(io)?;
        }
        w.flush().map_err(io)
    }
}

fn ctrl(i: &Input) -> u8 {
    u8::from(i.valid) | u8::from(i.clear) << 1 | u8::from(i.reset) << 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn same_seed_same_stimulus_other_seed_other_stimulus() {
        let cfg = Design::new(Config::preset("sysmt2").unwrap());
        let a = pe_stimulus(&cfg, 7, Depth::Light, 1000);
        let b = pe_stimulus(&cfg, 7, Depth::Light, 1000);
        let c = pe_stimulus(&cfg, 8, Depth::Light, 1000);
        assert_eq!(a.vectors, b.vectors);
        assert_ne!(a.vectors, c.vectors);
    }

    #[test]
    fn stimulus_covers_the_operand_extremes_and_every_active_count() {
        let cfg = Design::new(Config::preset("sysmt4").unwrap());
        let s = pe_stimulus(&cfg, 1, Depth::Light, 20_000);
        let lanes = |f: &dyn Fn(u8, i8) -> bool| {
            s.vectors
                .iter()
                .any(|v| (0..4).any(|l| f(v.input.acts[l], v.input.wgts[l])))
        };
        assert!(lanes(&|a, w| a == 255 && w == -128));
        assert!(lanes(&|a, w| a == 255 && w == 127));
        assert!(lanes(&|a, _| a == 0));
        let mut counts = [false; 5];
        let m = crate::model::PeModel::new(&cfg);
        for v in &s.vectors {
            counts[m.products(&v.input.acts, &v.input.wgts).active as usize] = true;
        }
        assert_eq!(counts, [true; 5]);
    }
}
