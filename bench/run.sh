#!/usr/bin/env bash
# make bench: builds keep, the guests, the native comparators and the
# wazero CLI, then runs every benchmark (bench/harness) and writes
# docs/BENCHMARKS.md. Arguments go to the harness (e.g. -quick, -only http).
# Needs wrk and hey (Debian: apt-get install wrk hey); not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_START=${BENCH_START:-$(date +%s)}
GO=${GO:-go}

missing=()
for t in wrk hey; do command -v "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
  echo "make bench needs ${missing[*]}: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
ulimit -n 65536 2>/dev/null || true

WAZERO=$($GO env GOPATH)/bin/wazero
if [ ! -x "$WAZERO" ] || [ "$("$WAZERO" version 2>/dev/null)" != v1.12.0 ]; then
  echo "installing the wazero CLI v1.12.0 (the version Keep links)" >&2
  GOFLAGS= $GO install github.com/tetratelabs/wazero/cmd/wazero@v1.12.0
fi

make -s build build/hello.wasm build/compute.wasm build/http.wasm build/echo.wasm
mkdir -p build/native build/bench
$GO build -o build/native/hello ./guests/hello
$GO build -o build/native/compute ./guests/compute
$GO build -o build/native/ ./bench/native/https ./bench/native/tlsecho
$GO build -o build/bench/harness ./bench/harness
# wasmtime (Enarx's engine) through wasmtime-go: its own Go module under
# bench/wasmtime (cgo and wasmtime's static library, never linked into keep).
(cd bench/wasmtime && CGO_ENABLED=1 $GO build -o ../../build/bench/wasmtime-run .)
exec build/bench/harness -wazero "$WAZERO" -wasmtime build/bench/wasmtime-run "$@"
