# hmpconform: conformance harness, mock SAML IdP and reference SP for
# Haivision HMP's Just-in-Time user provisioning. `make` lists the targets.

GO       ?= go
GINKGO    = $(GO) run github.com/onsi/ginkgo/v2/ginkgo
CHROMIUM ?= $(or $(HMPCONFORM_CHROMIUM),/usr/bin/chromium)
REPORTS  ?= reports

SHELL        := bash
.SHELLFLAGS  := -o pipefail -c
.DEFAULT_GOAL := help
.PHONY: help run test unit e2e mutants chromium lint clean-reports

help: ## List the targets
	@echo "Usage: make <target>"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z0-9_.-]+:[^#]*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Start the mock IdP and the reference SP for manual testing
	$(GO) run ./cmd/hmpconform run

test: chromium ## Run the unit tests, then the browser suites (both always run)
	@status=0; \
	$(MAKE) --no-print-directory unit || status=1; \
	$(MAKE) --no-print-directory e2e || status=1; \
	exit $$status

unit: ## Unit tests with the race detector (everything outside suites/)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /suites/)

e2e: ## Ginkgo suites under suites/, reports in reports/
	$(GINKGO) -r -p --procs=2 --fail-on-empty --keep-going --timeout=30m \
		--output-dir=$(REPORTS) --junit-report=junit.xml --json-report=ginkgo.json \
		./suites/...

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

clean-reports: ## Delete the reports of earlier runs (keeps reports/*.go and README.md)
	find $(REPORTS) -mindepth 1 -maxdepth 1 ! -name '*.go' ! -name README.md -exec rm -rf {} +
