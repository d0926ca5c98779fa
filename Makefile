# ophost: every developer and CI command goes through this file.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# uv manages the environment. On a machine without it, a pinned copy is installed
# into .tools/ from PyPI with the system's python3.
UV_VERSION := 0.13.8
UV ?= $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
PY := .venv/bin/python
BUF := .venv/bin/buf

.PHONY: help
help: ## List the targets with what they do
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.PHONY: setup
setup: $(if $(findstring .tools,$(UV)),$(UV)) ## Create .venv with ophost (editable) and the pinned dev tools
	$(UV) sync --locked --quiet

.PHONY: test
test: setup checkgenerate lint breaking unit e2e go-test ts-test conformance compat ## Everything CI checks: generated code, lint, types, breaking changes, all tests

# The Python tests split on the pytest marker `crosslang`: tests that run Go, Node or
# a Go tool (grpcurl) carry it. Both targets set OPHOST_REQUIRE_TOOLS, so a test that
# finds a tool missing fails instead of skipping: in `unit` that catches a test that
# needs a tool but lacks the marker, in `e2e` a tool that was not installed.
#
# PostgreSQL (Debian's postgresql, which .ci/run installs) is the exception: on a machine
# without it, and outside CI, both targets say so and let its tests skip rather than fail
# (OPHOST_POSTGRES_OPTIONAL; see tests/postgres.py).
POSTGRES_OPTIONAL_IF_MISSING = $(PY) -m tests.postgres check || export OPHOST_POSTGRES_OPTIONAL=1;

.PHONY: unit
unit: setup ## Python tests that need neither Go nor Node: unit, property and Python end-to-end tests
	$(POSTGRES_OPTIONAL_IF_MISSING) OPHOST_REQUIRE_TOOLS=1 $(PY) -m pytest -q -m "not crosslang"

.PHONY: e2e
e2e: setup tools go-build ts-build ## Python tests that drive Go, Node or grpcurl (marker crosslang); builds both clients first
	$(POSTGRES_OPTIONAL_IF_MISSING) OPHOST_REQUIRE_TOOLS=1 $(PY) -m pytest -q -m crosslang

# The fuzz test of the host's nine RPCs (tests/e2e/test_fuzz.py) runs a few thousand
# examples in `make unit`; this runs 100,000 (FUZZ_EXAMPLES=N for another number).
FUZZ_EXAMPLES ?= 100000

.PHONY: fuzz
fuzz: setup ## Fuzz every RPC of a real host with 100,000 hostile requests (FUZZ_EXAMPLES=N)
	OPHOST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q tests/e2e/test_fuzz.py

# The lowest supported Python, if this machine has it, with the lowest allowed
# versions of the runtime dependencies (the floors set by the generated code).
PY310 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) $(shell command -v python3.10 2>/dev/null))

.PHONY: compat
compat: setup ## Unit tests on Python 3.10 with the lowest allowed grpcio/protobuf (skipped without 3.10)
	@if [ -z "$(PY310)" ] || ! "$(PY310)" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
		echo "compat: no working python3.10 on this machine; skipped"; exit 0; fi; \
	set -x; \
	$(UV) venv --quiet --allow-existing -p "$(PY310)" .venv-compat && \
	UV_RESOLUTION=lowest-direct $(UV) pip install --quiet -p .venv-compat -e . \
		pytest==9.2.0 pytest-asyncio==1.5.0 pytest-timeout==2.4.0 hypothesis==6.149.1 && \
	.venv-compat/bin/python -c 'import google.protobuf, grpc; print("compat: protobuf", google.protobuf.__version__, "grpcio", grpc.__version__)' && \
	.venv-compat/bin/python -m pytest -q -p no:cacheprovider tests/unit

.PHONY: lint
lint: setup tools ts-deps web-deps ## ruff, mypy --strict, import-linter, buf lint and format, go vet, gofmt and staticcheck, tsc
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	$(BUF) lint
	$(BUF) format -d --exit-code
	cd $(GO_DIR) && $(GO) vet ./... && { out=$$(gofmt -l .); [ -z "$$out" ] || { echo "gofmt wants to change: $$out" >&2; exit 1; }; }
	cd $(GO_DIR) && $(GO_BIN)/staticcheck ./...
	cd $(TS_DIR) && npm run --silent lint
	cd $(WEB_DIR) && npm run --silent lint

.PHONY: fmt
fmt: setup ## Apply ruff's fixes and formatting, and gofmt
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .
	cd $(GO_DIR) && gofmt -w .

.PHONY: demo
demo: setup ## Run the example ops in process and print their events
	$(PY) -m examples.run_in_process

.PHONY: serve
serve: setup ## Serve the example ops on 127.0.0.1:50051 (gRPC) and 127.0.0.1:8080 (web console)
	$(PY) -m ophost serve -f examples/ops.py --http-port 8080

.PHONY: bench
bench: setup go-build ## Benchmarks: ophost vs a bare gRPC baseline, side by side
	$(PY) -m bench.run

.PHONY: ci
ci: test ## What .ci/run runs

# ---- Go and TypeScript clients, grpcurl, conformance --------------------------
# Go tools are installed from the Go module proxy at pinned versions into
# .tools/go/bin; npm packages from the npm registry by `npm ci` (package-lock.json).
GO ?= go
GO_DIR := client/go
TS_DIR := client/ts
GO_BIN := $(CURDIR)/.tools/go/bin
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPCURL_VERSION := v1.9.3
STATICCHECK_VERSION := v0.8.2

.PHONY: tools
tools: ## Install the pinned Go tools (protoc-gen-go, protoc-gen-go-grpc, grpcurl, staticcheck) into .tools/go/bin
	GOBIN=$(GO_BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(GO_BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	GOBIN=$(GO_BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
	GOBIN=$(GO_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TS_DIR)/node_modules/.package-lock.json: $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error

.PHONY: ts-deps
ts-deps: $(TS_DIR)/node_modules/.package-lock.json ## Install the TypeScript client's npm packages (npm ci)

.PHONY: go-build
go-build: ## Build the Go client and its programs (conformance, benchload, tracecall in client/go/bin)
	cd $(GO_DIR) && $(GO) build ./... && $(GO) build -o bin/conformance ./conformance && $(GO) build -o bin/benchload ./benchload && $(GO) build -o bin/tracecall ./tracecall

.PHONY: ts-build
ts-build: ts-deps ## Compile the TypeScript client, its tests and its conformance program (client/ts/dist)
	cd $(TS_DIR) && npm run --silent build

.PHONY: go-test
go-test: setup go-build ## Go client tests (against a real server started by the tests)
	cd $(GO_DIR) && $(GO) test -count=1 ./...

.PHONY: ts-test
ts-test: setup ts-deps ## TypeScript client tests (against a real server started by the tests)
	cd $(TS_DIR) && npm test --silent

.PHONY: conformance
conformance: setup go-build ts-build ## Every conformance case with every client (Python, Go, TypeScript), every store, op bodies in worker processes and in Ray, over mTLS with tokens, over the browser door (connect-web), and the ops' Dagster twins; prints case x client
	$(PY) -m tests.conformance.run --store memory
	$(PY) -m tests.conformance.run --store memory --secure
	$(PY) -m tests.conformance.run --store sqlite --door http
	$(PY) -m tests.conformance.run --store sqlite
	$(PY) -m tests.conformance.run --store postgresql
	$(PY) -m tests.conformance.run --store sqlite --executor process
	$(PY) -m tests.conformance.run --executor ray
	$(PY) -m tests.conformance.run --ops dagster
	$(PY) -m tests.conformance.run --ops dagster --store sqlite --executor process

# ---- Web console (client/web, built into server/ophost/console/static) -------
# The console's built files are checked in and shipped in the wheel, so installing
# ophost is enough to serve it; `make generate` rebuilds them (deterministically), and
# `make checkgenerate` fails on a stale build.
WEB_DIR := client/web
CONSOLE_DIR := server/ophost/console/static

$(WEB_DIR)/node_modules/.package-lock.json: $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && npm ci --no-audit --no-fund --loglevel=error

.PHONY: web-deps
web-deps: $(WEB_DIR)/node_modules/.package-lock.json ## Install the web console's npm packages (npm ci)

.PHONY: web-build
web-build: web-deps ## Build the web console into server/ophost/console/static (make generate does it too)
	cd $(WEB_DIR) && npm run --silent build

# ---- Protocol schema (protos/ophost/v1) and generated code -------------------
PROTO_DIR := protos
PROTO_FILES = $(sort $(wildcard $(PROTO_DIR)/ophost/v1/*.proto))
# Only files that declare a service get *_pb2_grpc modules (no empty ones).
PROTO_SERVICE_FILES = $(shell grep -l '^service ' $(PROTO_FILES))
PROTOC := PATH="$(CURDIR)/.venv/bin:$$PATH" $(PY) -m grpc_tools.protoc -I $(PROTO_DIR)
GEN_PY_DIR := server/ophost/v1
GENERATED = $(GEN_PY_DIR) $(GO_DIR)/gen $(TS_DIR)/src/gen $(WEB_DIR)/src/gen $(CONSOLE_DIR)
# `make breaking BASE=<git ref>` checks against another ref (a release tag in CI).
BASE ?=
BREAKING_AGAINST = $(if $(BASE),.git#ref=$(BASE),.git#branch=main),subdir=$(PROTO_DIR)

.PHONY: generate
generate: setup tools ts-deps web-deps ## Format the protos; regenerate the Python, Go and TypeScript wire code; rebuild the web console
	$(BUF) format -w $(PROTO_DIR)
	mkdir -p $(GEN_PY_DIR)
	rm -f $(GEN_PY_DIR)/*_pb2.py $(GEN_PY_DIR)/*_pb2.pyi $(GEN_PY_DIR)/*_pb2_grpc.py $(GEN_PY_DIR)/*_pb2_grpc.pyi
	$(PROTOC) --python_out=server --mypy_out=server --mypy_opt=quiet $(PROTO_FILES)
	$(PROTOC) --grpc_python_out=server --mypy_grpc_out=server --mypy_grpc_opt=quiet \
		$(PROTO_SERVICE_FILES)
	rm -f $(GEN_PY_DIR)/*_connect.py
	$(PROTOC) --connectrpc_out=server --connectrpc_opt=protobuf=google,io=async \
		$(PROTO_SERVICE_FILES)
	printf '"""Generated by make generate; do not edit."""\n' > $(GEN_PY_DIR)/__init__.py
	PATH="$(GO_BIN):$$PATH" $(BUF) generate --template $(GO_DIR)/buf.gen.yaml
	bash $(TS_DIR)/scripts/generate.sh
	bash $(WEB_DIR)/scripts/generate.sh
	cd $(WEB_DIR) && npm run --silent build

.PHONY: checkgenerate
checkgenerate: generate ## Regenerate, then fail if protos/ or any generated code differs from what is committed
	@if [ -n "$$(git status --porcelain -- $(PROTO_DIR) $(GENERATED))" ]; then \
		echo "checkgenerate: protos/ or generated code changed after 'make generate':" >&2; \
		git status --porcelain -- $(PROTO_DIR) $(GENERATED) >&2; \
		echo "checkgenerate: run 'make generate' and commit the result." >&2; \
		exit 1; \
	fi

.PHONY: buflint
buflint: setup ## buf lint and buf format check of the protos
	$(BUF) lint
	$(BUF) format -d --exit-code

.PHONY: breaking
breaking: setup ## buf breaking against main (or BASE=<git ref>, e.g. a release tag)
	@if [ -z "$(BASE)" ] && ! git rev-parse --verify --quiet main >/dev/null; then \
		echo "breaking: no local main branch to compare with; pass BASE=<ref>" >&2; exit 1; fi
	$(BUF) breaking $(PROTO_DIR) --against '$(BREAKING_AGAINST)'
