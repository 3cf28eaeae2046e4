module {{ v.top }} (
{% if v.case_inputs %}  input  wire [{{ v.lanes - 1 }}:0] on_i,
  input  wire [{{ v.lanes - 1 }}:0] za_i,
  input  wire [{{ v.lanes - 1 }}:0] zw_i,
{% endif %}  input  wire [{{ v.lanes * 8 - 1 }}:0] act_i,
  input  wire [{{ v.lanes * 8 - 1 }}:0] wgt_i,
  output wire signed [{{ v.sum_w - 1 }}:0] opt_o,
  output wire signed [{{ v.sum_w - 1 }}:0] ref_o,
  output wire trigger_o
);
  wire [{{ v.x_w - 1 }}:0] x;
  wire [{{ v.y_w - 1 }}:0] y;
  wire [{{ v.sh_w - 1 }}:0] sh;
