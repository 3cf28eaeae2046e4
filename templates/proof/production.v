  {{ v.cond }} u_cond (.act_i(act_i), .wgt_i(wgt_i), .unit_act_o(x), .unit_wgt_o(y), .unit_shift_o(sh));
  {{ v.prefix }}_fabric u_fabric (.unit_act_i(x), .unit_wgt_i(y), .unit_shift_i(sh), .sum_o(opt_o));
  {{ v.prefix }}_ref u_ref (.act_i(act_i), .wgt_i(wgt_i), .sum_o(ref_o));
