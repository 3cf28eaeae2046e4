//! Don't-care inputs driven with random values: docs/array.md says `in_first_i`,
//! `in_last_i` and the operands are ignored in a cycle without `in_valid_i` (and
//! while reset is held), and `skip_i` in every cycle without a first group, so a
//! stimulus that leaves them zero there cannot catch an array that uses them.
//! [`scramble_idle`] fills every such cycle of a run with random first/last bits,
//! operand bytes and skip bits and re-runs the model on the result:
//! the model must produce the same outputs (it ignores them too), and the RTL is
//! then simulated against that trace.

use super::{ArrayModel, ArrayRun};
use crate::config::Design;
use crate::stimulus::Rng;

/// Randomizes every idle or reset cycle's don't-care inputs of `run` (see the
/// module documentation). Returns false when the model's outputs change, which
/// means the model itself reads a don't-care input.
pub fn scramble_idle(cfg: &Design, run: &mut ArrayRun, rng: &mut Rng) -> bool {
    for i in run.inputs.iter_mut().filter(|i| !i.valid || i.reset) {
        if i.reset {
            // Reset clears whatever valid says; drive it too.
            i.valid = rng.chance(0.5);
        }
        i.first = rng.chance(0.5);
        i.last = rng.chance(0.5);
        for a in i.acts.iter_mut() {
            *a = rng.byte();
        }
        for w in i.wgts.iter_mut() {
            *w = rng.byte() as i8;
        }
    }
    // The skip bits (array.skip: gate) are read with a first group only.
    for i in run
        .inputs
        .iter_mut()
        .filter(|i| !i.valid || i.reset || !i.first)
    {
        for b in i.skip.iter_mut() {
            *b = rng.chance(0.5);
        }
    }
    let mut model = ArrayModel::new(cfg);
    let outputs: Vec<_> = run.inputs.iter().map(|i| model.step(i)).collect();
    let same = outputs.len() == run.outputs.len()
        && outputs.iter().zip(&run.outputs).all(|(a, b)| {
            a.last_ready == b.last_ready
                && a.res_valid == b.res_valid
                && (0..a.res.len()).all(|r| !a.res_valid[r] || a.res[r] == b.res[r])
        });
    run.outputs = outputs;
    same
}
