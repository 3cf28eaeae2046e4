{%- import "macros.v" as m -%}
{%- macro on_lane() -%}
{%- if edge && zt_weight -%}(|nib[k]) & (e[k] | (|q[k]))
{%- else if edge -%}|nib[k]
{%- else if zt_weight -%}(|a[k]) & (|w[k])
{%- else -%}|a[k]
{%- endif -%}
{%- endmacro -%}
{{ header }}
`default_nettype none
// Operand conditioning for four lanes sharing one 8b x 8b multiplier split into four
// u4 x s5 quarters (SySMT, T = 4). Zero test {{ zero_test }}: a lane is idle when
// {% if zt_weight %}a == 0 or w == 0{% else %}a == 0{% endif %}. With c active lanes:
//   c >= 3: quarter k takes lane k: win(a_k; 4b2opt) x nib4(w_k), shift s_k + e_k.
//           (An idle lane's window or nibble is zero, so its quarter adds nothing.)
//   c == 2: lane A (first active) takes quarters 0 and 1, lane B (last active)
//           quarters 2 and 3: win(a; 4b2opt) times the weight's signed high nibble
//           (shift s + 4) and unsigned low nibble (shift s).
//   c <= 1: the same two-lane wiring with two virtual lanes made of lane A's
//           activation nibbles, a[7:4] at window position 4 and a[3:0] at 0, both
//           with lane A's weight: the four partial products of the exact a x w.
{%- if edge %}
// Window and nibble logic at the array edge: act_i and wgt_i are link words. Lane k's
// window comes from {{ prefix }}_pre_act (bits 32 + 4k, non-zero exactly when a_k is), its
// nib4 from {{ prefix }}_pre_wgt (q at bits 32 + 5k, the high-nibble flag e above it;
// w_k != 0 is e or q != 0). Only the window's position is decoded here.
{%- endif %}
{{- m::cond_head(4, 16, 20, 16, "reg ") }}

  // split_var lets the simulator keep each lane's signals apart.
  wire [7:0] a [0:3] /*verilator split_var*/;
  wire [7:0] w [0:3] /*verilator split_var*/;
  wire [3:0] on;
  wire [3:0] nib [0:3] /*verilator split_var*/;
  wire [3:0] wide;
  wire [3:0] q [0:3] /*verilator split_var*/;
  wire [3:0] e;

  genvar k;
  generate
    for (k = 0; k < 4; k = k + 1) begin : g_lane
{%- if !edge %}
      wire [2:0] s;
{%- endif %}

      assign a[k]  = act_i[8*k +: 8];
      assign w[k]  = wgt_i[8*k +: 8];
{%- if edge %}
      assign nib[k] = act_i[{{ fields_at }} + {{ act_field }}*k +: 4];
      assign q[k]   = wgt_i[{{ fields_at }} + {{ wgt_field }}*k +: 4];
      assign e[k]   = wgt_i[{{ fields_at }} + {{ wgt_field }}*k + 4];
{%- endif %}
{%- if cut %}
      assign on_o[k] = {% call on_lane() %}{% endcall %};
      assign on[k] = on_i[k];
{%- else %}
      assign on[k] = {% call on_lane() %}{% endcall %};
{%- endif %}
{%- if edge %}

      // 4b2opt windows sit at bit 0 or bit 4: one flag carries the position.
      assign wide[k] = |a[k][7:4];
{%- else %}

      {{ win_module }} u_win (
        .a_i     (a[k]),
        .round_i (1'b1),
        .nib_o (nib[k]),
        .sh_o  (s)
      );

      // 4b2opt windows sit at bit 0 or bit 4: one flag carries the position.
      wire unused_s = ^s[1:0];
      assign wide[k] = s[2];

      {{ prefix }}_nib4 u_nib4 (
        .w_i (w[k]),
        .q_o (q[k]),
        .e_o (e[k])
      );
{%- endif %}
    end
  endgenerate

  wire [2:0] cnt  = {2'b00, on[0]} + {2'b00, on[1]} + {2'b00, on[2]} + {2'b00, on[3]};
  wire       solo = (cnt <= 3'd1);
  wire       quad = (cnt >= 3'd3);

  // Lane A: the first active lane (lane 3 when none is; its product is then zero).
  // Lane B: the last active lane (only used with exactly two active). sel_a and sel_b
  // are their one-hot selects; act_a, wgt_a and nib_a are lane A's operands, wgt_b
  // and nib_b lane B's. Units 0-1 (u01_*) serve lane A, units 2-3 (u23_*) lane B or,
  // when lane A is alone, lane A's low activation nibble; u01_up / u23_up move a
  // pair's shifts up by 4. Every mux is AND-OR: the same gates as indexed muxes, but
  // the simulation model then has no data-dependent branch (issue #3: mispredicted
  // branches, not code size, set the array's simulation speed).
  wire [3:0] sel_a = {~on[0] & ~on[1] & ~on[2], ~on[0] & ~on[1] & on[2], ~on[0] & on[1], on[0]};
  wire [3:0] sel_b = {on[3], ~on[3] & on[2], ~on[3] & ~on[2], 1'b0};

  wire [7:0] wgt_a = {% call m::and_or(8, "sel_a", "w", 0, 4) %}{% endcall %};
  wire [7:0] act_a = {% call m::and_or(8, "sel_a", "a", 0, 4) %}{% endcall %};
  wire [3:0] nib_a = {% call m::and_or(4, "sel_a", "nib", 0, 4) %}{% endcall %};
  wire [7:0] wgt_b = {% call m::and_or(8, "sel_b", "w", 1, 4) %}{% endcall %};
  wire [3:0] nib_b = {% call m::and_or(4, "sel_b", "nib", 1, 4) %}{% endcall %};
  wire       unused_sel_b = sel_b[0];

  wire [7:0] u23_wgt = ({8{solo}} & wgt_a) | ({8{~solo}} & wgt_b);
  wire [3:0] u01_act = ({4{solo}} & act_a[7:4]) | ({4{~solo}} & nib_a);
  wire [3:0] u23_act = ({4{solo}} & act_a[3:0]) | ({4{~solo}} & nib_b);
  wire       u01_up  = solo | (|(sel_a & wide));
  wire       u23_up  = ~solo & (|(sel_b & wide));

  always @* begin
    unit_act_o   = ({16{quad}} & {nib[3], nib[2], nib[1], nib[0]}) |
                   ({16{~quad}} & {u23_act, u23_act, u01_act, u01_act});
    unit_wgt_o   = ({20{quad}} & { {q[3][3], q[3]}, {q[2][3], q[2]}, {q[1][3], q[1]}, {q[0][3], q[0]} }) |
                   ({20{~quad}} & { {1'b0, u23_wgt[3:0]}, {u23_wgt[7], u23_wgt[7:4]}, {1'b0, wgt_a[3:0]}, {wgt_a[7], wgt_a[7:4]} });
    unit_shift_o = ({16{quad}} & { {wide[3] & e[3], wide[3] ^ e[3], 2'b00},
                                   {wide[2] & e[2], wide[2] ^ e[2], 2'b00},
                                   {wide[1] & e[1], wide[1] ^ e[1], 2'b00},
                                   {wide[0] & e[0], wide[0] ^ e[0], 2'b00} }) |
                   ({16{~quad}} & { {1'b0, u23_up, 2'b00}, {u23_up, ~u23_up, 2'b00},
                                    {1'b0, u01_up, 2'b00}, {u01_up, ~u01_up, 2'b00} });
  end

endmodule
`default_nettype wire
