# AudioBot — the two commands a newcomer needs are `make demo` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two installs, two stamps: `make demo` needs only the runtime dependencies (`pip install -e .`);
# tests, lint and benchmarks need the dev extra too (test model, pytest, ruff, mypy, …). Each
# stamp is redone when pyproject.toml changes; `make demo` then `make test` adds the dev extra.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: help demo test lint format docs bench install pre-commit sysdeps run portal clean image-test

help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(RUNTIME)

install: $(DEV) ## Create .venv and install the project with its dev and test extras

pre-commit: $(DEV) ## Run the lint hooks before every `git commit` (pre-commit install)
	$(BIN)/pre-commit install

sysdeps: ## Install the system tools tests need (espeak-ng, ffmpeg) when missing
	@scripts/install-system-deps.sh

demo: $(RUNTIME) ## Open `audiobot chat` on the demo company (runtime dependencies only)
	$(BIN)/audiobot chat

test: $(DEV) sysdeps ## Run every test (creates .venv, installs, runs pytest)
	$(BIN)/python -m pytest

lint: $(DEV) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

image-test: $(DEV) ## Build the container image with podman and smoke-test it (no Docker needed)
	@scripts/image-test.sh

format: $(DEV) ## Reformat the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(RUNTIME) ## Regenerate the docs' real-output blocks (tests/test_doc_outputs.py checks them)
	$(BIN)/python scripts/regen_doc_outputs.py

bench: $(DEV) sysdeps ## Run the benchmarks in bench/ and print their figures
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

run: $(RUNTIME) ## Run the Telegram bot (needs TELEGRAM_BOT_TOKEN)
	$(BIN)/audiobot run

portal: $(RUNTIME) ## Serve the emulated Bitrix24 portal with the demo company
	$(BIN)/audiobot demo-portal

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
