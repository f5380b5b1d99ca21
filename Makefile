# Federation: the two commands a newcomer runs are `make demo` and `make test`.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
TESTBIN := $(BIN)/testbin
export KUBEBUILDER_ASSETS := $(TESTBIN)

.PHONY: all build test test-unit test-e2e bench lint vet run demo demo-k8s testbin generate kind-up kind-down bench-scale clean

all: build

## build: the three binaries into bin/
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## test: everything CI runs: lint, unit tests (race), envtest and real-cluster e2e suites
test: testbin lint test-unit test-e2e

vet:
	$(GO) vet ./...

test-unit:
	$(GO) test -race -count=1 -timeout 20m ./...

test-e2e: testbin build
	@rm -f $(BIN)/e2e-report.txt
	E2E_REPORT=$(BIN)/e2e-report.txt $(GO) test -count=1 -timeout 40m -tags e2e ./test/...; \
	status=$$?; echo "--- e2e report:"; cat $(BIN)/e2e-report.txt 2>/dev/null; exit $$status

## testbin: etcd, kube-apiserver, kube-scheduler and kwok built from their Go modules (see TESTBED)
testbin:
	bash test/testbin/build.sh

## generate: deepcopy and CRD YAML with controller-gen
generate:
	bash test/codegen/generate.sh

## bench: benchmarks with figures (group commit vs etcd, placement)
bench: build testbin
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./placement/
	$(GO) test -run '^$$' -bench . -benchtime 1x ./raftstore/
	$(GO) run ./test/bench/submit --duration 10s --clients 1,16,128 --runs 3 --out $(BIN)/bench-submit.md
	$(GO) run ./test/bench/agent --out $(BIN)/bench-agent.md

## bench-scale: submit vs etcd, one agent, 3 real member clusters with 10,000 workflows, then
## placement/memory/snapshot growth (10k-1M executions, 10-1,000 clusters) and retention;
## writes BENCHMARKS.md (about 20 minutes, a replica limited to 1800Mi)
bench-scale: build testbin
	$(GO) run ./test/bench/submit --duration 10s --clients 1,16,128 --runs 3 --out $(BIN)/bench-submit.md
	$(GO) run ./test/bench/agent --out $(BIN)/bench-agent.md
	$(GO) run ./test/bench/agent --clusters 3 --workflows 10000 --out $(BIN)/bench-agent-3x10k.md
	$(GO) run ./test/bench/scale --out BENCHMARKS.md --png BENCHMARKS-growth.png --submit-report $(BIN)/bench-submit.md \
		--agent-report $(BIN)/bench-agent.md,$(BIN)/bench-agent-3x10k.md

## lint: gofmt, go vet and golangci-lint (pinned, installed into bin/ on first use)
GOLANGCI_LINT_VERSION := v2.15.0
lint: vet $(BIN)/golangci-lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(BIN)/golangci-lint run ./...
	$(BIN)/golangci-lint run --build-tags e2e ./test/...

$(BIN)/golangci-lint:
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

## run: one control-plane replica in dev mode on 127.0.0.1:8080
run: build
	$(BIN)/federation-server --dev

## demo: 3 control-plane replicas and 3 simulated member clusters on this machine
demo: build
	$(GO) run ./test/demo

## demo-k8s: the same on real member clusters from the testbed
demo-k8s: build testbin
	$(GO) run ./test/demo --backend kubernetes

## kind-up: where Docker and kind exist, a host and three member clusters with everything deployed
kind-up: build
	bash kind-configs/up.sh

kind-down:
	bash kind-configs/down.sh

clean:
	rm -rf $(BIN)
