#!/usr/bin/env bash
# Installs what smtgen's flows need when it is missing, from Debian's packages:
# Verilator, Yosys, Icarus Verilog, a C++ compiler, make and ccache; OpenSTA and the
# OSU 0.18 um cell library (`smtgen synth/compare --library osu018`); and for the
# Python package's tests Debian's CPU torch (PyPI's default pulls ~3 GB of CUDA
# libraries), numpy, pytest and venv, torchvision (the network tests), matplotlib (the
# report charts), PIL (the EfficientNet example's photographs),
# tqdm (progress bars) and scipy (smtgen.zap's sigmoid fits), mypy
# (`make typecheck`), PyYAML (the sweep's spec), plus npm, which fetches the example's data set.
# Idempotent.
set -euo pipefail
pkgs=()
core=0
for tool in verilator yosys iverilog g++ make ccache; do
  command -v "$tool" >/dev/null 2>&1 || core=1
done
if [ "$core" -eq 1 ]; then pkgs+=(verilator yosys iverilog g++ make ccache); fi
command -v sta >/dev/null 2>&1 || pkgs+=(opensta)
[ -f /usr/share/qflow/tech/osu018/osu018_stdcells.lib ] || pkgs+=(qflow-tech-osu018)
for mod in torch:python3-torch numpy:python3-numpy pytest:python3-pytest ensurepip:python3-venv \
    torchvision:python3-torchvision matplotlib:python3-matplotlib PIL:python3-pil tqdm:python3-tqdm scipy:python3-scipy mypy:python3-mypy yaml:python3-yaml; do
  /usr/bin/python3 -c "import ${mod%%:*}" >/dev/null 2>&1 || pkgs+=("${mod#*:}")
done
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
if [ ${#pkgs[@]} -eq 0 ]; then
  exit 0
fi
echo "install-tools: installing ${pkgs[*]} from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
verilator --version
yosys -V
