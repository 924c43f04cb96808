# One entry point per habit. Cargo's target folder lives outside the checkout so that a fresh
# clone on the same machine reuses the compiled dependencies (arrow takes minutes to build).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/dagster-fastio/target
PYTHON ?= python3
PIP := $(PYTHON) -m pip --disable-pip-version-check
# Servers the tests start, built once per machine and kept beside Cargo's cache.
TOOLS := $(HOME)/.cache/dagster-fastio/tools
# s3s-fs 0.14 is the last release that builds with Rust 1.95 (0.17 needs 1.96).
S3S_FS_VERSION := 0.14.1
export FASTIO_S3S_FS := $(TOOLS)/bin/s3s-fs

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

.PHONY: test-servers
test-servers:  ## Build the S3 test server (s3s-fs) and install redis-server (celery's broker) unless this machine has them
	@test -x $(FASTIO_S3S_FS) || cargo install --locked --root $(TOOLS) \
		s3s-fs@$(S3S_FS_VERSION) --features binary
	@command -v redis-server >/dev/null || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server; }

.PHONY: test
test: install-dev test-servers  ## Install everything the tests need, then run the Rust and Python tests
	cargo test --workspace --exclude fastio-py -q
	$(PYTHON) -m pytest

.PHONY: lint
lint:  ## rustfmt, clippy -D warnings, ruff, stub check
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -q -- -D warnings
	$(PYTHON) -m ruff check python tests benches tools
	$(PYTHON) -m ruff format --check python tests benches tools
	$(PYTHON) -m mypy.stubtest dagster_fastio._core

.PHONY: bench
bench: install-dev test-servers  ## Measure against pyarrow, polars and Dagster's managers (local and S3), and under the celery and dask executors; writes benches/RESULTS.md
	$(PYTHON) benches/bench_core.py
	$(PYTHON) benches/bench_core.py --threads 1
	$(PYTHON) benches/bench_dagster.py
	$(PYTHON) benches/bench_memory.py
	$(PYTHON) benches/bench_footer.py
	$(PYTHON) benches/bench_store.py
	$(PYTHON) benches/bench_executors.py
	$(PYTHON) benches/bench_parquet.py
	$(PYTHON) benches/bench_duckdb.py
	$(PYTHON) benches/bench_partition_write.py

.PHONY: screenshots
screenshots:  ## Photograph the example assets' metadata in dagster dev (headless Chromium) into docs/screenshots
	$(PIP) install -q '.[demo,screenshots]'
	$(PYTHON) tools/screenshots.py

.PHONY: fmt
fmt:  ## Format Rust and Python
	cargo fmt --all
	$(PYTHON) -m ruff format python tests benches tools
	$(PYTHON) -m ruff check --fix python tests benches tools
