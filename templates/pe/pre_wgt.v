{{ header }}
// North-edge conditioning of one column's weights (window logic at the array edge).
// The link word keeps the {{ lanes }} plain weights in bits [{{ lanes * 8 - 1 }}:0] and adds, per lane k,
// the flag w_k != 0 at bit {{ lanes * 8 }} + k (the weight half of the zero test act_or_weight).
module {{ prefix }}_pre_wgt (
  input  wire [{{ lanes * 8 - 1 }}:0] wgt_i,
  output wire [{{ link_w - 1 }}:0] link_o
);

  assign link_o = {|wgt_i[15:8], |wgt_i[7:0], wgt_i};

endmodule
