# smtgen: generate, lint, simulate, synthesize and test.
#   make run                 quickstart: generate the default PE and prove it under Verilator
#   make test                everything CI runs (installs the tools it needs)
#   make gen PRESET=sysmt4   generate one preset into rtl_out/
#   make sim PRESET=sysmt4 WAVES=1   simulate against the golden model, with an FST
#   make bench               golden-model throughput
PRESET   ?= sysmt2
OUT      ?= rtl_out
CYCLES   ?= 1000000
SMTGEN   := target/release/smtgen
CARGO    ?= cargo

.PHONY: all setup build run gen lint sim regress test unit fmt-check clippy bench clean

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

regress: build
	$(SMTGEN) regress --cycles $(CYCLES)

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --release --all-targets -- -D warnings

unit:
	$(CARGO) test --release

test: setup fmt-check clippy unit regress

bench: build
	$(SMTGEN) bench

clean:
	$(CARGO) clean
	rm -rf $(OUT)
