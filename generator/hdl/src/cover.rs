//! The covering set: a list of design points that, between them, render every
//! combination of branch values of every template, derived from what the templates
//! are actually given (not a hand list that drifts).
//!
//! Every template struct in [`crate::rtl`] reports, each time it renders, the inputs
//! its `{% if %}` conditions read and their values (plus the `generate` branch of
//! the accumulator on `ACC_W` against `SUM_W`, and the Rust-built proof wrapper's
//! choices): one [`Render`]. [`candidates`] is the full product of the config's
//! dimensions (policy and lanes, 2:4 mode included, × window set × rounding × zero test × window logic ×
//! pipeline × accumulator width 16/32/64 × `array.skip` none/gate), pruned to what the config accepts.
//! [`covering_set`] starts from the presets and adds, greedily, the candidate that
//! renders the most combinations not yet rendered, until every combination any
//! candidate renders is taken by some point (first among the points without
//! `array.skip`, then among all). [`check`] says which condition input,
//! if any, is never taken more than one way.

use crate::config::{design_point, Design, WindowLogic, WindowSet};
use crate::error::Result;
use crate::rtl;
pub use crate::rtl::Render;
use std::collections::{BTreeMap, BTreeSet};

/// Renders everything smtgen emits for `cfg` (the array with its PE, the reference PE
/// the regression builds, the proof variants) and returns every render's branches.
pub fn renders_of(cfg: &Design) -> Result<BTreeSet<Render>> {
    let (rendered, mut set) = rtl::recording(|| -> Result<()> {
        rtl::generate_array(cfg)?;
        let rcfg = cfg.with(|c| c.pe.window_logic = WindowLogic::InPe);
        rtl::generate_reference_pe(&rcfg)?;
        rtl::generate_proof_variants(cfg)?;
        Ok(())
    });
    rendered?;
    // The benches take T lanes and keep results of up to 32 bits and wider ones on
    // different paths; the lanes and the width class are their branches.
    set.insert(Render {
        template: "testbench",
        inputs: vec![
            ("lanes", cfg.dp().lanes.to_string()),
            ("ACC_W > 32", (cfg.pe.acc_width > 32).to_string()),
            ("pipeline", cfg.pe.pipeline.to_string()),
            ("skip", cfg.array.skip.name().to_string()),
        ],
    });
    Ok(set)
}

/// One point of the covering set.
#[derive(Debug, Clone)]
pub struct Point {
    /// The design point as `PRESET[+key=value...]`, as every command takes it.
    pub spec: String,
    /// The design it names.
    pub cfg: Design,
    /// Every template render it makes.
    pub renders: BTreeSet<Render>,
    /// Renders no earlier point of the set made (what it was chosen for).
    pub new_renders: usize,
}

impl Point {
    /// Whether the point is a preset as it stands (the default regression covers it).
    pub fn is_preset(&self) -> bool {
        !self.spec.contains('+')
    }
}
/// The base preset of each policy and lane count the candidates start from.
const FORMS: &[(&str, &[&str])] = &[
    ("baseline", &[]),
    ("ideal2", &["pe.threads=1"]),
    ("ideal2", &[]),
    ("ideal4", &[]),
    ("bsparq-4b5opt", &[]),
    ("sparq-4b5opt", &[]),
    ("sysmt2", &[]),
    ("sysmt4", &[]),
    ("sparq-stc-4b5opt", &[]),
];

/// Every design point in the product of the config's dimensions that the config
/// accepts, as `PRESET+key=value` specs (only the keys that differ from the preset)
/// with their configs. Presets come first, so grouping keeps them as representatives.
pub fn candidates() -> Vec<(String, Design)> {
    let mut out: Vec<(String, Design)> = crate::config::PRESETS
        .iter()
        .filter_map(|p| Some((p.name.to_string(), Design::preset(p.name).ok()?)))
        .collect();
    let mut seen: BTreeSet<String> = out.iter().map(|(s, _)| s.clone()).collect();
    for &(base, fixed) in FORMS {
        let Ok(b) = design_point(base, fixed) else {
            continue;
        };
        // Every user window where the form has one; validation drops the ones its
        // policy does not take (sysmt has only 4b2opt).
        let windows: Vec<Option<WindowSet>> = match b.pe.window {
            Some(_) => WindowSet::USER.iter().map(|w| Some(*w)).collect(),
            None => vec![None],
        };
        let roundings: Vec<Option<&str>> = match b.pe.rounding {
            Some(_) => vec![Some("nearest_even"), Some("truncate")],
            None => vec![None],
        };
        let zero_tests: Vec<Option<&str>> = match b.pe.zero_test {
            Some(_) => vec![Some("act"), Some("act_or_weight")],
            None => vec![None],
        };
        for w in &windows {
            for r in &roundings {
                for z in &zero_tests {
                    for wl in ["in_pe", "edge"] {
                        for pipe in [0u32, 1] {
                            for (acc, skip) in [16u32, 32, 64]
                                .into_iter()
                                .flat_map(|a| [(a, false), (a, true)])
                            {
                                let mut sets: Vec<String> =
                                    fixed.iter().map(|s| s.to_string()).collect();
                                if let Some(w) = w {
                                    if b.pe.window != Some(*w) {
                                        sets.push(format!("pe.window={w}"));
                                    }
                                }
                                if let Some(r) = r {
                                    if b.pe.rounding.map(|x| x.name()) != Some(*r) {
                                        sets.push(format!("pe.rounding={r}"));
                                    }
                                }
                                if let Some(z) = z {
                                    if b.pe.zero_test.map(|x| x.name()) != Some(*z) {
                                        sets.push(format!("pe.zero_test={z}"));
                                    }
                                }
                                if b.pe.window_logic.to_string() != wl {
                                    sets.push(format!("pe.window_logic={wl}"));
                                }
                                if b.pe.pipeline != pipe {
                                    sets.push(format!("pe.pipeline={pipe}"));
                                }
                                if b.pe.acc_width != acc {
                                    sets.push(format!("pe.acc_width={acc}"));
                                }
                                if skip {
                                    sets.push("array.skip=gate".into());
                                }
                                let spec = std::iter::once(base.to_string())
                                    .chain(sets)
                                    .collect::<Vec<_>>()
                                    .join("+");
                                if seen.contains(&spec) {
                                    continue;
                                }
                                if let Ok(cfg) = Design::point(&spec, &[] as &[&str]) {
                                    seen.insert(spec.clone());
                                    out.push((spec, cfg));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The presets, then greedily the candidate with the most renders not yet covered
/// (ties: fewer overrides, then candidate order), until every render any candidate
/// makes is made by some point.
pub fn covering_set() -> Result<Vec<Point>> {
    let mut pool: Vec<(String, Design, BTreeSet<Render>)> = Vec::new();
    for (spec, cfg) in candidates() {
        let r = renders_of(&cfg)?;
        pool.push((spec, cfg, r));
    }
    let mut covered: BTreeSet<Render> = BTreeSet::new();
    let mut points = Vec::new();
    let mut take =
        |i: usize, pool: &[(String, Design, BTreeSet<Render>)], covered: &mut BTreeSet<Render>| {
            let (spec, cfg, r) = &pool[i];
            let new = r.difference(covered).count();
            covered.extend(r.iter().cloned());
            points.push(Point {
                spec: spec.clone(),
                cfg: cfg.clone(),
                renders: r.clone(),
                new_renders: new,
            });
        };
    for i in 0..pool.len() {
        if !pool[i].0.contains('+') {
            take(i, &pool, &mut covered);
        }
    }
    // Points without `array.skip` first, so the set they make does not change with
    // the option's candidates; then the skipping points the rest needs.
    for skipping in [false, true] {
        loop {
            let best = (0..pool.len())
                .filter(|&i| skipping || !pool[i].1.array.skip.on())
                .map(|i| (pool[i].2.difference(&covered).count(), i))
                .filter(|&(n, _)| n > 0)
                .max_by(|a, b| {
                    a.0.cmp(&b.0)
                        .then(
                            pool[b.1]
                                .0
                                .matches('+')
                                .count()
                                .cmp(&pool[a.1].0.matches('+').count()),
                        )
                        .then(b.1.cmp(&a.1))
                });
            match best {
                Some((_, i)) => take(i, &pool, &mut covered),
                None => break,
            }
        }
    }
    Ok(points)
}

/// Every (template, condition input) with the values the points give it, and for
/// each value the first point that takes it.
pub fn branch_table(
    points: &[Point],
) -> BTreeMap<(&'static str, &'static str), Vec<(String, String)>> {
    let mut t: BTreeMap<(&'static str, &'static str), Vec<(String, String)>> = BTreeMap::new();
    for p in points {
        for r in &p.renders {
            t.entry((r.template, "(rendered)")).or_default();
            for (input, value) in &r.inputs {
                let e = t.entry((r.template, *input)).or_default();
                if !e.iter().any(|(v, _)| v == value) {
                    e.push((value.clone(), p.spec.clone()));
                }
            }
        }
    }
    t
}

/// The problems with a covering set: each condition input taken only one way (a
/// branch no design point renders), as `template: input = value only`.
pub fn check(points: &[Point]) -> Vec<String> {
    branch_table(points)
        .into_iter()
        .filter(|((_, input), values)| *input != "(rendered)" && values.len() < 2)
        .map(|((template, input), values)| format!("{template}: {input} = {} only", values[0].0))
        .collect()
}

/// The covering set as text: its points (with how many renders each added) and, per
/// template condition input, each value with the first point that takes it.
pub fn describe(points: &[Point]) -> String {
    let mut s = format!(
        "covering set: {} points ({} presets, {} more), from {} candidates\n",
        points.len(),
        points.iter().filter(|p| p.is_preset()).count(),
        points.iter().filter(|p| !p.is_preset()).count(),
        candidates().len()
    );
    for p in points {
        s += &format!("  {:<90} +{} renders\n", p.spec, p.new_renders);
    }
    s += "branches (template: input = value <- first point taking it):\n";
    for ((template, input), values) in branch_table(points) {
        if input == "(rendered)" {
            continue;
        }
        for (v, spec) in values {
            s += &format!("  {template}: {input} = {v} <- {spec}\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The identifiers that `{% if %}` / `{% elif %}` / `{% else if %}` conditions read
    /// in one template's text (literals, operators and casts dropped).
    fn condition_inputs(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = text;
        while let Some(i) = rest.find("{%") {
            rest = &rest[i + 2..];
            let Some(j) = rest.find("%}") else { break };
            let tag = rest[..j].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
            rest = &rest[j + 2..];
            let cond = ["if ", "elif ", "else if "]
                .iter()
                .find_map(|k| tag.strip_prefix(k));
            let Some(cond) = cond else { continue };
            // Drop string literals, then split into identifier-like words.
            let mut plain = String::new();
            let mut in_str = false;
            for c in cond.chars() {
                if c == '"' {
                    in_str = !in_str;
                } else if !in_str {
                    plain.push(c);
                }
            }
            for word in plain.split(|c: char| {
                !(c.is_alphanumeric() || c == '_' || c == '.' || c == '(' || c == ')')
            }) {
                let w = word.trim_matches(|c| c == '(' || c == ')');
                let w = if w.ends_with(".is_empty") {
                    format!("{w}()")
                } else {
                    w.to_string()
                };
                // askama's own loop variables (`loop.first`, ...) change within a render.
                // A planted fault's switches (`fault.`) are no design branch.
                let keyword = ["as", "u64", "u32", "true", "false", ""].contains(&w.as_str())
                    || w.starts_with("loop.")
                    || w.starts_with("fault.");
                if !keyword && !w.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                    out.insert(w);
                }
            }
        }
        out
    }

    #[test]
    fn every_template_condition_is_reported_by_its_render() {
        let points = covering_set().unwrap();
        let table = branch_table(&points);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        let mut templates = Vec::new();
        for dir in ["pe", "array"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                templates.push((
                    format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                    p,
                ));
            }
        }
        templates.sort();
        for (name, path) in templates {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                table.contains_key(&(leak(&name), "(rendered)")),
                "template {name} is never rendered by any covering point"
            );
            for input in condition_inputs(&text) {
                assert!(
                    table.keys().any(|(t, i)| *t == name && *i == input),
                    "template {name}: its condition reads `{input}`, which the template \
                     struct does not report (add it to the struct's `branches!` line beside it in src/rtl/)"
                );
            }
        }
    }

    fn leak(s: &str) -> &'static str {
        Box::leak(s.to_string().into_boxed_str())
    }

    #[test]
    fn every_branch_is_taken_both_ways() {
        let points = covering_set().unwrap();
        let problems = check(&points);
        assert!(
            problems.is_empty(),
            "branches taken one way only: {problems:#?}"
        );
        // Every render of every candidate is made by some point of the set.
        let all: BTreeSet<Render> = points
            .iter()
            .flat_map(|p| p.renders.iter().cloned())
            .collect();
        for (spec, cfg) in candidates() {
            for r in renders_of(&cfg).unwrap() {
                assert!(
                    all.contains(&r),
                    "{spec} renders {r:?}, which no covering point does"
                );
            }
        }
    }

    #[test]
    fn the_covering_set_includes_the_two_branches_that_escaped() {
        let points = covering_set().unwrap();
        // The array's edge branch without a weight edge field (4-bit sparq, or sysmt2
        // with zero test act, at the edge) and rows >= 3 are both regressed.
        let edge_without_weight_field = |r: &Render| {
            r.template == "array/array.v"
                && r.inputs.contains(&("edge", "true".into()))
                && r.inputs.contains(&("pre_wgt", "false".into()))
        };
        assert!(points
            .iter()
            .any(|p| !p.is_preset() && p.renders.iter().any(edge_without_weight_field)));
    }

    #[test]
    fn condition_parser_reads_compound_conditions() {
        let t = "{%- if n == 4 && edge %}x{% else if !cut %}{% endif %}{% if rule == \"pair\" %}{% if u.cases.is_empty() %}{% if edge_stages + pipeline as u64 > 0 %}";
        let got: Vec<String> = condition_inputs(t).into_iter().collect();
        assert_eq!(
            got,
            [
                "cut",
                "edge",
                "edge_stages",
                "n",
                "pipeline",
                "rule",
                "u.cases.is_empty()"
            ]
        );
    }
}
