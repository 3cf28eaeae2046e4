//! An independent statement of the array's control timing, written from
//! docs/array.md rather than from the model or the RTL: given a run's inputs it
//! says in which cycles `last_ready_o` and each row's `res_valid_o` must be high,
//! and [`check_timing`] compares that with the outputs the model produced (which
//! the RTL is in turn simulated against).
//!
//! The rules (docs/array.md, "last_ready_o", "Reset" and "Latency"), for an array
//! of R rows and C columns with E extra PE latency:
//! - `last_ready_o` is high after power-up and after reset; a last group presented
//!   at cycle n (valid, last, not in reset) makes it low in cycles n+1 .. n+C-1 and
//!   high again from n+C.
//! - a tile whose last group is presented at cycle t_L puts column c's result on
//!   row r's port at cycle t_L + 2C + r - c + E, so row r's `res_valid_o` is high
//!   in cycles t_L + C + 1 + r + E .. t_L + 2C + r + E (C pulses);
//! - reset drops every tile whose last group came before it (from the first reset
//!   cycle on, no result of it appears) and is itself a cycle of no results.
//!
//! Valid only for streams that keep the protocol (a last group only while
//! `last_ready_o` is high), which every stream smtgen generates does.

use super::{ArrayInput, ArrayOutput};
use crate::config::Design;

/// The mismatches between the outputs and the documented timing, at most `limit`
/// of them (each naming the cycle, the signal, the expected and the actual value).
pub fn check_timing(
    cfg: &Design,
    inputs: &[ArrayInput],
    outputs: &[ArrayOutput],
    limit: usize,
) -> Vec<String> {
    let (rows, cols) = (cfg.array.rows as u64, cfg.array.cols as u64);
    let e = cfg.pe.extra_latency();
    let mut problems = Vec::new();
    let mut last_at: Option<u64> = None;
    // Last-group cycles of the tiles not dropped by a reset.
    let mut tiles: Vec<u64> = Vec::new();
    for (x, (i, o)) in inputs.iter().zip(outputs).enumerate() {
        let x = x as u64;
        if i.reset {
            last_at = None;
            tiles.clear();
            if o.res_valid.iter().any(|&v| v) {
                problems.push(format!("cycle {x}: res_valid_o high during reset"));
            }
        } else {
            let ready = last_at.is_none_or(|n| x >= n + cols);
            if o.last_ready != ready {
                problems.push(format!(
                    "cycle {x}: last_ready_o = {}, the documented rule gives {} (last group at {:?}, C = {cols})",
                    u8::from(o.last_ready),
                    u8::from(ready),
                    last_at
                ));
            }
            for r in 0..rows {
                let want = tiles
                    .iter()
                    .any(|&t| x > t + cols + r + e && x <= t + 2 * cols + r + e);
                let got = o.res_valid.get(r as usize).copied().unwrap_or(false);
                if got != want {
                    problems.push(format!(
                        "cycle {x}: res_valid_o[{r}] = {}, the documented latency gives {} (t_L + 2C + r - c + E, E = {e})",
                        u8::from(got),
                        u8::from(want)
                    ));
                }
            }
            if i.valid && i.last {
                last_at = Some(x);
                tiles.push(x);
            }
        }
        if problems.len() >= limit {
            break;
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::{run_gemms, run_with_reset, scramble_idle, Gemm};
    use crate::stimulus::Rng;

    /// The model keeps the documented timing at every size corner, with idle
    /// cycles, a mid-stream reset and scrambled don't-care inputs; and a model
    /// output moved by one cycle is caught.
    #[test]
    fn the_model_keeps_the_documented_timing() {
        for point in ["baseline", "sysmt2-edge", "sysmt4+pe.pipeline=1"] {
            for (r, c) in [(1, 1), (1, 4), (4, 1), (3, 2), (5, 6)] {
                let sets = [format!("array.rows={r}"), format!("array.cols={c}")];
                let cfg = crate::config::Design::point(point, &sets).unwrap();
                let mut rng = Rng::new(7);
                let t = cfg.lanes();
                let gemms: Vec<Gemm> = (0..3)
                    .map(|i| Gemm::random(r + i, t * (i + 1) + 1, c + 2 * i, 0.3, &mut rng))
                    .collect();
                let loose = run_gemms(&cfg, &gemms, 0.2, &mut rng);
                let (mut reset, clean) = run_with_reset(&cfg, &gemms, 9, 2, &mut rng);
                assert!(clean);
                for run in [loose, reset.clone()] {
                    let p = check_timing(&cfg, &run.inputs, &run.outputs, 3);
                    assert!(p.is_empty(), "{point} {r}x{c}: {p:?}");
                }
                assert!(scramble_idle(&cfg, &mut reset, &mut rng), "{point} {r}x{c}");
                let p = check_timing(&cfg, &reset.inputs, &reset.outputs, 3);
                assert!(p.is_empty(), "{point} {r}x{c} scrambled: {p:?}");
                // One result pulse a cycle late is a timing error.
                let mut late = reset.outputs.clone();
                let x = late.iter().position(|o| o.res_valid[0]).unwrap();
                late[x].res_valid[0] = false;
                late[x + c].res_valid[0] = true;
                assert!(!check_timing(&cfg, &reset.inputs, &late, 3).is_empty());
            }
        }
    }
}
