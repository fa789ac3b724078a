#!/usr/bin/env bash
# Runs the demo: starts the sample target on a free loopback port, runs
# samples/demo.yaml against it in local mode over three regions, prints the
# summary and writes the HTML report. Everything it starts is stopped when it exits, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-target/debug}
out=${SLS_LOAD_LOCAL_DIR:-.sls-load}
mkdir -p "$out"

target_log="$out/target.log"
"$bin/sls-load-target" --listen 127.0.0.1:0 --delay 2ms --exit-after 5m >"$target_log" 2>&1 &
target_pid=$!
cleanup() { kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$target_log" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "demo: the sample target did not start; see $target_log" >&2; exit 1; }
echo "demo: sample target at $url"

"$bin/sls-load" run samples/demo.yaml --local --local-dir "$out" --target "$url" \
  --regions us-east-1,eu-west-1,ap-southeast-1 --workers 6 \
  --summary-export "$out/demo-summary.json" --html "$out/demo-report.html" "$@"
echo "demo: summary JSON in $out/demo-summary.json"
echo "demo: HTML report in $out/demo-report.html (open it in a browser; it works offline)"
