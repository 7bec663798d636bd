#!/usr/bin/env bash
# Instances A/B: two keep builds, interleaved, ROUNDS rounds; in each round
# each build serves guests/http behind a TLS listener with --instances 1 and
# 2, and takes wrk (keep-alive: -t2 -c32, DUR seconds, with the keep's and
# wrk's CPU from /proc/PID/stat, as cores) and hey (a new connection per
# request). One line per run; bench/NOTES.md, "Instances", has the results.
#
#   bench/instances_ab.sh build/keep-old build/keep [ROUNDS] [DUR]
. "$(dirname "$0")/lib.sh"
A=$1; B=$2; ROUNDS=${3:-5}; DUR=${4:-5}
for t in wrk hey; do command -v $t >/dev/null || { echo "needs $t (apt-get install $t)"; exit 1; }; done
PORT=${PORT:-28443}
listen_config tls "$PORT" > "$TMP/tls.toml"
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
run() { # run KEEP N
  "$1" run --cache-dir "$TMP/cache" --cache-key "$TMP/cache.key" --instances "$2" --config "$TMP/tls.toml" build/http.wasm 2>>"$TMP/keep.err" &
  local kp=$!; PIDS+=("$kp")
  wait_port "$PORT"
  curl -sk "https://127.0.0.1:$PORT/" >/dev/null
  local k0 t0 k1 t1 rps w nc
  k0=$(cpu $kp); t0=$(date +%s.%N)
  # bash's time: wrk's utime+stime (its rusage at exit).
  { TIMEFORMAT='%U %S'; time wrk -t2 -c32 -d"${DUR}s" "https://127.0.0.1:$PORT/" > "$TMP/wrk.txt"; } 2> "$TMP/wrk.time"
  k1=$(cpu $kp); t1=$(date +%s.%N)
  rps=$(awk '/Requests\/sec/{print $2}' "$TMP/wrk.txt")
  w=$(awk '{print $1+$2}' "$TMP/wrk.time")
  nc=$(hey -z "${DUR}s" -c 32 -t 20 -disable-keepalive "https://127.0.0.1:$PORT/" | awk '/Requests\/sec/{print $2}')
  kill $kp; wait $kp 2>/dev/null || true
  echo "$1 instances=$2 keepalive=$rps keep_cores=$(echo "($k1-$k0)/100/($t1-$t0)" | bc -l | cut -c1-5) wrk_cores=$(echo "$w/($t1-$t0)" | bc -l | cut -c1-5) newconn=$nc load=$(cut -d' ' -f1 /proc/loadavg)"
}
for r in $(seq 1 "$ROUNDS"); do
  for k in "$A" "$B"; do
    for n in 1 2; do echo "round=$r $(run "$k" "$n")"; done
  done
done
