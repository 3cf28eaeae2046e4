//! `smtgen gen`: writes the array (or the PE alone) and its filelists.

use super::args::GenArgs;
use smtgen::error::Result;
use smtgen::rtl;

/// Runs `smtgen gen`.
pub fn run(a: GenArgs) -> Result<()> {
    let GenArgs {
        cfg,
        out,
        pe_only,
        reference,
    } = a;
    let cfg = cfg.build()?;
    smtgen::guard::check_out_dir("--out", &out)?;
    let t0 = std::time::Instant::now();
    let mut files = if pe_only {
        rtl::generate_pe(&cfg)?
    } else {
        rtl::generate_array(&cfg)?
    };
    if reference {
        files.extend(rtl::generate_reference(&cfg)?);
    }
    let set: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.name.clone(), f.text.clone().into_bytes()))
        .collect();
    let paths = smtgen::guard::write_set("--out", &out, &set)?;
    let what = if pe_only {
        "PE".to_string()
    } else {
        format!("{}x{} array", cfg.array.rows, cfg.array.cols)
    };
    println!(
        "smtgen: wrote {} files for {} ({what} of {} PEs, {} lane(s)) to {} in {:.0} ms",
        paths.len(),
        cfg.name,
        cfg.pe.policy,
        cfg.pe.threads,
        out.display(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    for p in &paths {
        println!("  {}", p.display());
    }
    Ok(())
}
