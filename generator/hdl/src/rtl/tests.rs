//! Unit tests of the RTL emission: the inline windows' and the fabric's expressions,
//! the planted faults, the fabric's units, and the one-module-per-file layout with
//! headers over every preset.

use super::exprs::{self, pair_lane, sum_halves, term, PairLane};
use super::*;
use crate::config::Design;

/// The inline window's macros (`templates/macros.v`) on one lane, joined by `#`:
/// the selection signals, the window, its shift, the bits below it, the round-up
/// and the pair's window.
#[derive(askama::Template)]
#[template(
    source = "{%- import \"macros.v\" as m -%}\
{% for g in l.above %}g{{ l.k }}_{{ g.0 }} = |a{{ l.k }}[7:{{ g.1 }}];{% endfor %}\
#{% call m::pair_trunc(l) %}{% endcall %}#{% call m::pair_shift(l) %}{% endcall %}\
#{% call m::pair_low(l) %}{% endcall %}#{% call m::pair_round(l) %}{% endcall %}\
#{% call m::pair_next(l) %}{% endcall %}",
    ext = "v"
)]
struct LaneTpl {
    l: PairLane,
}

fn lane_text(l: PairLane) -> Vec<String> {
    use askama::Template;
    let text = LaneTpl { l }.render().unwrap();
    text.split('#').map(str::to_string).collect()
}

#[test]
fn pair_lane_selects_are_one_hot_terms() {
    let t = lane_text(pair_lane(1, &[0, 4]));
    assert_eq!(t[0], "g1_4 = |a1[7:4];");
    assert_eq!(t[1], "({4{~g1_4}} & a1[3:0]) | ({4{g1_4}} & a1[7:4])");
    assert_eq!(t[2], "({3{g1_4}} & 3'd4)");
    assert_eq!(t[3], "({4{g1_4}} & a1[3:0])");
    assert_eq!(t[4], "g1_4 & a1[3] & (a1[4] | (|a1[2:0]))");
    assert_eq!(
        t[5],
        "t1 + {3'd0, both & g1_4 & a1[3] & (a1[4] | (|a1[2:0])) & ~(&t1)}"
    );
    // Three placements: one-hot selects of two terms, round-ups as an OR.
    let t = lane_text(pair_lane(0, &[0, 2, 4]));
    assert_eq!(t[0], "g0_2 = |a0[7:4];g0_4 = |a0[7:6];");
    assert_eq!(t[2], "({3{g0_2 & ~g0_4}} & 3'd2) | ({3{g0_4}} & 3'd4)");
    assert_eq!(
        t[3],
        "({4{g0_2 & ~g0_4}} & {2'd0, a0[1:0]}) | ({4{g0_4}} & a0[3:0])"
    );
    assert_eq!(
        t[4],
        "((g0_2 & ~g0_4 & a0[1] & (a0[2] | (|a0[0:0]))) | (g0_4 & a0[3] & (a0[4] | (|a0[2:0]))))"
    );
    // A single placement has no selection to make, and no empty replication.
    let one = lane_text(pair_lane(0, &[4]));
    assert_eq!(one[0], "");
    assert_eq!(one[1], "({4{1'b1}} & a0[7:4])");
    assert_eq!(one[2], "({3{1'b1}} & 3'd4)");
    assert!(one.iter().all(|f| !f.contains("{}")), "{one:?}");
    // The pair's window from the edge, or truncated.
    let mut l = pair_lane(1, &[0, 2, 4]);
    l.next = exprs::Next::Edge { hi: 23, lo: 20 };
    assert_eq!(lane_text(l)[5], "act_i[23:20]");
    let mut l = pair_lane(0, &[0, 2, 4]);
    l.next = exprs::Next::Truncated;
    assert_eq!(lane_text(l)[5], "t0");
}

/// Each planted fault changes exactly the one production file it names, and a
/// fault a design has no place for is refused.
#[test]
fn faults_change_exactly_their_file() {
    for (preset, fault, file) in [
        (
            "bsparq-4b5opt",
            Fault::WindowRoundWithoutSticky { pos: 2 },
            "bsparq_4b5opt_win_4b5opt_rne.v",
        ),
        ("sysmt4", Fault::Nib4WithoutTieToEven, "sysmt4_nib4.v"),
        (
            "sysmt2",
            Fault::ZeroTestIgnoresWeight { lane: 1 },
            "sysmt2_cond.v",
        ),
        (
            "sysmt2-edge",
            Fault::EdgeWindowWithoutSaturation { lane: 1 },
            "sysmt2_edge_pre_act.v",
        ),
        (
            "sysmt2",
            Fault::UnsignedProduct { unit: 1 },
            "sysmt2_fabric.v",
        ),
    ] {
        let cfg = Design::preset(preset).unwrap();
        let good = generate_pe(&cfg).unwrap();
        let bad = generate_pe_with_fault(&cfg, fault).unwrap();
        let changed: Vec<&str> = good
            .iter()
            .zip(&bad)
            .filter(|(g, b)| g != b)
            .map(|(g, _)| g.name.as_str())
            .collect();
        assert_eq!(changed, vec![file], "{preset}: {fault:?}");
    }
    let cfg = Design::preset("sysmt2").unwrap();
    assert!(generate_pe_with_fault(&cfg, Fault::Nib4WithoutTieToEven).is_err());
}

/// A PE-level file does not change when only the array size does; the array's
/// own files do.
#[test]
fn pe_files_do_not_change_with_the_array_size() {
    for p in crate::config::PRESETS {
        let a = Design::preset(p.name).unwrap();
        let b = a.with(|b| {
            b.array.rows += 3;
            b.array.cols += 1;
        });
        assert_eq!(
            generate_pe(&a).unwrap(),
            generate_pe(&b).unwrap(),
            "{}",
            p.name
        );
        assert_eq!(
            generate_reference(&a).unwrap(),
            generate_reference(&b).unwrap()
        );
        assert_eq!(
            generate_proof_variants(&a).unwrap(),
            generate_proof_variants(&b).unwrap()
        );
        let top = |c: &Design| {
            generate_array(c)
                .unwrap()
                .into_iter()
                .find(|f| f.name == format!("{}_array.v", c.name))
                .unwrap()
        };
        assert_ne!(top(&a), top(&b), "{}", p.name);
    }
}

#[test]
fn terms_sign_extend_shift_and_wrap() {
    let t = term(12, 4, 17);
    assert_eq!((t.k, t.ext, t.wrap_hi, t.unsigned), (4, 1, None, false));
    let t = term(9, 8, 16);
    assert_eq!((t.k, t.ext, t.wrap_hi), (8, 0, Some(7)));
    assert_eq!((term(16, 0, 16).ext, term(16, 0, 16).wrap_hi), (0, None));
    assert_eq!(sum_halves(4), vec![vec![0, 1], vec![2, 3]]);
    assert_eq!(sum_halves(2), vec![vec![0, 1]]);
    // As fabric.v writes them.
    let fabric = |name: &str| {
        generate_pe(&Design::preset(name).unwrap())
            .unwrap()
            .into_iter()
            .find(|f| f.name.ends_with("_fabric.v"))
            .unwrap()
            .text
    };
    let f = fabric("sysmt2");
    assert!(f.contains("{{1{p1[11]}}, p1, 4'd0}"), "{f}");
    assert!(f.contains("{{5{p0[11]}}, p0}"), "{f}");
    assert!(f.contains("assign sum_o = t0 + t1;"), "{f}");
    let f = fabric("sysmt4");
    assert!(f.contains("assign sum_o = (t0 + t1) + (t2 + t3);"), "{f}");
    let f = fabric("baseline");
    assert!(
        f.contains("always @* t0 = p0;") && f.contains("assign sum_o = t0;"),
        "{f}"
    );
}

#[test]
fn fabric_is_what_the_spec_names() {
    let u = Design::preset("sysmt4").unwrap().dp().units.clone();
    assert_eq!(u.len(), 4);
    assert!(u.iter().all(|u| u.aw == 4 && u.ww == 5));
    let u = Design::preset("sysmt2").unwrap().dp().units.clone();
    assert_eq!(u.len(), 2);
    assert!(u.iter().all(|u| u.aw == 4 && u.ww == 8));
    let u = Design::preset("sparq-3b").unwrap().dp().units.clone();
    assert_eq!(u[0].shifts, vec![0, 1, 2, 3, 4, 5]);
    assert!(u.iter().all(|u| u.aw == 3));
    let u = Design::preset("ideal4").unwrap().dp().units.clone();
    assert_eq!(u.len(), 4);
    assert!(u.iter().all(|u| u.aw == 8 && u.ww == 8));
}

#[test]
fn every_file_holds_one_module_named_after_it_with_a_header_and_no_implicit_nets() {
    for p in crate::config::PRESETS {
        let cfg = Design::preset(p.name).unwrap();
        let mut files = generate_array(&cfg).unwrap();
        files.extend(generate_reference(&cfg).unwrap());
        files.extend(generate_proof_variants(&cfg).unwrap());
        for f in files {
            if f.role == Role::Filelist {
                continue;
            }
            let module = f.name.trim_end_matches(".v");
            let decls: Vec<&str> = f
                .text
                .lines()
                .filter(|l| l.starts_with("module "))
                .collect();
            assert_eq!(decls.len(), 1, "{}", f.name);
            assert!(
                decls[0].starts_with(&format!("module {module} ")),
                "{}",
                f.name
            );
            assert!(f.text.contains(&format!("smtgen {VERSION}")));
            assert!(f.text.contains(&format!("policy: {}", cfg.pe.policy)));
            // Implicit nets are errors inside the module, and the default is
            // restored after it for whatever file is read next.
            let none = f.text.find("`default_nettype none\n").unwrap_or(usize::MAX);
            let decl = f.text.find("\nmodule ").unwrap_or(0);
            assert!(none < decl, "{}", f.name);
            assert!(
                f.text.ends_with("endmodule\n`default_nettype wire\n"),
                "{}",
                f.name
            );
        }
    }
}
