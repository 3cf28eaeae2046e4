{{ header }}
`default_nettype none
// North-edge conditioning of one column's weights (window logic at the array edge).
// The link word keeps the {{ lanes }} plain weights in bits [{{ lanes * 8 - 1 }}:0] and adds, per lane k,
{%- if quad %}
// a 5-bit field at bits [{{ lanes * 8 }} + 5*k +: 5]: nib4(w_k) as {{ prefix }}_nib4 gives it, q in
// bits 3:0 and the high-nibble flag e in bit 4 (w_k != 0 exactly when e or q != 0).
{%- else %}
// the flag w_k != 0 at bit {{ lanes * 8 }} + k (the weight half of the zero test act_or_weight).
{%- endif %}
module {{ prefix }}_pre_wgt (
  input  wire [{{ lanes * 8 - 1 }}:0] wgt_i,
  output wire [{{ link_w - 1 }}:0] link_o
);
{%- if quad %}

  wire [19:0] fld;

  genvar k;
  generate
    for (k = 0; k < 4; k = k + 1) begin : g_lane
      {{ prefix }}_nib4 u_nib4 (
        .w_i (wgt_i[8*k +: 8]),
        .q_o (fld[5*k +: 4]),
        .e_o (fld[5*k + 4])
      );
    end
  endgenerate

  assign link_o = {fld, wgt_i};
{%- else %}

  assign link_o = {|wgt_i[15:8], |wgt_i[7:0], wgt_i};
{%- endif %}

endmodule
`default_nettype wire
