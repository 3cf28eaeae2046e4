{{ header }}
`default_nettype none
// One multiplier unit of the fabric: an unsigned AW-bit activation nibble times a
// signed WW-bit weight, at its natural width (AW + WW bits, signed). The activation is
// zero-extended by one bit so that the multiply stays signed.
module {{ prefix }}_mul #(
  parameter integer AW = 4,
  parameter integer WW = 8
) (
  input  wire        [AW-1:0]    x_i,
  input  wire signed [WW-1:0]    y_i,
  output wire signed [AW+WW-1:0] p_o
);

  wire signed [AW:0] x_s = {1'b0, x_i};

  assign p_o = x_s * y_i;

endmodule
`default_nettype wire
