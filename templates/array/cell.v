{%- import "macros.v" as m -%}
{{ header }}
`default_nettype none
// One array cell: the processing element plus its slot of the row's result chain.
// One cycle after the last group of a tile has passed through the PE (last_q), the
// finished accumulator is copied into res_q, so the PE can start the next tile at
// once. During a row's drain, slot COL takes the value of slot COL-1 while the drain
// step step_i is below COL: the row's results shift east, one slot per cycle, and each
// slot stops as soon as its own data has moved on (so the next tile may be captured).
{%- if skip %}
// Skip mask (array.skip: gate): skip_i holds the row's skip bits from this column
// east, bit 0 this PE's; bits 1 and up are registered once and passed east with the
// controls, so each column's bit meets that column's first group.
{%- endif %}
module {{ prefix }}_cell #(
  parameter integer ACC_W = {{ acc_w }},
  parameter integer MW    = 1,
{%- if skip %}
  parameter integer COL   = 0,
  parameter integer SKW   = 1
{%- else %}
  parameter integer COL   = 0
{%- endif %}
) (
  input  wire                 clk_i,
  input  wire                 rst_ni,
  input  wire                 valid_i,
  input  wire                 clear_i,
  input  wire                 last_i,
{%- if skip %}
  input  wire [SKW-1:0]       skip_i,
  output wire [((SKW > 1) ? SKW - 1 : 1)-1:0] skip_o,
{%- endif %}
  input  wire [{{ act_w - 1 }}:0]         act_i,
  input  wire [{{ wgt_w - 1 }}:0]         wgt_i,
  output wire                 valid_o,
  output wire                 clear_o,
  output wire                 last_o,
  output wire [{{ act_w - 1 }}:0]         act_o,
  output wire [{{ wgt_w - 1 }}:0]         wgt_o,
  input  wire                 drain_i,
  input  wire [MW-1:0]        step_i,
  input  wire [ACC_W-1:0]     res_i,
  output wire [ACC_W-1:0]     res_o
);

  wire [ACC_W-1:0] acc;

  {% call m::pe_instance(prefix, "act_i", "wgt_i", "act_o", "wgt_o", "acc", skip_sig) %}{% endcall %}

{%- if skip %}

  generate
    if (SKW > 1) begin : g_skip_fwd
      reg [SKW-2:0] skip_fwd_q;
      always @(posedge clk_i) begin
        skip_fwd_q <= skip_i[SKW-1:1];
      end
      assign skip_o = skip_fwd_q;
    end else begin : g_skip_end
      assign skip_o = 1'b0;
    end
  endgenerate
{%- endif %}

  reg last_q;

  {% call m::reset_reg("last_q", "1'b0", "last_i") %}{% endcall %}

  assign last_o = last_q;
{%- if pipe %}

  // The PE's pipeline stage adds a group to the accumulator one cycle late, so the
  // finished sum is captured one cycle later than last_q.
  reg last_qq;

  {% call m::reset_reg("last_qq", "1'b0", "last_q") %}{% endcall %}
{%- endif %}

  reg [ACC_W-1:0] res_q;

  generate
    if (COL > 0) begin : g_shift
      localparam [MW-1:0] Col = COL[MW-1:0];
      always @(posedge clk_i) begin
        if ({% if pipe %}last_qq{% else %}last_q{% endif %}) begin
          res_q <= acc;
        end else if (drain_i && (step_i < Col)) begin
          res_q <= res_i;
        end
      end
    end else begin : g_first
      // The westmost slot only captures; nothing shifts into it.
      wire unused_chain = drain_i ^ (^step_i) ^ (^res_i);
      always @(posedge clk_i) begin
        if ({% if pipe %}last_qq{% else %}last_q{% endif %}) begin
          res_q <= acc;
        end
      end
    end
  endgenerate

  assign res_o = res_q;

endmodule
`default_nettype wire
