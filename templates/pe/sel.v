{{ header }}
`default_nettype none
// 2:4 operand selection (spec section 5.1) in front of the two-lane datapath: of the
// four lanes, the first whose weight is non-zero goes to slot 0 and the second to
// slot 1 (lane order); a slot with no such lane carries (0, 0), which the two-lane
// cond sees as idle. Weight-zero detectors, then one-hot AND-OR selection (no
// data-dependent branch when simulated). A group with more than two non-zero weights
// is not 2:4 (smtgen rejects such weights where they are loaded); here it keeps its
// first two.
{%- if edge %}
// Window logic at the edge: act_i is the row's link word (the four activations, then
// lane k's 4-bit window field at bits 32 + 4k +: 4) and act_o the pair's (the two
// slots' activations, then slot t's field at bits 16 + 4t +: 4): each field goes
// with its activation. The weights stream plain (zero test act).
{%- endif %}
module {{ prefix }}_sel (
  input  wire [{{ act_in_w - 1 }}:0] act_i,
  input  wire [{{ wgt_in_w - 1 }}:0] wgt_i,
  output wire [{{ act_out_w - 1 }}:0] act_o,
  output wire [{{ wgt_out_w - 1 }}:0] wgt_o
);

  wire [3:0] nz = {|wgt_i[31:24], |wgt_i[23:16], |wgt_i[15:8], |wgt_i[7:0]};
  // Lane k is first when no lower lane is non-zero, second when exactly one is.
  wire [3:0] first  = nz & {~|nz[2:0], ~|nz[1:0], {% if fault.lane1_after_lane0 %}~nz[0]{% else %}1'b1{% endif %}, 1'b1};
  // (Lane 0 is never second.)
  wire [3:1] second = nz[3:1] & {(^nz[2:0]) & ~&nz[2:0], nz[1] ^ nz[0], nz[0]};

  assign act_o[7:0]  = ({8{first[0]}} & act_i[7:0]) | ({8{first[1]}} & act_i[15:8])
                     | ({8{first[2]}} & act_i[23:16]) | ({8{first[3]}} & act_i[31:24]);
  assign wgt_o[7:0]  = ({8{first[0]}} & wgt_i[7:0]) | ({8{first[1]}} & wgt_i[15:8])
                     | ({8{first[2]}} & wgt_i[23:16]) | ({8{first[3]}} & wgt_i[31:24]);
  assign act_o[15:8] = ({8{second[1]}} & act_i[15:8]) | ({8{second[2]}} & act_i[23:16])
                     | ({8{second[3]}} & act_i[31:24]);
  assign wgt_o[15:8] = ({8{second[1]}} & wgt_i[15:8]) | ({8{second[2]}} & wgt_i[23:16])
                     | ({8{second[3]}} & wgt_i[31:24]);
{%- if edge %}
  assign act_o[19:16] = ({4{first[0]}} & act_i[35:32]) | ({4{first[1]}} & act_i[39:36])
                      | ({4{first[2]}} & act_i[43:40]) | ({4{first[3]}} & act_i[47:44]);
  assign act_o[23:20] = ({4{second[1]}} & act_i[39:36]) | ({4{second[2]}} & act_i[43:40])
                      | ({4{second[3]}} & act_i[47:44]);
{%- endif %}

endmodule
`default_nettype wire
