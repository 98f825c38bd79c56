#!/usr/bin/env bash
# What --handler-keep-resident does to mixed traffic (issue 23, lever 5): for each size,
# `small` alone, then mixed (one request in 20 a 300-entry directory listing), then
# `small` again, when the pool's slots hold the pages the listings dirtied. Server on
# CPU 0, wrk on CPU 1. Usage: host/benches/keep_resident.sh [seconds per run]
# [SIZE...] (default 5 s; 2MiB 192KiB 128KiB 96KiB). Needs wrk.
set -euo pipefail
secs=${1:-5}
shift || true
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(2MiB 192KiB 128KiB 96KiB); fi
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$here/target/release/sandserve
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.3; rm -rf "$work"' EXIT
mkdir -p "$work/www/d"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/small.html"
for i in $(seq 1 300); do echo x > "$work/www/d/file-with-a-longish-name-$i.txt"; done
cat > "$work/mixed.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  if n % 20 == 0 then return wrk.format("GET", "/d/") end
  return wrk.format("GET", "/small.html")
end
LUA

rps() { taskset -c 1 wrk -t1 -c32 -d"${secs}s" "$@" | awk '/Requests\/sec/ {print int($2)}'; }
port=18700
for size in "${sizes[@]}"; do
  port=$((port + 1))
  taskset -c 0 "$bin" --quiet --list-dirs --handler-keep-resident "$size" \
    --root "$work/www" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  sleep 1
  url=http://127.0.0.1:$port
  taskset -c 1 wrk -t1 -c32 -d2s "$url/small.html" >/dev/null
  small=$(rps "$url/small.html")
  mixed=$(rps -s "$work/mixed.lua" "$url/")
  after=$(rps "$url/small.html")
  echo "keep-resident $size: small $small, mixed $mixed, small after mixed $after req/s"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
