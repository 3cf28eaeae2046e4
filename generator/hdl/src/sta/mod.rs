//! Area, timing and energy on a real cell library: maps a generated PE or array
//! flat onto a Liberty library with Yosys (cells marked `dont_use` removed first),
//! times it with OpenSTA (ideal clock, input and output delays 0, reset a false
//! path), replays a layer through the mapped array netlist under Icarus with the
//! library's Verilog cell models, counts every net's toggles from the VCD and hands
//! them to OpenSTA's power analysis. Owns the library, the flows and their reports.
//!
//! By concern: `liberty` (the library), `map` (Yosys mapping), `timing` (OpenSTA
//! timing), `energy` (gate-level simulation, activity, power), `compare` (the flows
//! per design and their tables), `cmd` (the `synth` and `compare` commands).

mod cmd;
mod compare;
mod energy;
mod liberty;
mod map;
#[cfg(test)]
mod tests;
mod timing;

pub use cmd::{compare_cmd, synth_cmd, LibArgs};
pub use compare::{compare, compare_table, cost, paths_table, report_clock, StaCost};
pub use energy::{power, read_vcd, simulate_array, Activity, Energy, Power, Workload};
pub use liberty::{Library, OSU018_LIB, OSU018_PACKAGE};
pub use map::{bitwise_assigns, map, Mapped};
pub use timing::{sta_binary, timing, Timing, TimingPath, STA_ENV, STA_PACKAGE, UNCONSTRAINED_PS};
