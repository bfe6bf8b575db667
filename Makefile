# The two commands a newcomer types: `make run` and `make test`.
# Both install missing system packages first (apt-get as root; otherwise they print the command).

SWIFT ?= swift
ARGS ?=
BIN := .build/debug/teleops

.PHONY: deps build run test bench release clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build --product teleops

## Run the controller on its embedded defaults (SQLite in ./.teleops, two local workers,
## console chat). Extra flags: make run ARGS="--config teleops.yaml"
run: build
	$(BIN) serve $(ARGS)

## Build everything (including the teleops binary the acceptance tests start) and run all tests.
## Installs chromium too (the headless browser test of the scenario pages).
## A run takes about a minute; one that hangs is stopped after TEST_TIMEOUT so it fails instead
## of stalling CI, and a crash prints the crashed thread's backtrace only (all threads of a test
## run take minutes to symbolicate).
TEST_TIMEOUT ?= 20m
test:
	@./scripts/install-deps.sh --test
	$(SWIFT) build --build-tests
	SWIFT_BACKTRACE=threads=crashed timeout --kill-after=30s $(TEST_TIMEOUT) $(SWIFT) test --skip-build

## Release build and the pipeline benchmarks (figures go in docs/BENCHMARKS.md).
bench: deps
	$(SWIFT) build -c release --product teleops
	$(SWIFT) build -c release --product teleops-bench
	.build/release/teleops-bench --teleops .build/release/teleops $(ARGS)

release: deps
	$(SWIFT) build -c release --product teleops

clean:
	rm -rf .build .teleops
