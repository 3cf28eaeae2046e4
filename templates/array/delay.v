{{ header }}
`default_nettype none
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

  // Stage k occupies bits [W*k +: W]; stage D-1 is the output.
  reg  [W*D-1:0] pipe_q;
  wire [W*D-1:0] pipe_d;

  generate
    if (D == 1) begin : g_one
      assign pipe_d = d_i;
    end else begin : g_many
      assign pipe_d = {pipe_q[W*(D-1)-1:0], d_i};
    end
    if (RST != 0) begin : g_reset
      always @(posedge clk_i or negedge rst_ni) begin
        if (!rst_ni) begin
          pipe_q <= {(W*D){1'b0}};
        end else begin
          pipe_q <= pipe_d;
        end
      end
    end else begin : g_no_reset
      wire unused_rst_n = rst_ni;
      always @(posedge clk_i) begin
        pipe_q <= pipe_d;
      end
    end
  endgenerate

  assign q_o = pipe_q[W*D-1 -: W];

endmodule
`default_nettype wire
