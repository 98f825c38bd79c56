#!/usr/bin/env bash
# HTTPS `small` (GET /small.html, 1 KiB, keep-alive) with wrk: sandserve --tls-cert and
# nginx's ssl module with the same certificate (an ECDSA P-256 key, TLS 1.3), each pinned
# to CPU 0 and wrk to CPU 1 as ../shared/bench/bench does, plain HTTP beside them for the
# cost of TLS itself; rounds alternate between the servers and the table shows medians.
# Usage: host/benches/tls.sh [seconds per run] [rounds] (needs nginx, wrk, openssl).
set -euo pipefail
secs=${1:-5}
rounds=${2:-3}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$here/target/release/sandserve
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.3; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/nginx" "$work/cache"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/small.html"
PATH=$PATH:/usr/sbin
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat > "$work/nginx/nginx.conf" <<CONF
user root; master_process on; worker_processes 1; daemon off;
pid $work/nginx/nginx.pid; error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http { default_type text/html; sendfile on; tcp_nopush on; tcp_nodelay on; access_log off;
  keepalive_requests 1000000; keepalive_timeout 65; client_body_temp_path $work/nginx/cb;
  server { listen 127.0.0.1:18480; root $work/www; }
  server { listen 127.0.0.1:18443 ssl; root $work/www; ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem; ssl_protocols TLSv1.2 TLSv1.3; } }
CONF
sandserve=(taskset -c 0 "$bin" --quiet --cache-dir "$work/cache" --root "$work/www" --max-requests 1000000)
taskset -c 0 nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" >/dev/null 2>&1 &
"${sandserve[@]}" --listen 127.0.0.1:18080 >/dev/null 2>&1 &
"${sandserve[@]}" --listen 127.0.0.1:18081 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" >/dev/null 2>&1 &
for port in 18480 18443 18080 18081; do
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
done
targets=("sandserve http=http://127.0.0.1:18080" "sandserve https=https://127.0.0.1:18081"
  "nginx http=http://127.0.0.1:18480" "nginx https=https://127.0.0.1:18443")
declare -A runs
for round in $(seq "$rounds"); do
  for target in "${targets[@]}"; do
    name=${target%%=*} url=${target#*=}/small.html
    taskset -c 1 wrk -t1 -c32 -d1s "$url" >/dev/null
    rps=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" "$url" | awk '/Requests\/sec/ {print int($2)}')
    runs[$name]="${runs[$name]:-} $rps"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "| server | small req/s, median of $rounds (rounds) |"
echo "|---|---|"
for target in "${targets[@]}"; do
  name=${target%%=*}
  echo "| $name | $(echo "${runs[$name]}" | median) (${runs[$name]# }) |"
done
