//! The PE's operand conditioning `<name>_cond` and its proof variant
//! `<name>_cond_cut`: one template per datapath rule and window form (exact, single,
//! the pair conds with inline, edge or module windows, quad), chosen from the
//! elaborated [`Datapath`](crate::config::Datapath) and filled by [`cond_text`].

use super::design::win_module;
use super::exprs::{pair_lane, Next, PairLane};
use super::fault::FaultView;
use super::header::{header, render, Branches};
use super::Fault;
use crate::config::{Design, Rounding, Rule, WindowSet, Windows, ZeroTest};
use crate::error::Result;
use askama::Template;

#[derive(Template)]
#[template(path = "pe/cond_exact.v")]
struct CondExactTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    lanes: u32,
}

#[derive(Template)]
#[template(path = "pe/cond_bsparq.v")]
struct CondBsparqTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    n: u32,
    win_module: &'a str,
}

/// Defines the template struct of one 4-bit-window variant of the two-lane cond
/// (windows inline, or precomputed at the edge): both take the same view.
macro_rules! pair4_template {
    ($t:ident, $path:literal $(, $(#[$doc:meta])* $extra:ident: $ty:ty)*) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $t<'a> {
            header: &'a str,
            prefix: &'a str,
            policy: &'a str,
            zero_test: &'a str,
            zt_weight: bool,
            set: &'a str,
            cut: bool,
            rne: bool,
            act_w: u32,
            wgt_w: u32,
            lanes: Vec<PairLane>,
            fault: FaultView,
            $($(#[$doc])* $extra: $ty,)*
        }
    };
}
pair4_template!(CondPairInlineTpl, "pe/cond_pair_inline.v");
pair4_template!(
    CondPairEdgeTpl,
    "pe/cond_pair_edge.v",
    /// Width of one lane's field in the activation link word.
    act_field: u32,
    /// Width of one lane's field in the weight link word.
    wgt_field: u32,
    /// Where the fields start in the link words.
    fields_at: u32
);

/// The two-lane cond with 3- or 2-bit windows: window modules per lane and a
/// wider one for a lone lane.
#[derive(Template)]
#[template(path = "pe/cond_pair_win.v")]
struct CondPairWinTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    policy: &'a str,
    zero_test: &'a str,
    zt_weight: bool,
    n: u32,
    set: &'a str,
    solo_set: &'a str,
    win_module: &'a str,
    solo_win_module: &'a str,
    cut: bool,
    /// Not a condition of the template, but the window modules it names differ.
    rne: bool,
    act_w: u32,
    wgt_w: u32,
}

branches!(CondExactTpl, "pe/cond_exact.v");
branches!(CondBsparqTpl, "pe/cond_bsparq.v");
branches!(
    CondPairInlineTpl,
    "pe/cond_pair_inline.v",
    cut,
    rne,
    zt_weight
);
branches!(CondPairEdgeTpl, "pe/cond_pair_edge.v", cut, rne, zt_weight);
branches!(CondPairWinTpl, "pe/cond_pair_win.v", n, cut, rne, zt_weight);

#[derive(Template)]
#[template(path = "pe/cond_quad.v")]
struct CondQuadTpl<'a> {
    header: &'a str,
    prefix: &'a str,
    zero_test: &'a str,
    zt_weight: bool,
    win_module: &'a str,
    cut: bool,
    edge: bool,
    act_w: u32,
    wgt_w: u32,
    /// The link words' per-lane fields (edge only): where they start, and their widths.
    fields_at: u32,
    act_field: u32,
    wgt_field: u32,
}

branches!(CondQuadTpl, "pe/cond_quad.v", cut, edge, zt_weight);

/// Renders `<name>_cond`, or with `cut` its proof variant `<name>_cond_cut`: the
/// same text except that the lanes' zero tests leave through `on_o` and the datapath
/// takes the lanes' activity from `on_i` (two- and four-lane reducing policies only;
/// the others have no activity to cut).
pub(super) fn cond_text(
    cfg: &Design,
    cut: bool,
    shown: &Design,
    fault: Option<Fault>,
) -> Result<String> {
    let prefix = cfg.name.as_str();
    let dp = cfg.dp();
    let rnd = dp.rounding;
    let m = format!("{prefix}_cond{}", if cut { "_cut" } else { "" });
    let h = header(&m, "operand conditioning and routing", shown);
    let (act_w, wgt_w) = (dp.link.act_width, dp.link.wgt_width);
    Ok(match dp.rule {
        Rule::Exact { lanes } => render(
            &CondExactTpl {
                header: &h,
                prefix,
                lanes,
            },
            &m,
        )?,
        Rule::Single { window } => render(
            &CondBsparqTpl {
                header: &h,
                prefix,
                n: window.bits(),
                win_module: &win_module(prefix, window, rnd),
            },
            &m,
        )?,
        Rule::Pair {
            pair: set,
            solo,
            zero_test: zt,
        } => {
            let rne = rnd == Rounding::NearestEven;
            let pa = dp.link.act_field;
            let lanes = (0..2usize)
                .map(|k| {
                    let mut l = pair_lane(k, set.positions());
                    if dp.windows == Windows::Edge {
                        // Used only when both lanes are active: the edge's window.
                        let lo = dp.link.fields_at + pa * k as u32;
                        l.next = Next::Edge { hi: lo + 3, lo };
                    } else if !rne {
                        l.next = Next::Truncated;
                    }
                    l
                })
                .collect();
            macro_rules! pair4 {
                ($t:ident $(, $extra:ident: $v:expr)*) => {
                    render(
                        &$t {
                            header: &h,
                            prefix,
                            policy: cfg.pe.policy.name(),
                            zero_test: zt.name(),
                            zt_weight: zt == ZeroTest::ActOrWeight,
                            set: set.name(),
                            cut,
                            rne,
                            act_w,
                            wgt_w,
                            lanes,
                            fault: FaultView::of(fault),
                            $($extra: $v,)*
                        },
                        &m,
                    )?
                };
            }
            match dp.windows {
                Windows::Inline => pair4!(CondPairInlineTpl),
                Windows::Edge => pair4!(
                    CondPairEdgeTpl,
                    act_field: pa,
                    wgt_field: dp.link.wgt_field,
                    fields_at: dp.link.fields_at
                ),
                _ => render(
                    &CondPairWinTpl {
                        header: &h,
                        prefix,
                        policy: cfg.pe.policy.name(),
                        zero_test: zt.name(),
                        zt_weight: zt == ZeroTest::ActOrWeight,
                        n: set.bits(),
                        set: set.name(),
                        solo_set: solo.map(WindowSet::name).unwrap_or("-"),
                        win_module: &win_module(prefix, set, rnd),
                        solo_win_module: &solo
                            .map(|s| win_module(prefix, s, rnd))
                            .unwrap_or_default(),
                        cut,
                        rne,
                        act_w,
                        wgt_w,
                    },
                    &m,
                )?,
            }
        }
        Rule::Quad {
            window,
            zero_test: zt,
        } => render(
            &CondQuadTpl {
                header: &h,
                prefix,
                zero_test: zt.name(),
                zt_weight: zt == ZeroTest::ActOrWeight,
                win_module: &win_module(prefix, window, rnd),
                cut,
                edge: dp.edge(),
                act_w,
                wgt_w,
                fields_at: dp.link.fields_at,
                act_field: dp.link.act_field,
                wgt_field: dp.link.wgt_field,
            },
            &m,
        )?,
    })
}
