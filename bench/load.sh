#!/usr/bin/env bash
# Load: N requests from C concurrent TLS connections (hey, which opens one
# keep-alive connection per worker) against the Go http guest behind a keep
# TLS listener; reports throughput, errors and the keep's peak memory.
#
# The client timeout is 60 s, not hey's default 20 s: with 1000 connections
# on one single-threaded Go guest (and the load generator on the same
# cores), the first request of the last connections to be served waits
# 10-30 s. The same guest under `wazero run -listen` shows the same tail
# (slowest 23 s in our run); it is the guest's scheduling, not Keep's.
. "$(dirname "$0")/lib.sh"
N=${N:-100000}; C=${C:-1000}
command -v hey >/dev/null || { echo "bench/load.sh needs hey (Debian: apt-get install hey)"; exit 1; }
ulimit -n 65536 2>/dev/null || true
listen_config tls 18443 > "$TMP/tls.toml"
$KEEP run --config "$TMP/tls.toml" build/http.wasm 2>"$TMP/keep.err" & PIDS+=($!); kp=$!
wait_port 18443
peak=0
( while kill -0 $kp 2>/dev/null; do awk '/VmRSS/{print $2}' /proc/$kp/status; sleep 0.2; done ) > "$TMP/rss" & PIDS+=($!)
hey -t 60 -n "$N" -c "$C" https://127.0.0.1:18443/ > "$TMP/hey.txt"
peak=$(sort -n "$TMP/rss" | tail -1)
rps=$(awk '/Requests\/sec/{print $2}' "$TMP/hey.txt")
ok=$(awk '/^ +\[200\]\t/{print $2}' "$TMP/hey.txt")
ok=${ok:-0}
errs=$((N - ok))
echo "| load | requests | 200s | errors | req/s | keep peak RSS |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| hey -t 60 -n $N -c $C, TLS | $N | $ok | $errs | $rps | $((peak/1024)) MiB |"
if [ "$errs" != 0 ]; then sed -n '/Error distribution/,$p' "$TMP/hey.txt"; exit 1; fi
