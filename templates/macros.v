{#- Macros shared by the PE and array templates. -#}
{#- One-hot AND-OR selection of x[lo..hi) by sel, each term w bits wide:
    ({w{sel[lo]}} & x[lo]) | ... | ({w{sel[hi-1]}} & x[hi-1]). The same gates as an
    indexed mux, but Verilator's model gets no data-dependent branch. -#}
{%- macro and_or(w, sel, x, lo, hi) -%}
{%- for k in lo..hi -%}
{%- if !loop.first %} | {% endif -%}
({{ "{" }}{{ w }}{{ "{" }}{{ sel }}[{{ k }}]}} & {{ x }}[{{ k }}])
{%- endfor -%}
{%- endmacro -%}

{#- Round-to-nearest-even condition of a window at LSB position p > 0 of activation
    a: the guard bit and either the window's LSB or a sticky bit below the guard.
    Shared by the window modules and the two-lane inline windows. -#}
{%- macro round_up(a, p) -%}
{%- if p.clone() == 1 -%}
{{ a }}[0] & {{ a }}[1]
{%- else -%}
{{ a }}[{{ p - 1 }}] & ({{ a }}[{{ p }}] | (|{{ a }}[{{ p - 2 }}:0]))
{%- endif -%}
{%- endmacro -%}

{#- A term of the fabric's sum (rtl::exprs::Term): unit u's product shifted by t.k, sign-extended
    by t.ext bits or wrapped to the bits up to t.wrap_hi. -#}
{%- macro term(u, t) -%}
{%- if t.ext > 0 || t.k > 0 %}{{ "{" }}{% endif -%}
{%- if t.ext > 0 %}{{ "{" }}{{ t.ext }}{{ "{" }}{% if t.unsigned %}1'b0{% else %}p{{ u.idx }}[{{ u.pw - 1 }}]{% endif %}}}, {% endif -%}
p{{ u.idx }}{% if let Some(hi) = t.wrap_hi %}[{{ hi }}:0]{% endif -%}
{%- if t.k > 0 %}, {{ t.k }}'d0{% endif -%}
{%- if t.ext > 0 || t.k > 0 %}}{% endif -%}
{%- endmacro -%}

{#- The fabric's lane adder over its units' terms t0, t1, ...: each half summed
    first, in parentheses when there are two halves (rtl::exprs::sum_halves). -#}
{%- macro sum_tree(halves) -%}
{%- for h in halves -%}
{%- if !loop.first %} + {% endif -%}
{%- if halves.len() > 1 && h.len() > 1 %}({% endif -%}
{%- for i in h %}{% if !loop.first %} + {% endif %}t{{ i }}{% endfor -%}
{%- if halves.len() > 1 && h.len() > 1 %}){% endif -%}
{%- endfor -%}
{%- endmacro -%}

{#- One placement o of a window module (win.v, rtl::pe::WinOpt): no activation bit
    above the window (hit), the one-hot select, and the round-up term. -#}
{%- macro win_hit(o) -%}
{%- if let Some(lo) = o.above %}~|a_i[7:{{ lo }}]{% else %}1'b1{% endif -%}
{%- endmacro -%}
{%- macro win_sel(o) -%}
hit{{ o.pos }}{% if let Some(q) = o.prev %} & ~hit{{ q }}{% endif -%}
{%- endmacro -%}
{%- macro win_round(o) -%}
{%- if o.pos == 0 -%}
1'b0
{%- else -%}
(sel{{ o.pos }} & {% if o.no_sticky %}a_i[{{ o.pos - 1 }}] & a_i[{{ o.pos }}]{% else %}{% call round_up("a_i", o.pos) %}{% endcall %}{% endif %})
{%- endif -%}
{%- endmacro -%}

{#- The two-lane inline window of lane l (rtl::exprs::PairLane): one-hot select of
    placement o, then the truncated window, its shift, the bits below it, its
    round-up condition and the window the pair uses, each an AND-OR over the
    placements. -#}
{%- macro pair_sel(l, o) -%}
{%- if let Some(p) = o.at_or_above %}g{{ l.k }}_{{ p }}{% endif -%}
{%- if o.at_or_above.is_some() && o.below_next.is_some() %} & {% endif -%}
{%- if let Some(q) = o.below_next %}~g{{ l.k }}_{{ q }}{% endif -%}
{%- if o.at_or_above.is_none() && o.below_next.is_none() %}1'b1{% endif -%}
{%- endmacro -%}
{%- macro pair_trunc(l) -%}
{%- for o in l.opts -%}
{%- if !loop.first %} | {% endif -%}
({{ "{" }}4{{ "{" }}{% call pair_sel(l, o) %}{% endcall %}}} & a{{ l.k }}[{{ o.p + 3 }}:{{ o.p }}])
{%- endfor -%}
{%- endmacro -%}
{%- macro pair_shift(l) -%}
{%- for o in l.upper -%}
{%- if !loop.first %} | {% endif -%}
({{ "{" }}3{{ "{" }}{% call pair_sel(l, o) %}{% endcall %}}} & 3'd{{ o.p }})
{%- endfor -%}
{%- if l.upper.is_empty() %}3'd0{% endif -%}
{%- endmacro -%}
{%- macro pair_low(l) -%}
{%- for o in l.upper -%}
{%- if !loop.first %} | {% endif -%}
({{ "{" }}4{{ "{" }}{% call pair_sel(l, o) %}{% endcall %}}} & {% if o.p == 4 %}a{{ l.k }}[3:0]{% else %}{{ "{" }}{{ 4 - o.p }}'d0, a{{ l.k }}[{{ o.p - 1 }}:0]}{% endif %})
{%- endfor -%}
{%- if l.upper.is_empty() %}4'd0{% endif -%}
{%- endmacro -%}
{%- macro pair_round(l) -%}
{%- if let Some(p) = l.flat_round -%}
g{{ l.k }}_{{ p }} & {% call round_up("a" ~ l.k, p) %}{% endcall %}
{%- else -%}
({% for o in l.upper %}{% if !loop.first %} | {% endif %}({% call pair_sel(l, o) %}{% endcall %} & {% call round_up("a" ~ l.k, o.p) %}{% endcall %}){% endfor %})
{%- endif -%}
{%- endmacro -%}
{%- macro pair_next(l) -%}
{%- if let Some((hi, lo)) = l.next.edge() -%}
act_i[{{ hi }}:{{ lo }}]
{%- else if l.next.rounded() -%}
t{{ l.k }} + {3'd0, both & {% call pair_round(l) %}{% endcall %} & ~(&t{{ l.k }})}
{%- else -%}
t{{ l.k }}
{%- endif -%}
{%- endmacro -%}

{#- The head of every cond module: the proof variant's note, the module line and the
    ports. `on_w` lanes of activity, unit operand buses `x_w`, `y_w`, `sh_w` bits wide,
    driven as `kind` (reg or wire). Reads the template's prefix, cut, act_w, wgt_w. -#}
{%- macro cond_head(on_w, x_w, y_w, sh_w, kind) -%}
{%- if cut %}
// Proof variant (smtgen prove): the lanes' zero tests leave through on_o and the
// datapath takes the lanes' activity from on_i; otherwise identical to {{ prefix }}_cond.
{%- endif %}
module {{ prefix }}_cond{% if cut %}_cut{% endif %} (
  input  wire [{{ act_w - 1 }}:0] act_i,
  input  wire [{{ wgt_w - 1 }}:0] wgt_i,
{%- if cut %}
  input  wire [{{ on_w - 1 }}:0]  on_i,
  output wire [{{ on_w - 1 }}:0]  on_o,
{%- endif %}
  output {{ kind }} [{{ x_w - 1 }}:0] unit_act_o,
  output {{ kind }} [{{ y_w - 1 }}:0] unit_wgt_o,
  output {{ kind }} [{{ sh_w - 1 }}:0]{% if sh_w <= 10 %} {% endif %} unit_shift_o
);
{%- endmacro -%}

{#- The PE's module header (pe.v, pe_solo.v): module <prefix>_<name>, its ACC_W
    parameter and the PE ports, operands act_hi / wgt_hi + 1 bits wide; with skip
    (array.skip: gate) the skip bit skip_i too. -#}
{%- macro pe_module(prefix, name, acc_w, act_hi, wgt_hi, skip) -%}
module {{ prefix }}_{{ name }} #(
  parameter integer ACC_W = {{ acc_w }}
) (
  input  wire                 clk_i,
  input  wire                 rst_ni,
  input  wire                 valid_i,
  input  wire                 clear_i,
{%- if skip %}
  input  wire                 skip_i,
{%- endif %}
  input  wire [{{ act_hi }}:0]         act_i,
  input  wire [{{ wgt_hi }}:0]         wgt_i,
  output wire                 valid_o,
  output wire                 clear_o,
  output wire [{{ act_hi }}:0]         act_o,
  output wire [{{ wgt_hi }}:0]         wgt_o,
  output wire [ACC_W-1:0]     acc_o
);
{%- endmacro -%}

{#- The PE instance u_pe of an array cell or a lone PE (cell.v, pe_solo.v), its
    operands and accumulator wired to the given signals, and its skip bit to `skip`
    (array.skip: gate; an empty string without the option). -#}
{%- macro pe_instance(prefix, act, wgt, act_out, wgt_out, acc, skip) -%}
{{ prefix }}_pe #(
    .ACC_W (ACC_W)
  ) u_pe (
    .clk_i   (clk_i),
    .rst_ni  (rst_ni),
    .valid_i (valid_i),
    .clear_i (clear_i),
{%- if !skip.is_empty() %}
    .skip_i  ({{ skip }}),
{%- endif %}
    .act_i   ({{ act }}),
    .wgt_i   ({{ wgt }}),
    .valid_o (valid_o),
    .clear_o (clear_o),
    .act_o   ({{ act_out }}),
    .wgt_o   ({{ wgt_out }}),
    .acc_o   ({{ acc }})
  );
{%- endmacro -%}

{#- A register q with an asynchronous active-low reset to `zero`, loaded from d on
    every clock edge (at module level: two spaces of indent at the call). -#}
{%- macro reset_reg(q, zero, d) -%}
always @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      {{ q }} <= {{ zero }};
    end else begin
      {{ q }} <= {{ d }};
    end
  end
{%- endmacro -%}
