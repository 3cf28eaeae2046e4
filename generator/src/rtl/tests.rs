//! Unit tests of the RTL emission: the inline windows' and the fabric's expressions,
//! the planted faults, the fabric's units, and the one-module-per-file layout with
//! headers over every preset.

use super::exprs::{pair_lane, term};
use super::*;
use crate::config::Config;

#[test]
fn pair_lane_selects_are_one_hot_terms() {
    let l = pair_lane(1, &[0, 4]);
    assert_eq!(l.above, vec![("g1_4".to_string(), "|a1[7:4]".to_string())]);
    assert_eq!(l.trunc, "({4{~g1_4}} & a1[3:0]) | ({4{g1_4}} & a1[7:4])");
    assert_eq!(l.low, "({4{g1_4}} & a1[3:0])");
    assert_eq!(l.shift, "({3{g1_4}} & 3'd4)");
    // A single placement has no selection to make, and no empty replication.
    let one = pair_lane(0, &[4]);
    assert!(one.above.is_empty());
    assert_eq!(one.trunc, "({4{1'b1}} & a0[7:4])");
    assert!(!one.trunc.contains("{}"), "{}", one.trunc);
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
        let cfg = Config::preset(preset).unwrap();
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
    let cfg = Config::preset("sysmt2").unwrap();
    assert!(generate_pe_with_fault(&cfg, Fault::Nib4WithoutTieToEven).is_err());
}

/// A PE-level file does not change when only the array size does; the array's
/// own files do.
#[test]
fn pe_files_do_not_change_with_the_array_size() {
    for p in crate::config::PRESETS {
        let a = Config::preset(p.name).unwrap();
        let mut b = a.clone();
        b.array.rows += 3;
        b.array.cols += 1;
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
        let top = |c: &Config| {
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
    assert_eq!(term(0, 16, 0, 16), "p0");
    assert_eq!(term(1, 12, 4, 17), "{{1{p1[11]}}, p1, 4'd0}");
    assert_eq!(term(0, 12, 0, 17), "{{5{p0[11]}}, p0}");
    assert_eq!(term(2, 9, 8, 16), "{p2[7:0], 8'd0}");
}

#[test]
fn fabric_is_what_the_spec_names() {
    let u = Config::preset("sysmt4").unwrap().pe.datapath().units;
    assert_eq!(u.len(), 4);
    assert!(u.iter().all(|u| u.aw == 4 && u.ww == 5));
    let u = Config::preset("sysmt2").unwrap().pe.datapath().units;
    assert_eq!(u.len(), 2);
    assert!(u.iter().all(|u| u.aw == 4 && u.ww == 8));
    let u = Config::preset("sparq-3b").unwrap().pe.datapath().units;
    assert_eq!(u[0].shifts, vec![0, 1, 2, 3, 4, 5]);
    assert!(u.iter().all(|u| u.aw == 3));
    let u = Config::preset("ideal4").unwrap().pe.datapath().units;
    assert_eq!(u.len(), 4);
    assert!(u.iter().all(|u| u.aw == 8 && u.ww == 8));
}

#[test]
fn every_file_holds_one_module_named_after_it_with_a_header_and_no_implicit_nets() {
    for p in crate::config::PRESETS {
        let cfg = Config::preset(p.name).unwrap();
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
