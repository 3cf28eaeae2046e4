{#- Macros shared by the PE templates. -#}
{#- One-hot AND-OR selection of x[lo..hi) by sel, each term w bits wide:
    ({w{sel[lo]}} & x[lo]) | ... | ({w{sel[hi-1]}} & x[hi-1]). The same gates as an
    indexed mux, but Verilator's model gets no data-dependent branch. -#}
{%- macro and_or(w, sel, x, lo, hi) -%}
{%- for k in lo..hi -%}
{%- if !loop.first %} | {% endif -%}
({{ "{" }}{{ w }}{{ "{" }}{{ sel }}[{{ k }}]}} & {{ x }}[{{ k }}])
{%- endfor -%}
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
