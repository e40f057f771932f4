# jobplane. `make help` lists the targets; `make run` runs the platform and
# `make test` is what CI (.ci/run) runs.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
# buf and the protoc plugins are pinned in tools/buf/go.mod and tools/go.mod.
BUF := $(GO) tool -modfile=tools/buf/go.mod buf

# Extra flags for bin/devstack, e.g. make run ARGS="--servers 3".
ARGS ?=
TEST_TIMEOUT ?= 30m
# How long each fuzz target runs in `make test` / `make fuzz`.
FUZZTIME ?= 10s
# Operations submitted by `make chaos` (make test runs the suite with 3,000).
CHAOS_OPERATIONS ?= 20000
# gosec, pinned; `go run` builds it once from the module cache.
GOSEC ?= $(GO) run github.com/securego/gosec/v2/cmd/gosec@v2.22.0
# Where `make fuzz` looks for fuzz targets (main module only).
FUZZ_DIRS ?= pkg services cmd

# Used by the api-* targets: the REST API of `make run`.
BASE_URL ?= http://localhost:8080
TOKEN ?= local-dev-token-123
JOB_ID ?=
OPERATION_ID ?=
CURL_STREAM := curl -sS --fail-with-body -N -H "Authorization: Bearer $(TOKEN)"
# Responses are one JSON document without a final newline: add one.
CURL := curl -sS --fail-with-body -w '\n' -H "Authorization: Bearer $(TOKEN)"

# $(call require,VAR) stops a recipe with a clear message when VAR is empty.
require = $(if $($(1)),,$(error $(1) is required: make $@ $(1)=<value>))

##@ Run

.PHONY: build
build: ## Build bin/client, bin/server and bin/devstack
	$(GO) build -o bin/ ./cmd/client ./cmd/server ./cmd/devstack

.PHONY: run
run: build ## Build, then run the whole platform on this machine; Ctrl-C stops it (flags: ARGS="--servers 3")
	bin/devstack $(ARGS)

.PHONY: clean
clean: ## Remove bin/ (the data of `make run` stays in .jobplane/)
	rm -rf bin

##@ Development

.PHONY: generate
generate: ## Generate pkg/gen from proto/ with buf (pinned in tools/)
	$(BUF) generate proto

.PHONY: check-generated
check-generated: generate ## Fail if pkg/gen differs from what `make generate` produces
	@git diff --exit-code --stat -- pkg/gen || { echo "pkg/gen is out of date: run 'make generate' and commit the result" >&2; exit 1; }
	@untracked="$$(git status --porcelain --untracked-files=all -- pkg/gen)"; \
	if [ -n "$$untracked" ]; then echo "$$untracked"; echo "pkg/gen has files that are not committed: run 'make generate' and commit the result" >&2; exit 1; fi

.PHONY: vet
vet: ## go vet ./...
	$(GO) vet ./...

.PHONY: lint
lint: ## gofmt, go vet, buf lint, buf format
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(BUF) lint
	$(BUF) format -d --exit-code proto

.PHONY: gosec
gosec: ## Security lint (gosec v2.22.0); each remaining finding is justified with a #nosec comment
	$(GOSEC) -quiet -exclude-dir=pkg/gen -exclude-dir=tools ./...

.PHONY: test
test: ## What CI runs: lint (gofmt, vet, buf), gosec, check-generated, go test -race (incl. a 3,000-operation chaos run), then each fuzz target for FUZZTIME (10s)
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory gosec
	@$(MAKE) --no-print-directory check-generated
	@$(MAKE) --no-print-directory check-ui
	@$(MAKE) --no-print-directory test-short
	@$(MAKE) --no-print-directory fuzz

.PHONY: test-short
test-short: ## go test -race ./... only (no vet, codegen check or fuzzing)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

.PHONY: fuzz
fuzz: ## Fuzz each Fuzz* target in pkg/, services/, cmd/ for FUZZTIME (10s); seeds already run in go test
	@files="$$(grep -rl --include='*_test.go' -E '^func Fuzz' $(FUZZ_DIRS) 2>/dev/null | sort || true)"; \
	if [ -z "$$files" ]; then echo "no fuzz targets"; exit 0; fi; \
	out="$$(mktemp)"; \
	for f in $$files; do \
		pkg="./$$(dirname "$$f")"; \
		for t in $$(grep -oE '^func Fuzz[A-Za-z0-9_]*' "$$f" | cut -d' ' -f2); do \
			echo "$(GO) test -run '^\$$' -fuzz '^$$t\$$' -fuzztime $(FUZZTIME) $$pkg"; \
			for attempt in 1 2; do \
				if $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) "$$pkg" > "$$out" 2>&1; then cat "$$out"; break; fi; \
				cat "$$out"; \
				if [ $$attempt = 1 ] && grep -q 'context deadline exceeded' "$$out" && ! grep -q 'Failing input written' "$$out"; then \
					echo "fuzz: $$t stopped on the -fuzztime deadline race of Go's fuzz coordinator (golang/go#75804, fixed in Go 1.27) without a failing input: running it once more"; \
				else rm -f "$$out"; exit 1; fi; \
			done; \
		done; \
	done; \
	rm -f "$$out"

.PHONY: chaos
chaos: ## Chaos suite: CHAOS_OPERATIONS (20,000) operations while servers, clients and the infrastructure are killed and restarted
	CHAOS_OPERATIONS=$(CHAOS_OPERATIONS) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -run '^TestChaos$$' -v ./e2e/

.PHONY: bench
bench: ## W1, W2 and W3 end to end (make run, 1 client, 2 servers) and the raw ceiling, then the Go micro-benchmarks
	@$(MAKE) --no-print-directory bench-w1
	@$(MAKE) --no-print-directory bench-w2
	@$(MAKE) --no-print-directory bench-w3
	@$(MAKE) --no-print-directory bench-ceiling
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/... ./services/...

# W1: 2,000 jobs of 10 expr operations, 16 concurrent callers (bench-w1 and bench-ceiling).
BENCH_ARGS ?= --jobs 2000 --ops 10 --concurrency 16
# More `jobctl bench` flags for every bench-wN, e.g. BENCH_FLAGS='--json-file w2.json'.
BENCH_FLAGS ?=

# The stack of the bench-wN targets: a fresh devstack (1 client, 2 servers) on ports of
# its own. devstack runs each service as its own process, so the figures of each
# --metrics target are that service's; the embedded FerretDB and Kafka run inside
# devstack itself, which serves no /metrics, and are not counted.
BENCH_STACK = --clients 1 --servers 2 --mongo-port 27917 --kafka-port 29992 \
	--grpc-port 30151 --http-port 28180 --admin-port 28190 --server-grpc-port 0
BENCH_METRICS = client-0=http://127.0.0.1:28180/metrics,server-0=http://127.0.0.1:28190/metrics,server-1=http://127.0.0.1:28191/metrics

# $(call bench_run,FLAGS): start the stack, run `jobctl bench FLAGS` against it, stop it.
define bench_run
	$(GO) build -o bin/ ./cmd/client ./cmd/server ./cmd/devstack ./cmd/jobctl
	@dir="$$(mktemp -d)"; \
	bin/devstack --data-dir "$$dir" $(BENCH_STACK) > "$$dir/devstack.log" 2>&1 & pid=$$!; \
	trap 'kill -INT $$pid 2>/dev/null; while kill -0 $$pid 2>/dev/null; do sleep 0.2; done; rm -rf "$$dir"' EXIT; \
	for i in $$(seq 1 120); do grep -q "Press Ctrl-C to stop." "$$dir/devstack.log" && break; sleep 0.5; done; \
	grep -q "Press Ctrl-C to stop." "$$dir/devstack.log" || { cat "$$dir/devstack.log"; exit 1; }; \
	bin/jobctl bench --addr 127.0.0.1:30151 --metrics $(BENCH_METRICS) $(1)
endef

.PHONY: bench-w1
bench-w1: ## W1 against a fresh devstack (1 client, 2 servers): 2,000 jobs of 10 operations, 16 callers
	$(call bench_run,--workload w1 $(BENCH_ARGS) $(BENCH_FLAGS))

.PHONY: bench-w2
bench-w2: ## W2 against a fresh devstack: 200 jobs of 1,000 operations, 16 callers
	$(call bench_run,--workload w2 $(BENCH_FLAGS))

.PHONY: bench-w3
bench-w3: ## W3 against a fresh devstack: a single job of 100,000 operations (then a minute reading them back for their latency)
	$(call bench_run,--workload w3 $(BENCH_FLAGS))

.PHONY: bench-w4
bench-w4: ## W4 against a fresh devstack: W1-shaped load at rising rates, the highest whose p99 < 50 ms (a few minutes)
	$(call bench_run,--workload w4 $(BENCH_FLAGS))

.PHONY: bench-ceiling
bench-ceiling: ## The raw ceiling of the same write pattern on the same embedded engines, no services (cmd/ceiling): 5 runs and their median
	$(GO) build -o bin/ ./cmd/devstack ./cmd/ceiling
	bin/ceiling --runs 5 --devstack bin/devstack $(BENCH_ARGS)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } \
		/^##@/ { printf "\n%s\n", substr($$0, 5) } \
		/^[a-zA-Z0-9_-]+:.*## / { printf "  %-42s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo

##@ REST API (against `make run`; override BASE_URL=http://localhost:8080 and TOKEN=local-dev-token-123)

.PHONY: api-create-job-with-single-operation
api-create-job-with-single-operation: ## POST deploy/examples/operations-single.txt (text/plain) to /v1/jobs
	$(CURL) -H 'Content-Type: text/plain' --data-binary @deploy/examples/operations-single.txt $(BASE_URL)/v1/jobs

.PHONY: api-create-job-with-multiple-operations
api-create-job-with-multiple-operations: ## POST deploy/examples/operations.txt (10 operations)
	$(CURL) -H 'Content-Type: text/plain' --data-binary @deploy/examples/operations.txt $(BASE_URL)/v1/jobs

.PHONY: api-create-job-with-error-operation
api-create-job-with-error-operation: ## POST deploy/examples/operations-error.txt (one operation fails)
	$(CURL) -H 'Content-Type: text/plain' --data-binary @deploy/examples/operations-error.txt $(BASE_URL)/v1/jobs

.PHONY: api-get-jobs
api-get-jobs: ## List jobs, newest first (GET /v1/jobs)
	$(CURL) $(BASE_URL)/v1/jobs

.PHONY: api-get-job
api-get-job: ## Get a job: JOB_ID=<job_id>
	$(call require,JOB_ID)
	$(CURL) $(BASE_URL)/v1/jobs/$(JOB_ID)

.PHONY: api-get-job-operations
api-get-job-operations: ## List a job's operations: JOB_ID=<job_id>
	$(call require,JOB_ID)
	$(CURL) $(BASE_URL)/v1/jobs/$(JOB_ID)/operations

.PHONY: api-get-job-operation
api-get-job-operation: ## Get one operation: JOB_ID=<job_id> OPERATION_ID=<operation_id>
	$(call require,JOB_ID)
	$(call require,OPERATION_ID)
	$(CURL) $(BASE_URL)/v1/jobs/$(JOB_ID)/operations/$(OPERATION_ID)

.PHONY: api-cancel-job
api-cancel-job: ## Cancel a job's unfinished operations: JOB_ID=<job_id>
	$(call require,JOB_ID)
	$(CURL) -X POST -H 'Content-Type: application/json' -d '{}' '$(BASE_URL)/v1/jobs/$(JOB_ID):cancel'

.PHONY: api-delete-job
api-delete-job: ## Delete a job and its operations: JOB_ID=<job_id>
	$(call require,JOB_ID)
	$(CURL) -X DELETE $(BASE_URL)/v1/jobs/$(JOB_ID)

.PHONY: api-watch-job
api-watch-job: ## Stream a job's progress until it is done (NDJSON): JOB_ID=<job_id>
	$(call require,JOB_ID)
	$(CURL_STREAM) '$(BASE_URL)/v1/jobs/$(JOB_ID):watch'

##@ Docker (docker-compose.yml: 3 Kafka brokers, a MongoDB replica set, 3 clients, 3 servers, Prometheus, Jaeger)

# The api-* targets work against both `make run` and `make docker-start`:
# both publish the REST API of the first client service on
# http://localhost:8080 (BASE_URL) and accept local-dev-token-123 (TOKEN).
# Other client services: BASE_URL=http://localhost:8081 (or 8082) with
# docker-start; with `make run`, 8080+i. Under docker-start, AUTH_TOKENS in
# the environment or a .env file replaces the token: pass the same TOKEN.
# Global flags of docker-start, e.g. COMPOSE_ARGS="--profile grafana".
COMPOSE ?= docker compose
COMPOSE_ARGS ?=

.PHONY: docker-start
docker-start: ## Build the images and start the stack; returns when every service is healthy (COMPOSE_ARGS="--profile grafana" adds Grafana)
	$(COMPOSE) $(COMPOSE_ARGS) up -d --build --wait --wait-timeout 600
	@echo "REST http://localhost:8080-8082  gRPC localhost:50051-50053  Prometheus http://localhost:9090  Jaeger http://localhost:16686"

.PHONY: docker-logs
docker-logs: ## Follow the logs of the stack
	$(COMPOSE) logs -f

.PHONY: docker-stop
docker-stop: ## Stop the stack and delete its volumes (Kafka, MongoDB and Prometheus data)
	$(COMPOSE) --profile grafana down -v --remove-orphans

##@ Web dashboard (services/client/web, built into dist/ and embedded by the client service at /ui/)

UI_DIR := services/client/web

.PHONY: ui
ui: ## Rebuild the dashboard and Swagger UI into services/client/web/dist (npm ci && npm run build; Node >= 20.19); commit the result
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("Vite 7 needs Node >= 20.19, this is " + process.version); process.exit(1) }'
	@# npm install, not npm ci: the lock pins every version and integrity, but npm ci
	@# refuses it for lacking rollup's optional packages of other platforms (the
	@# registry it was made with does not carry them). No install scripts run.
	cd $(UI_DIR) && npm install --ignore-scripts --no-audit --no-fund && npm run build

.PHONY: check-ui
check-ui: ui ## Fail if services/client/web/dist differs from what `make ui` produces (sources or pkg/gen/openapiv2 changed)
	@git diff --exit-code --stat -- $(UI_DIR)/dist || { echo "$(UI_DIR)/dist is out of date: run 'make ui' and commit the result" >&2; exit 1; }
	@untracked="$$(git status --porcelain --untracked-files=all -- $(UI_DIR)/dist)"; \
	if [ -n "$$untracked" ]; then echo "$$untracked"; echo "$(UI_DIR)/dist has files that are not committed: run 'make ui' and commit the result" >&2; exit 1; fi
