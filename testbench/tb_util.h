// Helpers shared by smtgen's Verilator harnesses (pe_tb.cpp, array_tb.cpp).
#ifndef SMTGEN_TB_UTIL_H_
#define SMTGEN_TB_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "verilated.h"
#ifdef SMTGEN_WAVES
#include "verilated_fst_c.h"
#endif

namespace smtgen_tb {

// A little-endian value at p (the files are little-endian, as is every host we build on).
template <typename T>
T le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Reads a whole smtgen trace file and checks its 8-byte magic. On failure prints why
// and returns false.
inline bool read_trace(const char* path, const char* magic, size_t min_size, std::vector<uint8_t>& buf) {
  FILE* f = std::fopen(path, "rb");
  if (!f) {
    std::perror(path);
    return false;
  }
  uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.insert(buf.end(), chunk, chunk + n);
  std::fclose(f);
  if (buf.size() < min_size || std::memcmp(buf.data(), magic, 8) != 0) {
    std::fprintf(stderr, "%s: not an smtgen %s file\n", path, magic);
    return false;
  }
  return true;
}

// Checks the command line (argv[1] a trace file, argv[2] an optional FST) and reads
// the trace (see read_trace); `what` names argv[1] in the usage line. On failure
// prints why and returns false.
inline bool load_trace(int argc, char** argv, const char* what, const char* magic, size_t min_size,
                       std::vector<uint8_t>& buf) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s %s [WAVES.fst]\n", argv[0], what);
    return false;
  }
  return read_trace(argv[1], magic, min_size, buf);
}

// The bits of an acc_w-bit accumulator in a 64-bit word.
inline uint64_t acc_mask(uint32_t acc_w) { return acc_w >= 64 ? ~0ull : ((1ull << acc_w) - 1); }

// A Verilated design with its context and, when built with -DSMTGEN_WAVES, an FST
// trace that records every evaluation.
template <typename Dut>
class Sim {
 public:
  Sim(int argc, char** argv, const char* default_waves) : ctx_(std::make_unique<VerilatedContext>()) {
    ctx_->commandArgs(argc, argv);
    dut_ = std::make_unique<Dut>(ctx_.get());
#ifdef SMTGEN_WAVES
    ctx_->traceEverOn(true);
    tfp_ = std::make_unique<VerilatedFstC>();
    dut_->trace(tfp_.get(), 99);
    tfp_->open(argc > 2 ? argv[2] : default_waves);
#else
    (void)default_waves;
#endif
  }
  Dut* operator->() { return dut_.get(); }
  // Evaluates the design (and dumps a waveform step).
  void settle() {
    dut_->eval();
#ifdef SMTGEN_WAVES
    tfp_->dump(time_);
#endif
    ++time_;
  }
  // From clk_i low: settles, then gives `n` clock cycles (rising then falling edge,
  // each settled). With rst_ni low this is the power-on reset.
  void reset_cycles(int n) {
    settle();
    for (int i = 0; i < n; ++i) {
      dut_->clk_i = 1;
      settle();
      dut_->clk_i = 0;
      settle();
    }
  }
  void finish() {
    dut_->final();
#ifdef SMTGEN_WAVES
    tfp_->close();
#endif
  }

 private:
  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<Dut> dut_;
#ifdef SMTGEN_WAVES
  std::unique_ptr<VerilatedFstC> tfp_;
#endif
  uint64_t time_ = 0;
};

}  // namespace smtgen_tb

#endif  // SMTGEN_TB_UTIL_H_
