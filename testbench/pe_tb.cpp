// Verilator harness for one smtgen processing element.
//
// Replays a binary vector file written by smtgen (generator/src/stimulus.rs): per
// cycle it drives valid, clear, reset and the lane operands, clocks the PE once and
// compares the accumulator with the golden model's value and the systolic
// pass-through outputs with the inputs of that cycle. A mismatch prints the seed,
// the cycle, every lane's inputs, the expected lane products and sum, the expected
// and the received accumulator. The last line is
//   RESULT cycles=<compared> mismatches=<count>
// and the exit code is 0 only when nothing mismatched.
//
// Built by smtgen with -DSMTGEN_LANES=<T> and, for waveforms, -DSMTGEN_WAVES.
#include "Vdut.h"
#include "verilated.h"
#include "tb_util.h"

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#ifndef SMTGEN_LANES
#error "build with -DSMTGEN_LANES=<lanes>"
#endif

namespace {

using smtgen_tb::le;

constexpr int kLanes = SMTGEN_LANES;
constexpr size_t kRecord = 1 + 4 + 4 + 8 + 16;

struct Record {
  bool valid, clear, reset;
  uint8_t act[4];
  int8_t wgt[4];
  int64_t acc;
  int32_t prod[4];
};

Record decode(const uint8_t* p) {
  Record r;
  r.valid = p[0] & 1;
  r.clear = p[0] & 2;
  r.reset = p[0] & 4;
  for (int l = 0; l < 4; ++l) {
    r.act[l] = p[1 + l];
    r.wgt[l] = static_cast<int8_t>(p[5 + l]);
    r.prod[l] = le<int32_t>(p + 17 + 4 * l);
  }
  r.acc = le<int64_t>(p + 9);
  return r;
}

uint64_t pack(const uint8_t* b) {
  uint64_t v = 0;
  for (int l = 0; l < kLanes; ++l) v |= static_cast<uint64_t>(b[l]) << (8 * l);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint8_t> buf;
  if (!smtgen_tb::load_trace(argc, argv, "VECTORS", "SMTGENV1", 32, buf)) return 2;
  const uint32_t lanes = le<uint32_t>(buf.data() + 8);
  const uint32_t acc_w = le<uint32_t>(buf.data() + 12);
  const uint64_t seed = le<uint64_t>(buf.data() + 16);
  const uint64_t cycles = le<uint64_t>(buf.data() + 24);
  if (lanes != kLanes || buf.size() != 32 + cycles * kRecord) {
    std::fprintf(stderr, "%s: lanes %u (harness %d) or size does not match\n", argv[1], lanes, kLanes);
    return 2;
  }
  const uint64_t mask = smtgen_tb::acc_mask(acc_w);

  smtgen_tb::Sim<Vdut> dut(argc, argv, "pe.fst");
  auto settle = [&]() { dut.settle(); };

  // Power-on reset.
  dut->clk_i = 0;
  dut->rst_ni = 0;
  dut->valid_i = 0;
  dut->clear_i = 0;
#ifdef SMTGEN_SKIP
  // A PE of a design with array.skip: gate, checked with its skip bit low.
  dut->skip_i = 0;
#endif
  dut->act_i = 0;
  dut->wgt_i = 0;
  dut.reset_cycles(2);

  uint64_t mismatches = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const uint8_t* p = buf.data() + 32;
  for (uint64_t c = 0; c < cycles; ++c, p += kRecord) {
    const Record r = decode(p);
    const uint64_t act = pack(r.act);
    const uint64_t wgt = pack(reinterpret_cast<const uint8_t*>(r.wgt));
    // Falling edge and this cycle's inputs in one evaluation, then the rising edge.
    dut->clk_i = 0;
    dut->rst_ni = r.reset ? 0 : 1;
    dut->valid_i = r.valid;
    dut->clear_i = r.clear;
    dut->act_i = act;
    dut->wgt_i = wgt;
    settle();
    dut->clk_i = 1;
    settle();

    const uint64_t got = static_cast<uint64_t>(dut->acc_o) & mask;
    const uint64_t want = static_cast<uint64_t>(r.acc) & mask;
    const bool pass_ok = static_cast<uint64_t>(dut->act_o) == act &&
                         static_cast<uint64_t>(dut->wgt_o) == wgt &&
                         dut->valid_o == (r.reset ? 0 : r.valid) &&
                         dut->clear_o == (r.reset ? 0 : r.clear);
    if (got != want || !pass_ok) {
      if (++mismatches <= 10) {
        int64_t sum = 0;
        std::printf("MISMATCH seed=%" PRIu64 " cycle=%" PRIu64 " valid=%d clear=%d reset=%d lanes:", seed, c,
                    r.valid, r.clear, r.reset);
        for (int l = 0; l < kLanes; ++l) {
          std::printf(" (a%d=%u w%d=%d p%d=%d)", l, r.act[l], l, r.wgt[l], l, r.prod[l]);
          sum += r.prod[l];
        }
        std::printf(" sum=%" PRId64 " expected acc=0x%" PRIx64 " got acc=0x%" PRIx64 "%s\n", sum, want, got,
                    pass_ok ? "" : " (pass-through outputs differ)");
      }
    }
  }
  const double sim_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  dut.finish();
  std::printf("RESULT cycles=%" PRIu64 " mismatches=%" PRIu64 " seed=%" PRIu64 " sim_us=%.0f\n", cycles, mismatches,
              seed, sim_s * 1e6);
  return mismatches == 0 ? 0 : 1;
}
