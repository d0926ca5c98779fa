# ophost: every developer and CI command goes through this file.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

UV ?= uv
PY := .venv/bin/python
BUF := .venv/bin/buf

.PHONY: help
help: ## List the targets with what they do
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Create .venv with ophost (editable) and the pinned dev tools
	$(UV) sync --locked

.PHONY: test
test: setup checkgenerate ## Run the whole test suite (unit, property) after the generated-code check
	$(PY) -m pytest -q

.PHONY: lint
lint: setup ## ruff, mypy --strict, import-linter, buf lint and buf format
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	$(BUF) lint
	$(BUF) format -d --exit-code
