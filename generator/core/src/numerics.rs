//! The spec's reduction functions, bit for bit: the bSPARQ activation window
//! `win(a; n, P, rnd)` (spec §3) and the SySMT signed weight nibble
//! `nib4(w; rnd)` (spec §4). These are the definitions everything else
//! (golden-model tables, RTL templates, tests) is checked against.

use crate::config::{Rounding, WindowSet};

/// The window LSB `s` the spec picks for `a` (lowest allowed position whose window
/// covers the leading one). For `a == 0` it is the lowest position.
pub fn window_shift(a: u8, set: WindowSet) -> u32 {
    let n = set.bits();
    set.positions()
        .iter()
        .copied()
        .find(|&p| u32::from(a) >> (p + n) == 0)
        .unwrap_or_else(|| {
            // Validation guarantees every set covers bit 7; this is unreachable.
            *set.positions().last().unwrap_or(&0)
        })
}

/// `win(a; set, rnd)`: the n-bit window of `a`, kept in place (same scale as `a`).
pub fn win(a: u8, set: WindowSet, rnd: Rounding) -> u8 {
    let (nib, s) = win_parts(a, set, rnd);
    (nib << s) as u8
}

/// The window as hardware carries it: `(nibble, shift)` with `win = nibble << shift`.
pub fn win_parts(a: u8, set: WindowSet, rnd: Rounding) -> (u32, u32) {
    if a == 0 {
        return (0, set.positions()[0]);
    }
    let n = set.bits();
    let s = window_shift(a, set);
    let a = u32::from(a);
    let mask = (1u32 << n) - 1;
    let mut nib = (a >> s) & mask;
    if rnd == Rounding::NearestEven && s > 0 {
        let g = (a >> (s - 1)) & 1;
        let l = nib & 1;
        let sticky = u32::from(s >= 2 && a & ((1 << (s - 1)) - 1) != 0);
        if g == 1 && (l == 1 || sticky == 1) {
            // Carry out of the window saturates to all ones (the window never moves).
            nib = (nib + 1).min(mask);
        }
    }
    (nib, s)
}

/// `nib4(w; rnd)`: the weight as one 4-lane SySMT quarter sees it, as a value on the
/// scale of `w` (either `w` itself when −8 ≤ w ≤ 7, or `q << 4`).
pub fn nib4(w: i8, rnd: Rounding) -> i8 {
    let (q, e) = nib4_parts(w, rnd);
    (i32::from(q) << e) as i8
}

/// `nib4` as hardware carries it: `(q, shift)` with q in −8..=7 and shift 0 or 4.
pub fn nib4_parts(w: i8, rnd: Rounding) -> (i8, u32) {
    if (-8..=7).contains(&w) {
        return (w, 0);
    }
    let mut q = i32::from(w) >> 4;
    let r = i32::from(w) & 15;
    if rnd == Rounding::NearestEven && (r > 8 || (r == 8 && q & 1 == 1)) {
        q += 1;
    }
    (q.min(7) as i8, 4)
}

/// `win` for every activation value of one set and rounding mode.
pub fn win_table(set: WindowSet, rnd: Rounding) -> [u8; 256] {
    std::array::from_fn(|a| win(a as u8, set, rnd))
}

/// `nib4` for every weight, indexed by the weight's two's-complement byte.
pub fn nib4_table(rnd: Rounding) -> [i8; 256] {
    std::array::from_fn(|b| nib4(b as u8 as i8, rnd))
}

/// The largest `|win(a) − a|` over all activations: the window's error bound.
pub fn win_error_bound(set: WindowSet, rnd: Rounding) -> u32 {
    (0..=255u8)
        .map(|a| (i32::from(win(a, set, rnd)) - i32::from(a)).unsigned_abs())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use WindowSet::*;

    /// An independent formulation of §3: search all representable windows at the
    /// lowest covering position for the value the spec defines (nearest, ties to an
    /// even nibble, values above the top representable one go to the top).
    fn win_brute(a: u8, set: WindowSet, rnd: Rounding) -> u8 {
        if a == 0 {
            return 0;
        }
        let n = set.bits();
        let lead = (0..8).rev().find(|b| a & (1 << b) != 0).unwrap();
        let s = *set
            .positions()
            .iter()
            .filter(|&&p| p + n > lead)
            .min()
            .expect("set covers bit 7");
        let a = f64::from(a);
        let cands: Vec<u32> = (0..(1u32 << n)).collect();
        let k = match rnd {
            Rounding::Truncate => cands
                .iter()
                .copied()
                .filter(|&k| f64::from(k << s) <= a)
                .max()
                .unwrap(),
            Rounding::NearestEven => {
                let best = cands
                    .iter()
                    .map(|&k| (f64::from(k << s) - a).abs())
                    .fold(f64::INFINITY, f64::min);
                let ties: Vec<u32> = cands
                    .iter()
                    .copied()
                    .filter(|&k| (f64::from(k << s) - a).abs() == best)
                    .collect();
                *ties.iter().find(|&&k| k % 2 == 0).unwrap_or(&ties[0])
            }
        };
        (k << s) as u8
    }

    #[test]
    fn win_matches_brute_force_for_every_input_set_and_mode() {
        for set in WindowSet::ALL {
            for rnd in Rounding::ALL {
                for a in 0..=255u8 {
                    assert_eq!(
                        win(a, set, rnd),
                        win_brute(a, set, rnd),
                        "win({a}; {set}, {rnd})"
                    );
                }
            }
        }
    }

    #[test]
    fn win_worked_examples_from_the_spec() {
        let ne = Rounding::NearestEven;
        assert_eq!(win(37, W4b5opt, ne), 36);
        assert_eq!(win(124, W4b5opt, ne), 120);
        assert_eq!(win(200, W4b5opt, ne), 192);
        assert_eq!(win(127, W4b3opt, ne), 128);
        for set in [W4b5opt, W4b3opt, W4b2opt] {
            assert_eq!(win(255, set, ne), 240);
        }
        assert_eq!(win(9, W2b7opt, ne), 8);
    }

    #[test]
    fn nib4_worked_examples_from_the_spec() {
        let ne = Rounding::NearestEven;
        for (w, want) in [
            (127, 112),
            (-128, -128),
            (40, 32),
            (24, 32),
            (-9, -16),
            (8, 0),
            (-8, -8),
        ] {
            assert_eq!(nib4(w, ne), want, "nib4({w})");
        }
        for w in 9..=15 {
            assert_eq!(nib4(w, ne), 16, "nib4({w})");
        }
        assert_eq!(nib4(127, Rounding::Truncate), 112);
        assert_eq!(nib4(31, Rounding::Truncate), 16);
        assert_eq!(nib4(-9, Rounding::Truncate), -16);
    }

    /// Independent formulation of §4: the multiple of 16 (q in −8..=7) nearest to w,
    /// ties to even q, or the largest not above w when truncating.
    #[test]
    fn nib4_matches_brute_force_for_every_weight() {
        for rnd in Rounding::ALL {
            for w in -128..=127i32 {
                let want = if (-8..=7).contains(&w) {
                    w
                } else {
                    let qs = -8..=7i32;
                    let q = match rnd {
                        Rounding::Truncate => qs.filter(|q| q * 16 <= w).max().unwrap(),
                        Rounding::NearestEven => {
                            let d = |q: i32| (q * 16 - w).abs();
                            let best = qs.clone().map(d).min().unwrap();
                            let ties: Vec<i32> = qs.filter(|&q| d(q) == best).collect();
                            *ties.iter().find(|&&q| q % 2 == 0).unwrap_or(&ties[0])
                        }
                    };
                    q * 16
                };
                assert_eq!(i32::from(nib4(w as i8, rnd)), want, "nib4({w}; {rnd})");
            }
        }
    }
}
