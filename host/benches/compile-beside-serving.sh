#!/usr/bin/env bash
# A compile while the server serves keeps to one core (issue 27; BENCHMARKS.md): the
# Python seed (19 MB) compiled with no compiled-handler cache (--no-cache) three ways —
# at start-up (before serving: every core), swapped in on an idle server, and swapped in
# while wrk loads the built-in handler — with the server's wall and CPU seconds for each
# compile, and the built-in handler's req/s during the loaded swap against a run without
# one. Run with nothing else busy; needs wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/sandserve
py=target/handlers/seed-python.wasm
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }
served() { until curl -s -o /dev/null "http://127.0.0.1:$1/"; do sleep 0.05; done; }
report() { # LABEL WALL_START WALL_END CPU_TICKS
  awk -v l="$1" -v a="$2" -v b="$3" -v c="$4" -v t="$tick" \
    'BEGIN { w = b - a; printf "%-34s wall %5.2f s  CPU %5.2f s  (%.2f cores)\n", l, w, c / t, c / t / w }'
}

a=$(now)
"$bin" --quiet --no-cache --root static --listen 127.0.0.1:18601 --handler "$py" 2>/dev/null &
pid=$!
served 18601
b=$(now)
report "start-up compile (before serving)" "$a" "$b" "$(cpu $pid)"
kill $pid; wait $pid 2>/dev/null || true

"$bin" --quiet --no-cache --root static --listen 127.0.0.1:18602 --admin "$tmp/sock" 2>/dev/null &
pid=$!
served 18602
c0=$(cpu $pid); a=$(now)
"$bin" swap --admin "$tmp/sock" "$py" >/dev/null
b=$(now); c1=$(cpu $pid)
report "swap on an idle server" "$a" "$b" "$((c1 - c0))"
"$bin" rollback --admin "$tmp/sock" >/dev/null

base=$(wrk -t1 -c8 -d8s "http://127.0.0.1:18602/" | awk '/Requests\/sec/ {print $2}')
wrk -t1 -c8 -d8s "http://127.0.0.1:18602/" >"$tmp/wrk" &
w=$!
sleep 0.2
c0=$(cpu $pid); a=$(now)
"$bin" swap --admin "$tmp/sock" "$py" >/dev/null
b=$(now); c1=$(cpu $pid)
wait $w
report "swap while serving (wrk beside it)" "$a" "$b" "$((c1 - c0))"
echo "built-in handler, GET /: $base req/s without a compile, $(awk '/Requests\/sec/ {print $2}' "$tmp/wrk") req/s over 8 s with the swap's compile in them"
