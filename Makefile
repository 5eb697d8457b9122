# DriftDB — `make help` lists the targets.

# One build cache outside the clone, shared by every checkout and by CI on this machine.
CARGO_TARGET_DIR ?= $(HOME)/.cache/driftdb/target
export CARGO_TARGET_DIR
CARGO ?= cargo
CARGO_FLAGS ?= --locked
# Every cargo command selects the same packages and targets (the whole workspace with its tests),
# so every command resolves the same dependency features and reuses one build of RocksDB and
# DataFusion. Building a single package or only the binaries would resolve other features and
# rebuild them from scratch.
BUILD = $(CARGO) build $(CARGO_FLAGS) --workspace --all-targets
# What `make run` serves and the benchmarks measure: the release profile (everything at
# opt-level 3), a second build beside the test profile's, made only by these targets, so
# `make test` and CI never pay for it. One command for all of them, so they share one build.
RELEASE_BUILD = $(CARGO) build $(CARGO_FLAGS) --release --workspace --bins --examples
RELEASE = $(CARGO_TARGET_DIR)/release
DATA ?= ./data
SERVER_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help deps reference-deps client-deps build run test bench bench-store fuzz soak lint fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

# RocksDB's Rust bindings run bindgen at build time, which needs libclang (Debian: clang,
# libclang-dev); the integration tests stop the server with /bin/kill (procps).
deps: ## Install missing system packages (clang, libclang-dev, procps)
	@missing=""; \
	for p in clang libclang-dev; do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v c++ >/dev/null 2>&1 || missing="$$missing g++"; \
	[ -x /bin/kill ] || [ -x /usr/bin/kill ] || missing="$$missing procps"; \
	if [ -n "$$missing" ]; then \
		echo "installing missing packages:$$missing"; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi; \
	command -v $(CARGO) >/dev/null 2>&1 || { echo "cargo is missing: install a Rust toolchain (1.95+)" >&2; exit 1; }

# The standard-SQL .slt files and the benchmarks run against Debian's PostgreSQL server too,
# started by the test or benchmark itself in a temporary directory on a free port (as the postgres
# user when run as root).
reference-deps: deps
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "installing postgresql (the reference for tests and benchmarks)"; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq postgresql; \
	fi

# The client matrix's drivers, pinned, outside the clone (reused by later runs on this machine):
# the Python ones in a virtualenv (Debian's python3 needs python3-venv for `python3 -m venv`),
# node-postgres under $(NODE_CLIENTS), pgjdbc from Debian (run by `java` in source-file mode,
# which needs a JDK).
VENV ?= $(HOME)/.cache/driftdb/venv
PYTHON_CLIENTS = psycopg2-binary==2.9.13 psycopg[binary]==3.3.9 asyncpg==0.32.0 sqlalchemy==2.1.9
NODE_CLIENTS ?= $(HOME)/.cache/driftdb/node
NODE_PACKAGES = pg@8.23.1
client-deps:
	@if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then \
		echo "installing python3-venv (for the client tests)"; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq python3 python3-venv python3-pip; \
	fi
	@if ! $(VENV)/bin/python -c 'import psycopg2, psycopg, asyncpg, sqlalchemy' >/dev/null 2>&1; then \
		echo "installing the Python client drivers into $(VENV)"; \
		python3 -m venv $(VENV) && $(VENV)/bin/pip install -q $(PYTHON_CLIENTS); \
	fi
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "installing nodejs and npm (for the client tests)"; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nodejs npm; \
	fi
	@missing=""; \
	[ -f /usr/share/java/postgresql.jar ] || missing="$$missing libpostgresql-jdbc-java"; \
	command -v javac >/dev/null 2>&1 || missing="$$missing default-jdk-headless"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (for the JDBC client test)"; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi
	@if [ ! -f $(NODE_CLIENTS)/node_modules/pg/package.json ]; then \
		echo "installing node-postgres into $(NODE_CLIENTS)"; \
		mkdir -p $(NODE_CLIENTS) && npm install -s --no-audit --no-fund --prefix $(NODE_CLIENTS) $(NODE_PACKAGES); \
	fi

build: deps ## Build the server and every test
	$(BUILD)

run: deps ## Build (optimised) and start the server on 127.0.0.1:5433 with data in ./data
	$(RELEASE_BUILD)
	$(RELEASE)/driftdb-server --data-path $(DATA) $(SERVER_ARGS)

test: reference-deps client-deps ## Build everything and run every test (unit, .slt in-process and over the wire, integration, client drivers)
	$(BUILD)
	$(CARGO) test $(CARGO_FLAGS) --workspace

bench: reference-deps ## DriftDB (optimised) beside a reference PostgreSQL, same workloads over the wire, ratios printed
	$(RELEASE_BUILD)
	$(RELEASE)/examples/bench

# The engine's own numbers (commit rates, scan rates, bytes per version), on a fresh directory on
# the same disk as the build cache, optimised like `make bench`.
bench-store: deps ## Measure the event store alone: commits/s, scan rows/s, bytes per version
	$(RELEASE_BUILD)
	@dir=$$(mktemp -d "$(CARGO_TARGET_DIR)/bench-store.XXXXXX"); \
	$(RELEASE)/examples/store_bench "$$dir"; status=$$?; rm -rf "$$dir"; exit $$status

# Long runs of what `make test` runs briefly with a fixed seed. The fuzzers take a new seed each
# run unless FUZZ_SEED is given; every difference or failure they report names its seed.
FUZZ_SECONDS ?= 300
FUZZ_SEED ?= $(shell date +%s)
fuzz: reference-deps ## Query fuzzer (DriftDB against PostgreSQL) and wire fuzzer, FUZZ_SECONDS (300) each
	$(BUILD)
	$(CARGO_TARGET_DIR)/debug/examples/query_fuzz --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED)
	$(CARGO_TARGET_DIR)/debug/examples/wire_fuzz --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED)

SOAK_SECONDS ?= 600
SOAK_CLIENTS ?= 64
SOAK_CRASH_ROUNDS ?= 100
soak: deps ## 64 clients on a mixed load for SOAK_SECONDS (600), then SOAK_CRASH_ROUNDS (100) kill -9 rounds; nothing acknowledged may be lost
	$(BUILD)
	$(CARGO_TARGET_DIR)/debug/examples/soak --seconds $(SOAK_SECONDS) --clients $(SOAK_CLIENTS) --crash-rounds $(SOAK_CRASH_ROUNDS)

lint: deps ## cargo fmt --check, clippy with warnings as errors, and the SQL layer's one-way module layers
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings
	$(CARGO) test $(CARGO_FLAGS) --workspace --test layers

fmt: ## Format the code
	$(CARGO) fmt --all

clean: ## Remove the build cache
	$(CARGO) clean
