{%- import "macros.v" as m -%}
{{ header }}
`default_nettype none
// West-edge conditioning of one row's activations (window logic at the array edge).
// The link word keeps the {{ lanes }} plain activations in bits [{{ lanes * 8 - 1 }}:0] and adds, per lane k,
// a 4-bit field at bits [{{ lanes * 8 }} + 4*k +: 4]: win(a_k; {{ set }}){% if rne %} rounded to nearest (ties
// to even, a carry out saturates){% else %} truncated{% endif %}, as the PE uses it when it reduces the
// lane. The window covers the leading one and never rounds to zero, so the field is
// non-zero exactly when a_k is: the PE takes the activation half of the lane's zero
// test from it. This logic sits once per row, in front of the edge register, instead
// of in every PE of the row.
module {{ module }} (
  input  wire [{{ lanes * 8 - 1 }}:0] act_i,
  output {% if quad %}wire{% else %}reg {% endif %} [{{ link_w - 1 }}:0] link_o
);
{%- if quad %}

  wire [15:0] nib;

  genvar k;
  generate
    for (k = 0; k < 4; k = k + 1) begin : g_lane
      wire [2:0] s;

      {{ win_module }} u_win (
        .a_i     (act_i[8*k +: 8]),
        .round_i (1'b1),
        .nib_o   (nib[4*k +: 4]),
        .sh_o    (s)
      );

      // The PE decodes the window's position from the activation itself.
      wire unused_s = ^s;
    end
  endgenerate

  assign link_o = {nib, act_i};
{%- else %}

  reg  [7:0] {% for l in lane_views %}a{{ l.k }}{% if !loop.last %}, {% endif %}{% endfor %};
{%- for l in lane_views %}
  reg  [3:0] t{{ l.k }}, r{{ l.k }};
{%- for g in l.above %}
  reg        g{{ l.k }}_{{ g.0 }};
{%- endfor %}
{%- endfor %}

  always @* begin
{%- for l in lane_views %}
    a{{ l.k }} = act_i[{{ 8 * l.k + 7 }}:{{ 8 * l.k }}];
{%- endfor %}
{%- for l in lane_views %}
{%- for g in l.above %}
    g{{ l.k }}_{{ g.0 }} = |a{{ l.k }}[7:{{ g.1 }}];
{%- endfor %}
    t{{ l.k }} = {% call m::pair_trunc(l) %}{% endcall %};
{%- if rne %}
    r{{ l.k }} = t{{ l.k }} + {3'd0, {% call m::pair_round(l) %}{% endcall %}{% if fault.saturates(l.k) %} & ~(&t{{ l.k }}){% endif %}};
{%- else %}
    r{{ l.k }} = t{{ l.k }};
{%- endif %}
{%- endfor %}
    link_o = {{ "{" }}{% for l in lane_views.iter().rev() %}r{{ l.k }}, {% endfor %}act_i};
  end
{%- endif %}

endmodule
`default_nettype wire
