#!/usr/bin/env bash
# Soak: minutes of mixed traffic against one sandserve, reporting its resident memory
# at the start and the end (growth means a leak) and every error seen. Not run in CI.
#
# Usage: host/benches/soak.sh [seconds, default 600]   (needs wrk and curl)
#
# Traffic, all at once for the whole run: keep-alive GETs rotating over a 1 KiB page, a
# 64 KiB script, a 4 MiB file, a missing file and a directory (301); Connection: close
# requests; and a loop of hostile requests (traversal, bad framing, heads cut off,
# oversize heads) over raw sockets. Memory is sampled every 10 s.
set -euo pipefail
secs=${1:-600}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$here/target/release/sandserve
[ -x "$bin" ] || (cd "$here" && cargo build --release)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.3; rm -rf "$work"' EXIT
mkdir -p "$work/www/dir"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/small.html"
head -c $((64 << 10)) /dev/urandom > "$work/www/medium.js"
head -c $((4 << 20)) /dev/urandom > "$work/www/large.bin"
echo '<h1>dir</h1>' > "$work/www/dir/index.html"
port=18555

"$bin" --quiet --root "$work/www" --listen "127.0.0.1:$port" 2> "$work/server.log" &
pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

cat > "$work/mixed.lua" <<'LUA'
local paths = {"/small.html", "/medium.js", "/large.bin", "/missing", "/dir", "/small.html?v=1"}
local i = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() unexpected = 0 end
function request() i = i % #paths + 1; return wrk.format("GET", paths[i]) end
function response(status)
  if status ~= 200 and status ~= 301 and status ~= 404 then unexpected = unexpected + 1 end
end
function done()
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("unexpected") end
  io.write(string.format("unexpected statuses: %d\n", n))
end
LUA

hostile() { # raw requests that must each get a 4xx and a close, never a hang
  local end_at=$((SECONDS + secs)) sent=0 bad=0
  while [ $SECONDS -lt $end_at ]; do
    for raw in 'GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n' \
               'GET /small.html HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n' \
               'GET /small.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n' \
               'GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n' \
               'BREW / HTTP/1.1\r\nHost: x\r\n\r\n'; do
      status=$(printf '%b' "$raw" | timeout 5 curl -s --max-time 5 telnet://127.0.0.1:$port 2>/dev/null | head -c 12 | tail -c 3)
      sent=$((sent + 1))
      case $status in 4??|5??) ;; *) bad=$((bad + 1)) ;; esac
    done
    # A head cut off, and one over the size limit.
    printf 'GET /small.html HTTP/1.1\r\nHost: x\r\n' | timeout 2 curl -s --max-time 1 telnet://127.0.0.1:$port >/dev/null 2>&1 || true
    head -c 20000 /dev/zero | tr '\0' 'a' | timeout 5 curl -s --max-time 5 telnet://127.0.0.1:$port >/dev/null 2>&1 || true
  done
  echo "hostile requests: $sent, answered wrongly or not at all: $bad"
}

sleep 1
start_rss=$(rss)
echo "soak: ${secs}s of mixed traffic; RSS at start ${start_rss} KiB"
wrk -t1 -c64 -d"${secs}s" --timeout 10s -s "$work/mixed.lua" "http://127.0.0.1:$port/" > "$work/mixed.out" &
wrk -t1 -c16 -d"${secs}s" --timeout 10s -H 'Connection: close' "http://127.0.0.1:$port/small.html" > "$work/close.out" &
hostile > "$work/hostile.out" &
samples=()
while kill -0 "$(jobs -p | sed -n 2p)" 2>/dev/null; do
  sleep 10
  samples+=("$(rss)")
done
wait $(jobs -p | tail -n +2) 2>/dev/null || true
end_rss=$(rss)
max_rss=$(printf '%s\n' "${samples[@]}" "$end_rss" | sort -n | tail -1)

echo "--- keep-alive mixed (wrk -c64)"; grep -E "requests in|Socket errors|Non-2xx|unexpected|Requests/sec" "$work/mixed.out"
echo "--- Connection: close (wrk -c16)"; grep -E "requests in|Socket errors|Non-2xx|Requests/sec" "$work/close.out"
echo "--- hostile"; cat "$work/hostile.out"
echo "--- server log lines (errors only; --quiet):"; wc -l < "$work/server.log"; sort "$work/server.log" | cut -c1-120 | uniq -c | sort -rn | head -5
echo "RSS KiB: start $start_rss, end $end_rss, max sampled $max_rss; samples: ${samples[*]}"
kill -0 "$pid" && echo "server still running" || echo "SERVER DIED"
