//! `smtgen gen`: writes the array (or the PE alone) and its filelists, for every
//! design point named, into one output directory.

use super::args::GenArgs;
use smtgen_core::error::{Error, Result};
use smtgen_hdl::rtl;

/// Runs `smtgen gen`.
pub fn run(a: GenArgs) -> Result<()> {
    let GenArgs {
        cfg,
        out,
        pe_only,
        reference,
    } = a;
    let cfgs = cfg.build_all()?;
    smtgen_core::guard::check_out_dir("--out", &out)?;
    let t0 = std::time::Instant::now();
    // Every design's files are rendered before anything is written; two design points
    // whose files would share a name (the same `name`) are an error, not an overwrite.
    let mut sets: Vec<smtgen_core::guard::FileSet> = Vec::new();
    let mut owner: std::collections::HashMap<String, String> = Default::default();
    let mut counts = Vec::new();
    for (label, c) in &cfgs {
        let mut files = if pe_only {
            rtl::generate_pe(c)?
        } else {
            rtl::generate_array(c)?
        };
        if reference {
            files.extend(rtl::generate_reference(c)?);
        }
        let mut set = Vec::new();
        for f in &files {
            if let Some(first) = owner.insert(f.name.clone(), label.clone()) {
                return Err(Error::config(
                    "--preset",
                    format!("{first} and {label}"),
                    format!(
                        "design points with different names: both write {} (add +name=... to one)",
                        f.name
                    ),
                ));
            }
            set.push((f.name.clone(), f.text.clone().into_bytes()));
        }
        counts.push(files.len());
        // One set per design (its name): a new run of the design replaces all
        // of its previous files (gen --pe-only drops the array files).
        sets.push((c.name.clone(), set));
    }
    let paths = smtgen_core::guard::write_sets("--out", &out, &sets)?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut paths = paths.iter();
    for ((_, c), n) in cfgs.iter().zip(counts) {
        let what = if pe_only {
            "PE".to_string()
        } else {
            format!("{}x{} array", c.array.rows, c.array.cols)
        };
        smtgen_core::outln!(
            "smtgen: wrote {n} files for {} ({what} of {} PEs, {} lane(s)) to {}",
            c.name,
            c.pe.policy,
            c.dp().lanes,
            out.display(),
        );
        for p in paths.by_ref().take(n) {
            smtgen_core::outln!("  {}", p.display());
        }
    }
    smtgen_core::outln!("smtgen: {} design(s) in {ms:.0} ms", cfgs.len());
    Ok(())
}
