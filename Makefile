# refarch: `make run` runs the product on a fresh machine, `make test` passes
# the tests there. `make help` lists every target.

SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin/refarch
ADDR      ?= 127.0.0.1:8080
export REFARCH_MODEL_DIR ?= $(HOME)/.cache/refarch/models/use-lite-0.2.0
# Loads the local database (and SQS server) settings written by scripts/*.sh.
ENV := set -a; . ./.dev/env; if [ -f .dev/moto.env ]; then . ./.dev/moto.env; fi; set +a;
TEMPL := $(GO) run github.com/a-h/templ/cmd/templ@v0.3.1100
# Stamped into the binary for `refarch version` and GET /version (the Dockerfile takes the same
# three as build arguments).
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_TIME ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILDINFO  := github.com/refarch/refarch/internal/buildinfo
LDFLAGS    := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).buildTime=$(BUILD_TIME)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/refarch
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

.PHONY: db
db: ## Start a local PostgreSQL with pgvector (installing what is missing); writes .dev/env
	@scripts/db.sh

.PHONY: db-stop
db-stop: ## Stop the local PostgreSQL
	@scripts/db.sh stop

.PHONY: model
model: ## Fetch and verify the embedding model into REFARCH_MODEL_DIR
	@scripts/model.sh

.PHONY: moto
moto: ## Start a local SQS-protocol server (moto) for the SQS tests; writes .dev/moto.env
	@scripts/moto.sh

.PHONY: chromium
chromium: ## Install headless Chromium for the browser tests
	@scripts/chromium.sh

.PHONY: run
run: db model build ## Run everything locally: database, migrations, seeded catalog, serve --all (EXCEPT=emu leaves a role out)
	@$(ENV) $(BIN) migrate
	@$(ENV) $(BIN) seed --if-empty
	@echo "refarch: open http://$(ADDR)"
	@$(ENV) exec $(BIN) serve --all $(if $(EXCEPT),--except $(EXCEPT)) --addr $(ADDR)

.PHONY: debug
debug: db model ## Run ROLE (emu, pelican or serve) under Delve, headless on DEBUG_ADDR (127.0.0.1:2345) for an editor to attach
	@scripts/debug.sh $(ROLE)

.PHONY: run-roles
run-roles: db model build ## Run serve, pelican and emu as three processes, each as its own Postgres role (as in AWS)
	@$(ENV) scripts/run-roles.sh $(BIN) $(ADDR)

.PHONY: axe
axe: ## Install axe-core (npm) for the browser tests' accessibility audit
	@scripts/axe.sh >/dev/null

.PHONY: test
test: db model moto chromium axe ## Run every test against real Postgres, moto and Chromium
	@# The seed CSV's vectors for search's recall tests, embedded once and
	@# cached (under ~/.cache) without the race detector, which slows the
	@# model some fivefold.
	@$(ENV) $(GO) test -count=1 -run '^TestSearchFindsIsolatedEditsFirst$$' ./search/
	@$(ENV) $(GO) test -race -timeout 30m ./...
	@# The relevance floor's labelled queries with the real model (too slow under -race): prints precision and recall.
	@$(ENV) $(GO) test -count=1 -run '^TestRelevanceFloor$$' -v ./search/

.PHONY: soak
soak: db moto ## Crash soak: 10,000 random writes, random SIGKILLs of real pelican/emu processes, Postgres queue and SQS (moto)
	@$(ENV) SOAK_OPS=$${SOAK_OPS:-10000} $(GO) test -run '^TestSoak$$' -count=1 -v -timeout 60m ./internal/pipelinetest/ | grep -E '^(soak|--- |ok|FAIL)'

.PHONY: bench
bench: db model ## Run the benchmarks and print their figures (and the use embedder against its JavaScript reference)
	@# Workloads (seed, import, bootstrap, freshness, search under load, vector
	@# queries) run once each and report their own figures; per-operation
	@# benchmarks (queue, matrix kernel) run for a fixed time.
	@$(ENV) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./app/ ./catalog/ ./roles/... ./internal/pipelinetest/ ./vectorstore/... ./search/ ./status/
	@$(ENV) $(GO) test -run '^$$' -bench . -benchtime 2s -timeout 30m ./queue/...
	@$(GO) test -run '^$$' -bench 'Matmul|EmbedQueries' -benchtime 2s ./embedding/use
	@# Embedding throughput by batch size, beside the JavaScript reference.
	@scripts/bench-embed.sh

.PHONY: bench-scale
bench-scale: db ## The catalog at scale (BENCH_PRODUCTS, default 1,000,000): seed, bootstrap, time to a ready search index, search and page latency
	@scripts/bench-scale.sh

.PHONY: test-ollama
test-ollama: ## Test the ollama embedder against a real server (OLLAMA_TEST_HOST, OLLAMA_TEST_MODEL)
	REFARCH_OLLAMA_TEST_HOST=$${OLLAMA_TEST_HOST:-http://127.0.0.1:11434} \
	REFARCH_OLLAMA_TEST_MODEL=$${OLLAMA_TEST_MODEL:-nomic-embed-text} \
	$(GO) test -run TestOllamaIntegration -count=1 -v ./embedding/

.PHONY: generate
generate: ## Regenerate templ components
	$(TEMPL) generate

.PHONY: lint
lint: ## gofmt, go vet, golangci-lint, generated code up to date, Terraform, Dockerfile and workflow checks
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(TEMPL) generate >/dev/null && git diff --exit-code -- '*_templ.go'
	@scripts/lint.sh

.PHONY: clean
clean: ## Remove build output (keeps the database)
	rm -rf bin
