# perfect: email sequences from webhooks, one binary, one data file.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO ?= go
export GOFLAGS ?= -mod=mod

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/perfect with the version stamped.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/perfect ./cmd/perfect

.PHONY: run
run: ## Serve on embedded defaults (outbox mode, local templates, ./data).
	$(GO) run ./cmd/perfect serve

.PHONY: test
test: ## Run every test with the race detector.
	$(GO) test -race -count=1 ./...

.PHONY: lint
lint: ## gofmt and go vet.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

.PHONY: check-deps
check-deps: ## flows must import only the standard library.
	@! $(GO) list -deps ./flows | grep -E '\.|perfect/' | grep -v '^perfect/flows$$' | grep -q . || \
		($(GO) list -deps ./flows | grep -E '\.|perfect/' | grep -v '^perfect/flows$$'; exit 1)

.PHONY: bench
bench: ## Go benchmarks of the hot paths.
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target (webhook decoders and handlers) for FUZZTIME (default 10s) each.
	@for pkg in ./internal/webhook ./internal/httpapi; do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-10s} $$pkg || exit 1; done; done

-include mk/*.mk
