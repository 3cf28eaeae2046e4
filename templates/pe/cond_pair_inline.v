{%- import "macros.v" as m -%}
{%- macro on0() -%}
(|act_i[7:0]){% if zt_weight && fault.weight0 %} & (|wgt_i[7:0]){% endif %}
{%- endmacro -%}
{%- macro on1() -%}
(|act_i[15:8]){% if zt_weight && fault.weight1 %} & (|wgt_i[15:8]){% endif %}
{%- endmacro -%}
{{ header }}
`default_nettype none
// Operand conditioning for two lanes sharing two 4b x 8b units ({{ policy }}).
// Zero test {{ zero_test }}: a lane is idle when {% if zt_weight %}a == 0 or w == 0{% else %}a == 0{% endif %}.
//   both lanes active: unit t takes lane t's window win(a_t; {{ set }}) and weight w_t.
//   at most one active: both units serve one lane (lane 1 if only lane 1 is active,
//   else lane 0; with no lane active the served lane's product is zero anyway). The
//   lane's own unit takes its window unrounded (shift s), the other unit the bits
//   below the window (shift 0): the two add up to the exact product. So the lone
//   lane reuses the window logic the pair needs, and each unit input is a 2:1 mux.
// A unit always takes its activation and weight from the same lane.
{{- m::cond_head(2, 8, 16, 8, "reg ") }}

  // One block per PE: the two windows are inline, so each lane's window, shift,
  // round-up condition and the bits below the window come from one selection.
  reg  [7:0] a0, a1, w0, w1;
  reg        on0, on1, both, only1, solo0;
{%- for l in lanes %}
  reg  [3:0] t{{ l.k }}, n{{ l.k }}, l{{ l.k }};
  reg  [2:0] s{{ l.k }};
{%- for g in l.above %}
  reg        g{{ l.k }}_{{ g.0 }};
{%- endfor %}
{%- endfor %}
{%- if cut %}

  assign on_o = { {% call on1() %}{% endcall %}, {% call on0() %}{% endcall %} };
{%- endif %}

  always @* begin
    a0 = act_i[7:0];
    a1 = act_i[15:8];
    w0 = wgt_i[7:0];
    w1 = wgt_i[15:8];
{%- if cut %}
    on0 = on_i[0];
    on1 = on_i[1];
{%- else %}
    on0 = {% call on0() %}{% endcall %};
    on1 = {% call on1() %}{% endcall %};
{%- endif %}
    both = on0 & on1;
    // Lane 1 alone: both units serve lane 1. Otherwise (lane 0 alone, or none) lane 0.
    only1 = ~on0 & on1;
{%- for l in lanes %}
    // Lane {{ l.k }}: win(a{{ l.k }}; {{ set }}) is n{{ l.k }} << s{{ l.k }}: the window t{{ l.k }}{% if rne %}, rounded to nearest (ties
    // to even; a carry out saturates) when both lanes are active{% endif %}; l{{ l.k }}: the bits below it.
{%- for g in l.above %}
    g{{ l.k }}_{{ g.0 }} = |a{{ l.k }}[7:{{ g.1 }}];
{%- endfor %}
    t{{ l.k }} = {% call m::pair_trunc(l) %}{% endcall %};
    s{{ l.k }} = {% call m::pair_shift(l) %}{% endcall %};
    l{{ l.k }} = {% call m::pair_low(l) %}{% endcall %};
    n{{ l.k }} = {% call m::pair_next(l) %}{% endcall %};
{%- endfor %}
    // A unit always takes its activation and weight from the same lane. The three
    // cases are one-hot; AND-OR keeps the simulation free of data-dependent branches.
    solo0 = ~both & ~only1;
    unit_act_o   = ({8{both}}  & {n1, n0}) |
                   ({8{only1}} & {n1, l1}) |
                   ({8{solo0}} & {l0, n0});
    unit_wgt_o   = ({16{both}}  & {w1, w0}) |
                   ({16{only1}} & {w1, w1}) |
                   ({16{solo0}} & {w0, w0});
    unit_shift_o = ({8{both}}  & {1'b0, s1, 1'b0, s0}) |
                   ({8{only1}} & {1'b0, s1, 4'd0}) |
                   ({8{solo0}} & {4'd0, 1'b0, s0});
  end
endmodule
`default_nettype wire
