{%- import "macros.v" as m -%}
{{ header }}
`default_nettype none
// bSPARQ activation window win(a; {{ set }}, {{ rounding }}): keeps a {{ n }}-bit window of
// the 8-bit activation at the lowest LSB position in { {{ positions }} } that covers
// its leading one, as nibble nib_o and shift sh_o (win = nib_o << sh_o).
// round_i low keeps the truncated window (a caller that needs the exact value adds
// the bits below the window itself).
{%- if rne %}
// Rounding to nearest, ties to even; a carry out of the window saturates it to all
// ones (the window never moves up). a == 0 gives nib_o == 0.
{%- else %}
// Truncation: the bits below the window are dropped. a == 0 gives nib_o == 0.
{%- endif %}
module {{ module }} (
  input  wire [7:0]   a_i,
  input  wire         round_i,
  output wire [{{ n - 1 }}:0]   nib_o,
  output wire [2:0]   sh_o
);

  // hitK: no bit of a_i is set above the window at position K.
{%- for o in opts %}
  wire hit{{ o.pos }} = {% call m::win_hit(o) %}{% endcall %};
{%- endfor %}

  // selK: one-hot, the lowest position whose window covers the leading one.
{%- for o in opts %}
  wire sel{{ o.pos }} = {% call m::win_sel(o) %}{% endcall %};
{%- endfor %}

  wire [{{ n - 1 }}:0] trunc =
{%- for o in opts %}
    ({{ "{" }}{{ n }}{{ "{" }}sel{{ o.pos }}}} & a_i[{{ o.pos + n - 1 }}:{{ o.pos }}]){% if loop.last %};{% else %} |{% endif %}
{%- endfor %}
{% if rne %}
  // Round up when the guard bit is set and either the window LSB or a sticky bit is.
  wire inc =
{%- for o in opts %}
    {% call m::win_round(o) %}{% endcall %}{% if loop.last %};{% else %} |{% endif %}
{%- endfor %}
  wire full = &trunc;

  assign nib_o = trunc + { {{ n - 1 }}'d0, round_i & inc & ~full };
{% else %}
  wire unused_round = round_i;
  assign nib_o = trunc;
{% endif %}
  assign sh_o =
{%- for o in opts %}
    ({{ "{" }}3{{ "{" }}sel{{ o.pos }}}} & 3'd{{ o.pos }}){% if loop.last %};{% else %} |{% endif %}
{%- endfor %}

endmodule
`default_nettype wire
