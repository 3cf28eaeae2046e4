{%- import "macros.v" as m -%}
{#- Window module `module` as instance `name`, rounding on: activation a in,
    nibble nib and shift sh out. -#}
{%- macro win(module, name, a, nib, sh) -%}
{{ module }} {{ name }} (
    .a_i     ({{ a }}),
    .round_i (1'b1),
    .nib_o   ({{ nib }}),
    .sh_o    ({{ sh }})
  );
{%- endmacro -%}
{{ header }}
`default_nettype none
// Operand conditioning for two lanes sharing two {{ n }}b x 8b units ({{ policy }}).
// Zero test {{ zero_test }}: a lane is idle when {% if zt_weight %}a == 0 or w == 0{% else %}a == 0{% endif %}.
//   both lanes active: unit t takes lane t's window win(a_t; {{ set }}) and weight w_t.
//   at most one active: both units serve one lane (lane 1 if only lane 1 is active,
//   else lane 0): the lane's {{ 2 * n }}-bit window win(a; {{ solo_set }}) is split in two
//   {{ n }}-bit halves, unit 0 the upper (shift s + {{ n }}), unit 1 the lower (shift s).
// A unit always takes its activation and weight from the same lane.
{{- m::cond_head(2, 2 * n, 16, 8, "wire") }}

  wire [7:0] a0 = act_i[7:0];
  wire [7:0] a1 = act_i[15:8];
  wire [7:0] w0 = wgt_i[7:0];
  wire [7:0] w1 = wgt_i[15:8];

{%- if cut %}
  assign on_o = { {% if zt_weight %}(|a1) & (|w1){% else %}|a1{% endif %}, {% if zt_weight %}(|a0) & (|w0){% else %}|a0{% endif %} };
  wire on0  = on_i[0];
  wire on1  = on_i[1];
{%- else %}
  wire on0  = {% if zt_weight %}(|a0) & (|w0){% else %}|a0{% endif %};
  wire on1  = {% if zt_weight %}(|a1) & (|w1){% else %}|a1{% endif %};
{%- endif %}
  wire both = on0 & on1;
  // Lane 1 alone: both units serve lane 1. Otherwise (lane 0 alone, or none) lane 0.
  wire only1 = ~on0 & on1;

  wire [{{ n - 1 }}:0] nib0;
  wire [{{ n - 1 }}:0] nib1;
  wire [2:0] s0;
  wire [2:0] s1;
  {% call win(win_module, "u_win0", "a0", "nib0", "s0") %}{% endcall %}

  {% call win(win_module, "u_win1", "a1", "nib1", "s1") %}{% endcall %}

  // At most one active: both units on the served lane's wider window.
  // AND-OR muxes (no data-dependent branch in the simulation model, issue #3).
  wire [7:0] as = ({8{only1}} & a1) | ({8{~only1}} & a0);
  wire [7:0] ws = ({8{only1}} & w1) | ({8{~only1}} & w0);
  wire [{{ 2 * n - 1 }}:0] snib;
  wire [2:0] ss;

  {% call win(solo_win_module, "u_win_solo", "as", "snib", "ss") %}{% endcall %}

  wire [3:0] solo_sh_hi = {1'b0, ss} + 4'd{{ n }};

  assign unit_act_o   = ({{ "{" }}{{ 2 * n }}{both}} & {nib1, nib0}) |
                        ({{ "{" }}{{ 2 * n }}{~both}} & {snib[{{ n - 1 }}:0], snib[{{ 2 * n - 1 }}:{{ n }}]});
  assign unit_wgt_o   = ({16{both}} & {w1, w0}) | ({16{~both}} & {ws, ws});
  assign unit_shift_o = ({8{both}} & {1'b0, s1, 1'b0, s0}) | ({8{~both}} & {1'b0, ss, solo_sh_hi});

endmodule
`default_nettype wire
