//! Unit tests of the latency formulas, the cycle-accurate model and the stream driver.

use super::*;
use crate::config::ConfigBuilder;
use crate::stimulus::Rng;

fn cfg(preset: &str, r: u32, c: u32) -> crate::config::Design {
    crate::config::Design::new(
        ConfigBuilder::new()
            .preset(Some(preset))
            .sets(&[format!("array.rows={r}"), format!("array.cols={c}")])
            .build()
            .unwrap(),
    )
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
        let cfg = crate::config::Design::point(preset, &size).unwrap();
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
        let cfg = crate::config::Design::point(preset, &size).unwrap();
        let g = Gemm::random(m, k, n, 0.5, &mut rng);
        let run = run_gemm(&cfg, &g, 0.0, &mut rng);
        assert_eq!(run.c[0], gemm_functional(&cfg, &g), "{preset} {r}x{c}");
        let groups = g.groups(cfg.lanes()) as u64;
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
        let cfg = crate::config::Design::point(preset, &["array.rows=3", "array.cols=4"]).unwrap();
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

#[test]
fn skip_masks_zero_their_outputs_and_nothing_else() {
    let seed = 2323;
    let mut rng = Rng::new(seed);
    for (preset, r, c) in [
        ("baseline", 3u32, 2u32),
        ("sysmt2-edge+pe.pipeline=1", 4, 4),
        ("sysmt4", 2, 3),
        ("sparq-stc-4b5opt", 3, 3),
    ] {
        let size = [
            format!("array.rows={r}"),
            format!("array.cols={c}"),
            "array.skip=gate".to_string(),
        ];
        let cfg = crate::config::Design::point(preset, &size).unwrap();
        let gs = vec![
            Gemm::random(7, 13, 9, 0.3, &mut rng),
            Gemm::random(5, 3, 4, 0.0, &mut rng),
        ];
        let plain = run_gemms(&cfg, &gs, 0.0, &mut rng);
        for density in [0.0, 0.3, 0.5, 1.0] {
            let masks: Vec<Vec<bool>> = gs
                .iter()
                .map(|g| (0..g.m * g.n).map(|_| rng.chance(density)).collect())
                .collect();
            for idle in [0.0, 0.2] {
                let run = run_gemms_masked(&cfg, &gs, &masks, idle, &mut rng).unwrap();
                for (i, g) in gs.iter().enumerate() {
                    let want = gemm_functional_masked(&cfg, g, &masks[i]);
                    assert_eq!(
                        run.c[i], want,
                        "seed {seed} {preset} {r}x{c} GEMM {i} density {density} idle {idle}: \
                         mask {:?}",
                        masks[i]
                    );
                    if density == 0.0 {
                        assert_eq!(run.c[i], plain.c[i], "all-zero mask = no skip");
                    }
                }
                // Timing does not change with the mask.
                if idle == 0.0 {
                    assert_eq!(run.cycles, plain.cycles, "{preset}: cycles with a mask");
                }
                let mut scrambled = run.clone();
                assert!(
                    scramble_idle(&cfg, &mut scrambled, &mut rng),
                    "{preset}: the model reads a skip bit outside a first group"
                );
            }
        }
    }
    // A mask on a design without the option, or of the wrong size, is refused.
    let plain = cfg("baseline", 2, 2);
    let g = Gemm::random(2, 2, 2, 0.0, &mut rng);
    let e = run_gemms_masked(
        &plain,
        std::slice::from_ref(&g),
        &[vec![false; 4]],
        0.0,
        &mut rng,
    );
    assert!(e.unwrap_err().to_string().contains("array.skip"));
    let gate = plain.with(|c| c.array.skip = crate::config::Skip::Gate);
    let e = run_gemms_masked(&gate, &[g], &[vec![false; 3]], 0.0, &mut rng);
    assert!(e.unwrap_err().to_string().contains("M·N = 4"));
}

#[test]
fn whole_skipped_tiles_leave_the_stream_by_hand_count() {
    // 5x3 outputs on a 2x2 array: tiles (M outer, N inner) rows {0,1},{2,3},{4} x
    // cols {0,1},{2}: six tiles. Skip all of tile (0,0), all of the partial tile
    // (2,1) (output (4,2) only), and three of four outputs of tile (1,0).
    let (m, n) = (5, 3);
    let mut mask = vec![false; m * n];
    for (i, j) in [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (4, 2),
        (2, 0),
        (2, 1),
        (3, 0),
    ] {
        mask[i * n + j] = true;
    }
    let t = skipped_tiles(m, n, 2, 2, &mask);
    assert_eq!(t, [true, false, false, false, false, true]);
    // G = 3 groups per tile, C = 2: six tiles take 3 + 5*3 + R + 2C - 1 cycles, four 3 + 3*3 + ...
    let all = stream_cycles(2, 2, 0, &[3; 6]);
    let kept = stream_cycles_skipping(2, 2, 0, 3, &t);
    assert_eq!(all - kept, 2 * 3);
    assert_eq!(kept, 3 + 3 * 3 + 2 + 4 - 1);
    assert_eq!(stream_cycles_skipping(2, 2, 0, 3, &[true; 6]), 0);
}
