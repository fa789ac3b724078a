#!/usr/bin/env bash
# Runs the failover drill: starts the sample multi-region system (three
# regional backends behind a router, `sls-load-target system`) on a free
# loopback port, runs samples/drill.yaml against it in local mode (eu-west-1's
# backend goes down at 20 s and comes back at 40 s), and writes the HTML report
# when this sls-load has `--html` (else the summary JSON). Everything it starts
# is stopped when it exits, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-target/debug}
out=${SLS_LOAD_LOCAL_DIR:-.sls-load}
mkdir -p "$out"

system_log="$out/drill-system.log"
# Backends answer in 20 ms, like a region nearby: loopback's sub-millisecond
# answers make one second's p95 too noisy for a band of 1.5 × the baseline's.
"$bin/sls-load-target" system --listen 127.0.0.1:0 --delay 20ms --exit-after 5m >"$system_log" 2>&1 &
system_pid=$!
cleanup() { kill "$system_pid" 2>/dev/null || true; wait "$system_pid" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$system_log" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "drill: the sample system did not start; see $system_log" >&2; exit 1; }
echo "drill: sample system (router) at $url"

report=()
if "$bin/sls-load" run --help 2>/dev/null | grep -q -- '--html'; then
  report=(--html "$out/drill-report.html")
fi
status=0
"$bin/sls-load" run samples/drill.yaml --local --local-dir "$out" --target "$url" \
  --summary-export "$out/drill-summary.json" "${report[@]}" "$@" || status=$?
if [ ${#report[@]} -gt 0 ]; then
  echo "drill: HTML report in $out/drill-report.html"
fi
echo "drill: summary JSON in $out/drill-summary.json"
exit "$status"
