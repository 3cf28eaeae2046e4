{%- import "macros.v" as m -%}
{{ header }}
`default_nettype none
// Output-stationary processing element, {{ lanes }} lane(s) per cycle.
// The datapath works on this cycle's inputs: {{ prefix }}_cond routes lanes to the
// multiplier units of {{ prefix }}_fabric, whose lane sum {{ prefix }}_acc accumulates
// at the clock edge. Operands and controls are registered once on their way to the
// neighbours: activations, valid and clear travel east, weights travel south.
// Lane t occupies bits [8t+7:8t] of act and wgt; weights are two's complement.
{%- if edge %}
// Window logic at the array edge: act and wgt are link words, the lanes' plain
// operands below the fields {{ prefix }}_pre_act and {{ prefix }}_pre_wgt add at the edge
// (see there); the registers pass the whole word on.
{%- endif %}
{% call m::pe_module(prefix, "pe", acc_w, act_w - 1, wgt_w - 1, skip) %}{% endcall %}

  localparam integer SumW = {{ sum_w }};
{%- if skip %}

  // Output skipping (array.skip: gate). skip_i is this PE's bit of the tile's skip
  // mask: read with the tile's first group (valid_i & clear_i) and held in skip_q
  // for the rest of the tile. While skipping, the datapath's operands are forced to
  // zero (operand isolation: the multipliers' inputs stay constant), so every group
  // adds 0 and the tile's result is 0. The pass-through registers below still carry
  // the plain operands to the neighbours.
  reg  skip_q;
  wire skip_now = (valid_i & clear_i) ? skip_i : skip_q;
  wire [{{ act_w - 1 }}:0] act_d = act_i & {{ "{" }}{{ act_w }}{{ "{" }}~skip_now}};
  wire [{{ wgt_w - 1 }}:0] wgt_d = wgt_i & {{ "{" }}{{ wgt_w }}{{ "{" }}~skip_now}};

  {% call m::reset_reg("skip_q", "1'b0", "skip_now") %}{% endcall %}{{ "\n" }}
{%- endif %}

{%- if reference %}
  wire signed [SumW-1:0] sum;

  // Reference build: the plain behavioural rule instead of cond + fabric.
  {{ prefix }}_ref u_ref (
    .act_i ({{ act_in }}),
    .wgt_i ({{ wgt_in }}),
    .sum_o (sum)
  );

{% else %}
  wire [{{ x_bits - 1 }}:0] unit_act;
  wire [{{ y_bits - 1 }}:0] unit_wgt;
  wire [{{ sh_bits - 1 }}:0] unit_shift;
  wire signed [SumW-1:0] sum;

{%- if sel %}

  // 2:4-sparse mode: the first two lanes with a non-zero weight go on to the
  // two-lane datapath.
  wire [{{ sel_act_w - 1 }}:0] act_s;
  wire [{{ sel_wgt_w - 1 }}:0] wgt_s;

  {{ prefix }}_sel u_sel (
    .act_i ({{ act_in }}),
    .wgt_i ({{ wgt_in }}),
    .act_o (act_s),
    .wgt_o (wgt_s)
  );

  {{ prefix }}_cond u_cond (
    .act_i (act_s),
    .wgt_i (wgt_s),
{%- else %}

  {{ prefix }}_cond u_cond (
    .act_i ({{ act_in }}),
    .wgt_i ({{ wgt_in }}),
{%- endif %}
    .unit_act_o   (unit_act),
    .unit_wgt_o   (unit_wgt),
    .unit_shift_o (unit_shift)
  );

  {{ prefix }}_fabric u_fabric (
    .unit_act_i   (unit_act),
    .unit_wgt_i   (unit_wgt),
    .unit_shift_i (unit_shift),
    .sum_o        (sum)
  );

{% endif %}
{%- if pipe %}
  // Pipelined accumulator: it takes the registered controls below, one cycle late
  // like its registered sum.
  reg       valid_q;
  reg       clear_q;

{% endif %}
  {{ prefix }}_acc #(
    .ACC_W (ACC_W),
    .SUM_W (SumW)
  ) u_acc (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .valid_i ({% if pipe %}valid_q{% else %}valid_i{% endif %}),
    .clear_i ({% if pipe %}clear_q{% else %}clear_i{% endif %}),
    .sum_i   (sum),
    .acc_o   (acc_o)
  );

  // Systolic pass-through. Operand registers carry no reset (their value only
  // matters where valid says so); the controls do.
  reg [{{ act_w - 1 }}:0] act_q;
  reg [{{ wgt_w - 1 }}:0] wgt_q;
{%- if !pipe %}
  reg       valid_q;
  reg       clear_q;
{%- endif %}

  always @(posedge clk_i) begin
    act_q <= act_i;
    wgt_q <= wgt_i;
  end

  always @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      valid_q <= 1'b0;
      clear_q <= 1'b0;
    end else begin
      valid_q <= valid_i;
      clear_q <= clear_i;
    end
  end

  assign act_o   = act_q;
  assign wgt_o   = wgt_q;
  assign valid_o = valid_q;
  assign clear_o = clear_q;

endmodule
`default_nettype wire
