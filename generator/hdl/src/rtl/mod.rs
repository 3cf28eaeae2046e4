//! RTL emission: turns a validated [`Config`](crate::config::Config) into Verilog-2005
//! files from the askama templates in `templates/`, one module per file named after
//! the module, each with a header naming smtgen's version and the config, plus a `.f`
//! filelist.
//!
//! The PE is hierarchical: `<name>_cond` (zero tests, windows, nibbles, routing of
//! lanes to units), `<name>_fabric` (the multiplier units at natural width, their
//! shifts and the lane adder), `<name>_acc` (the accumulator) and `<name>_pe` (the
//! top with the systolic pass-through registers). With `window_logic: edge` the
//! windows (and, for four lanes, nib4; for two, the weight zero flags) move to
//! `<name>_pre_act` / `<name>_pre_wgt`, once per row and column at the array's edge;
//! the PE then takes link words (see [`Link`](crate::config::Link)) and `<name>_pe_solo` wraps
//! it with its own edge logic for PE-level tests.
//!
//! What to render is read from the elaborated datapath
//! ([`Datapath`](crate::config::Datapath): rule, 2:4 selection, units, widths,
//! window form and modules); no renderer looks at the policy or the lane count.
//!
//! Layout: `files` holds the output types and the disk writer, `header` the shared
//! header and rendering, `design` module names and the edge test, `exprs` the
//! structure of the expressions the templates write (inline windows, fabric terms),
//! and `pe`, `cond`, `array`, `reference`, `proof` and `fault` the renderers of each
//! kind of file. Everything public is re-exported here.

// Declared first: the renderers below use its `branches!` macro.
#[macro_use]
mod header;
mod array;
mod cond;
mod design;
mod exprs;
mod fault;
mod files;
mod pe;
mod proof;
mod reference;
#[cfg(test)]
mod tests;

pub use array::generate_array;
pub use design::{edge, pe_top, win_module};
pub use fault::Fault;
pub use files::{write_files, GeneratedFile, Part, Role};
pub(crate) use header::render_text;
pub use header::{header, recording, Render, VERSION};
pub use pe::{generate_pe, generate_pe_with_fault};
pub use proof::{cond_front, generate_proof_variants, has_activity_modes, pre_pair};
pub use reference::{generate_ref_sel, generate_reference, generate_reference_pe};
