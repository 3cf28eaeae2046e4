// Icarus Verilog bench for an smtgen array (the check of array_tb.cpp, so the
// generated array is not proven on Verilator alone).
//
// Reads the text trace smtgen writes: a comment line, then per cycle
//   ctrl act wgt skip last_ready res_valid res_0 ... res_{ROWS-1}
// in hex (ctrl bit 0 valid, 1 first, 2 last, 3 reset held for the cycle; act/wgt/res_valid packed with row or
// column 0 in the low bits; skip the skip mask, output (r, c) at bit r*COLS+c, 0 for
// an array without one; results as 64-bit two's complement). Build with
//   iverilog -g2005 -DDUT=<name>_array -Ptb.ROWS=R -Ptb.COLS=C -Ptb.LANES=T -Ptb.ACC_W=W
// and -DSKIP for an array with array.skip: gate (it then drives skip_i)
// and run with +trace=<file>. Last line: RESULT cycles=<n> mismatches=<n> results=<n>.
`timescale 1ns / 1ps
module tb;
  parameter integer ROWS  = 2;
  parameter integer COLS  = 2;
  parameter integer LANES = 1;
  parameter integer ACC_W = 32;

  reg clk = 1'b0;
  reg rst_n = 1'b0;
  reg in_valid = 1'b0;
  reg in_first = 1'b0;
  reg in_last = 1'b0;
  reg [ROWS*LANES*8-1:0] act = 0;
  reg [COLS*LANES*8-1:0] wgt = 0;
  reg [ROWS*COLS-1:0] skip = 0;
  wire last_ready;
  wire [ROWS-1:0] res_valid;
  wire [ROWS*ACC_W-1:0] res;

  `DUT #(.ROWS(ROWS), .COLS(COLS), .ACC_W(ACC_W)) dut (
    .clk_i(clk), .rst_ni(rst_n), .in_valid_i(in_valid), .in_first_i(in_first),
    .in_last_i(in_last),
`ifdef SKIP
    .skip_i(skip),
`endif
    .act_i(act), .wgt_i(wgt), .last_ready_o(last_ready),
    .res_valid_o(res_valid), .res_o(res)
  );

  integer fd, n, r, cycle, mismatches, results;
  reg [3:0] ctrl;
  reg [ROWS*LANES*8-1:0] act_v;
  reg [COLS*LANES*8-1:0] wgt_v;
  reg [ROWS*COLS-1:0] skip_v;
  reg [3:0] ready_v;
  reg [ROWS-1:0] valid_v;
  reg [63:0] res_v;
  reg [1023:0] path;
  reg [8*256-1:0] line;

  initial begin
    if (!$value$plusargs("trace=%s", path)) begin
      $display("usage: vvp sim +trace=FILE");
      $finish;
    end
    fd = $fopen(path, "r");
    if (fd == 0) begin
      $display("cannot open %0s", path);
      $finish;
    end
    n = $fgets(line, fd);
    $write("%0s", line);
    mismatches = 0;
    results = 0;
    cycle = 0;
    #1 clk = 1'b1; #1 clk = 1'b0;
    #1 clk = 1'b1; #1 clk = 1'b0;
    rst_n = 1'b1;
    #1;
    while (!$feof(fd)) begin
      n = $fscanf(fd, "%h %h %h %h %h %h", ctrl, act_v, wgt_v, skip_v, ready_v, valid_v);
      if (n == 6) begin
        in_valid = ctrl[0];
        in_first = ctrl[1];
        in_last = ctrl[2];
        rst_n = ~ctrl[3];
        act = act_v;
        wgt = wgt_v;
        skip = skip_v;
        #1;
        if (last_ready !== ready_v[0] || res_valid !== valid_v) begin
          mismatches = mismatches + 1;
          if (mismatches <= 10)
            $display("MISMATCH cycle=%0d last_ready/res_valid expected=%h/%h got=%h/%h", cycle,
                     ready_v[0], valid_v, last_ready, res_valid);
        end
        for (r = 0; r < ROWS; r = r + 1) begin
          n = $fscanf(fd, "%h", res_v);
          if (valid_v[r]) begin
            results = results + 1;
            if (res[r*ACC_W +: ACC_W] !== res_v[ACC_W-1:0]) begin
              mismatches = mismatches + 1;
              if (mismatches <= 10)
                $display("MISMATCH cycle=%0d res row=%0d expected=0x%h got=0x%h", cycle, r,
                         res_v[ACC_W-1:0], res[r*ACC_W +: ACC_W]);
            end
          end
        end
        clk = 1'b1;
        #1 clk = 1'b0;
        cycle = cycle + 1;
      end
    end
    $display("RESULT cycles=%0d mismatches=%0d results=%0d", cycle, mismatches, results);
    $finish;
  end
endmodule
