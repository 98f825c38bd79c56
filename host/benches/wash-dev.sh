#!/usr/bin/env bash
# `wash dev` serving sandserve-http.wasm over ROOT on 127.0.0.1:PORT, for
# ../shared/bench/bench (--peer 'wash-dev=host/benches/wash-dev.sh {port} {root}'): a
# project folder with the .wash/config.yaml of docs/engines.md, in a temporary
# directory. Needs target/tools/wash (guest/build-handlers).
set -euo pipefail
port="$1" root="$(cd "$2" && pwd)"
here="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$(mktemp -d)"
mkdir -p "$dir/.wash"
cat >"$dir/.wash/config.yaml" <<YAML
dev:
  command: "true"
  component_path: $here/target/handlers/sandserve-http.wasm
  address: 127.0.0.1:$port
  volumes:
    - host_path: $root
      guest_path: /
YAML
RAYON_NUM_THREADS=1 "${SANDSERVE_TOOLS:-$here/target/tools}/wash" -C "$dir" dev --non-interactive &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait; rm -rf "$dir"' EXIT
trap 'exit 0' TERM INT
wait "$pid"
