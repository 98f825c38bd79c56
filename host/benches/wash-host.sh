#!/usr/bin/env bash
# A one-host wasmCloud lattice serving sandserve-http.wasm over ROOT on 127.0.0.1:PORT,
# for ../shared/bench/bench (--peer 'wash-host=host/benches/wash-host.sh {port} {root}'):
# a NATS server and an OCI registry on free loopback ports, the component pushed with
# `wash oci push`, one `wash host`, and the workload started on it with the operator's
# JSON request on NATS (as tests/wasmcloud.rs does), bound to Host `127.0.0.1` so that
# requests to 127.0.0.1:PORT reach it. Runs until killed; stops everything it started.
# Needs target/tools/wash (guest/build-handlers), nats-server and docker-registry.
set -euo pipefail
export LC_ALL=C # ${#request} counts bytes
port="$1" root="$(cd "$2" && pwd)"
here="$(cd "$(dirname "$0")/../.." && pwd)"
wash="${SANDSERVE_TOOLS:-$here/target/tools}/wash"
dir="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 0' TERM INT
# Waits (at most 30 s) for a line in a log.
wait_for() { for _ in $(seq 300); do grep -qs "$2" "$1" && return 0; sleep 0.1; done; echo "wash-host.sh: $1 never said $2" >&2; cat "$1" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nats_port="$(free_port)" registry="127.0.0.1:$(free_port)"

nats-server -a 127.0.0.1 -p "$nats_port" >"$dir/nats.log" 2>&1 & pids+=($!)
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
  "$dir/registry" "$registry" >"$dir/registry.yml"
docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 & pids+=($!)
wait_for "$dir/nats.log" "Server is ready"
wait_for "$dir/registry.log" "listening on"
"$wash" oci push --insecure "$registry/sandserve/sandserve-http:0.1.0" \
  "$here/target/handlers/sandserve-http.wasm" >/dev/null
RAYON_NUM_THREADS=1 "$wash" host --non-interactive --host-name bench --host-group default \
  --scheduler-nats-url "nats://127.0.0.1:$nats_port" --data-nats-url "nats://127.0.0.1:$nats_port" \
  --http-addr "127.0.0.1:$port" --allow-insecure-registries --oci-cache-dir "$dir/oci" \
  >"$dir/host.log" 2>&1 & pids+=($!)
wait_for "$dir/host.log" 'Host started host_id="'
host_id="$(grep -o 'host_id="[^"]*"' "$dir/host.log" | head -1 | cut -d'"' -f2)"

request='{"workloadId":"bench","workload":{"namespace":"default","name":"bench","annotations":{},
"witWorld":{"components":[{"name":"sandserve-http","image":"'"$registry"'/sandserve/sandserve-http:0.1.0",
"imagePullPolicy":"IMAGE_PULL_POLICY_IF_NOT_PRESENT","localResources":{"environment":{},
"volumeMounts":[{"name":"root","mountPath":"/","readOnly":true}]}}],
"hostInterfaces":[{"namespace":"wasi","package":"http","version":"0.2.0","interfaces":["incoming-handler"],
"config":{"host":"127.0.0.1"}}]},"volumes":[{"name":"root","hostPath":{"localPath":"'"$root"'"}}]}}'
request="$(tr -d '\n' <<<"$request")"
exec 3<>"/dev/tcp/127.0.0.1/$nats_port"
read -r _info <&3
printf 'CONNECT {"verbose":false}\r\nSUB _INBOX.bench 1\r\nPUB runtime.host.%s.workload.start _INBOX.bench %d\r\n%s\r\n' \
  "$host_id" "${#request}" "$request" >&3
reply=""
while read -r -t 30 line <&3; do
  case "$line" in
    MSG*) n="${line##* }"; n="${n%$'\r'}"; reply="$(head -c "$n" <&3)"; break ;;
    PING*) printf 'PONG\r\n' >&3 ;;
  esac
done
exec 3<&-
grep -q WORKLOAD_STATE_RUNNING <<<"$reply" || { echo "wash-host.sh: $reply" >&2; cat "$dir/host.log" >&2; exit 1; }
echo "wash-host.sh: serving $root on http://127.0.0.1:$port/ (workload on host $host_id)" >&2
wait "${pids[2]}"
