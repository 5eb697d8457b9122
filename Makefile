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
DATA ?= ./data
SERVER_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help deps build run test lint fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-6s %s\n", $$1, $$2}'

deps: ## Install missing system packages (clang, libclang-dev)
	@scripts/install-deps.sh

build: deps ## Build the server and every test
	$(BUILD)

run: deps ## Build and start the server on 127.0.0.1:5433 with data in ./data
	$(BUILD)
	$(CARGO_TARGET_DIR)/debug/driftdb-server --data-path $(DATA) $(SERVER_ARGS)

test: deps ## Build everything and run every test (unit, .slt in-process and over the wire, integration)
	$(BUILD)
	$(CARGO) test $(CARGO_FLAGS) --workspace

lint: deps ## cargo fmt --check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

clean: ## Remove the build cache
	$(CARGO) clean
