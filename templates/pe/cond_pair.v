{{ header }}
// Operand conditioning for two lanes sharing two {{ n }}b x 8b units ({{ policy }}).
// Zero test {{ zero_test }}: a lane is idle when {% if zt_weight %}a == 0 or w == 0{% else %}a == 0{% endif %}.
//   both lanes active: unit t takes lane t's window win(a_t; {{ set }}) and weight w_t.
//   at most one active: both units serve the active lane (lane 0 unless only lane 1
//   is active; with no lane active the routed lane's product is zero anyway):
{%- if n == 4 %}
//   unit 0 takes a[7:4] (shift 4), unit 1 takes a[3:0] (shift 0): the exact product.
{%- else %}
//   the lane's {{ 2 * n }}-bit window win(a; {{ solo_set }}) is split in two {{ n }}-bit halves,
//   unit 0 the upper (shift s + {{ n }}), unit 1 the lower (shift s).
{%- endif %}
// A unit always takes its activation and weight from the same lane.
module {{ prefix }}_cond (
  input  wire [15:0] act_i,
  input  wire [15:0] wgt_i,
  output wire [{{ 2 * n - 1 }}:0] x_o,
  output wire [15:0] y_o,
  output wire [7:0]  sh_o
);

  wire [7:0] a0 = act_i[7:0];
  wire [7:0] a1 = act_i[15:8];
  wire [7:0] w0 = wgt_i[7:0];
  wire [7:0] w1 = wgt_i[15:8];

  wire on0  = {% if zt_weight %}(|a0) & (|w0){% else %}|a0{% endif %};
  wire on1  = {% if zt_weight %}(|a1) & (|w1){% else %}|a1{% endif %};
  wire both = on0 & on1;

  // Both active: each lane on its own unit, at its own window.
  wire [{{ n - 1 }}:0] nib0;
  wire [{{ n - 1 }}:0] nib1;
  wire [2:0] s0;
  wire [2:0] s1;

  {{ win_module }} u_win0 (
    .a_i   (a0),
    .nib_o (nib0),
    .sh_o  (s0)
  );

  {{ win_module }} u_win1 (
    .a_i   (a1),
    .nib_o (nib1),
    .sh_o  (s1)
  );

  // At most one active: both units on the routed lane.
  wire [7:0] as = on0 ? a0 : a1;
  wire [7:0] ws = on0 ? w0 : w1;
{% if n == 4 %}
  wire [3:0] solo_hi    = as[7:4];
  wire [3:0] solo_lo    = as[3:0];
  wire [3:0] solo_sh_hi = 4'd4;
  wire [3:0] solo_sh_lo = 4'd0;
{% else %}
  wire [{{ 2 * n - 1 }}:0] snib;
  wire [2:0] ss;

  {{ solo_win_module }} u_win_solo (
    .a_i   (as),
    .nib_o (snib),
    .sh_o  (ss)
  );

  wire [{{ n - 1 }}:0] solo_hi    = snib[{{ 2 * n - 1 }}:{{ n }}];
  wire [{{ n - 1 }}:0] solo_lo    = snib[{{ n - 1 }}:0];
  wire [3:0] solo_sh_hi = {1'b0, ss} + 4'd{{ n }};
  wire [3:0] solo_sh_lo = {1'b0, ss};
{% endif %}
  assign x_o  = both ? {nib1, nib0} : {solo_lo, solo_hi};
  assign y_o  = both ? {w1, w0} : {ws, ws};
  assign sh_o = both ? {1'b0, s1, 1'b0, s0} : {solo_sh_lo, solo_sh_hi};

endmodule
