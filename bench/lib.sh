# Helpers for the bench scripts (sourced).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build build/http.wasm >/dev/null
KEEP=build/keep
WAZERO=${WAZERO:-$(go env GOPATH)/bin/wazero}
[ -x "$WAZERO" ] || GOFLAGS= go install github.com/tetratelabs/wazero/cmd/wazero@v1.12.0
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

# listen_config PROT PORT: an Enarx.toml with stdio and one listener at fd 3.
listen_config() {
  cat <<EOT
[[files]]
kind = "stdin"
[[files]]
kind = "stdout"
[[files]]
kind = "stderr"
[[files]]
kind = "listen"
prot = "$1"
name = "ingest"
addr = "127.0.0.1"
port = $2
max_connections = 4096
EOT
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (compilation
# of a large guest takes seconds).
wait_port() {
  for _ in $(seq 1 600); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}

# cpu_ticks PID: user+system CPU time of PID in clock ticks.
cpu_ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
