# One entry point per habit. Cargo's target folder lives outside the checkout so that a fresh
# clone on the same machine reuses the compiled dependencies (arrow takes minutes to build).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/dagster-fastio/target
PYTHON ?= python3
PIP := $(PYTHON) -m pip --disable-pip-version-check

.DEFAULT_GOAL := help

.PHONY: help
help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: install
install:  ## Build the wheel (release) and install it with the demo dependencies
	$(PIP) install -q '.[demo]'

.PHONY: install-dev
install-dev:  ## Install with test, bench and lint dependencies
	$(PIP) install -q '.[test,bench,lint]'

.PHONY: demo
demo: install  ## Install, then run the demo on the local disk
	$(PYTHON) -m dagster_fastio.demo

.PHONY: test
test: install-dev  ## Install everything the tests need, then run the Rust and Python tests
	cargo test --workspace --exclude fastio-py -q
	$(PYTHON) -m pytest

.PHONY: lint
lint:  ## rustfmt, clippy -D warnings, ruff, stub check
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -q -- -D warnings
	$(PYTHON) -m ruff check python tests benches
	$(PYTHON) -m ruff format --check python tests benches
	$(PYTHON) -m mypy.stubtest dagster_fastio._core

.PHONY: bench
bench: install-dev  ## Measure against pyarrow, polars and Dagster's managers; writes benches/RESULTS.md
	$(PYTHON) benches/bench_core.py
	$(PYTHON) benches/bench_dagster.py
	$(PYTHON) benches/bench_memory.py

.PHONY: fmt
fmt:  ## Format Rust and Python
	cargo fmt --all
	$(PYTHON) -m ruff format python tests benches
	$(PYTHON) -m ruff check --fix python tests benches
