#!/usr/bin/env bash
# HTTP/2 throughput against nginx (issue 24): h2load over TLS (ALPN h2, the same
# self-signed certificate for both) on `small` (1 KiB) and `medium` (64 KiB), over one
# connection and over 32, each with up to 10 streams in flight per connection; servers
# pinned to CPU 0 (sandserve with its default 2 workers, nginx with 1 worker), h2load to
# CPU 1; rounds alternate between the servers, and the median of each is printed. Both
# servers let a connection carry a million streams (h2load in duration mode does not
# open a new connection after a GOAWAY).
# Usage: host/benches/h2load.sh [seconds per run] [rounds] (default 5 s, 3). Needs
# nginx, h2load (Debian's nghttp2-client) and openssl.
set -euo pipefail
secs=${1:-5}
rounds=${2:-3}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SANDSERVE_BIN:-$here/target/release/sandserve}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; sleep 0.3; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/nginx"
# nginx's workers run as nobody: the files must be theirs to read.
chmod 755 "$work" "$work/www"
head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$work/www/small.html"
head -c 65536 /dev/urandom | base64 -w 76 | head -c 65536 > "$work/www/medium.js"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 1 -subj /CN=localhost 2>/dev/null
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  types { text/html html; application/javascript js; }
  server {
    listen 127.0.0.1:18802 ssl http2;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    root $work/www;
  }
}
CONF
taskset -c 0 nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf"
taskset -c 0 "$bin" --quiet --root "$work/www" --listen 127.0.0.1:18801 \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --cache-dir "$work/cache" \
  --max-requests 1000000 &
sleep 2

# req/s of one h2load run: URL CONNECTIONS
rps() {
  taskset -c 1 h2load ${H1:+--h1} -D "$secs" --warm-up-time 1 -c "$2" -m 10 -t 1 "$1" 2>/dev/null |
    awk '/^finished in/ {gsub(",", "", $4); r = int($4)}
         /^status codes:/ {ok = ($3 + 0 > 0 && $5 + $7 + $9 == 0)}
         END {print (ok ? r : "not-2xx")}'
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

printf '| workload | connections | sandserve req/s | nginx req/s | ratio |\n|---|---:|---:|---:|---:|\n'
for file in small.html medium.js; do
  for conns in 1 32; do
    s=(); n=()
    for _ in $(seq "$rounds"); do
      s+=("$(rps "https://127.0.0.1:18801/$file" "$conns")")
      n+=("$(rps "https://127.0.0.1:18802/$file" "$conns")")
    done
    ms=$(printf '%s\n' "${s[@]}" | median)
    mn=$(printf '%s\n' "${n[@]}" | median)
    printf '| %s | %s | %s (%s) | %s (%s) | %sx |\n' "$file" "$conns" "$ms" "${s[*]}" "$mn" "${n[*]}" \
      "$(awk -v a="$ms" -v b="$mn" 'BEGIN {printf "%.2f", a / b}')"
  done
done
