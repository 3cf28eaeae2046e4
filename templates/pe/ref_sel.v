{{ header }}
`default_nettype none
// Behavioural reference of the 2:4 selection (spec section 5.1), deliberately plain:
// walk the lanes in order and collect the first two whose weight is non-zero; missing
// slots are (0, 0). `smtgen prove` shows {{ prefix }}_sel equal to it for every input.
module {{ prefix }}_ref_sel (
  input  wire [31:0] act_i,
  input  wire [31:0] wgt_i,
  output wire [15:0] act_o,
  output wire [15:0] wgt_o
);

  reg [7:0] a1, w1, a2, w2;
  reg [2:0] n;
  integer k;

  always @* begin
    a1 = 8'd0;
    w1 = 8'd0;
    a2 = 8'd0;
    w2 = 8'd0;
    n  = 3'd0;
    for (k = 0; k < 4; k = k + 1) begin
      if (wgt_i[8*k +: 8] != 8'd0) begin
        if (n == 3'd0) begin
          a1 = act_i[8*k +: 8];
          w1 = wgt_i[8*k +: 8];
        end else if (n == 3'd1) begin
          a2 = act_i[8*k +: 8];
          w2 = wgt_i[8*k +: 8];
        end
        n = n + 3'd1;
      end
    end
  end

  assign act_o = {a2, a1};
  assign wgt_o = {w2, w1};

endmodule
`default_nettype wire
