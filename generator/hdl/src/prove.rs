//! Equivalence proofs: the optimized PE datapath (`<name>_cond` + `<name>_fabric`,
//! lane inputs to the cycle's lane sum) against the behavioural reference
//! `<name>_ref`, for every input. A failed proof yields a counterexample (lane
//! inputs, both sums) that the golden model then evaluates.
//!
//! How: Yosys turns each miter into an AIG and ABC decides it, by SAT sweeping
//! (`&fraig -x`, which merges equivalent internal nodes) or by BDDs (`collapse`).
//! Policies whose rule depends on which lanes are active (two- and four-lane `sparq`
//! and `sysmt`) are split by activity, because one monolithic miter over 32 to 64
//! input bits takes minutes to hours:
//!
//! 1. *Link*: the proof variants `<name>_cond_cut` / `<name>_ref_cut` (activity cut
//!    out to a port, [`rtl::generate_proof_variants`]) fed back with their own zero
//!    tests equal the production modules, and the two zero tests agree.
//! 2. *Cases*: per lane, active, or idle with a = 0, or (zero test `act_or_weight`)
//!    idle with w = 0; 3^T or 2^T cases. In each, the activity is a constant (so the
//!    routing muxes fold away and each lane's product becomes one node) and the
//!    idle operand is a constant zero; only inputs whose real activity is the case's
//!    count. Every input falls in some case, so link plus cases is the whole space.

use crate::config::Design;
use crate::error::{Error, Result};
use crate::model::PeModel;
use crate::rtl::{self, GeneratedFile, Role};
use crate::tool::Tool;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The outcome of one proof.
#[derive(Debug, Clone, PartialEq)]
pub struct Proof {
    /// Design name.
    pub design: String,
    /// Input bits the proof covers (all of them: 16 per lane).
    pub input_bits: u32,
    /// Proven equal for every input. Neither this nor a counterexample: the proof
    /// ran out of time.
    pub proven: bool,
    /// When refuted: lane activations, weights, optimized sum, reference sum, and
    /// the golden model's sum for the same lanes.
    pub counterexample: Option<Counterexample>,
    /// Miters decided: the link and the activity cases, or the one whole miter.
    pub cases: usize,
    /// Wall-clock seconds of the whole proof.
    pub seconds: f64,
    /// Seconds of the slowest single miter.
    pub slowest: f64,
}

/// Inputs on which the optimized datapath and the reference disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterexample {
    /// Activations per lane.
    pub acts: Vec<u8>,
    /// Weights per lane.
    pub wgts: Vec<i8>,
    /// The optimized datapath's output the refuted miter compares: its lane sum, or
    /// for the 2:4 selection miter the selected operand word (see `compared`).
    pub optimized: i64,
    /// The reference's output the refuted miter compares, as `optimized`.
    pub reference: i64,
    /// The golden model's lane sum on the same lanes (all of them).
    pub model: i64,
    /// What `optimized` and `reference` are.
    pub compared: Compared,
}

/// The outputs a refuted miter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The lane sums (signed, the datapath's sum width).
    LaneSum,
    /// The 2:4 selection's output word: the two selected lanes' operands (link words
    /// at the edge), unsigned.
    SelectedOperands,
}

/// One region of the input space: the lanes' activity and which idle operands are
/// forced to zero (bit t of each mask is lane t).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// Lanes active in this case.
    pub on: u32,
    /// Idle lanes whose activation is zero.
    pub zero_act: u32,
    /// Idle lanes whose weight is zero (zero test `act_or_weight` only).
    pub zero_wgt: u32,
}

impl Case {
    fn active(&self) -> u32 {
        self.on.count_ones()
    }
}

/// The activity cases of `cfg`'s rule (behind a 2:4 selection, the pair's two
/// lanes; empty for rules without activity modes): per lane active, idle with
/// a = 0, or idle with w = 0 under `act_or_weight`.
pub fn cases(cfg: &Design) -> Vec<Case> {
    if !rtl::has_activity_modes(cfg) {
        return Vec::new();
    }
    let rule = cfg.dp().rule;
    let t = rule.lanes();
    let weight = rule.weight_tested();
    let mut out = vec![Case {
        on: 0,
        zero_act: 0,
        zero_wgt: 0,
    }];
    for lane in 0..t {
        let bit = 1u32 << lane;
        let mut next = Vec::new();
        for c in &out {
            next.push(Case {
                on: c.on | bit,
                ..*c
            });
            next.push(Case {
                zero_act: c.zero_act | bit,
                ..*c
            });
            if weight {
                next.push(Case {
                    zero_wgt: c.zero_wgt | bit,
                    ..*c
                });
            }
        }
        out = next;
    }
    out
}

struct Widths {
    lanes: u32,
    sum: u32,
    x: u32,
    y: u32,
    sh: u32,
}

fn widths(cfg: &Design) -> Widths {
    let dp = cfg.dp();
    Widths {
        lanes: dp.lanes,
        sum: dp.sum_width,
        x: dp.buses.x,
        y: dp.buses.y,
        sh: dp.buses.sh,
    }
}

/// What the miter templates (`templates/proof/`) take: the design's prefix, the
/// conds they instantiate and the widths of lanes, lane sum and cond-to-fabric buses.
struct MiterView {
    prefix: String,
    top: String,
    cond: String,
    cond_cut: String,
    case_inputs: bool,
    lanes: u32,
    lanes_down: Vec<u32>,
    sum_w: u32,
    x_w: u32,
    y_w: u32,
    sh_w: u32,
}

fn view(cfg: &Design, top: &str, case_inputs: bool) -> MiterView {
    let w = widths(cfg);
    MiterView {
        prefix: cfg.name.clone(),
        top: format!("{}_{top}", cfg.name),
        cond: rtl::cond_front(cfg, false),
        cond_cut: rtl::cond_front(cfg, true),
        case_inputs,
        lanes: w.lanes,
        lanes_down: (0..w.lanes).rev().collect(),
        sum_w: w.sum,
        x_w: w.x,
        y_w: w.y,
        sh_w: w.sh,
    }
}

/// The whole miter: production cond + fabric (`opt_o`) against the production
/// reference (`ref_o`) on the miter's lane inputs.
#[derive(askama::Template)]
#[template(path = "proof/miter.v")]
struct MiterTpl {
    v: MiterView,
}

/// The link miter: each proof variant, fed its own zero tests, against its
/// production module, and the two zero tests against each other.
#[derive(askama::Template)]
#[template(path = "proof/link.v")]
struct LinkTpl {
    v: MiterView,
}

/// The activity cases' miter: the activity (`on_i`) and the idle operands
/// (`za_i`: activation zero, `zw_i`: weight zero, per lane) are inputs that each
/// case ties to constants; only inputs whose real activity (the reference's zero
/// tests) equals `on_i` count.
#[derive(askama::Template)]
#[template(path = "proof/cases.v")]
struct CasesTpl {
    v: MiterView,
}

/// The 2:4 selection's miter: `<name>_sel` against the plain `<name>_ref_sel` on
/// all four lanes (the selected operands, activations then weights, must agree); at
/// the edge, the row edge `<name>_pre_act` and `<name>_sel` over link words against
/// `<name>_ref_sel` and the core's pair edge `<name>_pre_pair`.
#[derive(askama::Template)]
#[template(path = "proof/sel_miter.v")]
struct SelMiterTpl<'a> {
    prefix: &'a str,
    edge: bool,
    /// The design's plain operands and weight link word (four lanes in).
    plain_w: u32,
    wgt_in_w: u32,
    /// The design's activation link word (edge).
    link_w: u32,
    /// The core's plain operands, activation and weight link words (two lanes out).
    core_plain_w: u32,
    act_out_w: u32,
    wgt_out_w: u32,
}

fn miter(cfg: &Design) -> Result<String> {
    let v = view(cfg, "miter", false);
    rtl::render_text(&MiterTpl { v }, "miter")
}

fn link_miter(cfg: &Design) -> Result<String> {
    let v = view(cfg, "link", false);
    rtl::render_text(&LinkTpl { v }, "link miter")
}

fn cases_miter(cfg: &Design) -> Result<String> {
    let v = view(cfg, "cases", true);
    rtl::render_text(&CasesTpl { v }, "cases miter")
}

fn sel_miter(cfg: &Design) -> Result<String> {
    let (prefix, edge) = (&cfg.name, rtl::edge(cfg));
    let (link, core) = (&cfg.dp().link, &cfg.core().dp().link);
    rtl::render_text(
        &SelMiterTpl {
            prefix,
            edge,
            plain_w: link.fields_at,
            wgt_in_w: link.wgt_width,
            link_w: link.act_width,
            core_plain_w: core.fields_at,
            act_out_w: core.act_width,
            wgt_out_w: core.wgt_width,
        },
        "selection miter",
    )
}

/// Proves the generated PE of `cfg` within `timeout_s` seconds (an unfinished
/// proof is neither proven nor refuted).
pub fn prove(cfg: &Design, timeout_s: u64) -> Result<Proof> {
    prove_jobs(cfg, timeout_s, 0)
}

/// [`prove`] deciding the miters on `jobs` workers ([`crate::tool::jobs`]: 0 is
/// every core). The verdict does not depend on `jobs`.
pub fn prove_jobs(cfg: &Design, timeout_s: u64, jobs: usize) -> Result<Proof> {
    prove_files_jobs(cfg, &rtl::generate_pe(cfg)?, timeout_s, jobs)
}

/// One miter to decide: its top module and, for activity cases, the case.
struct Job {
    top: String,
    case: Option<Case>,
    /// The 2:4 selection's miter (over all lanes of the whole design).
    selection: bool,
}

/// Adds the miter module `top` (text `text`) to `all` and its whole-miter job.
fn add_miter(all: &mut Vec<GeneratedFile>, jobs: &mut Vec<Job>, top: String, text: String) {
    all.push(GeneratedFile::module(&top, Role::Miter, text));
    jobs.push(Job {
        top,
        case: None,
        selection: false,
    });
}

enum Verdict {
    Proven,
    Refuted,
    Undecided,
}

/// Proves `cfg`'s optimized datapath equal to its reference for every input, or
/// returns the counterexample found. `files` are the PE's generated files (pass a
/// modified set to check that a broken fabric is refuted).
pub fn prove_files(cfg: &Design, files: &[GeneratedFile], timeout_s: u64) -> Result<Proof> {
    prove_files_jobs(cfg, files, timeout_s, 0)
}

/// [`prove_files`] on `workers` workers ([`crate::tool::jobs`]: 0 is every core).
pub fn prove_files_jobs(
    cfg: &Design,
    files: &[GeneratedFile],
    timeout_s: u64,
    workers: usize,
) -> Result<Proof> {
    let t0 = Instant::now();
    // SMTGEN_KEEP_DIR keeps the miters, AIGs and logs for inspection.
    let tmp = crate::guard::work_dir()?;
    let kept = std::env::var_os("SMTGEN_KEEP_DIR").map(|d| Path::new(&d).join(&cfg.name));
    if let Some(d) = &kept {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let _named = kept.as_deref().map(|d| crate::guard::register(d, true));
    let dir_path = kept.unwrap_or_else(|| tmp.path().to_path_buf());
    let dir: &Path = &dir_path;
    let p = &cfg.name;
    // A 2:4-sparse design is proven in two parts that compose: its selection against
    // the plain selection (one miter over all 64 input bits), and the two-lane core
    // behind it (cond + fabric) against the plain pair rule with the activity split,
    // as every two-lane design. The reference is the same composition (ref_stc.v).
    // At the edge: the row edge and the selection over link words against the plain
    // selection and the core's pair edge `<name>_pre_pair`, where the core's proof
    // (through `<name>_front`) starts.
    let whole = cfg;
    let select = whole.dp().select;
    let cfg = whole.core();
    let mut all: Vec<GeneratedFile> = files
        .iter()
        .filter(|f| f.role == Role::Datapath)
        .cloned()
        .collect();
    all.extend(rtl::generate_reference(cfg)?);
    // (Of the whole design: for stc its core's variants, and at the edge its pair edge.)
    all.extend(rtl::generate_proof_variants(whole)?);
    let mut jobs = Vec::new();
    if select.is_some() {
        all.push(rtl::generate_ref_sel(whole)?);
        add_miter(
            &mut all,
            &mut jobs,
            format!("{p}_selmiter"),
            sel_miter(whole)?,
        );
        if let Some(j) = jobs.last_mut() {
            j.selection = true;
        }
    }
    let cs = cases(cfg);
    if cs.is_empty() {
        add_miter(&mut all, &mut jobs, format!("{p}_miter"), miter(cfg)?);
    } else {
        add_miter(&mut all, &mut jobs, format!("{p}_link"), link_miter(cfg)?);
        let text = cases_miter(cfg)?;
        all.push(GeneratedFile::module(
            &format!("{p}_cases"),
            Role::Miter,
            text,
        ));
        for (k, c) in cs.iter().enumerate() {
            jobs.push(Job {
                top: format!("{p}_case{k}"),
                case: Some(*c),
                selection: false,
            });
        }
    }
    rtl::write_files(dir, &all)?;
    let sources: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
    write_aigs(dir, &sources, &jobs, cfg)?;

    // Decide the miters on the workers; stop handing out work after a refutation
    // or when time is up.
    let next = AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Verdict, f64)>> = Mutex::new(Vec::new());
    let deadline = t0 + std::time::Duration::from_secs(timeout_s);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..crate::tool::workers(workers, jobs.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= jobs.len() || stop.load(Ordering::SeqCst) {
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                if left == 0 {
                    stop.store(true, Ordering::SeqCst);
                    break;
                }
                let t = Instant::now();
                match decide(dir, &jobs[i], left) {
                    Ok(v) => {
                        if !matches!(v, Verdict::Proven) {
                            stop.store(true, Ordering::SeqCst);
                        }
                        if let Ok(mut r) = results.lock() {
                            r.push((i, v, t.elapsed().as_secs_f64()));
                        }
                    }
                    Err(e) => {
                        stop.store(true, Ordering::SeqCst);
                        if let Ok(mut f) = failure.lock() {
                            *f = Some(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_default();
    let slowest = results.iter().map(|r| r.2).fold(0.0, f64::max);
    let proven =
        results.len() == jobs.len() && results.iter().all(|r| matches!(r.1, Verdict::Proven));
    let mut counterexample = None;
    if let Some((i, _, _)) = results.iter().find(|r| matches!(r.1, Verdict::Refuted)) {
        let j = &jobs[*i];
        // The selection miter reads all lanes of the whole design, the others the core's.
        let of = if j.selection { whole } else { cfg };
        counterexample = Some(witness(dir, &sources, j, of, timeout_s)?);
    }
    Ok(Proof {
        design: cfg.name.clone(),
        input_bits: 16 * whole.dp().lanes,
        proven,
        counterexample,
        cases: jobs.len(),
        seconds: t0.elapsed().as_secs_f64(),
        slowest,
    })
}

/// One Yosys run that flattens the miters to and-inverter graphs: `<top>.aig` for
/// the whole or link miter, and for the activity cases one `<name>_cases` graph
/// from which each `<name>_case<k>.aig` is written with its constants tied.
fn write_aigs(dir: &Path, sources: &[&str], jobs: &[Job], cfg: &Design) -> Result<()> {
    let flat = "proc\nmemory\nmemory_map\nflatten\nopt\ntechmap\nopt\nsetundef -zero\naigmap\ndelete -port o:opt_o o:ref_o\nopt_clean\n";
    let mut script = format!("read_verilog {}\ndesign -save base\n", sources.join(" "));
    for j in jobs.iter().filter(|j| j.case.is_none()) {
        script.push_str(&format!(
            "design -load base\nhierarchy -check -top {t}\n{flat}write_aiger -zinit {t}.aig\n",
            t = j.top
        ));
    }
    let cases: Vec<(&Job, Case)> = jobs.iter().filter_map(|j| Some((j, j.case?))).collect();
    let p = &cfg.name;
    if !cases.is_empty() {
        script.push_str(&format!(
            "design -load base\nhierarchy -check -top {p}_cases\n{flat}write_aiger -ascii -zinit -map {p}_cases.map {p}_cases.aag\n"
        ));
    }
    run_yosys(dir, "aig", &script, 600, p)?
        .ok_or_else(|| Error::tool("yosys", format!("building the miters of {p} timed out")))?;
    if cases.is_empty() {
        return Ok(());
    }
    let read =
        |f: String| std::fs::read_to_string(dir.join(&f)).map_err(|e| Error::io(dir.join(&f), e));
    let aig = crate::aiger::Aig::parse_ascii(&read(format!("{p}_cases.aag"))?)?;
    let map = read(format!("{p}_cases.map"))?;
    for (job, c) in cases {
        let mut ties = Vec::new();
        for (name, mask) in [("on_i", c.on), ("za_i", c.zero_act), ("zw_i", c.zero_wgt)] {
            for lane in 0..cfg.dp().lanes {
                let i = crate::aiger::input_index(&map, name, lane).ok_or_else(|| {
                    Error::tool(
                        "yosys",
                        format!("{p}_cases.map has no input {name}[{lane}]"),
                    )
                })?;
                ties.push((i, mask >> lane & 1 == 1));
            }
        }
        let f = dir.join(format!("{}.aig", job.top));
        std::fs::write(&f, aig.binary_with_constants(&ties)).map_err(|e| Error::io(&f, e))?;
    }
    Ok(())
}

/// Decides one miter with ABC: a conflict-limited SAT call first (refutes a broken
/// datapath within a second), then BDDs first for cases with at most one active
/// lane (16 free bits) and SAT sweeping first otherwise; the other engine gets the
/// rest of the time if the first gives up.
fn decide(dir: &Path, job: &Job, left_s: u64) -> Result<Verdict> {
    let aig = format!("{}.aig", job.top);
    let quick = format!("read_aiger {aig}; strash; sat -C 20000");
    let bdd = format!("read_aiger {aig}; strash; collapse; strash; sat");
    let sweep = format!("read_aiger {aig}; strash; &get; &fraig -x; &put; sat");
    let bdd_first = job.case.is_some_and(|c| c.active() <= 1);
    let (first, second) = if bdd_first {
        (bdd, sweep)
    } else {
        (sweep, bdd)
    };
    let t = Instant::now();
    let left = |t: &Instant| left_s.saturating_sub(t.elapsed().as_secs());
    for (script, cap) in [
        (quick, 30),
        (first, (left_s / 4).clamp(10, 120)),
        (second, left_s),
    ] {
        let s = left(&t).min(cap);
        if s == 0 {
            break;
        }
        match abc(dir, &script, s)? {
            Verdict::Undecided => {}
            v => return Ok(v),
        }
    }
    Ok(Verdict::Undecided)
}

fn abc(dir: &Path, script: &str, timeout_s: u64) -> Result<Verdict> {
    let out = Tool::new("yosys-abc", "yosys-abc", dir)
        .args(["-c", script])
        .timeout(std::time::Duration::from_secs(timeout_s))
        .execute()?;
    if out.timed_out {
        return Ok(Verdict::Undecided);
    }
    let text = out.text()?;
    if text.contains("UNSATISFIABLE") {
        Ok(Verdict::Proven)
    } else if text.contains("SATISFIABLE") {
        Ok(Verdict::Refuted)
    } else if text.contains("UNDECIDED") {
        Ok(Verdict::Undecided)
    } else {
        Err(out.error(&format!("unexpected answer on {script}")))
    }
}

/// Asks Yosys's SAT solver for an input that sets `trigger_o` in a refuted miter
/// and reads it back as a counterexample (idle operands of the case zeroed).
fn witness(
    dir: &Path,
    sources: &[&str],
    job: &Job,
    cfg: &Design,
    timeout_s: u64,
) -> Result<Counterexample> {
    let (top, sets) = match job.case {
        Some(c) => (
            format!("{}_cases", cfg.name),
            format!(
                " -set on_i {} -set za_i {} -set zw_i {}",
                c.on, c.zero_act, c.zero_wgt
            ),
        ),
        None => (job.top.clone(), String::new()),
    };
    let script = format!(
        "read_verilog {}\nhierarchy -check -top {top}\nproc\nmemory\nmemory_map\nflatten\nopt\nsat -prove trigger_o 0{sets} -show-inputs -show-outputs\n",
        sources.join(" "),
    );
    let log =
        run_yosys(dir, "witness", &script, timeout_s.max(60), &cfg.name)?.ok_or_else(|| {
            Error::tool(
                "yosys",
                format!("{} is refuted, but finding the input timed out", job.top),
            )
        })?;
    let compared = if job.selection {
        Compared::SelectedOperands
    } else {
        Compared::LaneSum
    };
    let mut x = parse_counterexample(cfg, &log, cfg.lanes(), compared)?;
    if let Some(c) = job.case {
        for l in 0..x.acts.len() {
            if c.zero_act >> l & 1 == 1 {
                x.acts[l] = 0;
            }
            if c.zero_wgt >> l & 1 == 1 {
                x.wgts[l] = 0;
            }
        }
        x.model = i64::from(PeModel::new(cfg).products(&x.acts, &x.wgts).sum);
    }
    Ok(x)
}

/// Runs a Yosys script; `None` when it ran out of time, else its log.
fn run_yosys(
    dir: &Path,
    name: &str,
    script: &str,
    timeout_s: u64,
    design: &str,
) -> Result<Option<String>> {
    let ys = format!("{name}.ys");
    std::fs::write(dir.join(&ys), script).map_err(|e| Error::io(dir, e))?;
    let out = Tool::new("yosys", "yosys", dir)
        .args(["-s", &ys])
        .log(&format!("{name}.log"))
        .timeout(std::time::Duration::from_secs(timeout_s))
        .execute()?;
    if out.timed_out {
        return Ok(None);
    }
    if !out.success() {
        return Err(out.error(&format!("proof of {design}")));
    }
    Ok(Some(out.text()?))
}

/// Reads `\act_i`, `\wgt_i`, `\opt_o`, `\ref_o` from the value table Yosys prints
/// for a failed proof (`Signal Dec Hex Bin` rows). The hex column: Yosys prints the
/// decimal one signed for 32-bit signals, so a set top bit reads as negative; past
/// 32 bits (the 2:4 selection miter over link words) it prints `--` there, so then
/// the binary column.
fn parse_counterexample(
    cfg: &Design,
    log: &str,
    t: usize,
    compared: Compared,
) -> Result<Counterexample> {
    let value = |name: &str| -> Option<u128> {
        log.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == name)?;
            u128::from_str_radix(f.get(i + 2)?, 16)
                .or_else(|_| u128::from_str_radix(f.get(i + 3).unwrap_or(&""), 2))
                .ok()
        })
    };
    let missing = || {
        Error::tool(
            "yosys",
            format!("refuted {}, but no counterexample was printed", cfg.name),
        )
    };
    let act = value("\\act_i").ok_or_else(missing)?;
    let wgt = value("\\wgt_i").ok_or_else(missing)?;
    let sw = cfg.dp().sum_width;
    let signed = |v: u128| -> i64 {
        match compared {
            Compared::LaneSum => {
                let sh = 64 - sw;
                ((v as i64) << sh) >> sh
            }
            Compared::SelectedOperands => v as i64,
        }
    };
    let opt = signed(value("\\opt_o").ok_or_else(missing)?);
    let reference = signed(value("\\ref_o").ok_or_else(missing)?);
    let acts: Vec<u8> = (0..t).map(|l| (act >> (8 * l)) as u8).collect();
    let wgts: Vec<i8> = (0..t).map(|l| (wgt >> (8 * l)) as u8 as i8).collect();
    let model = i64::from(PeModel::new(cfg).products(&acts, &wgts).sum);
    Ok(Counterexample {
        acts,
        wgts,
        optimized: opt,
        reference,
        model,
        compared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The selection miter's widths come from the design's and its core's link
    /// words: the lines the template wrote with literal widths before, unchanged.
    #[test]
    fn selection_miter_widths_are_the_link_words() {
        let d = Design::point("sparq-stc-4b5opt+pe.window_logic=edge", &[] as &[&str]).unwrap();
        let m = sel_miter(&d).unwrap();
        let p = &d.name;
        for line in [
            "  input  wire [31:0] act_i,".to_string(),
            "  input  wire [31:0] wgt_i,".into(),
            "  output wire [39:0] opt_o,".into(),
            "  wire [47:0] link;".into(),
            "  wire [15:0] act_r;".into(),
            format!("  {p}_sel u_sel (.act_i(link), .wgt_i(wgt_i), .act_o(opt_o[23:0]), .wgt_o(opt_o[39:24]));"),
            format!("  {p}_ref_sel u_ref (.act_i(act_i), .wgt_i(wgt_i), .act_o(act_r), .wgt_o(ref_o[39:24]));"),
            format!("  {p}_pre_pair u_pre_pair (.act_i(act_r), .link_o(ref_o[23:0]));"),
        ] {
            assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
        }
        let d = Design::preset("sparq-stc-4b5opt").unwrap();
        let m = sel_miter(&d).unwrap();
        let p = &d.name;
        for line in [
            "  output wire [31:0] ref_o,".to_string(),
            format!("  {p}_sel u_sel (.act_i(act_i), .wgt_i(wgt_i), .act_o(opt_o[15:0]), .wgt_o(opt_o[31:16]));"),
            format!("  {p}_ref_sel u_ref (.act_i(act_i), .wgt_i(wgt_i), .act_o(ref_o[15:0]), .wgt_o(ref_o[31:16]));"),
        ] {
            assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
        }
    }

    #[test]
    fn miter_wires_cond_fabric_and_reference() {
        let cfg = Design::preset("sysmt4").unwrap();
        let m = miter(&cfg).unwrap();
        assert!(m.contains("sysmt4_cond u_cond") && m.contains("sysmt4_ref u_ref"));
        assert!(m.contains("input  wire [31:0] act_i") && m.contains("signed [17:0] opt_o"));
    }

    /// Regression: Yosys prints a 32-bit signal's decimal column signed, so sysmt4's
    /// witness with act_i[31] set read as "no counterexample" (seen once the AND-OR
    /// fabric led the SAT solver to a different model).
    #[test]
    fn a_witness_with_the_top_input_bit_set_is_read_from_the_hex_column() {
        let cfg = Design::preset("sysmt4").unwrap();
        let log = "\
  Signal Name             Dec       Hex                                 Bin
  --------------- ----------- --------- -----------------------------------
  \\act_i          -1463014393  a8cc2c07    10101000110011000010110000000111
  \\on_i                    15         f                                1111
  \\opt_o                16388      4004                  000100000000000100
  \\ref_o                22276      5704                  000101011100000100
  \\trigger_o                1         1                                   1
  \\wgt_i           1477969660  581806fc    01011000000110000000011011111100
";
        let x = parse_counterexample(&cfg, log, 4, Compared::LaneSum).unwrap();
        assert_eq!(x.acts, vec![0x07, 0x2c, 0xcc, 0xa8]);
        assert_eq!(x.wgts, vec![-4, 0x06, 0x18, 0x58]);
        assert_eq!((x.optimized, x.reference), (16388, 22276));
    }

    /// Past 32 bits (the 2:4 selection miter over link words) Yosys prints `--` in
    /// the decimal and hex columns: the binary column is read.
    #[test]
    fn a_witness_wider_than_32_bits_is_read_from_the_binary_column() {
        let log = "  \\act_i  -1258227544  b500f8a8  10110101000000001111100010101000
  \\opt_o  --  --  1110100100010000101100001011010111111000
  \\ref_o  --  --  1110100100010000101111111011010111111000
  \\wgt_i  -385871872  e9001000  11101001000000000001000000000000\n";
        let x = parse_counterexample(
            &Design::preset("sparq-4b5opt").unwrap(),
            log,
            4,
            Compared::LaneSum,
        )
        .unwrap();
        assert_eq!(x.acts, vec![0xa8, 0xf8, 0x00, 0xb5]);
        // The low 17 bits (the sum width), sign-extended.
        assert_eq!((x.optimized, x.reference), (0xb5f8, 0x1b5f8 - (1 << 17)));
    }
}
