{{ header }}
`default_nettype none
// Operand conditioning for two lanes sharing two {{ n }}b x 8b units ({{ policy }}).
// Zero test {{ zero_test }}: a lane is idle when {% if zt_weight %}a == 0 or w == 0{% else %}a == 0{% endif %}.
//   both lanes active: unit t takes lane t's window win(a_t; {{ set }}) and weight w_t.
{%- if n == 4 && edge %}
//   at most one active: both units serve one lane (lane 1 if only lane 1 is active,
//   else lane 0; with no lane active the served lane's product is zero anyway), its
//   high nibble on one unit (shift 4), its low nibble on the other (shift 0).
{%- else if n == 4 %}
//   at most one active: both units serve one lane (lane 1 if only lane 1 is active,
//   else lane 0; with no lane active the served lane's product is zero anyway). The
//   lane's own unit takes its window unrounded (shift s), the other unit the bits
//   below the window (shift 0): the two add up to the exact product. So the lone
//   lane reuses the window logic the pair needs, and each unit input is a 2:1 mux.
{%- else %}
//   at most one active: both units serve one lane (lane 1 if only lane 1 is active,
//   else lane 0): the lane's {{ 2 * n }}-bit window win(a; {{ solo_set }}) is split in two
//   {{ n }}-bit halves, unit 0 the upper (shift s + {{ n }}), unit 1 the lower (shift s).
{%- endif %}
// A unit always takes its activation and weight from the same lane.
{%- if edge %}
// Window logic at the array edge: act_i and wgt_i are link words. Lane k's zero
// test{% if rne %} (a != 0 is its rounded window != 0){% endif %} and{% if rne %} its rounded window{% else %} flags{% endif %} come precomputed from
// {{ prefix }}_pre_act{% if zt_weight %} and {{ prefix }}_pre_wgt{% endif %}; the window's position, the unrounded window
// and the bits below it are still taken from the plain activation here.
{%- endif %}
{%- if cut %}
// Proof variant (smtgen prove): the lanes' zero tests leave through on_o and the
// datapath takes the lanes' activity from on_i; otherwise identical to {{ prefix }}_cond.
{%- endif %}
module {{ prefix }}_cond{% if cut %}_cut{% endif %} (
  input  wire [{{ act_w - 1 }}:0] act_i,
  input  wire [{{ wgt_w - 1 }}:0] wgt_i,
{%- if cut %}
  input  wire [1:0]  on_i,
  output wire [1:0]  on_o,
{%- endif %}
  output {% if n == 4 %}reg {% else %}wire{% endif %} [{{ 2 * n - 1 }}:0] unit_act_o,
  output {% if n == 4 %}reg {% else %}wire{% endif %} [15:0] unit_wgt_o,
  output {% if n == 4 %}reg {% else %}wire{% endif %} [7:0]  unit_shift_o
);
{% if n == 4 %}
{%- if edge %}
  // One block per PE. With the windows precomputed at the edge, a lone active lane
  // needs no window at all: its high nibble goes to one unit (shift 4), its low
  // nibble to the other (shift 0), and the two add up to the exact product. Only
  // the window's position (its shift) is still decoded here, for the pair case.
{%- else %}
  // One block per PE: the two windows are inline, so each lane's window, shift,
  // round-up condition and the bits below the window come from one selection.
{%- endif %}
  reg  [7:0] a0, a1, w0, w1;
  reg        on0, on1, both, only1, solo0;
{%- for l in lanes %}
{%- if edge %}
  reg  [3:0] n{{ l.k }};
{%- else %}
  reg  [3:0] t{{ l.k }}, n{{ l.k }}, l{{ l.k }};
{%- endif %}
  reg  [2:0] s{{ l.k }};
{%- for g in l.above %}
  reg        {{ g.0 }};
{%- endfor %}
{%- endfor %}
{%- if cut %}

  assign on_o = { {{ on_port[1] }}, {{ on_port[0] }} };
{%- endif %}

  always @* begin
    a0 = act_i[7:0];
    a1 = act_i[15:8];
    w0 = wgt_i[7:0];
    w1 = wgt_i[15:8];
{%- if cut %}
    on0 = on_i[0];
    on1 = on_i[1];
{%- else %}
    on0 = {{ on_port[0] }};
    on1 = {{ on_port[1] }};
{%- endif %}
    both = on0 & on1;
    // Lane 1 alone: both units serve lane 1. Otherwise (lane 0 alone, or none) lane 0.
    only1 = ~on0 & on1;
{%- for l in lanes %}
{%- if edge %}
    // Lane {{ l.k }}: win(a{{ l.k }}; {{ set }}) is n{{ l.k }} << s{{ l.k }}, n{{ l.k }} {% if rne %}rounded{% else %}truncated{% endif %} at the edge.
{%- else %}
    // Lane {{ l.k }}: win(a{{ l.k }}; {{ set }}) is n{{ l.k }} << s{{ l.k }}: the window t{{ l.k }}{% if rne %}, rounded to nearest (ties
    // to even; a carry out saturates) when both lanes are active{% endif %}; l{{ l.k }}: the bits below it.
{%- endif %}
{%- for g in l.above %}
    {{ g.0 }} = {{ g.1 }};
{%- endfor %}
{%- if !edge %}
    t{{ l.k }} = {{ l.trunc }};
{%- endif %}
    s{{ l.k }} = {{ l.shift }};
{%- if !edge %}
    l{{ l.k }} = {{ l.low }};
{%- endif %}
    n{{ l.k }} = {{ l.next }};
{%- endfor %}
    // A unit always takes its activation and weight from the same lane. The three
    // cases are one-hot; AND-OR keeps the simulation free of data-dependent branches.
    solo0 = ~both & ~only1;
    unit_act_o   = ({8{both}}  & {n1, n0}) |
{%- if edge %}
                   ({8{only1}} & {a1[7:4], a1[3:0]}) |
                   ({8{solo0}} & {a0[3:0], a0[7:4]});
{%- else %}
           ({8{only1}} & {n1, l1}) |
           ({8{solo0}} & {l0, n0});
{%- endif %}
    unit_wgt_o   = ({16{both}}  & {w1, w0}) |
                   ({16{only1}} & {w1, w1}) |
                   ({16{solo0}} & {w0, w0});
    unit_shift_o = ({8{both}}  & {1'b0, s1, 1'b0, s0}) |
{%- if edge %}
                   ({8{only1}} & {1'b0, 3'd4, 4'd0}) |
                   ({8{solo0}} & {4'd0, 1'b0, 3'd4});
{%- else %}
           ({8{only1}} & {1'b0, s1, 4'd0}) |
           ({8{solo0}} & {4'd0, 1'b0, s0});
{%- endif %}
  end
{%- else %}
  wire [7:0] a0 = act_i[7:0];
  wire [7:0] a1 = act_i[15:8];
  wire [7:0] w0 = wgt_i[7:0];
  wire [7:0] w1 = wgt_i[15:8];

{%- if cut %}
  assign on_o = { {% if zt_weight %}(|a1) & (|w1){% else %}|a1{% endif %}, {% if zt_weight %}(|a0) & (|w0){% else %}|a0{% endif %} };
  wire on0  = on_i[0];
  wire on1  = on_i[1];
{%- else %}
  wire on0  = {% if zt_weight %}(|a0) & (|w0){% else %}|a0{% endif %};
  wire on1  = {% if zt_weight %}(|a1) & (|w1){% else %}|a1{% endif %};
{%- endif %}
  wire both = on0 & on1;
  // Lane 1 alone: both units serve lane 1. Otherwise (lane 0 alone, or none) lane 0.
  wire only1 = ~on0 & on1;

  wire [{{ n - 1 }}:0] nib0;
  wire [{{ n - 1 }}:0] nib1;
  wire [2:0] s0;
  wire [2:0] s1;
  {{ win_module }} u_win0 (
    .a_i     (a0),
    .round_i (1'b1),
    .nib_o   (nib0),
    .sh_o    (s0)
  );

  {{ win_module }} u_win1 (
    .a_i     (a1),
    .round_i (1'b1),
    .nib_o   (nib1),
    .sh_o    (s1)
  );

  // At most one active: both units on the served lane's wider window.
  // AND-OR muxes (no data-dependent branch in the simulation model, issue #3).
  wire [7:0] as = ({8{only1}} & a1) | ({8{~only1}} & a0);
  wire [7:0] ws = ({8{only1}} & w1) | ({8{~only1}} & w0);
  wire [{{ 2 * n - 1 }}:0] snib;
  wire [2:0] ss;

  {{ solo_win_module }} u_win_solo (
    .a_i     (as),
    .round_i (1'b1),
    .nib_o   (snib),
    .sh_o    (ss)
  );

  wire [3:0] solo_sh_hi = {1'b0, ss} + 4'd{{ n }};

  assign unit_act_o   = ({{ "{" }}{{ 2 * n }}{both}} & {nib1, nib0}) |
                        ({{ "{" }}{{ 2 * n }}{~both}} & {snib[{{ n - 1 }}:0], snib[{{ 2 * n - 1 }}:{{ n }}]});
  assign unit_wgt_o   = ({16{both}} & {w1, w0}) | ({16{~both}} & {ws, ws});
  assign unit_shift_o = ({8{both}} & {1'b0, s1, 1'b0, s0}) | ({8{~both}} & {1'b0, ss, solo_sh_hi});
{% endif %}
endmodule
`default_nettype wire
