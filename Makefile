# ajar — build, demo, test. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/ajar
DEMO_DB ?= $(CURDIR)/.demo/ajar.db
LAB_TARGETS := 127.0.10.10-127.0.13.61
# Every probe's default ports, and the other ports the lab's secured servers use.
LAB_PORTS := data,1389,1873,1983,2121,2281,2479,4322,5100,5772,8080,8186,8223,8286,9100,9190,11311,15772,27117
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help build demo test test-deps lab-up lab-down lab-status vet lint unit fmt-check bench-discover bench-identify bench-serve bench-breach bench-cluster

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## build bin/ajar
	$(GO) build -o $(BIN) ./cmd/ajar

demo: build lab-up ## start the lab on loopback, scan it into .demo/ajar.db and print what is exposed
	@mkdir -p $(dir $(DEMO_DB))
	$(BIN) scan $(LAB_TARGETS) -p $(LAB_PORTS) --db $(DEMO_DB)
	@echo
	$(BIN) list --db $(DEMO_DB) --status exposed,protected
	@echo
	@echo "More: $(BIN) show 127.0.10.20:3306 --db $(DEMO_DB)"

lab-up: ## install (if missing) and start the lab's servers on 127.0.10.x
	lab/up

lab-down: ## stop the lab
	lab/down

lab-status: ## show which lab servers are up
	lab/status

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: ## staticcheck (built from the Go module proxy)
	$(GO) run $(STATICCHECK) ./...

test-deps: ## install what the tests need beside the lab: headless Chromium, nats-server
	@need=(); command -v chromium >/dev/null || need+=(chromium); command -v nats-server >/dev/null || need+=(nats-server); \
	if (($${#need[@]})); then \
		[ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$${need[@]}"; \
	fi

unit:
	$(GO) test -race -count=1 -timeout 30m ./...

test: test-deps lab-up fmt-check vet lint unit ## install and start what the tests need, then vet, lint and run every test (fuzz seeds included)

bench-discover: build ## discovery speed against nmap on loopback (root; see BENCHMARKS.md)
	bash bench/discover.sh

bench-identify: build lab-up ## identification against nmap -sV on the lab
	bash bench/identify/run.sh

bench-serve: ## search API latency on 1 000 000 synthetic exposures
	$(GO) run ./bench/serve

bench-breach: ## breach range store: import, RSS, lookups, HTTP, against a PostgreSQL table (writes bench/results-breach.md)
	$(GO) run ./bench/breach -n 10000000 -out bench/results-breach.md

bench-cluster: build lab-up ## cluster throughput with 1, 2 and 4 workers (NATS 127.0.0.1:4222, PostgreSQL 127.0.0.1:5432)
	$(GO) run ./bench/cluster -ajar $(BIN)
