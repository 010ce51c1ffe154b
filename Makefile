# Surge: thin wrappers over go commands. `make help` lists the targets.

GO        ?= go
MODULES   := mq services gateway loadtest migrations e2e
# Modules that are not in go.work's module list but hold tests too (their own
# dependencies must not leak into mq's go.mod).
EXTRA_MODULES := $(wildcard mq/compat)
ALL_MODULES := $(MODULES) $(EXTRA_MODULES)
BIN       := bin
TEST_FLAGS ?= -race -timeout 12m
BENCH     ?= .
BENCH_FLAGS ?= -run '^$$' -benchmem -count 1

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every binary into bin/
	@mkdir -p $(BIN)
	cd mq && CGO_ENABLED=0 $(GO) build -o ../$(BIN)/ ./cmd/...
	cd mq/compat && CGO_ENABLED=0 $(GO) build -o ../../$(BIN)/ ./cmd/...
	cd services && CGO_ENABLED=0 $(GO) build -o ../$(BIN)/ ./cmd/...
	cd gateway && CGO_ENABLED=0 $(GO) build -o ../$(BIN)/ ./cmd/...
	cd loadtest && CGO_ENABLED=0 $(GO) build -o ../$(BIN)/ ./cmd/...
	@for m in $(ALL_MODULES); do (cd $$m && $(GO) build ./...) || exit 1; done

# The compatibility tests run the official RocketMQ client, whose own data
# races the race detector reports; they run without it.
COMPAT_TEST_FLAGS ?= -timeout 12m

.PHONY: test
test: ## run every module's tests against a throwaway PostgreSQL (TEST_DATABASE_URL to use your own)
	@./scripts/with-testdb.sh $(MAKE) --no-print-directory test-modules

.PHONY: test-modules
test-modules: ## run every module's tests as they are (the database comes from TEST_DATABASE_URL)
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test $(TEST_FLAGS) ./...) || exit 1; done
	@for m in $(EXTRA_MODULES); do echo "== $$m"; (cd $$m && $(GO) test $(COMPAT_TEST_FLAGS) ./...) || exit 1; done

# A superuser's URL of the database `surge`, for `make migrate`.
ADMIN_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/surge?sslmode=disable

.PHONY: migrate
migrate: ## create the services' roles and schemas and apply every migration (ADMIN_DATABASE_URL=superuser URL of db surge)
	cd services && ADMIN_DATABASE_URL='$(ADMIN_DATABASE_URL)' $(GO) run ./cmd/migrate

.PHONY: demo
demo: demo-local ## the whole platform up, URLs printed; Ctrl-C stops

.PHONY: demo-local
demo-local: build ## the whole platform as local processes with a throwaway PostgreSQL; Ctrl-C stops
	@./scripts/demo-local.sh

.PHONY: demo-broker
demo-broker: ## a NameServer and a Broker in one process (mqbroker --dev); Ctrl-C stops
	cd mq && $(GO) run ./cmd/mqbroker --dev

.PHONY: bench
bench: ## run the benchmarks (BENCH=regexp, BENCH_FLAGS=...)
	@for m in $(ALL_MODULES); do (cd $$m && $(GO) test $(BENCH_FLAGS) -bench '$(BENCH)' ./...) || exit 1; done

# The load test drives a running gateway (see docs/loadtest.md); the report
# lands in bin/loadtest-report/ unless LOADTEST_FLAGS says -out.
LOADTEST_FLAGS ?=

.PHONY: loadtest
loadtest: ## drive the running gateway with a flash-sale spike, reconcile, write a report (LOADTEST_FLAGS=...)
	@mkdir -p $(BIN)
	$(GO) run ./loadtest/cmd/loadtest -out $(BIN)/loadtest-report $(LOADTEST_FLAGS)

.PHONY: bench-compare
bench-compare: ## Surge vs NATS JetStream on this machine, alternating runs (BENCH_COMPARE_FLAGS=...)
	@./scripts/bench-compare.sh $(BENCH_COMPARE_FLAGS)

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 30s); FUZZ=regexp picks targets
	@./scripts/fuzz.sh $${FUZZTIME:-30s} '$(or $(FUZZ),.)'

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $(ALL_MODULES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for m in $(ALL_MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)
	$(GO) clean -testcache
