{#- Row or column v of n (`kind` names the block) of the edge array: the raw lanes
    of port's slice v, delayed by v cycles (instance inst) unless v is 0, and the
    link word of width lw they condition into. -#}
{%- macro edge_skew(v, n, kind, port, lw, inst) -%}
for ({{ v }} = 0; {{ v }} < {{ n }}; {{ v }} = {{ v }} + 1) begin : g_{{ kind }}_skew
      wire [RW-1:0] raw;
      wire [{{ lw }}-1:0] link;
      if ({{ v }} == 0) begin : g_direct
        assign raw = {{ port }}[{{ v }}*RW +: RW];
      end else begin : g_delayed
        {{ prefix }}_delay #(.W(RW), .D({{ v }}), .RST(0)) {{ inst }} (
          .clk_i (clk_i), .rst_ni (rst_ni), .d_i ({{ port }}[{{ v }}*RW +: RW]), .q_o (raw)
        );
      end
{%- endmacro -%}
{{ header }}
`default_nettype none
// ROWS x COLS output-stationary array of {{ prefix }}_cell, {{ lanes }} lane(s) per PE
// (the parameters default to the configured {{ rows }} x {{ cols }}).
//
// Interface (one aligned group per cycle; the array skews it internally):
//   in_valid_i   this cycle carries one group: T activations per row (act_i, row r
//                lane t at bits [(r*T+t)*8 +: 8]) and T weights per column (wgt_i,
//                column c lane t at bits [(c*T+t)*8 +: 8]).
//   in_first_i   with in_valid_i: first group of a tile (the PEs restart their sums).
//   in_last_i    with in_valid_i: last group of a tile (the PEs' sums are then final).
//                Present a last group only while last_ready_o is high: consecutive
//                last groups must be at least COLS cycles apart, the time one row of
//                results needs to drain. Other groups are accepted on every cycle.
{%- if skip %}
//   skip_i       with a first group: the tile's skip mask, output (r, c) at bit
//                r*COLS+c; a skipped output's PE isolates its datapath (operands
//                forced to zero) for the tile and delivers 0. Ignored otherwise.
{%- endif %}
//   res_valid_o  per row: res_o carries one result of that row this cycle.
//   res_o        per row, ACC_W bits each (row r at bits [r*ACC_W +: ACC_W]).
//
// Timing, for a tile whose last group is presented at cycle tL (formula in docs/array.md;
// E = {{ edge_stages + pipeline as u64 }}: {{ edge_stages }} edge register stage(s){% if edge %} (the window logic sits at the edge){% endif %} and {{ pipeline }} PE pipeline stage(s)):
//   result C[r][c] is on res_o row r, with res_valid_o[r], at cycle tL + 2*COLS + r - c + E
//   (row r streams its results from column COLS-1 down to column 0, one per cycle).
//   A tile of G groups presented back to back from cycle t0 completes at
//   t0 + G + ROWS + 2*COLS - 2 + E; tiles may follow each other with no idle cycle as
//   long as G >= COLS.
module {{ prefix }}_array #(
  parameter integer ROWS  = {{ rows }},
  parameter integer COLS  = {{ cols }},
  parameter integer ACC_W = {{ acc_w }}
) (
  input  wire                     clk_i,
  input  wire                     rst_ni,
  input  wire                     in_valid_i,
  input  wire                     in_first_i,
  input  wire                     in_last_i,
{%- if skip %}
  input  wire [ROWS*COLS-1:0]     skip_i,
{%- endif %}
  input  wire [ROWS*{{ lanes * 8 }}-1:0]      act_i,
  input  wire [COLS*{{ lanes * 8 }}-1:0]      wgt_i,
  output wire                     last_ready_o,
  output wire [ROWS-1:0]          res_valid_o,
  output wire [ROWS*ACC_W-1:0]    res_o
);

  localparam integer RW = {{ lanes * 8 }};  // one row's (column's) lanes at the ports
  localparam integer LA = {{ act_w }};  // activation link word between PEs
  localparam integer LB = {{ wgt_w }};  // weight link word between PEs
  localparam integer MW = (COLS > 1) ? $clog2(COLS) : 1;
  localparam integer LastCol = COLS - 1;
  localparam [MW-1:0] LastStep = LastCol[MW-1:0];

  wire       v   = in_valid_i;
  wire [2:0] ctl = {in_valid_i & in_last_i, in_valid_i & in_first_i, v};

  // ---------------------------------------------------------------------------
{%- if edge %}
  // Input skew and edge: row r and column c are delayed by r and c cycles, then
  // conditioned once ({{ prefix }}_pre_act{% if pre_wgt %}, {{ prefix }}_pre_wgt{% endif %}) into link words and registered:
  // one more cycle for every row and column, and for the controls with them.
{%- else %}
  // Input skew: row r and column c are delayed by r and c cycles.
{%- endif %}
  // ---------------------------------------------------------------------------
  // The link arrays below carry a split_var metacomment (a plain comment to
  // other tools). Without it an unpacked array is scheduled as one signal, so an
  // input change at the west edge would re-evaluate every PE in that simulation.
  wire [LA-1:0] row_act [0:ROWS-1] /*verilator split_var*/;
  wire [2:0]    row_ctl [0:ROWS-1] /*verilator split_var*/;
  wire [LB-1:0] col_wgt [0:COLS-1] /*verilator split_var*/;

  genvar r, c;
  generate
{%- if edge %}
    {% call edge_skew("r", "ROWS", "row", "act_i", "LA", "u_act") %}{% endcall %}
      {{ prefix }}_pre_act u_pre (
        .act_i (raw), .link_o (link)
      );
      {{ prefix }}_delay #(.W(LA), .D(1), .RST(0)) u_edge (
        .clk_i (clk_i), .rst_ni (rst_ni), .d_i (link), .q_o (row_act[r])
      );
      {{ prefix }}_delay #(.W(3), .D(r + 1), .RST(1)) u_ctl (
        .clk_i (clk_i), .rst_ni (rst_ni), .d_i (ctl), .q_o (row_ctl[r])
      );
    end
    {% call edge_skew("c", "COLS", "col", "wgt_i", "LB", "u_wgt") %}{% endcall %}
{%- if pre_wgt %}
      {{ prefix }}_pre_wgt u_pre (
        .wgt_i (raw), .link_o (link)
      );
{%- else %}
      assign link = raw;
{%- endif %}
      {{ prefix }}_delay #(.W(LB), .D(1), .RST(0)) u_edge (
        .clk_i (clk_i), .rst_ni (rst_ni), .d_i (link), .q_o (col_wgt[c])
      );
    end
{%- else %}
    for (r = 0; r < ROWS; r = r + 1) begin : g_row_skew
      if (r == 0) begin : g_direct
        assign row_act[r] = act_i[r*RW +: RW];
        assign row_ctl[r] = ctl;
      end else begin : g_delayed
        {{ prefix }}_delay #(.W(RW), .D(r), .RST(0)) u_act (
          .clk_i (clk_i), .rst_ni (rst_ni), .d_i (act_i[r*RW +: RW]), .q_o (row_act[r])
        );
        {{ prefix }}_delay #(.W(3), .D(r), .RST(1)) u_ctl (
          .clk_i (clk_i), .rst_ni (rst_ni), .d_i (ctl), .q_o (row_ctl[r])
        );
      end
    end
    for (c = 0; c < COLS; c = c + 1) begin : g_col_skew
      if (c == 0) begin : g_direct
        assign col_wgt[c] = wgt_i[c*RW +: RW];
      end else begin : g_delayed
        {{ prefix }}_delay #(.W(RW), .D(c), .RST(0)) u_wgt (
          .clk_i (clk_i), .rst_ni (rst_ni), .d_i (wgt_i[c*RW +: RW]), .q_o (col_wgt[c])
        );
      end
    end
{%- endif %}
  endgenerate
{%- if skip %}

  // Skip mask: row r's COLS bits, delayed like the row's controls, then passed east
  // with them (each cell keeps its bit and registers the rest).
  wire [COLS-1:0] row_skip [0:ROWS-1] /*verilator split_var*/;
  generate
    for (r = 0; r < ROWS; r = r + 1) begin : g_skip_skew
{%- if edge %}
      {{ prefix }}_delay #(.W(COLS), .D(r + 1), .RST(0)) u_skip (
        .clk_i (clk_i), .rst_ni (rst_ni), .d_i (skip_i[r*COLS +: COLS]), .q_o (row_skip[r])
      );
{%- else %}
      if (r == 0) begin : g_direct
        assign row_skip[r] = skip_i[r*COLS +: COLS];
      end else begin : g_delayed
        {{ prefix }}_delay #(.W(COLS), .D(r), .RST(0)) u_skip (
          .clk_i (clk_i), .rst_ni (rst_ni), .d_i (skip_i[r*COLS +: COLS]), .q_o (row_skip[r])
        );
      end
{%- endif %}
    end
  endgenerate
{%- endif %}

  // ---------------------------------------------------------------------------
  // Drain control: row 0 drains COLS + 1{% if edge %} + 1 (the edge){% endif %}{% if pipeline > 0 %} + {{ pipeline }} (the PE's pipeline){% endif %} cycles after its last group entered,
  // for COLS cycles; row r follows r cycles later (one register per row).
  // ---------------------------------------------------------------------------
  reg [MW-1:0] gap_q;
  always @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      gap_q <= LastStep;
    end else if (ctl[2]) begin
      gap_q <= {MW{1'b0}};
    end else if (gap_q != LastStep) begin
      gap_q <= gap_q + 1'b1;
    end
  end
  assign last_ready_o = (gap_q == LastStep);

  wire start;
  {{ prefix }}_delay #(.W(1), .D(COLS{% if edge_stages + pipeline as u64 > 0 %} + {{ edge_stages + pipeline as u64 }}{% endif %}), .RST(1)) u_last_delay (
    .clk_i (clk_i), .rst_ni (rst_ni), .d_i (ctl[2]), .q_o (start)
  );

  reg          run_q;
  reg [MW-1:0] step_q;
  always @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      run_q  <= 1'b0;
      step_q <= {MW{1'b0}};
    end else if (start) begin
      run_q  <= 1'b1;
      step_q <= {MW{1'b0}};
    end else if (run_q) begin
      if (step_q == LastStep) begin
        run_q <= 1'b0;
      end else begin
        step_q <= step_q + 1'b1;
      end
    end
  end

  wire [MW:0] row_drain [0:ROWS-1] /*verilator split_var*/;
  generate
    for (r = 0; r < ROWS; r = r + 1) begin : g_drain
      if (r == 0) begin : g_first
        assign row_drain[r] = {step_q, run_q};
      end else begin : g_next
        {{ prefix }}_delay #(.W(MW + 1), .D(1), .RST(1)) u_drain (
          .clk_i (clk_i), .rst_ni (rst_ni), .d_i (row_drain[r-1]), .q_o (row_drain[r])
        );
      end
      assign res_valid_o[r] = row_drain[r][0];
    end
  endgenerate

  // ---------------------------------------------------------------------------
  // The mesh. Horizontal links are indexed r*(COLS+1)+c (c = 0 is the west edge),
  // vertical links (r)*COLS+c with r = 0 the north edge.
  // ---------------------------------------------------------------------------
  wire [LA-1:0]    h_act [0:ROWS*(COLS+1)-1] /*verilator split_var*/;
  wire [2:0]       h_ctl [0:ROWS*(COLS+1)-1] /*verilator split_var*/;
  wire [LB-1:0]    v_wgt [0:(ROWS+1)*COLS-1] /*verilator split_var*/;
  wire [ACC_W-1:0] res   [0:ROWS*COLS-1] /*verilator split_var*/;

  generate
    for (r = 0; r < ROWS; r = r + 1) begin : g_west
      assign h_act[r*(COLS+1)] = row_act[r];
      assign h_ctl[r*(COLS+1)] = row_ctl[r];
    end
    for (c = 0; c < COLS; c = c + 1) begin : g_north
      assign v_wgt[c] = col_wgt[c];
    end
    for (r = 0; r < ROWS; r = r + 1) begin : g_r
{%- if skip %}
      // Row r's skip bits as they travel east: column c's slice (COLS - c bits, its
      // own at bit 0) at offset c*COLS - c*(c-1)/2.
      wire [COLS*(COLS+1)/2-1:0] sk;
      assign sk[COLS-1:0] = row_skip[r];
{%- endif %}
      for (c = 0; c < COLS; c = c + 1) begin : g_c
        wire [ACC_W-1:0] chain_in;
        if (c > 0) begin : g_chain
          assign chain_in = res[r*COLS+c-1];
        end else begin : g_chain_start
          assign chain_in = {ACC_W{1'b0}};
        end
{%- if skip %}
        localparam integer SkOff = c*COLS - (c*(c-1))/2;
        wire [((COLS - c > 1) ? COLS - c - 1 : 1)-1:0] skip_out;
        if (c < COLS - 1) begin : g_skip_next
          assign sk[SkOff + COLS - c +: ((COLS - c > 1) ? COLS - c - 1 : 1)] = skip_out;
        end else begin : g_skip_last
          wire unused_skip = ^skip_out;
        end
{%- endif %}
        {{ prefix }}_cell #(
          .ACC_W (ACC_W),
          .MW    (MW),
{%- if skip %}
          .COL   (c),
          .SKW   (COLS - c)
{%- else %}
          .COL   (c)
{%- endif %}
        ) u_cell (
          .clk_i   (clk_i),
          .rst_ni  (rst_ni),
          .valid_i (h_ctl[r*(COLS+1)+c][0]),
          .clear_i (h_ctl[r*(COLS+1)+c][1]),
          .last_i  (h_ctl[r*(COLS+1)+c][2]),
{%- if skip %}
          .skip_i  (sk[SkOff +: COLS - c]),
          .skip_o  (skip_out),
{%- endif %}
          .act_i   (h_act[r*(COLS+1)+c]),
          .wgt_i   (v_wgt[r*COLS+c]),
          .valid_o (h_ctl[r*(COLS+1)+c+1][0]),
          .clear_o (h_ctl[r*(COLS+1)+c+1][1]),
          .last_o  (h_ctl[r*(COLS+1)+c+1][2]),
          .act_o   (h_act[r*(COLS+1)+c+1]),
          .wgt_o   (v_wgt[(r+1)*COLS+c]),
          .drain_i (row_drain[r][0]),
          .step_i  (row_drain[r][MW:1]),
          .res_i   (chain_in),
          .res_o   (res[r*COLS+c])
        );
      end
      assign res_o[r*ACC_W +: ACC_W] = res[r*COLS+COLS-1];
    end
  endgenerate

endmodule
`default_nettype wire
