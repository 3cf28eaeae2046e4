//! `smtgen prove`: PE datapaths proven equal to their behavioural reference.

use super::args::ProveArgs;
use smtgen::config::Config;
use smtgen::error::Result;
use smtgen::select::Fallback;
use std::process::ExitCode;

/// Runs `smtgen prove`: exit code 1 when any proof failed or timed out.
pub fn run(a: ProveArgs) -> Result<ExitCode> {
    let ProveArgs {
        points,
        both_roundings,
        timeout,
        jobs,
    } = a;
    // With no design point named, --config/--set make one configuration
    // (over the default preset, or the file alone); otherwise every point
    // named (or every preset) takes the file and the overrides.
    let one = points.points.is_empty() && (points.config.is_some() || !points.sets.is_empty());
    let sel = points.selection(Vec::new());
    let chosen = sel.resolve_labelled(if one { Fallback::One } else { Fallback::All })?;
    prove_cmd(chosen, both_roundings, timeout, jobs)
}

fn prove_cmd(
    chosen: Vec<(String, Config)>,
    both_roundings: bool,
    timeout: u64,
    jobs: usize,
) -> Result<ExitCode> {
    let mut cfgs = Vec::new();
    for (label, c) in chosen {
        if both_roundings && c.pe.rounding.is_some() {
            let mut t = c.clone();
            t.pe.rounding = Some(smtgen::config::Rounding::Truncate);
            t.name = format!("{}_trunc", c.name);
            let tl = if label == c.name {
                t.name.clone()
            } else {
                format!("{label}+pe.rounding=truncate")
            };
            cfgs.push((label, c));
            cfgs.push((tl, t));
        } else {
            cfgs.push((label, c));
        }
    }
    let (mut passed, mut failed) = (0, 0);
    smtgen::outln!(
        "{:<22} {:>12} {:>10} {:>6} {:>8} {:>8}",
        "design",
        "rounding",
        "input bits",
        "miters",
        "seconds",
        "slowest"
    );
    for (label, c) in &cfgs {
        let p = smtgen::prove::prove_jobs(c, timeout, jobs)?;
        let r = c.pe.rounding.map_or("-", |r| r.name());
        let row = format!(
            "{:<22} {:>12} {:>10} {:>6} {:>8.1} {:>8.1}",
            label, r, p.input_bits, p.cases, p.seconds, p.slowest
        );
        if p.proven {
            passed += 1;
            smtgen::outln!("{row}  PROVEN equal to the reference for all inputs");
        } else {
            failed += 1;
            match &p.counterexample {
                Some(x) => {
                    smtgen::outln!("{row}  REFUTED");
                    let (o, r) = match x.compared {
                        smtgen::prove::Compared::LaneSum => {
                            (x.optimized.to_string(), x.reference.to_string())
                        }
                        smtgen::prove::Compared::SelectedOperands => (
                            format!("selected operands {:#x}", x.optimized),
                            format!("{:#x}", x.reference),
                        ),
                    };
                    smtgen::outln!(
                        "  counterexample: acts {:?} wgts {:?}: optimized {o} reference {r} golden model {}",
                        x.acts, x.wgts, x.model
                    );
                }
                None => smtgen::outln!("{row}  UNDECIDED (timed out)"),
            }
        }
    }
    smtgen::outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
