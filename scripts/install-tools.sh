#!/usr/bin/env bash
# Installs what smtgen's flows need when it is missing: Verilator, Yosys, Icarus
# Verilog, a C++ compiler, make and ccache, from Debian's packages. Idempotent.
set -euo pipefail
missing=()
for tool in verilator yosys iverilog g++ make ccache; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# OpenSTA and the OSU 0.18 um cell library, for `smtgen synth/compare --library osu018`.
command -v sta >/dev/null 2>&1 || missing+=(opensta)
[ -f /usr/share/qflow/tech/osu018/osu018_stdcells.lib ] || missing+=(qflow-tech-osu018)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-tools: missing ${missing[*]}; installing from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends verilator yosys iverilog g++ make ccache \
  opensta qflow-tech-osu018 >/dev/null
verilator --version
yosys -V
