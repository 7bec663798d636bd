#!/usr/bin/env bash
# Idle CPU: CPU seconds used over 10 s by a keep whose Go http guest waits
# for connections, next to `wazero run -listen` with the same guest.
. "$(dirname "$0")/lib.sh"
SECS=${SECS:-10}
listen_config tcp 18181 > "$TMP/tcp.toml"
$KEEP run --config "$TMP/tcp.toml" build/http.wasm 2>/dev/null & PIDS+=($!); kp=$!
HTTP_SET_NONBLOCK=1 "$WAZERO" run -listen 127.0.0.1:18182 -env HTTP_SET_NONBLOCK=1 build/http.wasm 2>/dev/null & PIDS+=($!); wp=$!
wait_port 18181; wait_port 18182
curl -s http://127.0.0.1:18181/ >/dev/null; curl -s http://127.0.0.1:18182/ >/dev/null
k0=$(cpu_ticks $kp); w0=$(cpu_ticks $wp); sleep "$SECS"; k1=$(cpu_ticks $kp); w1=$(cpu_ticks $wp)
hz=$(getconf CLK_TCK)
echo "| runtime | CPU seconds over ${SECS} s idle |"
echo "| --- | --- |"
awk -v t=$((k1-k0)) -v hz=$hz 'BEGIN{printf "| keep run (tcp listener) | %.2f |\n", t/hz}'
awk -v t=$((w1-w0)) -v hz=$hz 'BEGIN{printf "| wazero run -listen | %.2f |\n", t/hz}'
