{{ header }}
`default_nettype none
// Behavioural reference of the 2:4-sparse PE rule (spec section 5.1): the plain
// selection {{ prefix }}_ref_sel, then the plain two-lane sparq rule {{ prefix }}_ref_pair
// (zero test act) on the two slots it fills.
module {{ prefix }}_ref (
  input  wire [31:0] act_i,
  input  wire [31:0] wgt_i,
  output wire signed [{{ sum_w - 1 }}:0] sum_o
);

  wire [15:0] act_s;
  wire [15:0] wgt_s;

  {{ prefix }}_ref_sel u_sel (
    .act_i (act_i),
    .wgt_i (wgt_i),
    .act_o (act_s),
    .wgt_o (wgt_s)
  );

  {{ prefix }}_ref_pair u_pair (
    .act_i (act_s),
    .wgt_i (wgt_s),
    .sum_o (sum_o)
  );

endmodule
`default_nettype wire
