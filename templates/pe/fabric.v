{%- import "macros.v" as m -%}
{{ header }}
`default_nettype none
// Multiplier fabric: {{ units.len() }} unit(s), each an unsigned activation nibble times
// a signed weight at natural width, shifted into place by an amount from the unit's
// own short list, then summed at {{ sum_w }} bits (two's complement; the true lane sum
// always fits, so the adder needs no wider result).
//   unit  act bits  wgt bits  shifts   (unit_act_i, unit_wgt_i, unit_shift_i)
{%- for u in units %}
//   {{ u.idx }}     {{ u.aw }}         {{ u.ww }}         {{ u.shift_list }}
{%- endfor %}
module {{ prefix }}_fabric (
  input  wire        [{{ x_bits - 1 }}:0] unit_act_i,
  input  wire        [{{ y_bits - 1 }}:0] unit_wgt_i,
  input  wire        [{{ sh_bits - 1 }}:0] unit_shift_i,
  output wire signed [{{ sum_w - 1 }}:0] sum_o
);
{% for u in units %}
  // Unit {{ u.idx }}
  wire signed [{{ u.pw - 1 }}:0] p{{ u.idx }};
  reg  signed [{{ sum_w - 1 }}:0] t{{ u.idx }};

  {{ prefix }}_mul #(
    .AW ({{ u.aw }}),
    .WW ({{ u.ww }})
  ) u_mul{{ u.idx }} (
    .x_i (unit_act_i[{{ u.x_hi }}:{{ u.x_lo }}]),
    .y_i (unit_wgt_i[{{ u.y_hi }}:{{ u.y_lo }}]),
    .p_o (p{{ u.idx }})
  );
{% if u.cases.is_empty() %}
  // The only shift this unit ever needs.
  wire unused_sh{{ u.idx }} = ^unit_shift_i[{{ u.sh_hi }}:{{ u.sh_lo }}];
  always @* t{{ u.idx }} = {% call m::term(u, u.default_term) %}{% endcall %};
{% else %}
  // One-hot AND-OR rather than a case: the same gates, and Verilator then compiles
  // no data-dependent branch (mispredictions halve array simulation speed).
  wire [3:0] sh{{ u.idx }} = unit_shift_i[{{ u.sh_hi }}:{{ u.sh_lo }}];
  always @* begin
    t{{ u.idx }} =
{%- for c in u.cases %}
      ({{ "{" }}{{ sum_w }}{{ "{" }}sh{{ u.idx }} == 4'd{{ c.0 }}}} & {% call m::term(u, c.1) %}{% endcall %}) |
{%- endfor %}
      ({{ "{" }}{{ sum_w }}{{ "{" }}{% for c in u.cases %}{% if !loop.first %} & {% endif %}(sh{{ u.idx }} != 4'd{{ c.0 }}){% endfor %}}} & {% call m::term(u, u.default_term) %}{% endcall %});
  end
{% endif %}
{%- endfor %}
  assign sum_o = {% call m::sum_tree(sum_halves) %}{% endcall %};

endmodule
`default_nettype wire
