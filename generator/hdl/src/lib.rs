//! smtgen-hdl: the hardware side of smtgen over [`smtgen_core`]: Verilog rendering
//! from the askama templates ([`rtl`]), simulation under Verilator and Icarus
//! ([`sim`]), equivalence proofs ([`prove`], [`aiger`]), synthesis and the
//! real-library flow ([`synth`], [`sta`]), the one runner of external tools
//! ([`tool`]), the regression ([`regress`]), the covering set ([`cover`]), the
//! benchmarks ([`bench`]) and the report files of `eval` and `compare`
//! ([`documents`]).
//!
//! The core's modules are re-exported under their own names, so that this crate's
//! code (and its users) name `config`, `model` or `stimulus` as they always have;
//! they are the core's, not copies.

#![warn(missing_docs)]

pub use smtgen_core::{
    array, config, engine, error, eval, guard, model, numerics, operands, report, select, sparse,
    stimulus, tensors, workload,
};

pub mod aiger;
pub mod bench;
pub mod cover;
pub mod documents;
pub mod prove;
pub mod regress;
pub mod rtl;
pub mod sim;
pub mod sta;
pub mod synth;
pub mod tool;
