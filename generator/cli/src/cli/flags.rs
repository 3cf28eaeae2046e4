//! Flags the chosen subcommand would ignore: rejected by name rather than silently
//! dropped (a check on clap's parse, so it lives with the command line).

use smtgen_core::error::{Error, Result};

/// `(subcommand, when, flags, why)`: with the condition `when` (a flag given or
/// not, `!` negating it; several joined by `&` must all hold), the `flags` are not
/// used and are an error.
const UNUSED: &[(&str, &str, &[&str], &str)] = &[
    (
        "eval",
        "!synthetic",
        &["m", "k", "n", "zero", "seed"],
        "used only with --synthetic",
    ),
    (
        "eval",
        "!input",
        &["stride", "padding"],
        "used only with --input/--weights",
    ),
    (
        "bench",
        "eval",
        &["cycles", "array", "sizes", "presets", "repeat"],
        "not used by bench --eval",
    ),
    ("bench", "!array", &["sizes"], "used only with --array"),
    (
        "bench",
        "!array&!gemm",
        &["presets", "repeat"],
        "used only with --array or --gemm",
    ),
    (
        "bench",
        "gemm",
        &["cycles", "sizes"],
        "not used by bench --gemm (it takes --shapes)",
    ),
    (
        "sim",
        "array",
        &["cycles"],
        "not used by sim --array (it runs its own tiled GEMMs)",
    ),
    (
        "lint",
        "all",
        &["preset", "config"],
        "not used with --all (it lints every preset)",
    ),
    (
        "regress",
        "pe",
        &["sizes", "max_k"],
        "used only by the array regression (not with --pe)",
    ),
    (
        "regress",
        "array",
        &["cycles", "icarus_cycles"],
        "used only by the PE regression (not with --array)",
    ),
    (
        "compare",
        "pe_only",
        &["rows", "cols"],
        "used only for the array (not with --pe-only)",
    ),
];

fn given(m: &clap::ArgMatches, id: &str) -> bool {
    m.try_get_raw(id).is_ok_and(|v| v.is_some())
        && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
}

/// Rejects a flag that the chosen subcommand would ignore (for example
/// `eval --stride` without `--input`), naming the flag, its value and why.
pub fn unused_flags(m: &clap::ArgMatches) -> Result<()> {
    let Some((cmd, sub)) = m.subcommand() else {
        return Ok(());
    };
    for (c, when, flags, why) in UNUSED {
        if *c != cmd {
            continue;
        }
        let holds = when.split('&').all(|w| {
            let (neg, id) = w.strip_prefix('!').map_or((false, w), |x| (true, x));
            given(sub, id) != neg
        });
        if !holds {
            continue;
        }
        for f in *flags {
            if given(sub, f) {
                let value = sub
                    .get_raw(f)
                    .map(|v| {
                        v.map(|x| x.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                return Err(Error::config(
                    format!("--{}", f.replace('_', "-")),
                    if value.is_empty() {
                        "(given)".into()
                    } else {
                        value
                    },
                    format!("{why}: remove it"),
                ));
            }
        }
    }
    Ok(())
}
