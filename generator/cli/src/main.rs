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

fn main() -> ExitCode {
    // Like other Unix filters, end quietly when the reader goes away
    // (`smtgen presets | head`) instead of failing on the closed pipe.
    #[cfg(unix)]
    // SAFETY: restores the default SIGPIPE disposition (Rust's runtime ignores it)
    // before any thread exists or any output is written.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    smtgen_core::guard::install_interrupt_cleanup();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    smtgen_core::guard::set_limits(cli.max_elements, cli.max_cycles);
    match cli::flags::unused_flags(&matches).and_then(|()| run(cli.cmd)) {
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
                println!("{:<15} {}", p.name, p.about());
            }
        }
        Cmd::Config { cfg } => print!("{}", cfg.build()?.to_yaml()),
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
