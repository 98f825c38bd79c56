#!/usr/bin/env bash
# How sandserve scales with worker threads, next to nginx with 1 and 2 workers.
# Nothing is pinned: servers and wrk share the machine's cores, as in production on a
# small box. Usage: host/benches/scaling.sh [seconds per run] (needs nginx and wrk; run
# ../shared/bench/bench once first, which installs them and writes the fixtures).
set -euo pipefail
secs=${1:-5}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$here/target/release/sandserve
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.3; rm -rf "$work"' EXIT
mkdir -p "$work/www"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/small.html"
PATH=$PATH:/usr/sbin

rps() { wrk -t1 -c32 -d"${secs}s" "$@" | awk '/Requests\/sec/ {print int($2)}'; }
run() { # name, port, then the server command
  local name=$1 port=$2; shift 2
  "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
  wrk -t1 -c32 -d1s "http://127.0.0.1:$port/small.html" >/dev/null
  printf '| %s | %s | %s |\n' "$name" "$(rps "http://127.0.0.1:$port/small.html")" \
    "$(rps -H 'Connection: close' "http://127.0.0.1:$port/small.html")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
nginx_conf() { # workers, port
  mkdir -p "$work/nginx$1"
  cat > "$work/nginx$1/nginx.conf" <<CONF
user root; master_process on; worker_processes $1; daemon off;
pid $work/nginx$1/nginx.pid; error_log $work/nginx$1/error.log warn;
events { worker_connections 4096; }
http { default_type text/html; sendfile on; tcp_nopush on; tcp_nodelay on; access_log off;
  keepalive_requests 1000000; keepalive_timeout 65; client_body_temp_path $work/nginx$1/cb;
  server { listen 127.0.0.1:$2; root $work/www; } }
CONF
  echo "$work/nginx$1/nginx.conf"
}

echo "| server | small req/s (keep-alive) | close req/s |"
echo "|---|---:|---:|"
run "sandserve --workers 1" 18101 "$bin" --quiet --workers 1 --root "$work/www" --listen 127.0.0.1:18101
run "sandserve --workers 2" 18102 "$bin" --quiet --workers 2 --root "$work/www" --listen 127.0.0.1:18102
run "nginx, 1 worker" 18103 nginx -p "$work/nginx1/" -c "$(nginx_conf 1 18103)"
run "nginx, 2 workers" 18104 nginx -p "$work/nginx2/" -c "$(nginx_conf 2 18104)"
