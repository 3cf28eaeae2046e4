//! Verilog expressions built in Rust and handed to the templates as text: the
//! window round-up condition ([`round_up`]), the two-lane cond's inline windows
//! ([`pair_lane`]), the fabric's shifted product terms ([`term`]) and its balanced
//! lane adder ([`balanced_sum`]).

/// Round-to-nearest-even condition of a window at LSB position `p` of activation `a`:
/// the guard bit and either the window's LSB or a sticky bit below the guard (`None`
/// at position 0, which drops nothing). Shared by the window modules and the
/// two-lane cond's inline windows.
pub(super) fn round_up(a: &str, p: u32) -> Option<String> {
    match p {
        0 => None,
        1 => Some(format!("{a}[0] & {a}[1]")),
        _ => Some(format!("{a}[{}] & ({a}[{p}] | (|{a}[{}:0]))", p - 1, p - 2)),
    }
}

/// One lane's inline 4-bit window in the two-lane cond: the selection signals
/// (`g<k>_<p>`: the window sits at position `p` or above, with their expressions) and
/// the one-hot AND-OR selections of the window, its shift, the bits below it and its
/// round-up condition.
pub(super) struct PairLane {
    pub(super) k: usize,
    pub(super) above: Vec<(String, String)>,
    pub(super) trunc: String,
    pub(super) shift: String,
    pub(super) low: String,
    pub(super) round: String,
    /// The window the pair uses (`n<k>`): rounded only when both lanes are active.
    pub(super) next: String,
}

/// The inline window of lane `k` over the 4-bit placement `positions` (ascending).
/// Every selection is an AND-OR over one-hot terms, not a `?:` chain: the gates are
/// the same, but Verilator compiles `?:` on data into branches, and mispredicted
/// branches cost a 16x16 sysmt2 array half its simulation speed (issue #3).
pub(super) fn pair_lane(k: usize, positions: &[u32]) -> PairLane {
    let a = format!("a{k}");
    let g = |p: u32| format!("g{k}_{p}");
    let above = positions
        .windows(2)
        .map(|w| (g(w[1]), format!("|{a}[7:{}]", w[0] + 4)))
        .collect();
    // One-hot: position i holds the window when the leading one is above position
    // i - 1's window (g) and not above its own (the next position's g is low).
    let m = positions.len();
    let sel = |i: usize| -> String {
        let mut t = Vec::new();
        if i > 0 {
            t.push(g(positions[i]));
        }
        if i + 1 < m {
            t.push(format!("~{}", g(positions[i + 1])));
        }
        if t.is_empty() {
            // A single placement is always selected.
            t.push("1'b1".into());
        }
        t.join(" & ")
    };
    // `({W{sel_i}} & f(p_i)) | ...` over the positions whose term is not zero.
    let or_of = |w: u32, f: &dyn Fn(u32) -> Option<String>| -> String {
        let terms: Vec<String> = positions
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| f(p).map(|v| format!("({{{w}{{{}}}}} & {v})", sel(i))))
            .collect();
        if terms.is_empty() {
            format!("{w}'d0")
        } else {
            terms.join(" | ")
        }
    };
    let round = if let [0, p] = positions {
        // One placement above the lowest (4b2opt): a flat conjunction.
        format!("{} & {}", g(*p), round_up(&a, *p).unwrap_or_default())
    } else {
        let terms: Vec<String> = positions
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| round_up(&a, p).map(|r| format!("({} & {r})", sel(i))))
            .collect();
        format!("({})", terms.join(" | "))
    };
    PairLane {
        k,
        next: format!("t{k} + {{3'd0, both & {round} & ~(&t{k})}}"),
        round,
        above,
        trunc: or_of(4, &|p| Some(format!("{a}[{}:{p}]", p + 3))),
        shift: or_of(3, &|p| (p > 0).then(|| format!("3'd{p}"))),
        low: or_of(4, &|p| match p {
            0 => None,
            4 => Some(format!("{a}[3:0]")),
            _ => Some(format!("{{{}'d0, {a}[{}:0]}}", 4 - p, p - 1)),
        }),
    }
}

/// The fabric's lane adder over units `lo..hi` as a balanced tree,
/// `(t0 + t1) + (t2 + t3)` for four units: the two units that serve one lane when two
/// lanes are active sum first (shallower, and the proof's SAT sweeping finds each
/// lane's product as one node).
pub(super) fn balanced_sum(lo: usize, hi: usize) -> String {
    match hi - lo {
        0 => "0".into(),
        1 => format!("t{lo}"),
        2 => format!("t{lo} + t{}", lo + 1),
        n => {
            let mid = lo + n.div_ceil(2);
            let part = |a: usize, b: usize| {
                let s = balanced_sum(a, b);
                if b - a > 1 {
                    format!("({s})")
                } else {
                    s
                }
            };
            format!("{} + {}", part(lo, mid), part(mid, hi))
        }
    }
}

/// A term of the fabric's sum: product `p{idx}` (pw bits, signed) shifted left by
/// `k` and sign-extended or wrapped to `sum_w` bits.
pub(super) fn term(idx: usize, pw: u32, k: u32, sum_w: u32) -> String {
    term_with(idx, pw, k, sum_w, &format!("p{idx}[{}]", pw - 1))
}

/// Bits by which a `pw`-bit product shifted by `k` is sign-extended to `sum_w`.
pub(super) fn sign_extension(pw: u32, k: u32, sum_w: u32) -> u32 {
    sum_w.saturating_sub(pw + k)
}

/// [`term`] extending with the bit `sign` (the product's top bit; another only for
/// a planted [`Fault::UnsignedProduct`](super::Fault::UnsignedProduct)).
pub(super) fn term_with(idx: usize, pw: u32, k: u32, sum_w: u32, sign: &str) -> String {
    let mut parts = Vec::new();
    if sum_w >= pw + k {
        let ext = sign_extension(pw, k, sum_w);
        if ext > 0 {
            parts.push(format!("{{{ext}{{{sign}}}}}"));
        }
        parts.push(format!("p{idx}"));
    } else {
        parts.push(format!("p{idx}[{}:0]", sum_w - k - 1));
    }
    if k > 0 {
        parts.push(format!("{k}'d0"));
    }
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("{{{}}}", parts.join(", "))
    }
}
