#!/usr/bin/env python3
"""`make bench` (issue #4): the sls-load worker against wrk and oha on one core.

Starts `sls-load-target --threads 1` pinned to core 0, then runs, each pinned to
core 1 for the same duration and connection count: wrk, oha and the worker
(`sls-load-bench`, the real `run_job` path with a local-directory sink) in the
closed model, BENCH_ROUNDS times in alternating order (wrk, oha, worker, wrk, ...)
so that a slow spell of this shared machine hits every tool alike; each tool's
table row is its median round by req/s. Then a fixed-rate run (worker vs
`oha -q --latency-correction`).
Every tool runs under `/usr/bin/time` for CPU and peak RSS. Prints a table with
ratios, saves raw outputs under bench/results/<date>/ and refreshes the results
block of docs/PERFORMANCE.md. Only ever sends load to 127.0.0.1, every run is
bounded by its duration plus a hard timeout. This is a benchmark, not a test.

Environment: BENCH_DURATION (seconds, default 10), BENCH_ROUNDS (closed-model
rounds per tool, default 3), BENCH_CONNECTIONS (50),
BENCH_RATE (fixed-rate run, req/s, 20000),
BENCH_TARGET_CORE (0), BENCH_LOAD_CORE (1), BENCH_NO_INSTALL=1 (do not install
wrk/oha), BENCH_NO_DOC=1 (do not touch docs/PERFORMANCE.md),
BENCH_BIN_DIR (target/release).
"""

import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS_ROOT = os.path.join(ROOT, "bench", ".tools")
DOC = os.path.join(ROOT, "docs", "PERFORMANCE.md")
BEGIN = "<!-- bench:results:begin (written by `make bench`) -->"
END = "<!-- bench:results:end -->"


def env_num(name, default, kind=int):
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = kind(raw.rstrip("s")) if name == "BENCH_DURATION" else kind(raw)
    except ValueError:
        sys.exit(f"bench: {name}={raw!r} is not a number")
    if value <= 0 and name not in ("BENCH_TARGET_CORE", "BENCH_LOAD_CORE"):
        sys.exit(f"bench: {name} must be positive")
    return value


DURATION = env_num("BENCH_DURATION", 10)
CONNS = env_num("BENCH_CONNECTIONS", 50)
ROUNDS = env_num("BENCH_ROUNDS", 3)
RATE = env_num("BENCH_RATE", 20000)
TARGET_CORE = env_num("BENCH_TARGET_CORE", 0)
LOAD_CORE = env_num("BENCH_LOAD_CORE", 1)
BIN = os.path.join(ROOT, os.environ.get("BENCH_BIN_DIR", "target/release"))
# Hard bound on any single tool run, whatever it does.
RUN_TIMEOUT = DURATION + 60

GOALS = {
    "rps_vs_wrk": 0.9,
    "rps_vs_oha": 1.0,
    "cpu_vs_wrk": 1.2,
    "rss_mb": 64,
}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- tools


def ensure_wrk():
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.environ.get("BENCH_NO_INSTALL"):
        log("wrk not found and BENCH_NO_INSTALL is set; skipping wrk")
        return None
    log("installing wrk from Debian (apt-get update && apt-get install -y wrk)")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    for argv in (sudo + ["apt-get", "update"], sudo + ["apt-get", "install", "-y", "wrk"]):
        r = sh(argv)
        if r.returncode != 0:
            log(f"`{' '.join(argv)}` failed; continuing without wrk:\n{r.stderr[-2000:]}")
            return None
    return shutil.which("wrk")


def ensure_oha():
    local = os.path.join(TOOLS_ROOT, "bin", "oha")
    for candidate in (shutil.which("oha"), local):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("BENCH_NO_INSTALL"):
        log("oha not found and BENCH_NO_INSTALL is set; skipping oha")
        return None
    log(f"building oha once with `cargo install oha --locked --root {TOOLS_ROOT}` (takes minutes)")
    r = subprocess.run(
        ["cargo", "install", "oha", "--locked", "--root", TOOLS_ROOT],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if r.returncode != 0 or not os.access(local, os.X_OK):
        log(f"oha could not be built; continuing without it:\n{r.stderr[-2000:]}")
        return None
    return local


def tool_version(path):
    r = sh([path, "--version"])
    out = (r.stdout or r.stderr).strip().splitlines()
    if out:
        return out[0]
    r = sh([path, "-v"])  # wrk prints its version on -v
    return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr) else "?"


# ---------------------------------------------------------------- machine


def machine():
    model = "?"
    r = sh(["lscpu"])
    for line in r.stdout.splitlines():
        if line.lower().startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": sh(["nproc"]).stdout.strip(),
        "cpu": model,
        "kernel": platform.release(),
        "rustc": sh(["rustc", "--version"]).stdout.strip(),
        "loadavg_before": open("/proc/loadavg").read().split()[:3],
    }


# ---------------------------------------------------------------- target


class Target:
    def __init__(self, out_dir):
        exe = os.path.join(BIN, "sls-load-target")
        self.log_path = os.path.join(out_dir, "target.log")
        bound = 6 * (RUN_TIMEOUT + 5) + 60
        self.argv = [
            "taskset", "-c", str(TARGET_CORE), exe,
            "--listen", "127.0.0.1:0", "--threads", "1",
            "--exit-after", f"{bound}s", "--quiet",
        ]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = None
        for _ in range(200):
            m = re.search(r"^listening on (http://\S+)", open(self.log_path).read(), re.M)
            if m:
                self.url = m.group(1)
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.url or not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            sys.exit(f"bench: the target did not start on loopback; see {self.log_path}")

    def reset(self):
        req = urllib.request.Request(self.url + "/__reset", method="POST")
        urllib.request.urlopen(req, timeout=5).read()

    def count(self):
        with urllib.request.urlopen(self.url + "/__stats", timeout=5) as r:
            return json.load(r).get("requests")

    def cpu_seconds(self):
        try:
            fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- parsing

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(stdout):
    res = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", stdout)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", stdout)
    if m:
        res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", stdout, re.M)
        if m:
            res[key] = wrk_ms(m.group(1))
    errs = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout)
    if m:
        errs += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
    if m:
        errs += int(m.group(1))
    res["errors"] = errs
    return res


def parse_oha(stdout):
    data = json.loads(stdout)
    summ = data.get("summary", {})
    codes = data.get("statusCodeDistribution", {}) or {}
    errors = data.get("errorDistribution", {}) or {}
    ok = sum(codes.values())
    pct = data.get("latencyPercentiles", {}) or {}
    res = {
        "requests": ok,
        "rps": ok / DURATION,
        "rps_oha": summ.get("requestsPerSec"),
        "errors": sum(n for c, n in codes.items() if not str(c).startswith(("2", "3")))
        + sum(n for e, n in errors.items() if "deadline" not in e),
        "aborted_at_deadline": sum(n for e, n in errors.items() if "deadline" in e),
    }
    for key, q in (("p50_ms", "p50"), ("p99_ms", "p99")):
        if pct.get(q) is not None:
            res[key] = pct[q] * 1e3
    return res


def parse_worker(stdout):
    line = [ln for ln in stdout.splitlines() if ln.startswith("{")][-1]
    data = json.loads(line)
    return {
        "requests": data["requests"],
        "rps": data["rps"],
        "errors": data["errors"],
        "dropped": data["dropped_iterations"],
        "p50_ms": data["p50_ms"],
        "p99_ms": data["p99_ms"],
        "executor": data["executor"],
        "self": data,
    }


# ---------------------------------------------------------------- runs


def run_tool(name, argv, parser, target, out_dir):
    """Runs argv pinned to LOAD_CORE under /usr/bin/time; returns the result dict."""
    time_file = os.path.join(out_dir, f"{name}.time")
    full = ["/usr/bin/time", "-f", "%U %S %M %e %w %c", "-o", time_file,
            "taskset", "-c", str(LOAD_CORE)] + argv
    try:
        target.reset()
    except OSError as e:
        log(f"{name}: could not reset the target's counters: {e}")
    cpu0 = target.cpu_seconds()
    load = open("/proc/loadavg").read().split()[0]
    log(f"{name}: {' '.join(argv)}")
    with open(os.path.join(out_dir, f"{name}.cmd"), "w") as f:
        f.write(" ".join(full) + "\n")
    try:
        r = subprocess.run(full, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        stdout, stderr, code = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr = "timed out after %ss" % RUN_TIMEOUT
        code = -1
    cpu1 = target.cpu_seconds()
    for ext, text in (("stdout", stdout), ("stderr", stderr)):
        with open(os.path.join(out_dir, f"{name}.{ext}"), "w") as f:
            f.write(text)
    res = {"tool": name, "cmd": " ".join(argv), "exit": code, "loadavg_1m": float(load)}
    try:
        res.update(parser(stdout))
    except (ValueError, KeyError, IndexError) as e:
        res["parse_error"] = f"{type(e).__name__}: {e}"
        log(f"{name}: could not parse its output (exit {code}); see {out_dir}/{name}.stdout")
    try:
        user, sys_, rss_kb, wall, vol, invol = open(time_file).read().split()[-6:]
        res.update(cpu_s=float(user) + float(sys_), cpu_user_s=float(user),
                   cpu_sys_s=float(sys_), rss_mb=int(rss_kb) / 1024, wall_s=float(wall),
                   ctx_voluntary=int(vol), ctx_involuntary=int(invol))
        res["cpu_pct"] = 100 * res["cpu_s"] / DURATION
    except (OSError, ValueError):
        pass
    if res.get("requests") and res.get("cpu_s"):
        res["cpu_us_per_req"] = res["cpu_s"] * 1e6 / res["requests"]
        # What one fully busy core would send at this cost: robust to a shared machine.
        res["rps_per_core"] = 1e6 / res["cpu_us_per_req"]
    try:
        res["target_count"] = target.count()
    except OSError:
        pass
    if cpu0 is not None and cpu1 is not None:
        res["target_cpu_pct"] = 100 * (cpu1 - cpu0) / DURATION
    time.sleep(1)  # let sockets and the CPU settle between tools
    return res


def median_round(tool, runs):
    """The round with the median req/s (the lower one of two middles), named after
    the tool, with every round's req/s in run order."""
    ranked = sorted(runs, key=lambda r: r.get("rps") or 0)
    pick = dict(ranked[(len(ranked) - 1) // 2])
    pick["round"] = pick["tool"]
    pick["tool"] = tool
    pick["rounds_rps"] = [r.get("rps") for r in runs]
    return pick


def rounds_line(closed):
    if ROUNDS < 2:
        return ""
    parts = []
    for r in closed:
        rps = " / ".join(fmt(v, ",.0f") for v in r.get("rounds_rps", []))
        parts.append(f"{r['tool']} {rps}")
    return (f"Closed-model req/s of each of the {ROUNDS} rounds, in run order (tools "
            f"alternating): {'; '.join(parts)}. Each row above is the tool's median "
            "round, and the ratios compare those medians.")


def ratio(a, b):
    return a / b if a and b else None


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def table(results, fixed):
    head = ("| tool | req/s | CPU µs/req | req/s per CPU-s | tool CPU % | peak RSS MB | p50 ms "
            "| p99 ms | errors | dropped | target CPU % |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results + fixed:
        lines.append(
            f"| {r['label']} | {fmt(r.get('rps'), ',.0f')} | {fmt(r.get('cpu_us_per_req'), '.1f')} "
            f"| {fmt(r.get('rps_per_core'), ',.0f')} | {fmt(r.get('cpu_pct'), '.0f')} "
            f"| {fmt(r.get('rss_mb'), '.1f')} | {fmt(r.get('p50_ms'), '.3f')} "
            f"| {fmt(r.get('p99_ms'), '.3f')} | {r.get('errors', '—')} | {r.get('dropped', '—')} "
            f"| {fmt(r.get('target_cpu_pct'), '.0f')} |"
        )
    return "\n".join(lines)


def contention(closed):
    """Closed-model runs limited by neither the tool nor the target: other processes
    had the cores (fixed-rate runs are meant to leave both partly idle)."""
    starved = [r["tool"] for r in closed
               if max(r.get("cpu_pct") or 0, r.get("target_cpu_pct") or 0) < 85]
    if not starved:
        return ""
    return ("Warning: in " + ", ".join(starved) + " neither the load generator nor the target "
            "used 85 % of its core, so other processes held the cores; req/s is not "
            "comparable and CPU µs/req is inflated by idle wake-ups.")


def goals(by):
    w, k, o = by.get("worker"), by.get("wrk"), by.get("oha")
    rows = []

    def row(name, value, goal, ok):
        verdict = "—" if value is None or ok is None else ("met" if ok(value) else "**missed**")
        rows.append(f"| {name} | {fmt(value, '.2f')} | {goal} | {verdict} |")

    g = GOALS
    row("worker / wrk req/s", ratio(w and w.get("rps"), k and k.get("rps")),
        f"≥ {g['rps_vs_wrk']}", lambda v: v >= g["rps_vs_wrk"])
    row("worker / oha req/s", ratio(w and w.get("rps"), o and o.get("rps")),
        f"≥ {g['rps_vs_oha']}", lambda v: v >= g["rps_vs_oha"])
    row("worker / wrk CPU per request",
        ratio(w and w.get("cpu_us_per_req"), k and k.get("cpu_us_per_req")),
        f"≤ {g['cpu_vs_wrk']}", lambda v: v <= g["cpu_vs_wrk"])
    row("worker / oha CPU per request",
        ratio(w and w.get("cpu_us_per_req"), o and o.get("cpu_us_per_req")),
        "(informative)", None)
    row("worker peak RSS (MB)", w and w.get("rss_mb"), f"< {g['rss_mb']}",
        lambda v: v < g["rss_mb"])
    return "\n".join(["| ratio | value | goal | verdict |", "|---|---:|---|---|"] + rows)


def main():
    for exe in ("sls-load-target", "sls-load-bench"):
        if not os.access(os.path.join(BIN, exe), os.X_OK):
            sys.exit(f"bench: {BIN}/{exe} missing; run `cargo build --release "
                     "-p sls-load-bench -p sls-load-target --bins` (make bench does)")
    for need in ("taskset", "/usr/bin/time"):
        if not shutil.which(need):
            sys.exit(f"bench: `{need}` is required (Debian: util-linux, time)")
    if (os.cpu_count() or 1) < 2:
        log("fewer than 2 CPUs: target and load generators will share a core")

    wrk, oha = ensure_wrk(), ensure_oha()
    now = datetime.datetime.now(datetime.timezone.utc)
    out_dir = os.path.join(ROOT, "bench", "results", now.strftime("%Y-%m-%d_%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    info = machine()
    info["date"] = now.strftime("%Y-%m-%d %H:%M UTC")
    info["tools"] = {n: tool_version(p) for n, p in (("wrk", wrk), ("oha", oha)) if p}
    info["settings"] = {"duration_s": DURATION, "rounds": ROUNDS, "connections": CONNS,
                        "fixed_rate": RATE,
                        "target_core": TARGET_CORE, "load_core": LOAD_CORE}

    bench = os.path.join(BIN, "sls-load-bench")
    target = Target(out_dir)
    url = target.url + "/"
    log(f"target {url} on core {TARGET_CORE}; load on core {LOAD_CORE}; {DURATION}s per run")
    closed, fixed = [], []
    try:
        rounds = {}
        for k in range(1, ROUNDS + 1):
            tag = f"-{k}" if ROUNDS > 1 else ""
            if wrk:
                r = run_tool(f"wrk{tag}", [wrk, "-t1", f"-c{CONNS}", f"-d{DURATION}s", "--latency",
                                           url], parse_wrk, target, out_dir)
                rounds.setdefault("wrk", []).append(dict(r, label="wrk"))
            if oha:
                r = run_tool(f"oha{tag}", [oha, "-z", f"{DURATION}s", "-c", str(CONNS),
                                           "--worker-threads", "1", "--no-tui",
                                           "--output-format", "json", url], parse_oha, target,
                             out_dir)
                rounds.setdefault("oha", []).append(dict(r, label="oha"))
            r = run_tool(f"worker{tag}", [bench, "--target", target.url, "--duration",
                                          f"{DURATION}s", "--vus", str(CONNS), "--out",
                                          os.path.join(out_dir, f"worker-closed{tag}")],
                         parse_worker, target, out_dir)
            label = f"sls-load worker ({r.get('executor', '?')}, {CONNS} VUs)"
            rounds.setdefault("worker", []).append(dict(r, label=label))
        closed = [median_round(tool, runs) for tool, runs in rounds.items()]
        r = run_tool("worker-rate", [bench, "--target", target.url, "--duration",
                                     f"{DURATION}s", "--vus", str(CONNS), "--rate", str(RATE),
                                     "--out", os.path.join(out_dir, "worker-rate")],
                     parse_worker, target, out_dir)
        fixed.append(dict(r, label=f"sls-load worker @ {RATE}/s (CO-corrected)"))
        if oha:
            r = run_tool("oha-rate", [oha, "-z", f"{DURATION}s", "-c", str(CONNS),
                                      "--worker-threads", "1", "-q",
                                      str(RATE), "--latency-correction", "--no-tui",
                                      "--output-format", "json", url],
                         parse_oha, target, out_dir)
            fixed.append(dict(r, label=f"oha -q {RATE} --latency-correction"))
    finally:
        target.stop()

    by = {r["tool"]: r for r in closed}
    info["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    tbl, gl = table(closed, fixed), goals(by)
    runs = {r["tool"]: r for r in closed + fixed}
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"machine": info, "runs": runs}, f, indent=2)
    block = render(info, tbl, gl, runs, out_dir, contention(closed), rounds_line(closed))
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(block + "\n")
    print(block)
    if not os.environ.get("BENCH_NO_DOC"):
        update_doc(block)
    log(f"raw outputs in {os.path.relpath(out_dir, ROOT)}/")


def render(info, tbl, gl, runs, out_dir, warning, rounds):
    tools = ", ".join(f"{k} `{v}`" for k, v in info["tools"].items()) or "none"
    cmds = "\n".join(f"{name:12} taskset -c {LOAD_CORE} {r['cmd']}" for name, r in runs.items())
    cmds = cmds.replace(ROOT + "/", "")
    return "\n".join([
        f"Run of {info['date']} — {info['nproc']} CPUs, {info['cpu']}, kernel {info['kernel']}, "
        f"{info['rustc']}; tools: {tools}. Load average before/after: "
        f"{' '.join(info['loadavg_before'])} / {' '.join(info['loadavg_after'])}. "
        f"{DURATION} s per run, {ROUNDS} closed-model round(s) per tool, {CONNS} connections. "
        f"Raw outputs: `{os.path.relpath(out_dir, ROOT)}/`.",
        "",
        tbl,
        "",
        rounds,
        "",
        warning,
        "",
        gl,
        "",
        "Commands (target: `taskset -c "
        f"{TARGET_CORE} target/release/sls-load-target --listen 127.0.0.1:0 --threads 1`; "
        "each tool under `/usr/bin/time -f \"%U %S %M %e %w %c\"`):",
        "",
        "```",
        cmds,
        "```",
    ])


def update_doc(block):
    try:
        text = open(DOC).read()
    except OSError:
        log(f"{DOC} missing; results only in bench/results/")
        return
    if BEGIN not in text or END not in text:
        log(f"{DOC} has no results markers; not updated")
        return
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(DOC, "w") as f:
        f.write(head + BEGIN + "\n" + block + "\n" + END + tail)
    log(f"updated the results block of {os.path.relpath(DOC, ROOT)}")


if __name__ == "__main__":
    main()
