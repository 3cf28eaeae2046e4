{{ header }}
`default_nettype none
// SySMT signed weight nibble nib4(w; {{ rounding }}) for a 4-lane quarter: weights in
// -8..7 pass exactly (e_o = 0, q_o = w); others become q << 4 (e_o = 1) with
// q = w >>> 4{% if rne %}, rounded to nearest with ties to even q{% else %}, truncated{% endif %}, and
// saturated to at most 7.
module {{ prefix }}_nib4 (
  input  wire [7:0] w_i,
  output wire [3:0] q_o,
  output wire       e_o
);

  wire       exact = (w_i[7:3] == 5'b00000) | (w_i[7:3] == 5'b11111);
  wire [3:0] hi    = w_i[7:4];
{%- if rne %}
  // Remainder w[3:0] above 8, or exactly 8 with q odd.
  wire       up    = w_i[3] & ({% if fault.tie_even %}(|w_i[2:0]) | w_i[4]{% else %}|w_i[2:0]{% endif %});
  wire       top   = (hi == 4'b0111);
  wire [3:0] q_rnd = hi + {3'b000, up & ~top};
{%- else %}
  wire [3:0] q_rnd = hi;
{%- endif %}

  // AND-OR rather than ?: keeps Verilator's model free of data-dependent branches.
  assign q_o = ({4{exact}} & w_i[3:0]) | ({4{~exact}} & q_rnd);
  assign e_o = ~exact;

endmodule
`default_nettype wire
