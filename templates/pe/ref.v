{{ header }}
`default_nettype none
// Behavioural reference of the PE's per-cycle rule (spec section 5), deliberately
// plain: window and nibble as case tables written out from the spec's functions,
// full-width multiplies, no sub-multiplier fabric, no routing. Its only job is to be
// obviously right; `smtgen prove` shows {{ prefix }}_cond + {{ prefix }}_fabric equal
// to it for every input, and the regression runs it against the golden model.
{%- if cut %}
// Proof variant (smtgen prove): the lanes' zero tests leave through on_o and the rule
// takes the lanes' activity from on_i; otherwise identical to {{ prefix }}_ref.
{%- endif %}
module {{ module }} (
  input  wire [{{ lanes * 8 - 1 }}:0] act_i,
  input  wire [{{ lanes * 8 - 1 }}:0] wgt_i,
{%- if cut %}
  input  wire [{{ lanes - 1 }}:0] on_i,
  output wire [{{ lanes - 1 }}:0] on_o,
{%- endif %}
  output wire signed [{{ sum_w - 1 }}:0] sum_o
);
{% for t in tables %}
  // {{ t.doc }}
  function [7:0] {{ t.name }};
    input [7:0] v;
    begin
      case (v)
{%- for e in t.entries %}
        8'd{{ loop.index0 }}: {{ t.name }} = 8'd{{ e }};
{%- endfor %}
        default: {{ t.name }} = 8'd0;
      endcase
    end
  endfunction
{% endfor %}
{%- for l in lane_ids %}
  wire [7:0]        a{{ l }} = act_i[{{ l * 8 + 7 }}:{{ l * 8 }}];
  wire signed [7:0] w{{ l }} = wgt_i[{{ l * 8 + 7 }}:{{ l * 8 }}];
{%- endfor %}
{% if exact %}
  // Every lane exact.
{%- for l in lane_ids %}
  wire signed [{{ sum_w - 1 }}:0] p{{ l }} = $signed({1'b0, a{{ l }}}) * w{{ l }};
{%- endfor %}
{% elif single %}
  // One lane, windowed.
  wire signed [{{ sum_w - 1 }}:0] p0 = $signed({1'b0, win_pair(a0)}) * w0;
{% elif pair || quad %}
  // Zero test: {{ zero_test }}.
{%- for l in lane_ids %}
{%- if cut %}
  assign on_o[{{ l }}] = (a{{ l }} != 8'd0){% if zt_weight %} && (w{{ l }} != 8'sd0){% endif %};
  wire on{{ l }} = on_i[{{ l }}];
{%- else %}
  wire on{{ l }} = (a{{ l }} != 8'd0){% if zt_weight %} && (w{{ l }} != 8'sd0){% endif %};
{%- endif %}
{%- endfor %}
  wire [2:0] c = {% for l in lane_ids %}{2'd0, on{{ l }}}{% if !loop.last %} + {% endif %}{% endfor %};
{% if pair %}
  // c <= 1: the lone lane gets both units ({{ solo_doc }}); c = 2: each its window.
{%- for l in lane_ids %}
  wire [7:0] v{{ l }} = (c == 3'd2) ? win_pair(a{{ l }}) : {% if solo_exact %}a{{ l }}{% else %}win_solo(a{{ l }}){% endif %};
  wire signed [{{ sum_w - 1 }}:0] p{{ l }} = on{{ l }} ? $signed({1'b0, v{{ l }}}) * w{{ l }} : {{ sum_w }}'sd0;
{%- endfor %}
{% elif quad %}
  // c <= 1: exact; c = 2: windowed activation; c >= 3: windowed activation and
  // nibbled weight.
{%- for l in lane_ids %}
  wire [7:0] v{{ l }} = (c <= 3'd1) ? a{{ l }} : win_pair(a{{ l }});
  wire signed [7:0] u{{ l }} = (c >= 3'd3) ? $signed(nib4(w{{ l }})) : w{{ l }};
  wire signed [{{ sum_w - 1 }}:0] p{{ l }} = on{{ l }} ? $signed({1'b0, v{{ l }}}) * u{{ l }} : {{ sum_w }}'sd0;
{%- endfor %}
{% endif %}
{%- endif %}
  assign sum_o = {% for l in lane_ids %}p{{ l }}{% if !loop.last %} + {% endif %}{% endfor %};

endmodule
`default_nettype wire
