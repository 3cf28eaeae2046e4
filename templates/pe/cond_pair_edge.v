{%- import "macros.v" as m -%}
{#- The window is non-zero exactly when a is. -#}
{%- macro on0() -%}
(|act_i[{{ fields_at + 3 }}:{{ fields_at }}]){% if zt_weight && fault.weight0 %} & wgt_i[{{ fields_at }}]{% endif %}
{%- endmacro -%}
{%- macro on1() -%}
(|act_i[{{ fields_at + act_field + 3 }}:{{ fields_at + act_field }}]){% if zt_weight && fault.weight1 %} & wgt_i[{{ fields_at + wgt_field }}]{% endif %}
{%- endmacro -%}
{{ header }}
`default_nettype none
// Operand conditioning for two lanes sharing two 4b x 8b units ({{ policy }}).
// Zero test {{ zero_test }}: a lane is idle when {% if zt_weight %}a == 0 or w == 0{% else %}a == 0{% endif %}.
//   both lanes active: unit t takes lane t's window win(a_t; {{ set }}) and weight w_t.
//   at most one active: both units serve one lane (lane 1 if only lane 1 is active,
//   else lane 0; with no lane active the served lane's product is zero anyway), its
//   high nibble on one unit (shift 4), its low nibble on the other (shift 0).
// A unit always takes its activation and weight from the same lane.
// Window logic at the array edge: act_i and wgt_i are link words. Lane k's zero
// test{% if rne %} (a != 0 is its rounded window != 0){% endif %} and{% if rne %} its rounded window{% else %} flags{% endif %} come precomputed from
// {{ prefix }}_pre_act{% if zt_weight %} and {{ prefix }}_pre_wgt{% endif %}; the window's position, the unrounded window
// and the bits below it are still taken from the plain activation here.
{{- m::cond_head(2, 8, 16, 8, "reg ") }}

  // One block per PE. With the windows precomputed at the edge, a lone active lane
  // needs no window at all: its high nibble goes to one unit (shift 4), its low
  // nibble to the other (shift 0), and the two add up to the exact product. Only
  // the window's position (its shift) is still decoded here, for the pair case.
  reg  [7:0] a0, a1, w0, w1;
  reg        on0, on1, both, only1, solo0;
{%- for l in lanes %}
  reg  [3:0] n{{ l.k }};
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
    // Lane {{ l.k }}: win(a{{ l.k }}; {{ set }}) is n{{ l.k }} << s{{ l.k }}, n{{ l.k }} {% if rne %}rounded{% else %}truncated{% endif %} at the edge.
{%- for g in l.above %}
    g{{ l.k }}_{{ g.0 }} = |a{{ l.k }}[7:{{ g.1 }}];
{%- endfor %}
    s{{ l.k }} = {% call m::pair_shift(l) %}{% endcall %};
    n{{ l.k }} = {% call m::pair_next(l) %}{% endcall %};
{%- endfor %}
    // A unit always takes its activation and weight from the same lane. The three
    // cases are one-hot; AND-OR keeps the simulation free of data-dependent branches.
    solo0 = ~both & ~only1;
    unit_act_o   = ({8{both}}  & {n1, n0}) |
                   ({8{only1}} & {a1[7:4], a1[3:0]}) |
                   ({8{solo0}} & {a0[3:0], a0[7:4]});
    unit_wgt_o   = ({16{both}}  & {w1, w0}) |
                   ({16{only1}} & {w1, w1}) |
                   ({16{solo0}} & {w0, w0});
    unit_shift_o = ({8{both}}  & {1'b0, s1, 1'b0, s0}) |
                   ({8{only1}} & {1'b0, 3'd4, 4'd0}) |
                   ({8{solo0}} & {4'd0, 1'b0, 3'd4});
  end
endmodule
`default_nettype wire
