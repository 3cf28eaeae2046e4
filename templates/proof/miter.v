`default_nettype none
{% include "proof/ports.v" %}
{% include "proof/production.v" %}
  assign trigger_o = (opt_o != ref_o);
endmodule
`default_nettype wire
