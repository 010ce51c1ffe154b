# Surge: thin wrappers over go commands. `make help` lists the targets.

GO        ?= go
MODULES   := mq services gateway loadtest migrations e2e deploy
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
test: ## run every module's tests against a throwaway PostgreSQL (TEST_DATABASE_URL to use your own), then e2e where Docker runs
	@./scripts/with-testdb.sh $(MAKE) --no-print-directory test-modules
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory e2e; \
	else echo "== e2e: NOT RUN, no Docker engine here (make e2e runs the compose end-to-end tests)"; fi

.PHONY: test-modules
test-modules: ## run every module's tests as they are (the database comes from TEST_DATABASE_URL)
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test $(TEST_FLAGS) ./...) || exit 1; done
	@for m in $(EXTRA_MODULES); do echo "== $$m"; (cd $$m && $(GO) test $(COMPAT_TEST_FLAGS) ./...) || exit 1; done

# A superuser's URL of the database `surge`, for `make migrate`.
ADMIN_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/surge?sslmode=disable

.PHONY: migrate
migrate: ## create the services' roles and schemas and apply every migration (ADMIN_DATABASE_URL=superuser URL of db surge)
	cd services && ADMIN_DATABASE_URL='$(ADMIN_DATABASE_URL)' $(GO) run ./cmd/migrate

# The platform in containers: docker-compose.yml, deploy/, docs/docker.md.
# testcontainers' reaper is an image of its own, which an offline machine
# cannot pull: the e2e tests remove their containers themselves.
COMPOSE_SH := ./deploy/compose.sh
E2E_FLAGS  ?= -count 1 -timeout 25m -v

.PHONY: demo
demo: ## the platform in containers when a Docker engine runs (demo-containers), else demo-local
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory demo-containers; \
	else echo "demo: no Docker engine, running demo-local"; $(MAKE) --no-print-directory demo-local; fi

.PHONY: demo-local
demo-local: build ## the whole platform as local processes with a throwaway PostgreSQL; Ctrl-C stops
	@./scripts/demo-local.sh

.PHONY: demo-broker
demo-broker: ## a NameServer and a Broker in one process (mqbroker --dev); Ctrl-C stops
	cd mq && $(GO) run ./cmd/mqbroker --dev

.PHONY: demo-containers
demo-containers: images up ## build the image, start the platform in containers, wait until ready, print URLs

.PHONY: images
images: ## build the platform image (static binaries FROM scratch; SURGE_IMAGE=surge/platform:dev)
	@GO=$(GO) ./deploy/build-images.sh

.PHONY: offline-images
offline-images: ## build a PostgreSQL image from Debian packages, no registry needed (surge/postgres:15-offline)
	@./deploy/postgres/build-offline.sh

.PHONY: up
up: ## start the platform in containers (docker compose up), wait until every service is ready
	@$(COMPOSE_SH) up

.PHONY: down
down: ## stop and remove the platform's containers (volumes are kept)
	@$(COMPOSE_SH) down

.PHONY: down-volumes
down-volumes: ## stop the platform and delete its volumes (database, broker store)
	@$(COMPOSE_SH) down-volumes

.PHONY: e2e
e2e: images ## end-to-end tests of the compose platform (needs Docker; builds the PostgreSQL image if none can be had)
	@$(COMPOSE_SH) postgres-image
	cd deploy && TESTCONTAINERS_RYUK_DISABLED=$${TESTCONTAINERS_RYUK_DISABLED:-true} $(GO) test -tags e2e $(E2E_FLAGS) ./e2e/

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
