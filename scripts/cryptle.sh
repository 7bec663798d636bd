#!/usr/bin/env bash
# make cryptle: runs the Cryptle guest in a keep (sim backend, TLS listener
# from its Enarx.toml) and one `keep proxy` for the first player's browser,
# prints what to open and the second player's command, and stops both on
# Ctrl-C (exit 0). make builds everything first (keep, build/cryptle.wasm,
# the config for CRYPTLE_PORT and the policy pinning it).
#
# Environment (defaults in brackets; make cryptle sets them all from its
# CRYPTLE_PORT and PROXY_PORT variables):
#   KEEP            the keep binary [build/keep]
#   CRYPTLE_WASM    the guest [build/cryptle.wasm]
#   CRYPTLE_CONFIG  its Enarx.toml [build/cryptle-enarx-8443.toml]
#   CRYPTLE_POLICY  the players' policy [build/cryptle-policy-8443.toml]
#   CRYPTLE_KEEP    the keep's listener, as in CRYPTLE_CONFIG [127.0.0.1:8443]
#   CRYPTLE_PROXY   the first player's proxy [127.0.0.1:8080]
set -euo pipefail
cd "$(dirname "$0")/.."

keep=${KEEP:-build/keep}
wasm=${CRYPTLE_WASM:-build/cryptle.wasm}
config=${CRYPTLE_CONFIG:-build/cryptle-enarx-8443.toml}
policy=${CRYPTLE_POLICY:-build/cryptle-policy-8443.toml}
keep_addr=${CRYPTLE_KEEP:-127.0.0.1:8443}
proxy_addr=${CRYPTLE_PROXY:-127.0.0.1:8080}

port_of() { # port_of NAME HOST:PORT: prints PORT, or fails naming NAME
  local p=${2##*:}
  if [[ ! $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
    echo "cryptle: $1=$2: want HOST:PORT with a port from 1 to 65535" >&2
    exit 2
  fi
  echo "$p"
}
keep_port=$(port_of CRYPTLE_KEEP "$keep_addr")
proxy_port=$(port_of CRYPTLE_PROXY "$proxy_addr")
if ((keep_port == proxy_port)); then
  echo "cryptle: the keep and the proxy cannot both use port $keep_port (CRYPTLE_PORT, PROXY_PORT)" >&2
  exit 2
fi
if ! grep -q "^port = $keep_port\$" "$config" 2>/dev/null; then
  echo "cryptle: $config does not listen on port $keep_port (make cryptle generates a matching one)" >&2
  exit 2
fi
# The second player's proxy: the next port that is neither of these.
second_port=$((proxy_port % 65535 + 1))
((second_port == keep_port)) && second_port=$((second_port % 65535 + 1))

for f in "$keep" "$wasm" "$config" "$policy"; do
  [ -f "$f" ] || { echo "cryptle: $f does not exist (run make cryptle)" >&2; exit 1; }
done

# On a terminal (make cryptle starts this script as its own foreground job),
# the keep and the proxy get process groups of their own, so that Ctrl-C
# reaches only this script, which stops them once, cleanly.
if [ -t 0 ]; then set -m; fi

tmp=$(mktemp -d)
pids=()    # the keep and the proxy
copiers=() # the cats copying their stderr; they end when those exit
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" "${copiers[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
# Ctrl-C is how one ends the demo: a clean stop, exit 0.
trap 'echo; echo "cryptle: stopped" >&2; exit 0' INT
trap 'exit 143' TERM

# start NAME PATTERN CMD...: runs CMD in the background, copies its stderr to
# ours, and returns once a line of it matches PATTERN (the listening line),
# or fails if CMD exits first.
start() {
  local name=$1 pattern=$2 fifo="$tmp/$1" fd line
  shift 2
  mkfifo "$fifo"
  "$@" 2>"$fifo" >/dev/null &
  pids+=("$!")
  exec {fd}<"$fifo"
  while IFS= read -r -u "$fd" line; do
    printf '%s\n' "$line" >&2
    if [[ $line == *"$pattern"* ]]; then
      cat <&"$fd" >&2 & # keep copying its stderr
      copiers+=("$!")
      exec {fd}<&-
      return 0
    fi
  done
  echo "cryptle: $name exited before listening" >&2
  exit 1
}

start keep "listening on $keep_addr" "$keep" run --backend sim --config "$config" "$wasm"
start proxy "proxy listening on $proxy_addr" "$keep" proxy --policy "$policy" "$proxy_addr" "$keep_addr"

cat <<EOF

Cryptle runs in a keep (sim backend: no real TEE) on $keep_addr,
behind keep proxy checking it against $policy.

  open http://$proxy_addr/

  for a second player, in $PWD:
    $keep proxy --policy $policy 127.0.0.1:$second_port $keep_addr
  and open http://127.0.0.1:$second_port/

Ctrl-C stops the keep and the proxy.
EOF

# Until Ctrl-C, or until the keep or the proxy stops by itself.
status=0
wait -n "${pids[0]}" "${pids[1]}" || status=$?
echo "cryptle: the keep or the proxy exited ($status); stopping" >&2
exit 1
