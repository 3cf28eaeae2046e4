//! smtgen: generates synthesizable Verilog for sparsity-exploiting DNN accelerator
//! datapaths (SySMT / NB-SMT and SPARQ processing elements), proves the RTL bit-exact
//! against a Rust golden model under Verilator and Icarus, and reports area with Yosys.
//!
//! The contract every PE implements is `shared/spec/numerics.md`; [`numerics`] holds
//! its reduction functions and [`model`] the per-cycle rules. [`config`] validates a
//! design point, [`rtl`] emits it, [`stimulus`] builds seeded test vectors and [`sim`]
//! drives the simulators.

pub mod aiger;
pub mod array;
pub mod bench;
pub mod config;
pub mod engine;
pub mod error;
pub mod eval;
pub mod model;
pub mod numerics;
pub mod operands;
pub mod prove;
pub mod regress;
pub mod report;
pub mod rtl;
pub mod sim;
pub mod stimulus;
pub mod synth;
pub mod tensors;

pub use config::{Config, ConfigBuilder, PeConfig};
pub use error::{Error, Result};
pub use model::PeModel;
