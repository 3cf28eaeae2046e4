// Verilator harness for an smtgen output-stationary array.
//
// Replays a binary trace written by smtgen (generator/hdl/src/sim.rs, write_array_trace_binary):
// per cycle it drives in_valid/in_first/in_last, rst_ni (trace ctrl bit 3 holds it low
// for the cycle), the aligned activation and weight groups and, built with
// -DSMTGEN_SKIP (array.skip: gate), the skip mask skip_i, lets the design settle, and compares last_ready_o, every row's res_valid_o
// and, where valid, res_o with the cycle-accurate model; then it clocks. A mismatch
// prints the seed, the cycle, the row, expected and got. The last line is
//   RESULT cycles=<compared> mismatches=<count> results=<valid results compared>
// Build with -DSMTGEN_WAVES for an FST (argv[2]).
#include "Vdut.h"
#include "verilated.h"
#include "tb_util.h"

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

namespace {

using smtgen_tb::le;

// Ports up to 64 bits are integers, wider ones VlWide word arrays.
template <typename P>
void set_bytes(P& port, const uint8_t* b, size_t n) {
  if constexpr (std::is_integral<P>::value) {
    uint64_t v = 0;
    for (size_t k = 0; k < n && k < 8; ++k) v |= static_cast<uint64_t>(b[k]) << (8 * k);
    port = static_cast<P>(v);
  } else {
    for (size_t w = 0; w < sizeof(port) / sizeof(port[0]); ++w) {
      uint32_t v = 0;
      for (size_t k = 0; k < 4; ++k)
        if (4 * w + k < n) v |= static_cast<uint32_t>(b[4 * w + k]) << (8 * k);
      port[w] = v;
    }
  }
}

template <typename P>
uint64_t get_bits(const P& port, unsigned lo, unsigned width) {
  uint64_t v = 0;
  for (unsigned i = 0; i < width; ++i) {
    unsigned bit = lo + i;
    uint64_t b;
    if constexpr (std::is_integral<P>::value) {
      b = (static_cast<uint64_t>(port) >> bit) & 1;
    } else {
      b = (port[bit / 32] >> (bit % 32)) & 1;
    }
    v |= b << i;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint8_t> buf;
  constexpr size_t kHead = 44;
  if (!smtgen_tb::load_trace(argc, argv, "TRACE", "SMTGENA2", kHead, buf)) return 2;
  const uint32_t rows = le<uint32_t>(buf.data() + 8);
  const uint32_t cols = le<uint32_t>(buf.data() + 12);
  const uint32_t lanes = le<uint32_t>(buf.data() + 16);
  const uint32_t acc_w = le<uint32_t>(buf.data() + 20);
  const uint32_t skip_bits = le<uint32_t>(buf.data() + 24);
  const uint64_t seed = le<uint64_t>(buf.data() + 28);
  const uint64_t cycles = le<uint64_t>(buf.data() + 36);
  const size_t na = rows * lanes, nw = cols * lanes, ns = (skip_bits + 7) / 8;
#ifdef SMTGEN_SKIP
  if (skip_bits != rows * cols) {
#else
  if (skip_bits != 0) {
#endif
    std::fprintf(stderr, "%s: %u skip bits do not fit this bench's build\n", argv[1], skip_bits);
    return 2;
  }
  const size_t rec = 1 + na + nw + ns + 1 + rows + 8 * rows;
  if (buf.size() != kHead + cycles * rec) {
    std::fprintf(stderr, "%s: size does not match the header\n", argv[1]);
    return 2;
  }
  const uint64_t mask = smtgen_tb::acc_mask(acc_w);

  smtgen_tb::Sim<Vdut> dut(argc, argv, "array.fst");
  auto settle = [&]() { dut.settle(); };

  std::vector<uint8_t> zeros(na + nw, 0);
  dut->clk_i = 0;
  dut->rst_ni = 0;
  dut->in_valid_i = 0;
  dut->in_first_i = 0;
  dut->in_last_i = 0;
  set_bytes(dut->act_i, zeros.data(), na);
  set_bytes(dut->wgt_i, zeros.data(), nw);
#ifdef SMTGEN_SKIP
  std::vector<uint8_t> no_skip(ns, 0);
  set_bytes(dut->skip_i, no_skip.data(), ns);
#endif
  dut.reset_cycles(2);
  dut->rst_ni = 1;
  settle();

  uint64_t mismatches = 0, results = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const uint8_t* p = buf.data() + kHead;
  for (uint64_t c = 0; c < cycles; ++c, p += rec) {
    // Falling edge and this cycle's inputs in one evaluation; the outputs are all
    // registers, so they can be compared before the rising edge.
    const uint8_t ctrl = p[0];
    dut->clk_i = 0;
    dut->in_valid_i = ctrl & 1;
    dut->in_first_i = (ctrl >> 1) & 1;
    dut->in_last_i = (ctrl >> 2) & 1;
    dut->rst_ni = !((ctrl >> 3) & 1);  // asynchronous: the outputs below are the reset ones
    set_bytes(dut->act_i, p + 1, na);
    set_bytes(dut->wgt_i, p + 1 + na, nw);
#ifdef SMTGEN_SKIP
    set_bytes(dut->skip_i, p + 1 + na + nw, ns);
#endif
    settle();

    const uint8_t* e = p + 1 + na + nw + ns;
    const bool want_ready = e[0];
    auto report = [&](const char* what, uint32_t row, uint64_t want, uint64_t got) {
      if (++mismatches <= 10)
        std::printf("MISMATCH seed=%" PRIu64 " cycle=%" PRIu64 " %s row=%u valid=%d first=%d last=%d "
                    "expected=0x%" PRIx64 " got=0x%" PRIx64 "\n",
                    seed, c, what, row, ctrl & 1, (ctrl >> 1) & 1, (ctrl >> 2) & 1, want, got);
    };
    if (static_cast<bool>(dut->last_ready_o) != want_ready) report("last_ready", 0, want_ready, dut->last_ready_o);
    for (uint32_t r = 0; r < rows; ++r) {
      const uint64_t want_valid = e[1 + r];
      const uint64_t got_valid = get_bits(dut->res_valid_o, r, 1);
      if (got_valid != want_valid) {
        report("res_valid", r, want_valid, got_valid);
      } else if (want_valid) {
        ++results;
        const uint64_t want = static_cast<uint64_t>(le<int64_t>(e + 1 + rows + 8 * r)) & mask;
        const uint64_t got = get_bits(dut->res_o, r * acc_w, acc_w) & mask;
        if (got != want) report("res", r, want, got);
      }
    }
    dut->clk_i = 1;
    settle();
  }
  const double sim_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  dut.finish();
  std::printf("RESULT cycles=%" PRIu64 " mismatches=%" PRIu64 " results=%" PRIu64 " seed=%" PRIu64 " sim_us=%.0f\n",
              cycles, mismatches, results, seed, sim_s * 1e6);
  return mismatches == 0 ? 0 : 1;
}
