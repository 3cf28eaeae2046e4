#!/usr/bin/env bash
# Installs what smtgen's flows need when it is missing: Verilator, Yosys, Icarus
# Verilog, a C++ compiler, make and ccache, from Debian's packages. Idempotent.
set -euo pipefail
missing=()
for tool in verilator yosys iverilog g++ make ccache; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# The Python package's tests: Debian's CPU torch (PyPI's default pulls ~3 GB of
# CUDA libraries), numpy, pytest and venv; npm fetches the example's data set.
py=()
for mod in torch:python3-torch numpy:python3-numpy pytest:python3-pytest ensurepip:python3-venv; do
  /usr/bin/python3 -c "import ${mod%%:*}" >/dev/null 2>&1 || py+=("${mod#*:}")
done
command -v npm >/dev/null 2>&1 || py+=(npm)
if [ ${#missing[@]} -eq 0 ] && [ ${#py[@]} -eq 0 ]; then
  exit 0
fi
echo "install-tools: missing ${missing[*]} ${py[*]}; installing from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
pkgs=("${py[@]}")
if [ ${#missing[@]} -gt 0 ]; then pkgs+=(verilator yosys iverilog g++ make ccache); fi
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
verilator --version
yosys -V
