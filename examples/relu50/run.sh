#!/usr/bin/env bash
# Worked example: a synthetic ReLU layer (1024 output pixels, K = 576 as in a 3x3
# convolution over 64 channels, 64 output channels) with 50 % zero activations,
# evaluated for every preset on a 16x16 array. Writes report.md, report.svg,
# report.json and quant.json next to this script; output.txt is what it printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -- eval --synthetic relu --zero 0.5 --m 1024 --k 576 --n 64 --seed 1 \
  --report examples/relu50 | tee examples/relu50/output.txt
