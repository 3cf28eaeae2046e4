{%- import "macros.v" as m -%}
{{ header }}
`default_nettype none
// Output-stationary accumulator: acc <= wrap(base + add) every cycle, where base is 0
// when clear_i is high and acc otherwise, and add is the lane sum when valid_i is high
// and 0 otherwise. So clear with valid starts a new sum from this cycle's products,
// clear alone zeroes, neither holds. Two's-complement wrap, no saturation.
{%- if pipe %}
// Pipelined (pe.pipeline = 1): the sum is registered first and meets the accumulator
// one cycle later, so the adder's path starts at a register. valid_i and clear_i
// then come from the PE's own pass-through registers (already one cycle late), so
// the controls are not registered twice.
{%- endif %}
module {{ prefix }}_acc #(
  parameter integer ACC_W = {{ acc_w }},
  parameter integer SUM_W = {{ sum_w }}
) (
  input  wire                    clk_i,
  input  wire                    rst_ni,
  input  wire                    valid_i,
  input  wire                    clear_i,
  input  wire signed [SUM_W-1:0] sum_i,
  output wire        [ACC_W-1:0] acc_o
);

  wire [ACC_W-1:0] sum_ext;
{%- if pipe %}
  reg  signed [SUM_W-1:0] sum_q;

  // The sum needs no reset: the registered valid masks it until a valid sum arrives.
  always @(posedge clk_i) begin
    sum_q <= sum_i;
  end
{%- endif %}

  generate
    if (ACC_W > SUM_W) begin : g_sign_extend
      assign sum_ext = { {(ACC_W-SUM_W){ {{- sum }}[SUM_W-1]} }, {{ sum }}};
    end else if (ACC_W == SUM_W) begin : g_same_width
      assign sum_ext = {{ sum }};
    end else begin : g_wrap
      // The accumulator wraps at ACC_W bits, so the sum's upper bits cannot matter.
      wire unused_sum_hi = ^{{ sum }}[SUM_W-1:ACC_W];
      assign sum_ext = {{ sum }}[ACC_W-1:0];
    end
  endgenerate

  reg  [ACC_W-1:0] acc_q;
  // Masks rather than ?: (same gates; no data-dependent branch when simulated).
  wire [ACC_W-1:0] base = {ACC_W{~clear_i}} & acc_q;
  wire [ACC_W-1:0] add  = {ACC_W{valid_i}} & sum_ext;
  wire [ACC_W-1:0] acc_d = base + add;

  {% call m::reset_reg("acc_q", "{ACC_W{1'b0}}", "acc_d") %}{% endcall %}

  assign acc_o = acc_q;

endmodule
`default_nettype wire
