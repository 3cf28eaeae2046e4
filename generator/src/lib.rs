//! smtgen: generates synthesizable Verilog for sparsity-exploiting DNN accelerator
//! datapaths (SySMT / NB-SMT and SPARQ processing elements), proves the RTL bit-exact
//! against a Rust golden model under Verilator and Icarus, and reports area with Yosys.
//!
//! The contract every PE implements is `docs/numerics.md` in the repository (code
//! comments cite its sections as "spec §N"); [`numerics`] holds its reduction
//! functions and [`model`] the per-cycle rules. [`config`] validates a
//! design point, [`rtl`] emits it, [`stimulus`] builds seeded test vectors and [`sim`]
//! drives the simulators.

#![warn(missing_docs)]

pub mod aiger;
pub mod array;
pub mod bench;
pub mod config;
pub mod cover;
pub mod documents;
pub mod engine;
pub mod error;
pub mod eval;
pub mod guard;
pub mod layer;
pub mod model;
pub mod numerics;
pub mod operands;
pub mod prove;
pub mod regress;
pub mod report;
pub mod rtl;
pub mod select;
pub mod sim;
pub mod sparse;
pub mod sta;
pub mod stimulus;
pub mod synth;
pub mod tensors;
pub mod tool;
pub mod workload;

pub use config::{Config, ConfigBuilder, PeConfig};
pub use error::{Error, Result};
pub use model::PeModel;
