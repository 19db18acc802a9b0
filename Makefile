# AudioBot — the two commands a newcomer needs are `make demo` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help demo test lint format bench install sysdeps run portal clean image-test

help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev and test extras

sysdeps: ## Install the system tools tests need (espeak-ng, ffmpeg) when missing
	@scripts/install-system-deps.sh

demo: $(STAMP) ## Open `audiobot chat` on the demo company (embedded emulated Bitrix24)
	$(BIN)/audiobot chat

test: $(STAMP) sysdeps ## Run every test (creates .venv, installs, runs pytest)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

image-test: $(STAMP) ## Build the container image with podman and smoke-test it (no Docker needed)
	@scripts/image-test.sh

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) sysdeps ## Run the benchmarks in bench/ and print their figures
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

run: $(STAMP) ## Run the Telegram bot (needs TELEGRAM_BOT_TOKEN)
	$(BIN)/audiobot run

portal: $(STAMP) ## Serve the emulated Bitrix24 portal with the demo company
	$(BIN)/audiobot demo-portal

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
