//! `smtgen regress`: every design point's PE and arrays under Verilator and Icarus.

use super::args::RegressArgs;
use super::{parse_sizes, seed_or_clock};
use smtgen_core::error::{Error, Result};
use smtgen_core::select::points_or_all;
use smtgen_hdl::regress::{self, Tools};
use std::process::ExitCode;

/// Runs `smtgen regress`: exit code 1 when any line failed.
pub fn run(a: RegressArgs) -> Result<ExitCode> {
    let seed = seed_or_clock(a.seed)?;
    smtgen_core::guard::cycles("--cycles", a.cycles as u64, true)?;
    smtgen_core::guard::cycles("--icarus-cycles", a.icarus_cycles as u64, true)?;
    if a.max_k == 0 {
        return Err(Error::config("--max-k", 0, "1 or more"));
    }
    // The largest array tile is 2*128+2 rows of A over K.
    smtgen_core::guard::elements("--max-k", &[258, a.max_k as u64])?;
    let tools = Tools {
        jobs: a.jobs,
        ..Tools::detect()?
    };
    for (tool, have) in [("verilator", tools.verilator), ("iverilog", tools.icarus)] {
        if !have {
            smtgen_core::outln!(
                "WARNING: {tool} not installed: its part of the regression is SKIPPED"
            );
        }
    }
    let names: Vec<String> = if a.cover {
        let points = smtgen_hdl::cover::covering_set()?;
        if a.list {
            smtgen_core::out!("{}", smtgen_hdl::cover::describe(&points));
            return Ok(ExitCode::SUCCESS);
        }
        let problems = smtgen_hdl::cover::check(&points);
        if !problems.is_empty() {
            return Err(Error::tool("cover", problems.join("; ")));
        }
        points
            .into_iter()
            .filter(|p| !(a.skip_presets && p.is_preset()))
            .map(|p| p.spec)
            .collect()
    } else {
        points_or_all(&a.presets)
    };
    // Every point is validated before anything runs.
    for n in &names {
        smtgen_core::config::design_point(n, &[] as &[&str])?;
    }
    let (do_pe, do_array) = match (a.pe, a.array) {
        (false, false) => (true, true),
        x => x,
    };
    smtgen_core::outln!("smtgen regression, seed={seed} (reproduce with --seed {seed})");
    let (mut passed, mut failed) = (0, 0);
    let mut tally = |line: &regress::Line| {
        if line.ok {
            passed += 1;
        } else {
            failed += 1;
        }
        for n in &line.notes {
            smtgen_core::outln!("  {n}");
        }
    };
    if do_pe {
        let w = [15, 5, 16, 8, 13, 8, 12];
        print_row(&w, &regress::PE_HEADER.map(String::from));
        for name in &names {
            let line = regress::pe_line(name, tools, a.cycles, a.icarus_cycles, seed)?;
            let mut cols = vec![line.name.clone()];
            cols.extend(line.cols.iter().cloned());
            print_row(&w, &cols);
            tally(&line);
        }
    }
    if do_array {
        let default_sizes = if a.cover {
            COVER_SIZES
        } else {
            "1x1,2x3,4x4,8x8,16x16"
        };
        let sizes = if a.sizes.is_empty() {
            parse_sizes(
                &default_sizes
                    .split(',')
                    .map(String::from)
                    .collect::<Vec<_>>(),
            )?
        } else {
            parse_sizes(&a.sizes)?
        };
        // One array configuration per policy and weight mode (dense, or 2:4 under
        // `pe.stc`) also runs under Icarus, at 4x4; with --icarus-all every one does.
        let mut icarus_policy = std::collections::HashSet::new();
        let w = [24, 5, 5, 7, 7, 7, 16, 7, 8, 12];
        print_row(&w, &regress::ARRAY_HEADER.map(String::from));
        for (pi, name) in names.iter().enumerate() {
            let d = smtgen_core::config::Design::point(name, &[] as &[&str])?;
            // The covering run adds one size corner per point, in turn, so every
            // corner runs on several points without multiplying the builds.
            let mut sizes = sizes.clone();
            if a.cover && a.sizes.is_empty() {
                sizes.push(COVER_CORNERS[pi % COVER_CORNERS.len()]);
            }
            for &(r, c) in &sizes {
                let icarus = a.icarus_all
                    || ((r, c) == (4, 4)
                        && icarus_policy.insert((d.pe.policy, d.dp().requires_2_4())));
                let line = regress::array_line(name, r, c, tools, icarus, seed, a.max_k)?;
                let mut cols = vec![line.name.clone()];
                cols.extend(line.cols.iter().cloned());
                print_row(&w, &cols);
                tally(&line);
            }
        }
    }
    smtgen_core::outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The sizes every point of the covering run takes.
const COVER_SIZES: &str = "2x3,4x4";

/// Size corners the covering run spreads over its points, one each in turn: 1x1,
/// one row, one column, more rows than columns, a size above 4.
const COVER_CORNERS: [(u32, u32); 5] = [(1, 1), (1, 4), (4, 1), (3, 2), (5, 6)];

fn print_row(widths: &[usize], cols: &[String]) {
    let line: Vec<String> = cols
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (c, w))| {
            if i == 0 {
                format!("{c:<w$}")
            } else {
                format!("{c:>w$}")
            }
        })
        .collect();
    smtgen_core::outln!("{}", line.join("  "));
}
