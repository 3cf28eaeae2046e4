{{ header }}
`default_nettype none
// Operand conditioning for bSPARQ: the activation's {{ n }}-bit window goes to the single
// {{ n }}b x 8b unit, the window position becomes the unit's shift.
module {{ prefix }}_cond (
  input  wire [7:0] act_i,
  input  wire [7:0] wgt_i,
  output wire [{{ n - 1 }}:0] x_o,
  output wire [7:0] y_o,
  output wire [3:0] sh_o
);

  wire [2:0] sh;

  {{ win_module }} u_win (
    .a_i     (act_i),
    .round_i (1'b1),
    .nib_o (x_o),
    .sh_o  (sh)
  );

  assign y_o  = wgt_i;
  assign sh_o = {1'b0, sh};

endmodule
`default_nettype wire
