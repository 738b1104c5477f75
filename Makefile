# hmpconform: conformance harness, mock SAML IdP and reference SP for
# Haivision HMP's Just-in-Time user provisioning. `make` lists the targets.

GO       ?= go
GINKGO    = $(GO) run github.com/onsi/ginkgo/v2/ginkgo
CHROMIUM ?= $(or $(HMPCONFORM_CHROMIUM),/usr/bin/chromium)
REPORTS  ?= reports
# Each run of the suites writes reports/<UTC timestamp>/; every Ginkgo
# process learns the directory from HMPCONFORM_RUN_DIR. `make RUN=name e2e`
# names the run yourself.
ifndef RUN
RUN := $(shell date -u +%Y%m%dT%H%M%SZ)
endif
RUN_DIR   = $(abspath $(REPORTS)/$(RUN))

SHELL        := bash
.SHELLFLAGS  := -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help run test unit e2e conform mutants verify chromium lint clean-reports

help: ## List the targets
	@echo "Usage: make <target>"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z0-9_.-]+:[^#]*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Start the mock IdP and the reference SP for manual testing (Ctrl-C stops both)
	@mkdir -p bin && $(GO) build -o bin/hmpconform ./cmd/hmpconform
	@trap 'exit 0' INT TERM; ./bin/hmpconform run

test: chromium ## Run the unit tests, then the browser suites (both always run)
	@status=0; \
	$(MAKE) --no-print-directory unit || status=1; \
	$(MAKE) --no-print-directory e2e || status=1; \
	exit $$status

unit: ## Unit tests with the race detector (everything outside suites/)
	$(GO) test -race -count=1 -timeout=30m $$($(GO) list ./... | grep -v /suites/)

e2e: ## Ginkgo suites under suites/; report in reports/<run>/index.html (reports/latest)
	@mkdir -p $(RUN_DIR) && : > $(RUN_DIR)/progress.log
	@echo "e2e: run $(RUN) — progress below, report in $(REPORTS)/$(RUN)/index.html"
	@tail -n +1 -F $(RUN_DIR)/progress.log 2>/dev/null & tailpid=$$!; \
	status=0; \
	HMPCONFORM_RUN_DIR=$(RUN_DIR) $(GINKGO) -r -p --procs=2 --no-color --fail-on-empty --keep-going --timeout=30m \
		--output-dir=$(RUN_DIR) --junit-report=junit.xml --json-report=ginkgo.json \
		./suites/... || status=$$?; \
	sleep 0.2; kill $$tailpid 2>/dev/null; wait $$tailpid 2>/dev/null; \
	$(GO) run ./reports/cmd/render $(RUN_DIR) || status=1; \
	exit $$status

conform: chromium ## The conformance run alone: every requirement against the bundled SP, quick (no screenshots), with the report
	@mkdir -p $(RUN_DIR)
	@status=0; \
	HMPCONFORM_STEPS=off HMPCONFORM_RUN_DIR=$(RUN_DIR) $(GINKGO) -p --procs=2 --no-color --fail-on-empty --keep-going --timeout=30m \
		--output-dir=$(RUN_DIR) --junit-report=junit.xml --json-report=ginkgo.json \
		./suites/jit ./suites/security || status=$$?; \
	$(GO) run ./reports/cmd/render $(RUN_DIR) || status=1; \
	exit $$status

verify: chromium ## Run the specs against a target profile: make verify TARGET=fixtures/targets/NAME.yaml
	@test -n "$(TARGET)" || { echo "usage: make verify TARGET=fixtures/targets/NAME.yaml (secrets in the environment variables it names)"; exit 2; }
	$(GO) run ./suites/external/verifyinfo $(TARGET)
	@mkdir -p $(RUN_DIR)
	HMPCONFORM_TARGET=$(abspath $(TARGET)) HMPCONFORM_RUN_DIR=$(RUN_DIR) $(GINKGO) --procs=1 --no-color --keep-going --timeout=60m \
		--output-dir=$(RUN_DIR) --junit-report=junit.xml --json-report=ginkgo.json ./suites/external ./suites/security; \
	status=$$?; $(GO) run ./reports/cmd/render $(RUN_DIR) || status=1; exit $$status

mutants: ## Run the JIT suite against each deliberately broken SP; ends "mutants: N caught of M"
	$(GO) test -count=1 -v -run TestSuitesCatchEveryMutant ./suites/mutation/ | grep -E '^(=== RUN|--- |    mutation_test|mutants:|ok|FAIL|PASS)'

chromium: ## Check that Chromium is installed (as root, install it with apt-get)
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "chromium: $(CHROMIUM)"; \
	elif [ "$(CHROMIUM)" = /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "chromium not found at $(CHROMIUM): installing it with apt-get"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; \
		[ -x "$(CHROMIUM)" ]; \
	else \
		echo "chromium not found at $(CHROMIUM): run \`apt-get install -y chromium\` (or set HMPCONFORM_CHROMIUM)" >&2; \
		exit 1; \
	fi

lint: ## gofmt (must list nothing) and go vet
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt -l lists files that need formatting:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean-reports: ## Delete the reports of earlier runs (keeps the reports package's sources)
	find $(REPORTS) -mindepth 1 -maxdepth 1 ! -name '*.go' ! -name '*.tmpl' ! -name README.md \
		! -name cmd ! -name testdata -exec rm -rf {} +

FUZZTIME ?= 60s
FUZZ_TARGETS = ./sp/samlsso:FuzzVerify ./mockidp:FuzzSSO ./mockidp:FuzzSLO

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 60s); a find is kept in testdata/fuzz/
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz: $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s; \
	done

.PHONY: bench
bench: ## Benchmarks and bounded loopback load (issue 8), a few minutes; ends "idp-sign-ratio: X"
	bash scripts/bench.sh
