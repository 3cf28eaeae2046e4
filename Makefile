# smtgen: generate, lint, simulate, synthesize and test.
#   make run                 quickstart: generate the default PE and prove it under Verilator
#   make test                everything CI runs (installs the tools it needs)
#   make gen PRESET=sysmt4   generate one preset into rtl_out/
#   make sim PRESET=sysmt4 WAVES=1   simulate a PE against the golden model, with an FST
#   make sim-array PRESET=sysmt4 ROWS=8 COLS=8 WAVES=1   the same for an array
#   make regress-cover       the covering set's non-preset points (in make test)
#   make snapshots           refresh the golden RTL snapshots after an intended change
#   make bench               golden-model throughput
#   make pytest              the Python package (python/) built into .venv, and its tests
#   make fashion-mnist       the worked example: accuracy of a CNN under every preset
PRESET   ?= sysmt2
OUT      ?= rtl_out
CYCLES   ?= 1000000
ROWS     ?= 4
PROVE_TIMEOUT ?= 1800
COLS     ?= 4
SMTGEN   := target/release/smtgen
CARGO    ?= cargo
VENV     ?= .venv
PYTHON   := $(VENV)/bin/python

.PHONY: all setup build run gen lint sim sim-array regress regress-cover snapshots regress-large test unit fmt-check clippy prove bench bench-eval bench-array clean pyenv pytest fashion-mnist

all: build

setup:
	@bash scripts/install-tools.sh

build:
	$(CARGO) build --release

run: setup build
	$(SMTGEN) gen --preset $(PRESET) --out $(OUT)
	$(SMTGEN) sim --preset $(PRESET) --simulator both --cycles 200000

gen: build
	$(SMTGEN) gen --preset $(PRESET) --out $(OUT)

lint: build
	$(SMTGEN) lint --all

sim: build
	$(SMTGEN) sim --preset $(PRESET) --simulator both --cycles $(CYCLES)

sim-array: build
	$(SMTGEN) sim --array --preset $(PRESET) --rows $(ROWS) --cols $(COLS) --simulator both

regress: build
	$(SMTGEN) regress --cycles $(CYCLES)

# The covering set's points that no preset is (the presets run in `regress`): every
# combination of every template's branch values, PE and arrays 2x3 and 4x4, plus one
# size corner per point in turn (1x1, 1x4, 4x1, 3x2, 5x6).
regress-cover: build
	$(SMTGEN) regress --cover --skip-presets --cycles 200000

# Refresh the golden RTL in generator/tests/snapshots after an intended template change.
snapshots:
	SMTGEN_BLESS=1 $(CARGO) test --release --test snapshots

regress-large: build
	$(SMTGEN) regress --array --sizes 32x32,64x64 --presets baseline,sysmt2,sysmt4,sparq-4b5opt

# Equivalence proofs of every PE datapath against its behavioural reference, both
# rounding modes: all 21 designs in about 3.7 minutes on two cores (`make test` runs
# the same proofs through the test suite).
prove: build
	$(SMTGEN) prove --both-roundings --timeout $(PROVE_TIMEOUT)

bench-eval: build
	$(SMTGEN) bench --eval

bench-array: build
	$(SMTGEN) bench --array --sizes 16x16,32x32

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --release --all-targets -- -D warnings

unit:
	$(CARGO) test --release

# The Python package in a venv that sees Debian's torch and numpy (PyPI's torch is
# never needed); pytest's exit status fails the target, "no tests" (5) included.
$(PYTHON):
	/usr/bin/python3 -m venv --system-site-packages $(VENV)

pyenv: $(PYTHON)
	$(PYTHON) -c "import maturin" 2>/dev/null || $(PYTHON) -m pip install -q --disable-pip-version-check "maturin>=1.5,<2"
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall ./python

pytest: build pyenv
	$(PYTHON) -m pytest -q python/tests

fashion-mnist: pyenv
	$(PYTHON) examples/fashion_mnist/run.py

test: setup fmt-check clippy unit regress regress-cover pytest

bench: build
	$(SMTGEN) bench

clean:
	$(CARGO) clean
	rm -rf $(OUT)
