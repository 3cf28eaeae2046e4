{{ header }}
// West-edge conditioning of one row's activations (window logic at the array edge).
// The link word keeps the {{ lanes }} plain activations in bits [{{ lanes * 8 - 1 }}:0] and adds, per lane k,
// a {{ pa }}-bit field at bits [{{ lanes * 8 }} + {{ pa }}*k +: {{ pa }}]:{% if rne %}
//   win(a_k; {{ set }}) rounded to nearest (ties to even, a carry out saturates), as
//   the PE uses it when both lanes are active. The window covers the leading one and
//   never rounds to zero, so the field is non-zero exactly when a_k is: the PE takes
//   the activation half of the lane's zero test from it.{% else %}
//   nz: a_k != 0, the activation half of the lane's zero test.{% endif %}
// The PE keeps the routing and everything that needs both operands. This logic sits
// once per row, in front of the edge register, instead of in every PE of the row.
module {{ prefix }}_pre_act (
  input  wire [{{ lanes * 8 - 1 }}:0] act_i,
  output reg  [{{ link_w - 1 }}:0] link_o
);
{%- if rne %}

  reg  [7:0] a0, a1;
{%- for l in lane_views %}
  reg  [3:0] t{{ l.k }}, r{{ l.k }};
{%- for g in l.above %}
  reg        {{ g.0 }};
{%- endfor %}
{%- endfor %}

  always @* begin
    a0 = act_i[7:0];
    a1 = act_i[15:8];
{%- for l in lane_views %}
{%- for g in l.above %}
    {{ g.0 }} = {{ g.1 }};
{%- endfor %}
    t{{ l.k }} = {{ l.trunc }};
    r{{ l.k }} = t{{ l.k }} + {3'd0, {{ l.round }} & ~(&t{{ l.k }})};
{%- endfor %}
    link_o = {r1, r0, act_i};
  end
{%- else %}

  always @* begin
    link_o = {|act_i[15:8], |act_i[7:0], act_i};
  end
{%- endif %}

endmodule
