{%- macro lane_mask(v, z) -%}
~{{ "{" }}{% for l in v.lanes_down %}{{ "{" }}8{{ "{" }}{{ z }}[{{ l }}]}}{% if !loop.last %}, {% endif %}{% endfor %}}
{%- endmacro -%}
`default_nettype none
{% include "proof/ports.v" %}
  wire [{{ v.lanes * 8 - 1 }}:0] a = act_i & {% call lane_mask(v, "za_i") %}{% endcall %};
  wire [{{ v.lanes * 8 - 1 }}:0] w = wgt_i & {% call lane_mask(v, "zw_i") %}{% endcall %};
  wire [{{ v.lanes - 1 }}:0] on_c;
  wire [{{ v.lanes - 1 }}:0] on_r;
  {{ v.cond_cut }} u_cond (.act_i(a), .wgt_i(w), .on_i(on_i), .on_o(on_c), .unit_act_o(x), .unit_wgt_o(y), .unit_shift_o(sh));
  {{ v.prefix }}_fabric u_fabric (.unit_act_i(x), .unit_wgt_i(y), .unit_shift_i(sh), .sum_o(opt_o));
  {{ v.prefix }}_ref_cut u_ref (.act_i(a), .wgt_i(w), .on_i(on_i), .on_o(on_r), .sum_o(ref_o));
  assign trigger_o = (opt_o != ref_o) && (on_r == on_i);
endmodule
`default_nettype wire
