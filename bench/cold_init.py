#!/usr/bin/env python3
"""`make bench-cold-init`: the packaged worker's cold start under AWS's own Lambda
Runtime Interface Emulator (from `make test-deps`), and the zips' sizes.

For each of ROUNDS rounds a fresh emulator starts the `bootstrap` of
build/sls-load-worker-x86_64.zip (the emulator is x86_64), one invocation is
sent (a payload the worker refuses at once, so nothing but start-up and one
round trip is measured), and the emulator's `INIT REPORT(durationMs: ...)` is
read: the time from process start until the runtime asked for its first event.
Prints the median and the maximum, and each zip's size. A benchmark, not a test:
the figures go to docs/PERFORMANCE.md.
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPS = os.environ.get("TEST_DEPS_DIR", os.path.join(ROOT, "target", "test-deps"))
RIE = os.path.join(DEPS if os.path.isabs(DEPS) else os.path.join(ROOT, DEPS), "aws-lambda-rie")
ROUNDS = int(os.environ.get("ROUNDS", "10"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_round(bootstrap):
    port, api = free_port(), free_port()
    with tempfile.TemporaryFile("w+") as log:
        rie = subprocess.Popen(
            [RIE, "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
             "--runtime-api-address", f"127.0.0.1:{api}", bootstrap],
            env={"PATH": os.environ["PATH"], "AWS_LAMBDA_FUNCTION_NAME": "sls-load-worker",
                 "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769"},
            stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise SystemExit("the emulator did not listen")
                    time.sleep(0.02)
            url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
            urllib.request.urlopen(urllib.request.Request(url, data=b'{"cold":1}'), timeout=30).read()
            time.sleep(0.2)
        finally:
            rie.terminate()
            rie.wait(10)
        log.seek(0)
        text = log.read()
    init = re.search(r"INIT REPORT\(durationMs: ([0-9.]+)\)", text)
    if not init:
        raise SystemExit(f"no INIT REPORT in the emulator's log:\n{text}")
    return float(init.group(1))


def main():
    if not os.access(RIE, os.X_OK):
        sys.exit(f"{RIE} is missing: run `make test-deps`")
    for arch in ("arm64", "x86_64"):
        z = os.path.join(ROOT, "build", f"sls-load-worker-{arch}.zip")
        if os.path.exists(z):
            print(f"{arch} zip: {os.path.getsize(z) / 1048576:.2f} MB")
    z = os.path.join(ROOT, "build", "sls-load-worker-x86_64.zip")
    if not os.path.exists(z):
        sys.exit(f"{z} is missing: run `make package`")
    with tempfile.TemporaryDirectory() as d:
        zipfile.ZipFile(z).extractall(d)
        bootstrap = os.path.join(d, "bootstrap")
        os.chmod(bootstrap, 0o755)
        inits = [one_round(bootstrap) for _ in range(ROUNDS)]
    print(f"cold init under the Runtime Interface Emulator, {ROUNDS} rounds: "
          f"median {statistics.median(inits):.1f} ms, max {max(inits):.1f} ms")


main()
