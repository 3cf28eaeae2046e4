{{ header }}
`default_nettype none
// {{ prefix }}_pe with its own edge conditioning in front, combinational: the plain
// 8-bit lane interface of a PE whose window logic sits at the array edge. In the
// array the edge logic is registered once per row and column; this wrapper is for
// PE-level simulation and standalone use, where it adds the edge logic's depth to
// the PE's path. Same ports and timing as a PE with window_logic in_pe.
module {{ prefix }}_pe_solo #(
  parameter integer ACC_W = {{ acc_w }}
) (
  input  wire                 clk_i,
  input  wire                 rst_ni,
  input  wire                 valid_i,
  input  wire                 clear_i,
  input  wire [{{ lanes * 8 - 1 }}:0]         act_i,
  input  wire [{{ lanes * 8 - 1 }}:0]         wgt_i,
  output wire                 valid_o,
  output wire                 clear_o,
  output wire [{{ lanes * 8 - 1 }}:0]         act_o,
  output wire [{{ lanes * 8 - 1 }}:0]         wgt_o,
  output wire [ACC_W-1:0]     acc_o
);

  wire [{{ act_w - 1 }}:0] act_link;
  wire [{{ wgt_w - 1 }}:0] wgt_link;
  wire [{{ act_w - 1 }}:0] act_link_o;
  wire [{{ wgt_w - 1 }}:0] wgt_link_o;

  {{ prefix }}_pre_act u_pre_act (
    .act_i  (act_i),
    .link_o (act_link)
  );
{% if pre_wgt %}
  {{ prefix }}_pre_wgt u_pre_wgt (
    .wgt_i  (wgt_i),
    .link_o (wgt_link)
  );
{% else %}
  assign wgt_link = wgt_i;
{% endif %}
  {{ prefix }}_pe #(
    .ACC_W (ACC_W)
  ) u_pe (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .valid_i (valid_i),
    .clear_i (clear_i),
    .act_i   (act_link),
    .wgt_i   (wgt_link),
    .valid_o (valid_o),
    .clear_o (clear_o),
    .act_o   (act_link_o),
    .wgt_o   (wgt_link_o),
    .acc_o   (acc_o)
  );

  // The neighbours of a lone PE take plain operands; the link fields stay inside.
  assign act_o = act_link_o[{{ lanes * 8 - 1 }}:0];
  assign wgt_o = wgt_link_o[{{ lanes * 8 - 1 }}:0];
  wire unused_link = ^act_link_o[{{ act_w - 1 }}:{{ lanes * 8 }}]{% if pre_wgt %} ^ (^wgt_link_o[{{ wgt_w - 1 }}:{{ lanes * 8 }}]){% endif %};

endmodule
`default_nettype wire
