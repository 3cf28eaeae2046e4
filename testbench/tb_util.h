// Helpers shared by smtgen's Verilator harnesses (pe_tb.cpp, array_tb.cpp).
#ifndef SMTGEN_TB_UTIL_H_
#define SMTGEN_TB_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

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

}  // namespace smtgen_tb

#endif  // SMTGEN_TB_UTIL_H_
