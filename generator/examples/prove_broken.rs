//! Shows that the proof can fail: drops the tie-to-even rounding bit from the
//! 4-lane weight nibble of sysmt4 and asks for a proof, which must come back
//! refuted with a counterexample the golden model reproduces.
//! Run: cargo run --release --example prove_broken
use smtgen::config::Config;
use smtgen::prove::prove_files;
use smtgen::rtl::generate_pe;

fn main() -> smtgen::Result<()> {
    let preset = std::env::args().nth(1).unwrap_or_else(|| "sysmt4".into());
    let cfg = Config::preset(&preset)?;
    let mut files = generate_pe(&cfg)?;
    let mut broke = false;
    for f in files.iter_mut() {
        if f.name.ends_with("_nib4.v") {
            f.text = f.text.replace("((|w_i[2:0]) | w_i[4])", "(|w_i[2:0])");
            broke = true;
        } else if !broke && f.name.ends_with("_fabric.v") && !f.text.contains("_nib4") {
            // Two-lane designs have no nibble: drop the sign of unit 1's product instead.
            f.text = f.text.replacen("p1[11]", "1'b0", 1);
        }
    }
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
