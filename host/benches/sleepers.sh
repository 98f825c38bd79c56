#!/usr/bin/env bash
# A sleeping Python handler behind --handler-timeout 500ms: 100 requests to it in a row
# (each sleeps 60 s in time.sleep; the wall-clock deadline answers 500) while wrk loads
# /small.html on the built-in handler; then the same wrk run without sleepers.
# Prints the sleepers' latency and small's req/s, p50 and p99 for both runs.
# Needs wrk, curl, target/release/sandserve and target/handlers/python-fixture.wasm.
# Usage: host/benches/sleepers.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-55}"
root="$(mktemp -d)"
trap 'kill $server 2>/dev/null || true; rm -rf "$root"' EXIT
head -c 1024 /dev/zero | tr '\0' 'x' > "$root/small.html"
port=18473
taskset -c 0 target/release/sandserve --root "$root" --listen 127.0.0.1:$port -q \
  --handler-timeout 500ms --mount /py/=target/handlers/python-fixture.wasm 2>/dev/null &
server=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/small.html" && break; sleep 0.2; done
load() { taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency "http://127.0.0.1:$port/small.html"; }
summary() { awk '/Requests\/sec/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "small: %s req/s, p50 %s, p99 %s\n", r, p50, p99}'; }
echo "== with 100 sleepers in a row"
load > /tmp/sleepers-wrk.txt &
wrk=$!
sleep 1
for _ in $(seq 100); do
  taskset -c 1 curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$port/py/sleep"
done > /tmp/sleepers-curl.txt
wait $wrk
summary < /tmp/sleepers-wrk.txt
sort -k2 -n /tmp/sleepers-curl.txt | awk '{c[$1]++; t[NR]=$2} END {for (k in c) printf "sleepers: %d answered %s; ", c[k], k; printf "latency min %s, median %s, max %s s\n", t[1], t[int((NR+1)/2)], t[NR]}'
echo "== without sleepers"
load | summary
