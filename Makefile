# The front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the build, the tests and the benchmarks need.
APT_PACKAGES := pkg-config libjemalloc-dev libb2-dev libnats-dev libsqlite3-dev nats-server wrk hey nginx-light procps curl openssl \
  valgrind binutils jq iproute2
SWIFT ?= swift
SWIFT_FLAGS ?=
RELEASE_FLAGS := -c release

.PHONY: help deps build release test tsan bench bench-micro bench-instructions compare report report-check faults \
  fuzz run format lint clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-19s %s\n", $$1, $$2}'

deps: ## Install the missing Debian packages (idempotent; apt-get update only when something is missing)
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all present"; fi

build: deps ## Debug build of every target
	$(SWIFT) build $(SWIFT_FLAGS)

release: deps ## Release build of the executables
	$(SWIFT) build $(RELEASE_FLAGS) $(SWIFT_FLAGS)

test: deps ## Run every test (real sockets, a real nats-server) — what CI runs
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)

tsan: deps ## Run the concurrency tests (actors, cluster, NATS transport, HTTP front, event sourcing, SQLite store) under the thread sanitizer
	CLSTR_SYSTEM_MALLOC=1 $(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan $(SWIFT_FLAGS)
	CLSTR_SYSTEM_MALLOC=1 $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan \
	  --filter 'RuntimeTests|RuntimeNATSTests|HTTPFrontTests|EventSourcingTests|EventStoreSQLiteTests' $(SWIFT_FLAGS)

bench: deps ## Run the benchmark suite (release; QUICK=1 small, SOAK=1 adds the soak; req/s and CPU µs/request); appends results/bench.csv
	scripts/bench.sh

bench-micro: deps ## Run the package-benchmark suites only
	cd Benchmarks && $(SWIFT) build -c release --product ActorHeapProbe
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark --no-progress

bench-instructions: deps ## Instructions per request under callgrind (counter, NATS node, accounting deposit on the memory store, nginx; ~1–4 min); appends results/instructions.csv and writes results/instructions-top.txt
	scripts/bench-instructions.sh

compare: ## Compare bench medians (req/s, latency, heap, CPU/request ±5 %) and instructions/request (±2 %) with BASE=<commit>; non-zero on a regression
	scripts/bench.sh compare "$(BASE)" "$(HEAD)"

report: ## Render results/report.html (self-contained, inline SVG) from results/bench.csv and results/instructions.csv
	$(SWIFT) build $(RELEASE_FLAGS) --product loadgen $(SWIFT_FLAGS)
	.build/release/loadgen report html --results results/bench.csv --instructions results/instructions.csv \
	  --output results/report.html

report-check: report ## Render the report with headless Chromium to .build/report-check/report.png (installs chromium)
	@command -v chromium >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; }
	mkdir -p .build/report-check
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,3400 \
	  --screenshot=.build/report-check/report.png "file://$(CURDIR)/results/report.html"
	@test -s .build/report-check/report.png && echo "report-check: .build/report-check/report.png (open it and look)"

faults: deps ## Fault scenarios (NATS/node/gateway restarts, hostile clients, churn, soak); verdicts → results/faults.csv (QUICK=1, SCENARIOS="1 6")
	scripts/faults.sh

fuzz: deps ## libFuzzer targets (HTTP parser, JSON amount, NATS envelope, event decoders), FUZZ_SECONDS (default 60) each from Fuzz/corpus
	scripts/fuzz.sh

run: release ## Run counter-service with its defaults (7 nodes, 64 shards, HTTP :8181 — what `loadgen -n 100000 -c 200` without a URL drives — metrics :2121)
	.build/release/counter-service

FORMAT_PATHS := Sources Tests Benchmarks/Benchmarks Benchmarks/Probes Benchmarks/ActorLatencyProbe Benchmarks/Package.swift Fuzz Package.swift

format: ## Format the sources with swift format
	$(SWIFT) format --in-place --recursive $(FORMAT_PATHS)

lint: ## Lint the sources with swift format; fails on any warning (--strict)
	$(SWIFT) format lint --strict --recursive $(FORMAT_PATHS)

clean: ## Remove build folders
	rm -rf .build .build-* Benchmarks/.build
