//! smtgen-core: the part of smtgen that needs neither a command line nor an external
//! tool, shared by the `smtgen` command (`generator/cli`), the hardware crate
//! (`generator/hdl`) and the Python extension (`python/`).
//!
//! The contract every PE implements is `docs/numerics.md` in the repository (code
//! comments cite its sections as "spec §N"); [`numerics`] holds its reduction
//! functions and [`model`] the per-cycle rules. [`config`] validates a design point
//! and elaborates it once into a [`config::Design`], which every consumer takes;
//! [`array`] models the systolic array cycle by cycle, [`engine`] computes GEMMs
//! bit-exactly on the fast path, [`eval`] and [`workload`] quantize, lower and
//! evaluate workloads, [`sparse`] holds the 2:4 rule, [`stimulus`] builds seeded test
//! vectors and [`guard`] the ceilings on input and work.

#![warn(missing_docs)]

pub mod array;
pub mod config;
pub mod engine;
pub mod error;
pub mod eval;
pub mod guard;
pub mod layer;
pub mod model;
pub mod numerics;
pub mod operands;
pub mod report;
pub mod select;
pub mod sparse;
pub mod stimulus;
pub mod tensors;
pub mod workload;

pub use config::{Config, ConfigBuilder, Design, PeConfig};
pub use error::{Error, Result};
pub use model::PeModel;
