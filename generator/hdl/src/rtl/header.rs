//! What every rendered file shares: smtgen's [`VERSION`], the Verilog header naming
//! the design, the [`Branches`] trait (with its `branches!` macro) through which each
//! template reports its conditions, the recorder of those reports ([`recording`], which
//! `crate::cover` reads: the renderers know nothing of the covering set), and
//! `render`, which renders a template, records its branches and ends the text in a
//! newline.

use crate::config::Design;
use crate::error::{Error, Result};
use askama::Template;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// smtgen's version, written into every generated file.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Verilog header every PE-level generated file starts with: it shows the
/// design's name and PE config only, so a PE file does not change with the array size.
pub fn header(module: &str, what: &str, cfg: &Design) -> String {
    header_with(module, what, &cfg.pe_yaml())
}

/// The header of an array-level file: the whole config, array size included.
pub(super) fn array_header(module: &str, what: &str, cfg: &Design) -> String {
    header_with(module, what, &cfg.to_yaml())
}

#[derive(Template)]
#[template(path = "header.v")]
struct HeaderTpl<'a> {
    module: &'a str,
    what: &'a str,
    version: &'a str,
    config: Vec<&'a str>,
}

fn header_with(module: &str, what: &str, yaml: &str) -> String {
    let t = HeaderTpl {
        module,
        what,
        version: VERSION,
        config: yaml.lines().collect(),
    };
    // Rendering into a String fails only if a Display impl does; a &str's never does.
    t.render().expect("the header renders")
}

/// What a template's `{% if %}` conditions read: its path under `templates/` and
/// each condition input with the value it has in this render (see [`crate::cover`],
/// which checks that the covering set takes every one both ways).
pub(crate) trait Branches {
    /// The template's path, as in its `#[template(path = ...)]`.
    const TEMPLATE: &'static str;
    /// Each condition input's name (as the template spells it) and value.
    fn branches(&self) -> Vec<(&'static str, String)>;
}

/// Implements [`Branches`] for a template struct from the fields its conditions read.
macro_rules! branches {
    ($t:ident, $path:literal $(, $field:ident)*) => {
        impl Branches for $t<'_> {
            const TEMPLATE: &'static str = $path;
            fn branches(&self) -> Vec<(&'static str, String)> {
                vec![$((stringify!($field), self.$field.to_string())),*]
            }
        }
    };
}

/// One render of one template: the values of every condition input it reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Render {
    /// The template's path under `templates/` (or the Rust function that writes text).
    pub template: &'static str,
    /// Each condition input as the template spells it, with its value.
    pub inputs: Vec<(&'static str, String)>,
}

thread_local! {
    static RECORDER: RefCell<Option<BTreeSet<Render>>> = const { RefCell::new(None) };
}

/// Called by every render: notes the template's branch inputs while a recording is on.
fn record(template: &'static str, inputs: Vec<(&'static str, String)>) {
    RECORDER.with(|r| {
        if let Some(set) = r.borrow_mut().as_mut() {
            set.insert(Render { template, inputs });
        }
    });
}

/// Runs `f` and gives back, with its result, every render made meanwhile on this
/// thread (the covering set's input: see `crate::cover`).
pub fn recording<T>(f: impl FnOnce() -> T) -> (T, BTreeSet<Render>) {
    RECORDER.with(|r| *r.borrow_mut() = Some(BTreeSet::new()));
    let out = f();
    let set = RECORDER.with(|r| r.borrow_mut().take()).unwrap_or_default();
    (out, set)
}

/// Renders template `t` of module `name`, records its branches for the cover check
/// and ends the text in a newline.
pub(super) fn render<T: Template + Branches>(t: &T, name: &str) -> Result<String> {
    record(T::TEMPLATE, t.branches());
    render_text(t, name)
}

/// Renders template `t` of module `name` (no branches recorded: the proofs' miters)
/// and ends the text in a newline.
pub(crate) fn render_text(t: &impl Template, name: &str) -> Result<String> {
    let mut s = t
        .render()
        .map_err(|e| Error::tool("askama", format!("rendering {name}: {e}")))?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}
