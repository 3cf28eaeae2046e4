  {{ v.cond }} u_cond (.act_i(act_i), .wgt_i(wgt_i), .x_o(x), .y_o(y), .sh_o(sh));
  {{ v.prefix }}_fabric u_fabric (.x_i(x), .y_i(y), .sh_i(sh), .sum_o(opt_o));
  {{ v.prefix }}_ref u_ref (.act_i(act_i), .wgt_i(wgt_i), .sum_o(ref_o));
