{%- import "macros.v" as m -%}
{{ header }}
`default_nettype none
// {{ prefix }}_pe with its own edge conditioning in front, combinational: the plain
// 8-bit lane interface of a PE whose window logic sits at the array edge. In the
// array the edge logic is registered once per row and column; this wrapper is for
// PE-level simulation and standalone use, where it adds the edge logic's depth to
// the PE's path. Same ports and timing as a PE with window_logic in_pe.
{% call m::pe_module(prefix, "pe_solo", acc_w, lanes * 8 - 1, lanes * 8 - 1, skip) %}{% endcall %}

  wire [{{ act_w - 1 }}:0] act_link;
  wire [{{ wgt_w - 1 }}:0] wgt_link;
  wire [{{ act_w - 1 }}:0] act_link_o;
  wire [{{ wgt_w - 1 }}:0] wgt_link_o;

  {{ prefix }}_pre_act u_pre_act (
    .act_i  (act_i),
    .link_o (act_link)
  );
{% if pre_wgt %}
  {{ prefix }}_pre_wgt u_pre_wgt (
    .wgt_i  (wgt_i),
    .link_o (wgt_link)
  );
{% else %}
  assign wgt_link = wgt_i;
{% endif %}
  {% call m::pe_instance(prefix, "act_link", "wgt_link", "act_link_o", "wgt_link_o", "acc_o", skip_sig) %}{% endcall %}

  // The neighbours of a lone PE take plain operands; the link fields stay inside.
  assign act_o = act_link_o[{{ lanes * 8 - 1 }}:0];
  assign wgt_o = wgt_link_o[{{ lanes * 8 - 1 }}:0];
  wire unused_link = ^act_link_o[{{ act_w - 1 }}:{{ lanes * 8 }}]{% if pre_wgt %} ^ (^wgt_link_o[{{ wgt_w - 1 }}:{{ lanes * 8 }}]){% endif %};

endmodule
`default_nettype wire
