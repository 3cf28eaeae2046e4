//! `smtgen sim`: one PE (or with --array an array) against the golden model.

use super::args::{SimArgs, SimChoice};
use super::seed_or_clock;
use smtgen_core::error::{Error, Result};
use smtgen_core::stimulus::{pe_stimulus, Depth};
use smtgen_hdl::regress;
use smtgen_hdl::rtl;
use smtgen_hdl::sim::{self, SimOptions, SimReport};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs `smtgen sim` for every design point named, one after the other: exit code 1
/// when any simulation mismatched.
pub fn run(a: SimArgs) -> Result<ExitCode> {
    let cfgs = a.cfg.build_all()?;
    if cfgs.len() > 1 {
        if let Some(w) = &a.waves {
            let allowed = "one design point (a waveform file holds one design)";
            return Err(Error::config("--waves", w.display(), allowed));
        }
        if let Some(k) = &a.keep {
            let allowed = "one design point (one build directory)";
            return Err(Error::config("--keep", k.display(), allowed));
        }
    }
    let mut code = ExitCode::SUCCESS;
    for (label, cfg) in &cfgs {
        if cfgs.len() > 1 {
            smtgen_core::outln!("== {label}");
        }
        if sim_one(cfg, &a)? != ExitCode::SUCCESS {
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}

fn sim_one(cfg: &smtgen_core::config::Design, a: &SimArgs) -> Result<ExitCode> {
    let SimArgs {
        simulator,
        cycles,
        seed,
        ref waves,
        ref keep,
        array,
        jobs,
        ..
    } = *a;
    let (waves, keep) = (waves.clone(), keep.clone());
    smtgen_core::guard::cycles("--cycles", cycles as u64, true)?;
    let seed = seed_or_clock(seed)?;
    let waves = waves.or_else(|| {
        (std::env::var("WAVES").as_deref() == Ok("1"))
            .then(|| PathBuf::from(if array { "array.fst" } else { "pe.fst" }))
    });
    if let Some(w) = &waves {
        if simulator == SimChoice::Icarus {
            let allowed = "only with --simulator verilator or both (Icarus writes no waveform)";
            return Err(Error::config("--waves", w.display(), allowed));
        }
        smtgen_core::guard::check_out_file("--waves", w, &[])?;
    }
    let waves = waves.map(|w| std::path::absolute(&w).unwrap_or(w));
    let opts = SimOptions {
        waves: waves.clone(),
        keep_dir: keep,
        jobs,
        ..Default::default()
    };
    let mut ok = true;
    if array {
        let files = rtl::generate_array(cfg)?;
        let gemms = regress::array_workload(cfg, seed, 512);
        let run = smtgen_core::array::run_gemms(
            cfg,
            &gemms,
            0.1,
            &mut smtgen_core::stimulus::Rng::new(seed),
        );
        if simulator != SimChoice::Icarus {
            ok &= print_report(&sim::Simulator::Verilator.array(cfg, &files, &run, seed, &opts)?);
        }
        if simulator != SimChoice::Verilator {
            ok &= print_report(&sim::Simulator::Icarus.array(cfg, &files, &run, seed, &opts)?);
        }
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let files = rtl::generate_pe(cfg)?;
    if simulator != SimChoice::Icarus {
        let stim = pe_stimulus(cfg, seed, Depth::Full, cycles);
        let r = sim::Simulator::Verilator.pe(cfg, &files, &stim, &opts)?;
        ok &= print_report(&r);
    }
    if simulator != SimChoice::Verilator {
        let stim = pe_stimulus(cfg, seed, Depth::Light, cycles.min(200_000));
        let r = sim::Simulator::Icarus.pe(cfg, &files, &stim, &opts)?;
        ok &= print_report(&r);
    }
    if let Some(w) = waves.filter(|w| !w.is_file()) {
        return Err(Error::tool(
            "verilator",
            format!("wrote no waveform to {}", w.display()),
        ));
    }
    if !ok {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &SimReport) -> bool {
    smtgen_core::outln!(
        "{:<15} {:<9} seed={} cycles={} mismatches={} (build {:.1}s, run {:.2}s, {:.2} M cycles/s)",
        r.design,
        r.simulator.name(),
        r.seed,
        r.cycles,
        r.mismatches,
        r.build_s,
        r.run_s,
        r.cycles as f64 / r.run_s.max(1e-9) / 1e6
    );
    for d in &r.details {
        smtgen_core::outln!("  {d}");
    }
    r.mismatches == 0
}
