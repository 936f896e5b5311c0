# Switchyard — the single entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
# Use uv from PATH when there is one; otherwise bootstrap a private copy (needs only python3).
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
PYTEST_ARGS ?=

$(CURDIR)/.tools/bin/uv:
	@echo "bootstrapping uv $(UV_VERSION) into .tools/ ..."
	@python3 -m venv .tools && .tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

.PHONY: help setup run test test-fast fuzz lint format check clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: | $(UV) ## Install every library, service and dev tool into .venv (from uv.lock)
	@$(UV) sync --all-packages --frozen --quiet --compile-bytecode
	@$(UV) run --frozen --no-sync python -m compileall -q libs services bench > /dev/null

run: setup ## Run the whole suite locally (embedded NATS + Postgres unless SY_NATS_URL / SY_DATABASE_URL)
	@$(UV) run --frozen switchyard run

.PHONY: demo
demo: setup ## Watch a pilot and a wave migrate a simulated fleet from 'legacy' to 'new' (about a minute)
	@$(UV) run --frozen switchyard demo

test: setup ## Run every test: unit, component and end-to-end (real NATS, Postgres, sockets)
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

test-fast: setup ## Unit and component tests only (skips the end-to-end suite)
	@$(UV) run --frozen pytest -m "not e2e" $(PYTEST_ARGS)

fuzz: setup ## Fuzz every service's OpenAPI with schemathesis as admin: no 5xx, no schema violation
	@SY_FUZZ=1 $(UV) run --frozen pytest tests/fuzz $(PYTEST_ARGS)

.PHONY: bench
BENCH_ARGS ?=
bench: setup ## Measure Switchyard against going direct and ocpp-broker (results in bench/results; BENCH_ARGS=--quick)
	@$(UV) run --frozen switchyard bench $(BENCH_ARGS)

lint: setup ## ruff (lint + format check) and mypy --strict
	@$(UV) run --frozen ruff check libs services tests
	@$(UV) run --frozen ruff format --check libs services tests
	@$(UV) run --frozen mypy

format: setup ## Format and auto-fix with ruff
	@$(UV) run --frozen ruff format libs services tests
	@$(UV) run --frozen ruff check --fix libs services tests

check: lint test ## What CI runs: lint, then the whole test suite

clean: ## Remove local state (.sy/ holds the dev NATS and Postgres data)
	rm -rf .sy .venv .tools .pytest_cache .mypy_cache .ruff_cache
