#!/usr/bin/env python3
"""The orchestrator at scale (issue #12), `make bench-scale`, never part of `make test`.

One local run of 1,000 workers over three regions for SCALE_SECONDS (default 600: ten
minutes) at SCALE_RATE iterations per second in all (default 1,000), against the sample
target on loopback, with the release binaries (BENCH_BIN_DIR). It measures:

- the orchestrator's peak memory (VmHWM of the `sls-load run` process, polled from
  /proc; the workers are separate processes and not counted), and its peak during
  `sls-load report RUN_ID`, which rebuilds everything from the stored objects;
- the HTML report's size and the time to build it (the `HTML report built` debug line),
  and the summary JSON's size;
- the objects read and the wall times.

Results go to bench/results/<date>_scale/results.json and the marked block of
docs/PERFORMANCE.md (unless BENCH_NO_DOC=1).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import docblock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("BENCH_BIN_DIR", "target/release"))
SECONDS = int(os.environ.get("SCALE_SECONDS", "600"))
RATE = int(os.environ.get("SCALE_RATE", "1000"))
WORKERS = int(os.environ.get("SCALE_WORKERS", "1000"))
BEGIN = "<!-- scale-results:begin -->"
END = "<!-- scale-results:end -->"
BUILT = re.compile(r'HTML report built.*?bytes=(\d+).*?build_ms=([0-9.]+)')


def log(msg):
    print(f"bench/scale: {msg}", file=sys.stderr, flush=True)


def peak_kib(pid):
    """The process's VmHWM in KiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measured(cmd, env, timeout):
    """Runs `cmd`, polling its peak memory; returns (exit code, stderr, peak MiB, seconds)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env)
    peak = [0]
    err = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        kib = peak_kib(proc.pid)
        if kib:
            peak[0] = max(peak[0], kib)
        if time.monotonic() - started > timeout:
            proc.kill()
            raise SystemExit(f"{cmd[1]} took longer than {timeout} s")
        time.sleep(0.5)
    reader.join(10)
    return proc.returncode, "".join(err), round(peak[0] / 1024, 1), time.monotonic() - started


def main():
    date = time.strftime("%Y-%m-%d_%H%M%S", time.gmtime())
    out_dir = os.path.join(ROOT, "bench", "results", f"{date}_scale")
    os.makedirs(out_dir, exist_ok=True)
    target = subprocess.Popen(
        [os.path.join(BIN, "sls-load-target"), "--listen", "127.0.0.1:0",
         "--exit-after", f"{SECONDS + 600}s", "--quiet"], stdout=subprocess.PIPE, text=True)
    url = target.stdout.readline().strip().removeprefix("listening on ")
    env = dict(os.environ, SLS_LOAD_LOG="sls_load::commands::html_report=debug")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scenario = os.path.join(tmp, "scale.yaml")
            with open(scenario, "w") as f:
                f.write(f"""target: {url}
duration: {SECONDS}s
regions: {{ us-east-1: 1, eu-west-1: 1, ap-southeast-1: 1 }}
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: {RATE}
    requests:
      - {{ name: home, url: / }}
      - {{ name: api, url: /api }}
""")
            state = os.path.join(tmp, "state")
            summary = os.path.join(tmp, "summary.json")
            html = os.path.join(tmp, "report.html")
            log(f"{WORKERS} workers, 3 regions, {SECONDS} s at {RATE} iterations/s")
            code, err, run_peak, run_s = measured(
                [os.path.join(BIN, "sls-load"), "run", scenario, "--local", "--quiet",
                 "--local-dir", state, "--workers", str(WORKERS),
                 "--local-concurrency", str(WORKERS), "--summary-export", summary,
                 "--html", html], env, SECONDS + 900)
            with open(os.path.join(out_dir, "run.stderr"), "w") as f:
                f.write(err)
            if code not in (0, 1, 99) or not os.path.exists(summary):
                log(err[-3000:])
                raise SystemExit(f"sls-load run exited {code}")
            with open(summary) as f:
                s = json.load(f)
            built = BUILT.search(err)
            run_id = s["run_id"]
            log(f"report {run_id}")
            html2 = os.path.join(tmp, "report2.html")
            rcode, rerr, report_peak, report_s = measured(
                [os.path.join(BIN, "sls-load"), "report", run_id, "--local-dir", state,
                 "--html", html2], env, 1800)
            rebuilt = BUILT.search(rerr)
            with open(os.path.join(out_dir, "report.stderr"), "w") as f:
                f.write(rerr)
            objects = sum(len(files) for _, _, files in os.walk(os.path.join(state)))
            results = {
                "workers": WORKERS, "seconds": SECONDS, "rate": RATE,
                "exit": code, "report_exit": rcode,
                "requests": s["total"]["requests"],
                "errors": s["total"]["errors"],
                "dropped_iterations": s["dropped_iterations"],
                "problems": len(s["workers"]["problems"]),
                "reported": s["workers"]["reported"],
                "files_in_local_state": objects,
                "run_wall_s": round(run_s, 1),
                "run_peak_mib": run_peak,
                "report_wall_s": round(report_s, 1),
                "report_peak_mib": report_peak,
                "html_bytes": os.path.getsize(html),
                "html_build_ms": float(built.group(2)) if built else None,
                "report_html_build_ms": float(rebuilt.group(2)) if rebuilt else None,
                "summary_bytes": os.path.getsize(summary),
            }
    finally:
        target.kill()
        target.wait()
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    r = results
    lines = [
        BEGIN,
        f"Measured {date} UTC (release build, local stand-ins, this 2-core machine): "
        f"{r['workers']:,} workers over three regions, {r['seconds']} s at {r['rate']:,} "
        f"iterations/s of two requests ({r['requests']:,} requests, "
        f"{r['reported']:,} workers reported).",
        "",
        "| measurement | result |",
        "|---|---:|",
        f"| orchestrator peak memory during `run` (VmHWM; local S3 and Lambda stand-ins in the same process, workers not counted) | {r['run_peak_mib']:,} MiB |",
        f"| orchestrator peak memory during `report RUN_ID` (rebuilds from {r['files_in_local_state']:,} stored files) | {r['report_peak_mib']:,} MiB |",
        f"| `report RUN_ID` wall time | {r['report_wall_s']} s |",
        f"| HTML report size | {r['html_bytes'] / 1024:,.0f} KiB |",
        f"| HTML report build time (summary to page) | {r['html_build_ms'] or 0:.1f} ms (run), {r['report_html_build_ms'] or 0:.1f} ms (report) |",
        f"| iterations dropped (no VU free in time: the machine, not the target, was the limit) | {r['dropped_iterations']:,} |",
        f"| `run` exit code / `report` exit code | {r['exit']} / {r['report_exit']} |",
        f"| summary JSON size | {r['summary_bytes'] / 1024:,.0f} KiB |",
        "",
        f"Raw figures: `bench/results/{date}_scale/results.json`.",
        END,
    ]
    block = "\n".join(lines)
    print(block)
    docblock.write(BEGIN, END, block, "A long run at scale (issue #12)")


if __name__ == "__main__":
    main()
