//! Shows that the proof can fail: drops the tie-to-even rounding bit from the
//! 4-lane weight nibble of sysmt4 and asks for a proof, which must come back
//! refuted with a counterexample the golden model reproduces.
//! Run: cargo run --release --example prove_broken
use smtgen_core::config::Design;
use smtgen_hdl::prove::prove_files;
use smtgen_hdl::rtl::{generate_pe_with_fault, Fault};

fn main() -> smtgen_core::Result<()> {
    let preset = std::env::args().nth(1).unwrap_or_else(|| "sysmt4".into());
    let cfg = Design::preset(&preset)?;
    // Two-lane designs have no nibble (the hook refuses a fault that changes
    // nothing): drop the sign of unit 1's product instead.
    let files = generate_pe_with_fault(&cfg, Fault::Nib4WithoutTieToEven)
        .or_else(|_| generate_pe_with_fault(&cfg, Fault::UnsignedProduct { unit: 1 }))?;
    let p = prove_files(&cfg, &files, 900)?;
    println!("{}: proven={} in {:.1} s", p.design, p.proven, p.seconds);
    if let Some(x) = &p.counterexample {
        println!(
            "counterexample: acts {:?} wgts {:?}: broken datapath {} reference {} golden model {}",
            x.acts, x.wgts, x.optimized, x.reference, x.model
        );
        assert_eq!(
            x.reference, x.model,
            "the golden model reproduces the reference"
        );
    }
    Ok(())
}
