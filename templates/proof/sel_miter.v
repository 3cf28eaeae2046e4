`default_nettype none
{%- if edge %}
// The 2:4 selection with the window logic at the edge: the row edge's link word
// through {{ prefix }}_sel must give the link word the core's own pair edge makes from
// the plainly selected lanes ({{ prefix }}_ref_sel, then {{ prefix }}_pre_pair), weights alike.
{%- endif %}
module {{ prefix }}_selmiter (
  input  wire [{{ plain_w - 1 }}:0] act_i,
  input  wire [{{ wgt_in_w - 1 }}:0] wgt_i,
{%- if edge %}
  output wire [{{ act_out_w + wgt_out_w - 1 }}:0] opt_o,
  output wire [{{ act_out_w + wgt_out_w - 1 }}:0] ref_o,
  output wire trigger_o
);
  wire [{{ link_w - 1 }}:0] link;
  wire [{{ core_plain_w - 1 }}:0] act_r;
  {{ prefix }}_pre_act u_pre_act (.act_i(act_i), .link_o(link));
  {{ prefix }}_sel u_sel (.act_i(link), .wgt_i(wgt_i), .act_o(opt_o[{{ act_out_w - 1 }}:0]), .wgt_o(opt_o[{{ act_out_w + wgt_out_w - 1 }}:{{ act_out_w }}]));
  {{ prefix }}_ref_sel u_ref (.act_i(act_i), .wgt_i(wgt_i), .act_o(act_r), .wgt_o(ref_o[{{ act_out_w + wgt_out_w - 1 }}:{{ act_out_w }}]));
  {{ prefix }}_pre_pair u_pre_pair (.act_i(act_r), .link_o(ref_o[{{ act_out_w - 1 }}:0]));
{%- else %}
  output wire [{{ act_out_w + wgt_out_w - 1 }}:0] opt_o,
  output wire [{{ act_out_w + wgt_out_w - 1 }}:0] ref_o,
  output wire trigger_o
);
  {{ prefix }}_sel u_sel (.act_i(act_i), .wgt_i(wgt_i), .act_o(opt_o[{{ act_out_w - 1 }}:0]), .wgt_o(opt_o[{{ act_out_w + wgt_out_w - 1 }}:{{ act_out_w }}]));
  {{ prefix }}_ref_sel u_ref (.act_i(act_i), .wgt_i(wgt_i), .act_o(ref_o[{{ act_out_w - 1 }}:0]), .wgt_o(ref_o[{{ act_out_w + wgt_out_w - 1 }}:{{ act_out_w }}]));
{%- endif %}
  assign trigger_o = (opt_o != ref_o);
endmodule
`default_nettype wire
