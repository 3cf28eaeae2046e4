{% include "proof/ports.v" %}
{% include "proof/production.v" %}
  assign trigger_o = (opt_o != ref_o);
endmodule
