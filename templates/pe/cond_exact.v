{{ header }}
`default_nettype none
// Operand conditioning for an exact policy: lane t goes to unit t unchanged, no shift.
module {{ prefix }}_cond (
  input  wire [{{ lanes * 8 - 1 }}:0] act_i,
  input  wire [{{ lanes * 8 - 1 }}:0] wgt_i,
  output wire [{{ lanes * 8 - 1 }}:0] unit_act_o,
  output wire [{{ lanes * 8 - 1 }}:0] unit_wgt_o,
  output wire [{{ lanes * 4 - 1 }}:0] unit_shift_o
);

  assign unit_act_o   = act_i;
  assign unit_wgt_o   = wgt_i;
  assign unit_shift_o = {{ lanes * 4 }}'d0;

endmodule
`default_nettype wire
