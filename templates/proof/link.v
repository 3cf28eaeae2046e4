`default_nettype none
{% include "proof/ports.v" %}
  wire [{{ v.lanes - 1 }}:0] on_c;
  wire [{{ v.lanes - 1 }}:0] on_r;
  wire [{{ v.x_w - 1 }}:0] xc;
  wire [{{ v.y_w - 1 }}:0] yc;
  wire [{{ v.sh_w - 1 }}:0] shc;
  wire signed [{{ v.sum_w - 1 }}:0] opt_c;
  wire signed [{{ v.sum_w - 1 }}:0] ref_c;
{% include "proof/production.v" %}
  {{ v.cond_cut }} u_cond_c (.act_i(act_i), .wgt_i(wgt_i), .on_i(on_c), .on_o(on_c), .unit_act_o(xc), .unit_wgt_o(yc), .unit_shift_o(shc));
  {{ v.prefix }}_fabric u_fabric_c (.unit_act_i(xc), .unit_wgt_i(yc), .unit_shift_i(shc), .sum_o(opt_c));
  {{ v.prefix }}_ref_cut u_ref_c (.act_i(act_i), .wgt_i(wgt_i), .on_i(on_r), .on_o(on_r), .sum_o(ref_c));
  assign trigger_o = (opt_o != opt_c) || (ref_o != ref_c) || (on_c != on_r);
endmodule
`default_nettype wire
