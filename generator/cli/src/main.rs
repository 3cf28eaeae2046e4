//! `smtgen`: the command line over the smtgen library (config, golden model, RTL
//! emission, simulation and benchmarks). Every subcommand takes `--preset`,
//! `--config` and `--set key=value` in the same way.
//!
//! This file only dispatches: the flags are in `cli/args.rs` and each
//! subcommand's body in its own file under `cli/`.

mod cli;

use cli::args::{Cli, Cmd};
use smtgen_core::config::PRESETS;
use smtgen_core::error::Result;
use std::process::ExitCode;

/// Runs before the Rust runtime, which would reopen a closed standard output on
/// `/dev/null` and hide that the output is lost.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static RECORD_STDOUT: extern "C" fn() = {
    extern "C" fn record() {
        smtgen_core::guard::stdout::record_at_start();
    }
    record
};

fn main() -> ExitCode {
    // Before any file is opened: with standard output closed the first one would
    // take its descriptor. Writes to a closed pipe (`smtgen presets | head`) are
    // errors the stdout writer turns into a quiet end (SIGPIPE stays ignored).
    if let Err(e) = smtgen_core::guard::stdout::check_open() {
        eprintln!("smtgen: {e}");
        return ExitCode::from(2);
    }
    smtgen_core::guard::install_interrupt_cleanup();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = smtgen_core::guard::set_limits(cli.max_elements, cli.max_cycles)
        .and_then(|()| cli::flags::unused_flags(&matches))
        .and_then(|()| run(cli.cmd));
    let printed = smtgen_core::guard::stdout::finish();
    match result.and_then(|code| printed.map(|()| code)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("smtgen: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cmd: Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Presets => {
            for p in PRESETS {
                smtgen_core::outln!("{:<15} {}", p.name, p.about());
            }
        }
        Cmd::Config { cfg } => smtgen_core::out!("{}", cfg.build()?.to_yaml()),
        Cmd::Gen(a) => cli::gen::run(a)?,
        Cmd::Model(a) => cli::model::run(a)?,
        Cmd::Lint(a) => cli::lint::run(a)?,
        Cmd::Sim(a) => return cli::sim::run(a),
        Cmd::Regress(a) => return cli::regress::run(a),
        Cmd::Eval(a) => cli::eval::run(a)?,
        Cmd::Prove(a) => return cli::prove::run(a),
        Cmd::Compare(a) => cli::compare::run(a)?,
        Cmd::Synth(a) => cli::synth::run(a)?,
        Cmd::Gemm(a) => cli::gemm::run(a)?,
        Cmd::Bench(a) => cli::bench::run(a)?,
        Cmd::Sweep(a) => return cli::sweep::run(a),
    }
    Ok(ExitCode::SUCCESS)
}
