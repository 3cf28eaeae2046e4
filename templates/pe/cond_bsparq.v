{{ header }}
`default_nettype none
// Operand conditioning for bSPARQ: the activation's {{ n }}-bit window goes to the single
// {{ n }}b x 8b unit, the window position becomes the unit's shift.
module {{ prefix }}_cond (
  input  wire [7:0] act_i,
  input  wire [7:0] wgt_i,
  output wire [{{ n - 1 }}:0] unit_act_o,
  output wire [7:0] unit_wgt_o,
  output wire [3:0] unit_shift_o
);

  wire [2:0] sh;

  {{ win_module }} u_win (
    .a_i     (act_i),
    .round_i (1'b1),
    .nib_o (unit_act_o),
    .sh_o  (sh)
  );

  assign unit_wgt_o   = wgt_i;
  assign unit_shift_o = {1'b0, sh};

endmodule
`default_nettype wire
