#!/usr/bin/env python3
"""Orchestration benchmarks (issue #5), part of `make bench`, never of `make test`.

1. Start skew over 200 local workers in 3 regions (goal: p99 < 5 ms).
2. Time to fan out 1,000 Event invocations to the local Lambda service (goal < 3 s).

Uses the release binaries in target/release (BENCH_BIN_DIR) and the sample target on
loopback. Every run is bounded (a few seconds of load at a small rate). Results go
to bench/results/<date>_orchestration/ and the marked block of docs/PERFORMANCE.md
(unless BENCH_NO_DOC=1).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

import docblock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("BENCH_BIN_DIR", "target/release"))
BEGIN = "<!-- orchestration-results:begin -->"
END = "<!-- orchestration-results:end -->"


def log(msg):
    print(f"bench/orchestration: {msg}", file=sys.stderr, flush=True)


def start_target():
    proc = subprocess.Popen(
        [os.path.join(BIN, "sls-load-target"), "--listen", "127.0.0.1:0",
         "--exit-after", "10m", "--quiet"],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"target did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def run(url, workers, rate, seconds, state):
    scenario = os.path.join(state, "scenario.yaml")
    with open(scenario, "w") as f:
        f.write(f"""target: {url}
duration: {seconds}s
regions: {{ us-east-1: 1, eu-west-1: 1, ap-southeast-1: 1 }}
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: {rate}
    requests: [{{ name: home, url: / }}]
""")
    summary = os.path.join(state, "summary.json")
    started = time.monotonic()
    out = subprocess.run(
        [os.path.join(BIN, "sls-load"), "run", scenario, "--local", "--quiet", "--timings",
         "--local-dir", os.path.join(state, "state"), "--workers", str(workers),
         "--local-concurrency", str(workers),
         "--summary-export", summary],
        capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    if out.returncode not in (0, 1, 99) or not os.path.exists(summary):
        log(out.stderr[-2000:])
        raise SystemExit(f"sls-load run exited {out.returncode}")
    fanout = re.search(r"slice 0: (\d+) invocations in ([0-9.]+)s", out.stderr)
    with open(summary) as f:
        s = json.load(f)
    return {
        "workers": workers,
        "reported": s["workers"]["reported"],
        "start_skew_ms": s["workers"]["start_skew_ms"],
        "late": len(s["workers"]["late"]),
        "requests": s["total"]["requests"],
        "fanout_s": float(fanout.group(2)) if fanout else None,
        "wall_s": round(elapsed, 1),
    }


def main():
    date = time.strftime("%Y-%m-%d_%H%M%S", time.gmtime())
    out_dir = os.path.join(ROOT, "bench", "results", f"{date}_orchestration")
    os.makedirs(out_dir, exist_ok=True)
    target, url = start_target()
    try:
        with tempfile.TemporaryDirectory() as state:
            log("200 workers, 3 regions, 5 s at 400 req/s")
            skew = run(url, 200, 400, 5, state)
        with tempfile.TemporaryDirectory() as state:
            log("1,000 workers, 3 regions, 2 s at 1,000 req/s (fan-out)")
            fan = run(url, 1000, 1000, 2, state)
    finally:
        target.kill()
        target.wait()
    results = {"skew_200": skew, "fanout_1000": fan}
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    p99 = skew["start_skew_ms"]["p99"]
    lines = [
        BEGIN,
        f"Measured {date} UTC (release build, local stand-ins, this 2-core machine):",
        "",
        "| measurement | result | goal |",
        "|---|---:|---|",
        f"| start skew over {skew['workers']} workers, 3 regions (p50 / p99 / max) | "
        f"{skew['start_skew_ms']['p50']:.2f} / {p99:.2f} / {skew['start_skew_ms']['max']:.2f} ms | "
        f"p99 < 5 ms: {'met' if p99 < 5 else 'NOT met'} |",
        f"| fan-out of {fan['workers']} Event invokes to the local Lambda service | "
        f"{fan['fanout_s']:.3f} s | < 3 s: {'met' if fan['fanout_s'] is not None and fan['fanout_s'] < 3 else 'NOT met'} |",
        f"| workers reported (200 / 1,000 run) | {skew['reported']} / {fan['reported']} | all |",
        "",
        f"Raw figures: `bench/results/{date}_orchestration/results.json`.",
        END,
    ]
    block = "\n".join(lines)
    print(block)
    docblock.write(BEGIN, END, block, "Orchestration (issue #5)")


if __name__ == "__main__":
    main()
