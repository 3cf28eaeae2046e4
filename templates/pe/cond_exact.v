{{ header }}
`default_nettype none
// Operand conditioning for an exact policy: lane t goes to unit t unchanged, no shift.
module {{ prefix }}_cond (
  input  wire [{{ lanes * 8 - 1 }}:0] act_i,
  input  wire [{{ lanes * 8 - 1 }}:0] wgt_i,
  output wire [{{ lanes * 8 - 1 }}:0] x_o,
  output wire [{{ lanes * 8 - 1 }}:0] y_o,
  output wire [{{ lanes * 4 - 1 }}:0] sh_o
);

  assign x_o  = act_i;
  assign y_o  = wgt_i;
  assign sh_o = {{ lanes * 4 }}'d0;

endmodule
`default_nettype wire
