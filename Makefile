# mailroom: the front door. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
REDIS_URL ?= redis://127.0.0.1:6379/
CONFIG ?= config/default.toml
RUN_DIR := .run
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
# Where the fault scenarios write their figures (one JSON line each) for the summary table.
FAULTS_REPORT ?= $(TARGET_DIR)/faults-report.jsonl

.PHONY: help run demo test test-faults test-api-fuzz console-screenshots lint lint-deploy fmt schema openapi bench redis-server deps clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

deps: ## install what the build and tests need (redis-server; chromium and chromedriver for the console's browser tests), if missing
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }
	@command -v redis-server >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing redis-server with apt-get"; \
	    (apt-get install -y -q redis-server >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null)); \
	  elif command -v apt-get >/dev/null; then sudo apt-get install -y redis-server; \
	  elif command -v brew >/dev/null; then brew install redis; \
	  else echo "redis-server not found: install Redis 7 (apt-get install redis-server / brew install redis)"; exit 1; fi; }
	@command -v redis-server >/dev/null || { echo "redis-server still missing"; exit 1; }
	@{ command -v chromedriver && { command -v chromium || command -v chromium-browser; }; } >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium and chromium-driver with apt-get"; \
	    dpkg --configure -a >/dev/null 2>&1; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null)); \
	  elif command -v apt-get >/dev/null; then sudo apt-get install -y chromium chromium-driver; \
	  elif command -v brew >/dev/null; then brew install --cask chromium chromedriver; \
	  else echo "chromedriver not found: install chromium and its chromedriver (apt-get install chromium chromium-driver)"; exit 1; fi; }
	@{ command -v chromedriver && { command -v chromium || command -v chromium-browser; }; } >/dev/null || { echo "chromium or chromedriver still missing"; exit 1; }

redis-server: deps ## make sure a Redis answers at REDIS_URL (default redis://127.0.0.1:6379/); else start a throwaway one
	@if redis-cli -u $(REDIS_URL) ping >/dev/null 2>&1; then echo "redis: using $(REDIS_URL)"; else \
	  mkdir -p $(RUN_DIR); \
	  port=$$(echo "$(REDIS_URL)" | sed -E 's#.*:([0-9]+)/?.*#\1#'); \
	  echo "redis: none at $(REDIS_URL); starting a throwaway redis-server on port $$port (data in $(RUN_DIR)/)"; \
	  redis-server --port $$port --bind 127.0.0.1 --save "" --appendonly no --dir $(RUN_DIR) \
	    --daemonize yes --pidfile $$PWD/$(RUN_DIR)/redis.pid --logfile $$PWD/$(RUN_DIR)/redis.log; \
	  for i in $$(seq 50); do redis-cli -u $(REDIS_URL) ping >/dev/null 2>&1 && break; sleep 0.1; done; \
	  redis-cli -u $(REDIS_URL) ping >/dev/null || { echo "redis-server did not start: see $(RUN_DIR)/redis.log"; exit 1; }; \
	fi

run: redis-server ## build and run a worker and the HTTP API (127.0.0.1:8025) with config/default.toml (local Redis, ./outbox)
	$(CARGO) build --release -p mailroom-worker --bin mailroom
	@bin=$(TARGET_DIR)/release/mailroom; keys=$(RUN_DIR)/api-keys; mkdir -p $(RUN_DIR); \
	  if [ ! -s $$keys ]; then \
	    out=$$($$bin --config $(CONFIG) api new-key dev --scopes send,read,admin 2>/dev/null) || exit 1; \
	    (umask 077; sed -n 's/^line: *//p' <<<"$$out" >$$keys); \
	    echo "api: a dev key was written to $$keys; its secret is shown this once:"; \
	    echo; echo "  export MAILROOM_API_KEY=$$(sed -n 's/^secret: *//p' <<<"$$out")"; echo; \
	    echo "  (delete $$keys for a new one)"; \
	  fi; \
	  export MAILROOM__REDIS__URL=$(REDIS_URL); \
	  MAILROOM__API__KEYS_FILE=$$keys $$bin --config $(CONFIG) api & api=$$!; \
	  trap "kill $$api 2>/dev/null" EXIT; \
	  echo "api: http://127.0.0.1:8025/v1 (curl -H \"Authorization: Bearer \$$MAILROOM_API_KEY\" http://127.0.0.1:8025/v1/queue)"; \
	  echo "console: http://127.0.0.1:8025/ (sign in with the secret of \$$MAILROOM_API_KEY)"; \
	  $$bin --config $(CONFIG) run

demo: redis-server ## send mail through the gmail transport to a local fake Google (Ctrl-C stops)
	$(CARGO) build --release -q -p mailroom-worker --bin mailroom -p mailroom-testkit --bin mailroom-fake-google
	@mkdir -p $(RUN_DIR)/fake-google && rm -f $(RUN_DIR)/fake-google/mailroom.env
	@bin=$(TARGET_DIR)/release; \
	  $$bin/mailroom-fake-google --port 8089 --dir $(RUN_DIR)/fake-google & fake=$$!; \
	  trap "kill $$fake 2>/dev/null" EXIT; \
	  for i in $$(seq 300); do [ -s $(RUN_DIR)/fake-google/mailroom.env ] && break; sleep 0.1; done; \
	  [ -s $(RUN_DIR)/fake-google/mailroom.env ] || { echo "the fake Google did not start"; exit 1; }; \
	  set -a; . $(RUN_DIR)/fake-google/mailroom.env; set +a; \
	  export MAILROOM__REDIS__URL=$(REDIS_URL) MAILROOM__QUEUE__NAME=demo MAILROOM__JOBS__ALLOWED_SENDERS='*@example.com'; \
	  $$bin/mailroom --config $(CONFIG) send \
	    --from 'Mailroom demo <noreply@example.com>' --to you@example.org \
	    --subject 'Hello from mailroom' --text 'Sent through the Gmail API of a local fake Google.' && \
	  $$bin/mailroom --config $(CONFIG) run

test: deps ## run every test (each test starts its own redis-server; the console's run in headless Chromium)
	PATH="$(CURDIR)/$(RUN_DIR)/tools:$$PATH" MAILROOM_REQUIRE_BROWSER=1 $(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	bash tests/api/fuzz.sh

console-screenshots: deps ## save a PNG of each console page to docs/console/ (headless Chromium)
	MAILROOM_REQUIRE_BROWSER=1 MAILROOM_CONSOLE_SCREENSHOTS=1 $(CARGO) test -p mailroom-e2e --test console screenshots_of_every_page

test-api-fuzz: deps ## the HTTP API against its OpenAPI document: openapi-spec-validator, then schemathesis (500 cases per operation)
	bash tests/api/fuzz.sh

lint: lint-deploy ## lint-deploy, then rustfmt check, clippy and rustdoc with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet

lint-deploy: ## check deploy/ (systemd unit, Kubernetes, Dockerfile, dashboard, alerts) with real validators
	@RUN_DIR=$(RUN_DIR) bash deploy/lint/tools.sh
	@RUN_DIR=$(RUN_DIR) bash deploy/lint/lint.sh

fmt: ## format the code
	$(CARGO) fmt --all

schema: ## rewrite crates/jobs/schema/email-job.schema.json from the job types
	MAILROOM_UPDATE_SCHEMA=1 $(CARGO) test -p mailroom-jobs --test schema

openapi: ## rewrite docs/openapi.json (the HTTP API's OpenAPI document) from the code
	MAILROOM_UPDATE_OPENAPI=1 $(CARGO) test -p mailroom-worker --test openapi

bench: deps ## run the benchmarks (release build) against the BullMQ peer and the Rust floor; writes BENCHMARKS.md
	@if command -v npm >/dev/null; then \
	  [ -d bench/bullmq/node_modules/bullmq ] || (cd bench/bullmq && npm ci --no-audit --no-fund --loglevel=error); \
	else echo "npm not found: the BullMQ peer is skipped (install Node.js 20 to include it)"; fi
	$(CARGO) build --release -p mailroom-worker --bin mailroom -p mailroom-bench --bins
	$(TARGET_DIR)/release/mailroom-bench BENCHMARKS.md

test-faults: deps ## the fault-injection suite at full size (10,000-job kill, 1,000,000 due jobs), release build; ends with its summary table
	@mkdir -p $(dir $(FAULTS_REPORT)) && : > $(FAULTS_REPORT)
	@status=0; \
	  MAILROOM_FAULTS=full MAILROOM_FAULTS_REPORT=$(abspath $(FAULTS_REPORT)) \
	    $(CARGO) test --release --no-fail-fast -p mailroom-e2e --test faults --test faults_cluster --test faults_sentinel --test faults_google -- --nocapture \
	    || status=$$?; \
	  $(CARGO) run --release -q -p mailroom-e2e --bin mailroom-faults-report -- $(FAULTS_REPORT) || status=1; \
	  exit $$status

clean: ## remove build output and the throwaway Redis data
	-[ -f $(RUN_DIR)/redis.pid ] && kill $$(cat $(RUN_DIR)/redis.pid)
	rm -rf $(RUN_DIR)
	$(CARGO) clean
