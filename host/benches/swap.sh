#!/usr/bin/env bash
# Hot-swap figures for BENCHMARKS.md, on one machine, in one run:
#  1. time from `sandserve swap` to the new version answering, compiled-handler cache
#     cold and warm, for the built-in handler and for a ~19 MB Python component;
#  2. request latency (wrk p50/p99) under load with one swap a second against none;
#  3. resident memory over 1,000 swaps.
# The server is pinned to CPU 0 and wrk to CPU 1, as ../shared/bench does.
# Needs a release build (cargo test --release --no-run), wrk, and componentize-py
# (pip, into $VENV; installed here if missing). Usage: host/benches/swap.sh [SWAPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SWAPS=${1:-1000}
BIN=target/release/sandserve
GUESTS=target/wasm-guests/wasm32-wasip2/release
VENV=$(realpath -m "${VENV:-target/tmp/pyvenv}")
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

# A minimal Python handler: the size and start-up of CPython, none of the logic.
if [ ! -x "$VENV/bin/componentize-py" ]; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q componentize-py==0.25.1
fi
mkdir -p "$WORK/py"
cat > "$WORK/py/app.py" <<'PY'
from wit_world import exports
from wit_world.exports import handler as h

class Handler(exports.Handler):
    def handle(self, req: h.Request) -> h.Response:
        body = b"python handler\n"
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        return h.Response(head=head, body=h.Body_Bytes(body), close=False)
PY
(cd "$WORK/py" && "$VENV/bin/componentize-py" -d "$OLDPWD/wit" -w sandserve \
  componentize app -o "$WORK/python.wasm" >/dev/null)
cp "$GUESTS/sandserve_guest.wasm" "$WORK/builtin.wasm"
cp "$GUESTS/hostile_fixture.wasm" "$WORK/fixture.wasm"
# The built-in handler with a custom section appended: the same behaviour under another
# hash, so that swapping between the two changes the version but not the answers.
{ cat "$WORK/builtin.wasm"; printf '\x00\x07\x05benchx'; } > "$WORK/builtin2.wasm"
echo "python component: $(stat -c %s "$WORK/python.wasm") bytes"
mkdir -p "$WORK/root" && head -c 1024 /dev/urandom > "$WORK/root/small.html"

start() { # $1 = cache dir; starts the server with the fixture live, sets PID, SOCK, PORT
  SOCK="$WORK/admin.sock"; rm -f "$SOCK"
  taskset -c 0 "$BIN" --quiet --root "$WORK/root" --listen 127.0.0.1:0 --admin "$SOCK" \
    --cache-dir "$1" --handler "$WORK/fixture.wasm" \
    --max-requests 100000000 2> "$WORK/log" &
  PID=$!
  until grep -q 'http://' "$WORK/log"; do sleep 0.05; done
  PORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/log")
  curl -s -o /dev/null "http://127.0.0.1:$PORT/small.html"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
ms() { date +%s%3N; }
answers() { # is $1 the version answering?
  case $1 in
    builtin) curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/small.html" | grep -qi '^server: sandserve' ;;
    python) curl -s "http://127.0.0.1:$PORT/small.html" | grep -q 'python handler' ;;
  esac
}
swap_time() { # $1 = which: ms from the swap command to its first answer
  local t0 t1; t0=$(ms)
  "$BIN" swap --admin "$SOCK" "$WORK/$1.wasm" > "$WORK/report"
  until answers "$1"; do :; done
  t1=$(ms); echo "$((t1 - t0)) ms ($(grep -o '[a-z]* in [0-9]* ms' "$WORK/report"))"
}

echo "## 1. swap to first answer"
for which in builtin python; do
  cache="$WORK/cache-$which"; rm -rf "$cache"
  start "$cache"
  cold=$(swap_time "$which")
  "$BIN" swap --admin "$SOCK" "$WORK/fixture.wasm" > /dev/null
  warm=$(swap_time "$which")
  echo "$which: cold cache $cold; warm cache $warm"
  stop
done

echo "## 2. latency under load (wrk -t1 -c32 -d10s), no swaps vs one swap a second"
echo "   (between two builds of the built-in handler that differ only in a custom section)"
start "$WORK/cache-builtin"
"$BIN" swap --admin "$SOCK" "$WORK/builtin2.wasm" > /dev/null   # compiled into the cache
"$BIN" swap --admin "$SOCK" "$WORK/builtin.wasm" > /dev/null
taskset -c 1 wrk -t1 -c32 -d10s --latency "http://127.0.0.1:$PORT/small.html" | grep -E 'Requests/sec|  50%|  99%|Non-2xx|Socket errors' | sed 's/^/  none: /'
( for i in $(seq 10); do sleep 1
    f=$([ $((i % 2)) = 1 ] && echo builtin2 || echo builtin)
    "$BIN" swap --admin "$SOCK" "$WORK/$f.wasm" > /dev/null; done ) &
taskset -c 1 wrk -t1 -c32 -d10s --latency "http://127.0.0.1:$PORT/small.html" | grep -E 'Requests/sec|  50%|  99%|Non-2xx|Socket errors' | sed 's/^/  1 swap\/s: /'
wait %2 2>/dev/null || true

echo "## 3. RSS over $SWAPS swaps (KiB)"
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
for i in $(seq "$SWAPS"); do
  f=$([ $((i % 2)) = 1 ] && echo fixture || echo builtin)
  "$BIN" swap --admin "$SOCK" "$WORK/$f.wasm" > /dev/null
  curl -s -o /dev/null "http://127.0.0.1:$PORT/small.html"
  case $i in 10|100|250|500|750|$SWAPS) echo "  after $i swaps: $(rss)";; esac
done
stop
