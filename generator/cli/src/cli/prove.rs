//! `smtgen prove`: PE datapaths proven equal to their behavioural reference.

use super::args::ProveArgs;
use smtgen_core::config::Design;
use smtgen_core::error::Result;
use smtgen_core::select::Fallback;
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
    chosen: Vec<(String, Design)>,
    both_roundings: bool,
    timeout: u64,
    jobs: usize,
) -> Result<ExitCode> {
    let mut cfgs = Vec::new();
    for (label, c) in chosen {
        if both_roundings && c.pe.rounding.is_some() {
            let t = c.with(|t| {
                t.pe.rounding = Some(smtgen_core::config::Rounding::Truncate);
                t.name = format!("{}_trunc", t.name);
            });
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
    smtgen_core::outln!(
        "{:<22} {:>12} {:>10} {:>6} {:>8} {:>8}",
        "design",
        "rounding",
        "input bits",
        "miters",
        "seconds",
        "slowest"
    );
    for (label, c) in &cfgs {
        let p = smtgen_hdl::prove::prove_jobs(c, timeout, jobs)?;
        let r = c.pe.rounding.map_or("-", |r| r.name());
        let row = format!(
            "{:<22} {:>12} {:>10} {:>6} {:>8.1} {:>8.1}",
            label, r, p.input_bits, p.cases, p.seconds, p.slowest
        );
        if p.proven {
            passed += 1;
            smtgen_core::outln!("{row}  PROVEN equal to the reference for all inputs");
        } else {
            failed += 1;
            match &p.counterexample {
                Some(x) => {
                    smtgen_core::outln!("{row}  REFUTED");
                    let (o, r) = match x.compared {
                        smtgen_hdl::prove::Compared::LaneSum => {
                            (x.optimized.to_string(), x.reference.to_string())
                        }
                        smtgen_hdl::prove::Compared::SelectedOperands => (
                            format!("selected operands {:#x}", x.optimized),
                            format!("{:#x}", x.reference),
                        ),
                    };
                    smtgen_core::outln!(
                        "  counterexample: acts {:?} wgts {:?}: optimized {o} reference {r} golden model {}",
                        x.acts, x.wgts, x.model
                    );
                }
                None => smtgen_core::outln!("{row}  UNDECIDED (timed out)"),
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
