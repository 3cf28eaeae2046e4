//! 2:4-sparse weights (spec §5.1): the check that a weight matrix has at most two
//! non-zero weights in every aligned group of four consecutive reduction indices,
//! and the pruning helper that makes a dense matrix so. Weights are the user's data:
//! the check runs before any work and names what breaks the rule; pruning happens
//! only when asked for.

use crate::error::{Error, Result};

/// Reduction indices per group and the non-zero weights a group may have.
pub const GROUP: usize = 4;
/// Non-zero weights allowed per group.
pub const KEEP: usize = 2;

/// Checks that the K×N row-major `w` is 2:4-sparse along K (K padded with zeros to a
/// multiple of 4); the first group that is not is reported with `what` (the file or
/// tensor), its column, its reduction indices and its count of non-zero weights.
pub fn check_2_4(w: &[i8], k: usize, n: usize, what: &str) -> Result<()> {
    for j in 0..n {
        for g in 0..k.div_ceil(GROUP) {
            let ks = g * GROUP..((g + 1) * GROUP).min(k);
            let nz = ks.clone().filter(|&kk| w[kk * n + j] != 0).count();
            if nz > KEEP {
                return Err(Error::Input {
                    file: what.into(),
                    at: format!("column {j}, group {g} (k = {}..{})", ks.start, ks.end - 1),
                    what: format!(
                        "{nz} non-zero weights; 2:4-sparse weights (pe.stc) allow at most {KEEP} \
                         in each group of {GROUP} consecutive k (prune with --prune 2:4, or smtgen.prune_2_4 in Python)"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Prunes the K×N row-major `w` to 2:4 along K in place: in each group of four
/// consecutive k of a column, keeps the two largest |w| (ties to the lower k) and
/// zeroes the rest. Returns how many non-zero weights it zeroed.
pub fn prune_2_4(w: &mut [i8], k: usize, n: usize) -> usize {
    let mut zeroed = 0;
    for j in 0..n {
        for g in 0..k.div_ceil(GROUP) {
            let mut ks: Vec<usize> = (g * GROUP..((g + 1) * GROUP).min(k)).collect();
            // Largest |w| first; the stable sort keeps lower k first among equals.
            ks.sort_by_key(|&kk| std::cmp::Reverse(i16::from(w[kk * n + j]).abs()));
            for &kk in ks.iter().skip(KEEP) {
                if w[kk * n + j] != 0 {
                    w[kk * n + j] = 0;
                    zeroed += 1;
                }
            }
        }
    }
    zeroed
}

/// A `--prune` value: the only pruning smtgen offers is 2:4 along K.
pub fn parse_prune(s: &str) -> std::result::Result<Prune, String> {
    match s {
        "2:4" => Ok(Prune::TwoOfFour),
        _ => Err(format!(
            "`{s}`: allowed 2:4 (keep the two largest |w| of each group of four k)"
        )),
    }
}

/// A pruning a user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    /// Keep the two largest |w| of every aligned group of four k (ties to the lower k).
    TwoOfFour,
}

/// Applies `prune` (if any) to the K×N weights and says what it did, then checks the
/// weights against every design in `designs` that takes 2:4-sparse weights (naming
/// `what` on failure). Returns the line to print about the pruning.
pub fn prepare_weights(
    w: &mut [i8],
    k: usize,
    n: usize,
    prune: Option<Prune>,
    designs: &[&crate::config::Design],
    what: &str,
) -> Result<Option<String>> {
    let note = prune.map(|Prune::TwoOfFour| {
        let before = w.iter().filter(|&&x| x != 0).count();
        let zeroed = prune_2_4(w, k, n);
        format!(
            "pruned {what} to 2:4 along K: zeroed {zeroed} of {before} non-zero weights \
             ({:.1} %), {} remain",
            100.0 * zeroed as f64 / before.max(1) as f64,
            before - zeroed
        )
    });
    if designs.iter().any(|d| d.dp().requires_2_4()) {
        check_2_4(w, k, n, what)?;
    }
    Ok(note)
}

/// Whether the K×N weights are 2:4-sparse along K.
pub fn is_2_4(w: &[i8], k: usize, n: usize) -> bool {
    check_2_4(w, k, n, "").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_two_largest_magnitudes_ties_to_the_lower_k() {
        // One column, K = 6: groups {0..3} and {4, 5}.
        let mut w: Vec<i8> = vec![3, -7, 7, -128, 1, 2];
        assert_eq!(prune_2_4(&mut w, 6, 1), 2);
        assert_eq!(w, vec![0, -7, 0, -128, 1, 2]);
        let mut t: Vec<i8> = vec![5, -5, 5, 5];
        assert_eq!(prune_2_4(&mut t, 4, 1), 2);
        assert_eq!(t, vec![5, -5, 0, 0]);
        check_2_4(&w, 6, 1, "w").unwrap();
    }

    #[test]
    fn a_dense_group_is_named_with_its_column_group_and_count() {
        // K = 4, N = 2 (row-major): column 1 has three non-zero weights.
        let w: Vec<i8> = vec![1, 1, 0, 2, 0, 3, 0, 0];
        let e = check_2_4(&w, 4, 2, "W.npy").unwrap_err().to_string();
        assert!(
            e.contains("W.npy") && e.contains("column 1") && e.contains("group 0"),
            "{e}"
        );
        assert!(e.contains("3 non-zero"), "{e}");
    }

    #[test]
    fn pruned_random_matrices_pass_the_check() {
        let mut rng = crate::stimulus::Rng::new(3);
        for (k, n) in [(1, 1), (5, 3), (16, 7), (33, 2)] {
            let mut w: Vec<i8> = (0..k * n).map(|_| rng.byte() as i8).collect();
            let before = w.iter().filter(|&&x| x != 0).count();
            let z = prune_2_4(&mut w, k, n);
            assert_eq!(before - z, w.iter().filter(|&&x| x != 0).count());
            check_2_4(&w, k, n, "w").unwrap();
        }
    }
}
