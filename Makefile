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

# The wheel users install, and the one `make install` and `make install-dev` install: abi3 (one
# file for CPython >= 3.10), manylinux_2_17, linked by zig against glibc 2.17's symbols whatever
# this machine's glibc is. 2.17 is the oldest glibc Rust's std supports, so no Rust wheel can ask
# for less; pip >= 19.3 installs it on any glibc Linux of the last ten years. The release
# workflow (.github/workflows/release.yml) builds its Linux wheels with these flags too.
WHEEL_TOOLS := maturin==1.16.0 ziglang==0.17.1 auditwheel==6.8.2
# pyproject.toml's [tool.maturin] adds the release profile and --locked.
export FASTIO_WHEEL_FLAGS := --zig --compatibility manylinux_2_17
# An explicit --target keeps zig's objects in their own folder of CARGO_TARGET_DIR, apart from
# those of the host's C compiler (`cargo build`, `pip install .`), so neither rebuilds the other.
WHEEL_TARGET = $(shell rustc -vV | sed -n 's/^host: //p')
# maturin runs zig as `python -m ziglang` with the interpreter the tools were installed into,
# and that interpreter configures pyo3: the wheel is abi3 whichever it is, and naming it keeps
# pyo3's build the same in tests/test_wheel.py's sdist build, which names it too.
WHEEL_PYTHON = $$($(PYTHON) -c 'import sys; print(sys.executable)')

.DEFAULT_GOAL := help

.PHONY: help
help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: wheel
wheel:  ## Build the release wheel (manylinux, abi3) and the sdist into dist/, check them with auditwheel
	$(PIP) install -q $(WHEEL_TOOLS)
	rm -rf dist
	CARGO_ZIGBUILD_PYTHON_PATH=$(WHEEL_PYTHON) $(PYTHON) -m maturin build $(FASTIO_WHEEL_FLAGS) \
		--target $(WHEEL_TARGET) --interpreter $(WHEEL_PYTHON) --out dist
	$(PYTHON) -m maturin sdist --out dist
	$(PYTHON) tools/check_wheel.py dist

# pip keeps an installed release of the same version unless told to replace it: the extras
# resolve first, then the wheel just built replaces whatever dagster-fastio was there.
.PHONY: install
install: wheel  ## Build the wheel and install it with the demo dependencies
	$(PIP) install -q "$$(ls dist/*.whl)[demo]"
	$(PIP) install -q --force-reinstall --no-deps dist/*.whl

.PHONY: install-dev
install-dev: wheel  ## Build the wheel and install it with test, bench and lint dependencies
	$(PIP) install -q "$$(ls dist/*.whl)[test,bench,lint]"
	$(PIP) install -q --force-reinstall --no-deps dist/*.whl

.PHONY: demo
demo: install  ## Install, then run the demo on the local disk
	$(PYTHON) -m dagster_fastio.demo

.PHONY: test-servers
test-servers:  ## Build the S3 test server (s3s-fs), install redis-server (celery's broker) and postgresql (the report's Postgres instance) unless this machine has them
	@test -x $(FASTIO_S3S_FS) || cargo install --locked --root $(TOOLS) \
		s3s-fs@$(S3S_FS_VERSION) --features binary
	@command -v redis-server >/dev/null || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server; }
	@# Debian keeps initdb and postgres in /usr/lib/postgresql/<major>/bin, off PATH; the
	@# test fixture looks there too (tests/postgres_server.py).
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null || { \
		apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }

.PHONY: test
test: install-dev test-servers  ## Install everything the tests need, then run the Rust and Python tests
	cargo test --workspace --exclude fastio-py -q
	$(PYTHON) -m pytest

# Where pip put the console scripts of $(PYTHON)'s installation (actionlint among them).
SCRIPTS = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))')

.PHONY: lint
lint:  ## rustfmt, clippy -D warnings, ruff, the Python layer contract, stub check, actionlint on the workflows
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -q -- -D warnings
	$(PYTHON) -m ruff check python tests benches tools
	$(PYTHON) -m ruff format --check python tests benches tools
	# pyproject.toml's [tool.importlinter] contracts, checked on the source tree, not an
	# installed copy: layers that import downward only, no cycle, Dagster in io_manager alone.
	PYTHONPATH=python $(SCRIPTS)/lint-imports --no-cache
	$(PYTHON) -m mypy.stubtest dagster_fastio._core
	$(SCRIPTS)/actionlint
	@grep -qF -- 'args: $(FASTIO_WHEEL_FLAGS)' .github/workflows/release.yml || { \
		echo "release.yml builds Linux wheels without make wheel's flags: $(FASTIO_WHEEL_FLAGS)"; \
		exit 1; }

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
	$(PYTHON) benches/bench_append.py

# Chromium and its driver from Debian, selenium and dagster-webserver as pyproject.toml's
# `screenshots` extra lists them (the webserver requires exactly the dagster release of its
# number): documentation tools, not test dependencies.
SCREENSHOT_PACKAGES := dagster-webserver==1.13.27 'selenium>=4.20'
.PHONY: screenshot-tools
screenshot-tools:  ## Install Chromium, chromedriver (apt) and the screenshots extra's packages (pip)
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		chromium chromium-driver; }
	$(PIP) install -q $(SCREENSHOT_PACKAGES)

.PHONY: screenshots
screenshots: install screenshot-tools  ## Photograph the example assets' metadata in dagster dev (headless Chromium) into docs/screenshots
	$(PYTHON) tools/screenshots.py

.PHONY: screenshot-ui
screenshot-ui: install screenshot-tools  ## Photograph Dagster's plot of a dagster_fastio/ key (headless Chromium) and draw fastio report's chart into docs/
	$(PYTHON) tools/screenshot_ui.py

.PHONY: fmt
fmt:  ## Format Rust and Python
	cargo fmt --all
	$(PYTHON) -m ruff format python tests benches tools
	$(PYTHON) -m ruff check --fix python tests benches tools

# `make -s print-NAME` prints a variable as this file sets it (tests/test_wheel.py reads the
# wheel's flags and the cargo target folder so, when pytest is started without make).
print-%:
	@echo '$($*)'
