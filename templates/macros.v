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
