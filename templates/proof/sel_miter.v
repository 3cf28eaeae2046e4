`default_nettype none
module {{ prefix }}_selmiter (
  input  wire [31:0] act_i,
  input  wire [31:0] wgt_i,
  output wire [31:0] opt_o,
  output wire [31:0] ref_o,
  output wire trigger_o
);
  {{ prefix }}_sel u_sel (.act_i(act_i), .wgt_i(wgt_i), .act_o(opt_o[15:0]), .wgt_o(opt_o[31:16]));
  {{ prefix }}_ref_sel u_ref (.act_i(act_i), .wgt_i(wgt_i), .act_o(ref_o[15:0]), .wgt_o(ref_o[31:16]));
  assign trigger_o = (opt_o != ref_o);
endmodule
`default_nettype wire
