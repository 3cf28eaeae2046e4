{{ header }}
// D-stage delay line of W bits (D >= 1). With RST = 1 every stage resets to zero
// (for control bits); with RST = 0 the stages carry no reset (for operands).
module {{ prefix }}_delay #(
  parameter integer W   = 1,
  parameter integer D   = 1,
  parameter integer RST = 1
) (
  input  wire         clk_i,
  input  wire         rst_ni,
  input  wire [W-1:0] d_i,
  output wire [W-1:0] q_o
);

  reg [W-1:0] stage_q [0:D-1];
  integer k;

  generate
    if (RST != 0) begin : g_reset
      always @(posedge clk_i or negedge rst_ni) begin
        if (!rst_ni) begin
          for (k = 0; k < D; k = k + 1) stage_q[k] <= {W{1'b0}};
        end else begin
          stage_q[0] <= d_i;
          for (k = 1; k < D; k = k + 1) stage_q[k] <= stage_q[k-1];
        end
      end
    end else begin : g_no_reset
      wire unused_rst_n = rst_ni;
      always @(posedge clk_i) begin
        stage_q[0] <= d_i;
        for (k = 1; k < D; k = k + 1) stage_q[k] <= stage_q[k-1];
      end
    end
  endgenerate

  assign q_o = stage_q[D-1];

endmodule
