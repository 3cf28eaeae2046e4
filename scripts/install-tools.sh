#!/usr/bin/env bash
# Installs what smtgen's flows need when it is missing: Verilator, Yosys, Icarus
# Verilog, a C++ compiler, make and ccache, from Debian's packages. Idempotent.
set -euo pipefail
missing=()
for tool in verilator yosys iverilog g++ make ccache; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-tools: missing ${missing[*]}; installing from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends verilator yosys iverilog g++ make ccache >/dev/null
verilator --version
yosys -V
