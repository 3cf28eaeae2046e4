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
//!
//! `model` holds the cycle-accurate model ([`ArrayModel`] and its port types),
//! `stream` the tiled GEMM driver ([`Gemm`], [`run_gemms`], [`run_with_reset`]) and
//! the functional reference [`gemm_functional`].

mod dontcare;
mod model;
mod stream;
#[cfg(test)]
mod tests;
mod timing;

pub use dontcare::scramble_idle;
pub use model::{ArrayInput, ArrayModel, ArrayOutput};
pub use stream::{
    gemm_functional, gemm_functional_masked, run_gemm, run_gemms, run_gemms_masked, run_with_reset,
    ArrayRun, Gemm, SkipMasks,
};
pub use timing::check_timing;

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

/// Which tiles of an M×N output on an R×C array (M tiles outer, N tiles inner, as
/// [`run_gemms`] streams them) have every output skipped by `mask` (M×N row-major,
/// true = skip): a driver may leave such a tile out of the stream, its outputs being
/// 0. Partial tiles count the outputs they have. A `mask` shorter than M·N counts
/// the missing outputs as not skipped.
pub fn skipped_tiles(m: usize, n: usize, rows: usize, cols: usize, mask: &[bool]) -> Vec<bool> {
    let mut out = Vec::new();
    for mt in 0..m.div_ceil(rows.max(1)) {
        for nt in 0..n.div_ceil(cols.max(1)) {
            let all = (mt * rows..((mt + 1) * rows).min(m)).all(|i| {
                (nt * cols..((nt + 1) * cols).min(n))
                    .all(|j| mask.get(i * n + j).copied().unwrap_or(false))
            });
            out.push(all);
        }
    }
    out
}

/// Cycles of a GEMM of `groups` groups per tile when the tiles `skipped` marks are
/// left out of the stream ([`stream_cycles`] over the rest; 0 when none is left).
pub fn stream_cycles_skipping(
    rows: u64,
    cols: u64,
    edge: u64,
    groups: u64,
    skipped: &[bool],
) -> u64 {
    let kept = skipped.iter().filter(|&&s| !s).count();
    stream_cycles(rows, cols, edge, &vec![groups; kept])
}
