//! The in-memory form of generated output: [`GeneratedFile`] (one module's `.v` or a
//! `.f` filelist), its [`Role`] in a design and its [`Part`] of the area breakdown,
//! and [`write_files`], the one place that puts rendered files on disk.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One generated file held in memory until everything has rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name (no directory), `<module>.v` or `<top>.f`.
    pub name: String,
    /// What the file is, so that callers pick files by role rather than by name.
    pub role: Role,
    /// The part of the design its module's area counts to (synthesis reports);
    /// `None` for filelists and for modules never synthesized (references, proof
    /// variants, miters).
    pub part: Option<Part>,
    /// Full text, ending in a newline.
    pub text: String,
}

/// The part of a design a module's area counts to in synthesis reports, set where
/// the module is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// Operand conditioning: windows, weight nibbles, the cond, the 2:4 selection.
    Conditioning,
    /// The multiplier units and the lane adder.
    MultiplierFabric,
    /// The accumulator.
    Accumulator,
    /// The PE top's own registers and glue.
    PeRegisters,
    /// An array cell's result-chain slot.
    ResultChain,
    /// The array around its cells: delay lines, edge conditioning, the array top.
    ArrayEdge,
}

impl Part {
    /// The name reports print (`conditioning`, `multiplier fabric`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Part::Conditioning => "conditioning",
            Part::MultiplierFabric => "multiplier fabric",
            Part::Accumulator => "accumulator",
            Part::PeRegisters => "PE registers",
            Part::ResultChain => "result chain",
            Part::ArrayEdge => "array edge",
        }
    }
}

/// The role of a [`GeneratedFile`] in a design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A combinational module of the PE's datapath (windows, nibble, multiplier,
    /// edge conditioning, cond, fabric, 2:4 selection): what a proof takes.
    Datapath,
    /// The PE's accumulator, `<name>_acc`.
    Accumulator,
    /// The PE top, `<name>_pe`.
    PeTop,
    /// `<name>_pe_solo`: the PE with its own edge conditioning, for PE-level tests
    /// (the array has its own edge and leaves it out).
    PeSolo,
    /// A module of the array around the PEs (delay line, cell, array top).
    Array,
    /// A `.f` filelist naming a top's files.
    Filelist,
    /// A behavioural reference module (`<name>_ref` and its parts).
    Reference,
    /// A proof variant (`<name>_cond_cut`, `_ref_cut`, `_front`, `_front_cut`).
    ProofVariant,
    /// A proof's miter (built by `smtgen prove`, never written by `gen`).
    Miter,
}

impl GeneratedFile {
    /// The file `<module>.v` of one module, with no [`Part`] (see [`Self::with_part`]).
    pub fn module(module: &str, role: Role, text: String) -> GeneratedFile {
        GeneratedFile {
            name: format!("{module}.v"),
            role,
            part: None,
            text,
        }
    }

    /// The same file, its module counted to `part` in synthesis reports.
    pub fn with_part(self, part: Part) -> GeneratedFile {
        GeneratedFile {
            part: Some(part),
            ..self
        }
    }

    /// The module a `.v` file holds (its name without `.v`), `None` for filelists.
    pub fn module_name(&self) -> Option<&str> {
        self.name.strip_suffix(".v")
    }

    /// The filelist `<top>.f` naming `files` in order.
    pub fn filelist<'a>(
        top: &str,
        files: impl IntoIterator<Item = &'a GeneratedFile>,
    ) -> GeneratedFile {
        GeneratedFile {
            name: format!("{top}.f"),
            role: Role::Filelist,
            part: None,
            text: files.into_iter().map(|f| format!("{}\n", f.name)).collect(),
        }
    }
}

/// Writes rendered files into `dir` (created if missing) and returns their paths.
/// Callers render everything first, so a config error never leaves a half-written
/// directory behind.
pub fn write_files(dir: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    files
        .iter()
        .map(|f| {
            let p = dir.join(&f.name);
            std::fs::write(&p, &f.text).map_err(|e| Error::io(&p, e))?;
            Ok(p)
        })
        .collect()
}
