#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (a duration
# such as 60s, or a count such as 300x; default 3s).
# `make test` runs it briefly; `make fuzz` runs it longer.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-3s}
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $f ($t)"
    go test "$pkg" -run '^$' -fuzz "^$f\$" -fuzztime "$t" >/tmp/fuzz.$$ 2>&1 || { cat /tmp/fuzz.$$; rm -f /tmp/fuzz.$$; exit 1; }
  done
done
rm -f /tmp/fuzz.$$
