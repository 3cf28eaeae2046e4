//! Unit tests of the Liberty reader, the assign splitter and the VCD reader.

use super::*;
use std::path::Path;

const LIB: &str = "library (t) {\n  time_unit : \"1ns\";\n  cell (NAND2X1) {\n    area : 24;\n    pin (Y) { function : \"(!(A B))\"; }\n  }\n  cell (BAD) {\n    dont_use : true;\n    area : 1;\n  }\n  cell(INVX1){ area : 16; }\n}\n";

#[test]
fn liberty_cells_areas_and_dont_use_are_read() {
    let l = Library::parse("t", Path::new("t.lib"), LIB).expect("parses");
    assert_eq!(l.areas.get("NAND2X1"), Some(&24.0));
    assert_eq!(l.areas.get("INVX1"), Some(&16.0));
    assert_eq!(l.dont_use, vec!["BAD".to_string()]);
    assert!(
        !l.text.contains("BAD"),
        "dont_use cell left in the library text"
    );
    assert_eq!(l.nand2, ("NAND2X1".to_string(), 24.0));
    assert_eq!(l.time_ps, 1000.0);
}

#[test]
fn a_library_without_nand2_is_rejected() {
    let e = Library::parse(
        "t",
        Path::new("t.lib"),
        "library (t) { cell (INV) { area : 1; } }",
    )
    .expect_err("no NAND2");
    assert!(e.to_string().contains("NAND2"), "{e}");
}

#[test]
fn concatenating_assigns_are_split_into_bits() {
    let v = "module m (a, y);\n  input [1:0] a;\n  output [3:0] y;\n  wire n1;\n  assign { y[3], y[2:0] } = { n1, a, 1'h0 };\n  assign n1 = a[0];\nendmodule\n";
    let out = bitwise_assigns(v).expect("splits");
    for want in [
        "assign y[3] = n1;",
        "assign y[2] = a[1];",
        "assign y[1] = a[0];",
        "assign y[0] = 1'b0;",
        "assign n1 = a[0];",
    ] {
        assert!(out.contains(want), "{want} missing in\n{out}");
    }
    assert!(!out.contains('{'), "{out}");
    assert!(
        bitwise_assigns("  wire [1:0] w;\n  assign w = { a };\n  assign { w } = 3'h0;\n").is_none()
    );
}

#[test]
fn vcd_toggles_and_duty_are_counted_per_bit() {
    let vcd = "$scope module dut $end\n$var wire 1 ! clk_i $end\n$var wire 2 \" n5 [1:0] $end\n$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\n0!\nb00 \"\n$end\n#1\n1!\nb1 \"\n#2\n0!\n#3\n1!\nb10 \"\n#4\n0!\n";
    let a = read_vcd(vcd, "clk_i").expect("reads");
    assert_eq!(a.cycles, 2);
    // n5[0]: 0 -> 1 at 1, -> 0 at 3: 2 toggles over 2 cycles, high 2 of 4.
    assert_eq!(a.nets["n5[0]"], (1.0, 0.5));
    // n5[1]: 0 -> 1 at 3: 1 toggle, high 1 of 4.
    assert_eq!(a.nets["n5[1]"], (0.5, 0.25));
}
