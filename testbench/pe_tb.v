// Icarus Verilog bench for one smtgen processing element (the same check as
// pe_tb.cpp, so the generated Verilog is not proven on Verilator alone).
//
// Reads the text vectors smtgen writes (generator/src/stimulus.rs): a comment line,
// then per cycle `ctrl act wgt acc p0 p1 p2 p3` in hex. Build with
//   iverilog -g2005 -DDUT=<name>_pe -Ptb.LANES=<T> -Ptb.ACC_W=<W> -f <name>_pe.f pe_tb.v
// (and -DSKIP for a PE of a design with array.skip: gate, whose skip bit is held low)
// and run with +vectors=<file>. Last line: RESULT cycles=<n> mismatches=<n>.
`timescale 1ns / 1ps
module tb;
  parameter integer LANES = 1;
  parameter integer ACC_W = 32;

  reg clk = 1'b0;
  reg rst_n = 1'b0;
  reg valid = 1'b0;
  reg clear = 1'b0;
  reg [LANES*8-1:0] act = 0;
  reg [LANES*8-1:0] wgt = 0;
  wire valid_o;
  wire clear_o;
  wire [LANES*8-1:0] act_o;
  wire [LANES*8-1:0] wgt_o;
  wire [ACC_W-1:0] acc_o;

  `DUT #(.ACC_W(ACC_W)) dut (
    .clk_i(clk), .rst_ni(rst_n), .valid_i(valid), .clear_i(clear),
`ifdef SKIP
    // A PE of a design with array.skip: gate, checked with its skip bit low.
    .skip_i(1'b0),
`endif
    .act_i(act), .wgt_i(wgt), .valid_o(valid_o), .clear_o(clear_o),
    .act_o(act_o), .wgt_o(wgt_o), .acc_o(acc_o)
  );

  integer fd;
  integer n;
  integer cycle;
  integer mismatches;
  integer l;
  reg [3:0] ctrl;
  reg [31:0] act_v;
  reg [31:0] wgt_v;
  reg [63:0] acc_v;
  reg [31:0] p0, p1, p2, p3;
  reg [1023:0] path;
  reg [8*256-1:0] line;

  initial begin
    if (!$value$plusargs("vectors=%s", path)) begin
      $display("usage: vvp sim +vectors=FILE");
      $finish;
    end
    fd = $fopen(path, "r");
    if (fd == 0) begin
      $display("cannot open %0s", path);
      $finish;
    end
    n = $fgets(line, fd);  // comment line with the seed
    $write("%0s", line);
    mismatches = 0;
    cycle = 0;
    #1 clk = 1'b1; #1 clk = 1'b0;
    #1 clk = 1'b1; #1 clk = 1'b0;
    while (!$feof(fd)) begin
      n = $fscanf(fd, "%h %h %h %h %h %h %h %h\n", ctrl, act_v, wgt_v, acc_v, p0, p1, p2, p3);
      if (n == 8) begin
        rst_n = !ctrl[2];
        valid = ctrl[0];
        clear = ctrl[1];
        act = act_v[LANES*8-1:0];
        wgt = wgt_v[LANES*8-1:0];
        #1 clk = 1'b1;
        #1 clk = 1'b0;
        if (acc_o !== acc_v[ACC_W-1:0] || act_o !== act || wgt_o !== wgt ||
            valid_o !== (ctrl[2] ? 1'b0 : ctrl[0]) || clear_o !== (ctrl[2] ? 1'b0 : ctrl[1])) begin
          mismatches = mismatches + 1;
          if (mismatches <= 10) begin
            $write("MISMATCH cycle=%0d valid=%0d clear=%0d reset=%0d lanes:", cycle, ctrl[0], ctrl[1], ctrl[2]);
            for (l = 0; l < LANES; l = l + 1)
              $write(" (a%0d=%0d w%0d=%0d)", l, act_v[8*l +: 8], l, $signed(wgt_v[8*l +: 8]));
            $display(" p=%0d,%0d,%0d,%0d expected acc=0x%h got acc=0x%h", $signed(p0), $signed(p1),
                     $signed(p2), $signed(p3), acc_v[ACC_W-1:0], acc_o);
          end
        end
        cycle = cycle + 1;
      end
    end
    $display("RESULT cycles=%0d mismatches=%0d", cycle, mismatches);
    $finish;
  end
endmodule
