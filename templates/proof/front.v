{{ header }}
`default_nettype none
// Proof wrapper: the edge conditioning and {{ prefix }}_cond{% if cut %}_cut{% endif %} on plain lanes.
module {{ module }} (
  input  wire [{{ lanes * 8 - 1 }}:0] act_i,
  input  wire [{{ lanes * 8 - 1 }}:0] wgt_i,
{% if cut %}  input  wire [{{ lanes - 1 }}:0] on_i,
  output wire [{{ lanes - 1 }}:0] on_o,
{% endif %}  output wire [{{ x_w - 1 }}:0] unit_act_o,
  output wire [{{ y_w - 1 }}:0] unit_wgt_o,
  output wire [{{ sh_w - 1 }}:0] unit_shift_o
);
  wire [{{ act_w - 1 }}:0] act_l;
  wire [{{ wgt_w - 1 }}:0] wgt_l;
  {{ pre_act }} u_pre_act (.act_i(act_i), .link_o(act_l));
{% if pre_wgt %}  {{ prefix }}_pre_wgt u_pre_wgt (.wgt_i(wgt_i), .link_o(wgt_l));
{% else %}  assign wgt_l = wgt_i;
{% endif %}  {{ prefix }}_cond{% if cut %}_cut{% endif %} u_cond (.act_i(act_l), .wgt_i(wgt_l), {% if cut %}.on_i(on_i), .on_o(on_o), {% endif %}.unit_act_o(unit_act_o), .unit_wgt_o(unit_wgt_o), .unit_shift_o(unit_shift_o));
endmodule
`default_nettype wire
