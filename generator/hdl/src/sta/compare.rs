//! The flows per design and across designs: one design mapped, timed and (with a
//! workload) simulated for energy; the design points on parallel workers; the clock
//! energy is reported at; and the side-by-side and timing-path tables.

use super::{
    map, power, simulate_array, sta_binary, timing, Energy, Library, Mapped, Timing, TimingPath,
    Workload, UNCONSTRAINED_PS,
};
use crate::config::Design;
use crate::error::{Error, Result};
use crate::report::Table;
use crate::rtl;
use std::time::Instant;

/// One design on the real library.
#[derive(Debug, Clone)]
pub struct StaCost {
    /// Design point.
    pub preset: String,
    /// Lanes per cycle.
    pub lanes: u32,
    /// The PE, mapped.
    pub pe: Mapped,
    /// The PE's timing.
    pub pe_timing: Timing,
    /// The array, mapped, timed and (with cell models) its energy.
    pub array: Option<(Mapped, Timing, Option<Energy>)>,
    /// Seconds the flows took.
    pub seconds: f64,
}

/// Runs the flows for one design: PE mapped and timed; with `workload`, the
/// `rows`×`cols` array mapped, timed and simulated for energy.
pub fn cost(
    cfg: &Design,
    preset: &str,
    lib: &Library,
    workload: Option<&Workload>,
    period_ps: f64,
) -> Result<StaCost> {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| Error::io("<tempdir>", e))?;
    let pe_dir = dir.path().join("pe");
    let pe = map(&rtl::generate_pe(cfg)?, &rtl::pe_top(cfg), lib, &pe_dir)?;
    let pe_timing = timing(&pe_dir, &pe, lib, period_ps)?;
    let array = match workload {
        None => None,
        Some(w) => {
            let ad = dir.path().join("array");
            let a = map(
                &rtl::generate_array(cfg)?,
                &format!("{}_array", cfg.name),
                lib,
                &ad,
            )?;
            let t = timing(&ad, &a, lib, period_ps)?;
            let e = if lib.models.is_some() {
                let (act, _run) =
                    simulate_array(&ad, cfg, &a, lib, &w.gemm, w.seed, w.skip.as_deref())?;
                let p = power(&ad, &a, lib, &act, t.critical.ps.max(1.0))?;
                Some(Energy {
                    cycles: act.cycles,
                    macs: (w.gemm.m * w.gemm.k * w.gemm.n) as u64,
                    power: p,
                })
            } else {
                None
            };
            Some((a, t, e))
        }
    };
    Ok(StaCost {
        preset: preset.to_string(),
        lanes: cfg.dp().lanes,
        pe,
        pe_timing,
        array,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// [`cost`] for every design point on `jobs` workers ([`crate::tool::jobs`]: 0 is
/// every core), the reference `base` first.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    presets: &[String],
    base: &str,
    rows: u32,
    cols: u32,
    lib: &Library,
    workload: Option<&Workload>,
    clock_ps: Option<f64>,
    jobs: usize,
) -> Result<Vec<StaCost>> {
    let (names, cfgs) = crate::synth::compare_points(presets, base, rows, cols)?;
    sta_binary()?;
    let period = clock_ps.unwrap_or(UNCONSTRAINED_PS);
    crate::tool::parallel_map(jobs, &cfgs, |i, cfg| {
        let r = cost(cfg, &names[i], lib, workload, period);
        if let Ok(c) = &r {
            eprintln!(
                "smtgen compare: {} mapped, timed{} in {:.0} s",
                c.preset,
                if c.array.as_ref().is_some_and(|a| a.2.is_some()) {
                    " and simulated"
                } else {
                    ""
                },
                c.seconds
            );
        }
        r
    })
    .into_iter()
    .collect()
}

/// The clock energy is reported at: `--clock-ps`, else the slowest design's
/// critical path (array when synthesized, else PE), so every design meets it.
pub fn report_clock(costs: &[StaCost], clock_ps: Option<f64>) -> f64 {
    clock_ps.unwrap_or_else(|| {
        costs
            .iter()
            .map(|c| {
                c.array
                    .as_ref()
                    .map_or(c.pe_timing.critical.ps, |a| a.1.critical.ps)
            })
            .fold(0.0, f64::max)
    })
}

/// The side-by-side table on the real library: µm², NAND2 equivalents, critical
/// path, fmax, both halves, and with energy: power, energy per MAC and per layer.
pub fn compare_table(costs: &[StaCost], base: &str, clock_ps: f64) -> Table {
    let Some(b) = costs.iter().find(|c| c.preset == base) else {
        return Table::new(&["design"]);
    };
    let arrays = costs.iter().all(|c| c.array.is_some());
    let energy = arrays
        && costs
            .iter()
            .all(|c| c.array.as_ref().is_some_and(|a| a.2.is_some()));
    let mut h = vec!["design", "T", "PE um2", "PE NAND2", "PE x"];
    if arrays {
        h.extend(["array um2", "array x"]);
    }
    h.extend(["crit ps", "crit x", "fmax MHz", "in->reg ps", "reg->reg ps"]);
    if arrays {
        h.extend(["array crit ps"]);
    }
    h.push("lanes/area x");
    if energy {
        h.extend([
            "power mW", "pJ/MAC", "E/MAC x", "saving %", "layer nJ", "cycles",
        ]);
    }
    let mut t = Table::new(&h);
    let opt = |p: &Option<TimingPath>| {
        p.as_ref()
            .map_or("-".to_string(), |p| format!("{:.0}", p.ps))
    };
    for c in costs {
        let mut r = vec![
            c.preset.clone(),
            c.lanes.to_string(),
            format!("{:.0}", c.pe.area),
            format!("{:.0}", c.pe.nand2_eq),
            format!("{:.2}", c.pe.area / b.pe.area),
        ];
        let mut ratio = c.pe.area / b.pe.area;
        if let (Some(a), Some(ba)) = (&c.array, &b.array) {
            ratio = a.0.area / ba.0.area;
            r.extend([format!("{:.0}", a.0.area), format!("{ratio:.2}")]);
        }
        r.extend([
            format!("{:.0}", c.pe_timing.critical.ps),
            format!("{:.2}", c.pe_timing.critical.ps / b.pe_timing.critical.ps),
            format!("{:.0}", c.pe_timing.fmax_mhz()),
            opt(&c.pe_timing.from_inputs),
            opt(&c.pe_timing.from_registers),
        ]);
        if let Some(a) = &c.array {
            r.push(format!("{:.0}", a.1.critical.ps));
        }
        r.push(format!("{:.2}", f64::from(c.lanes) / ratio));
        if energy {
            if let (Some((_, _, Some(e))), Some((_, _, Some(be)))) = (&c.array, &b.array) {
                let x = e.per_mac(clock_ps) / be.per_mac(clock_ps);
                r.extend([
                    format!("{:.3}", e.power.at(clock_ps) * 1e3),
                    format!("{:.3}", e.per_mac(clock_ps) * 1e12),
                    format!("{x:.2}"),
                    format!("{:.0}", 100.0 * (1.0 - x)),
                    format!("{:.2}", e.layer(clock_ps) * 1e9),
                    e.cycles.to_string(),
                ]);
            }
        }
        t.rows.push(r);
    }
    t
}

/// Start and end points of every design's paths (PE).
pub fn paths_table(costs: &[StaCost]) -> Table {
    let mut t = Table::new(&[
        "design",
        "critical path",
        "ps",
        "first half (from inputs)",
        "second half (from registers)",
    ]);
    let p = |x: &Option<TimingPath>| {
        x.as_ref().map_or("-".to_string(), |p| {
            format!("{} -> {} ({:.0} ps)", p.start, p.end, p.ps)
        })
    };
    for c in costs {
        let k = &c.pe_timing.critical;
        t.rows.push(vec![
            c.preset.clone(),
            format!("{} -> {}", k.start, k.end),
            format!("{:.0}", k.ps),
            p(&c.pe_timing.from_inputs),
            p(&c.pe_timing.from_registers),
        ]);
    }
    t
}
