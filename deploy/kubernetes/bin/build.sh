#!/usr/bin/env bash
# Builds kube-apiserver (k8s.io/kubernetes, its staging modules replaced by
# their published versions: see kube-apiserver/go.mod) and etcd
# (go.etcd.io/etcd/server/v3) from the Go module proxy into DIR, once: a
# binary already in DIR is kept. DIR is named after the two versions, so a
# version bump in the go.mod files below must also change K8S_BIN in the
# Makefile. Usage: build.sh DIR
set -euo pipefail
dir=${1:?usage: build.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

k8s=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$here/kube-apiserver/go.mod")
minor=$(echo "$k8s" | cut -d. -f2)

if [ ! -x "$dir/kube-apiserver" ]; then
  echo "building kube-apiserver $k8s into $dir (cold: about 25 minutes on 2 cores)" >&2
  # The version variables make `kube-apiserver --version` and /version say
  # what was built instead of v0.0.0-master.
  (cd "$here/kube-apiserver" && CGO_ENABLED=0 go build -trimpath -o "$dir/kube-apiserver.tmp" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
    k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
fi
if [ ! -x "$dir/etcd" ]; then
  echo "building etcd into $dir" >&2
  (cd "$here/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/etcd.tmp" .)
  mv "$dir/etcd.tmp" "$dir/etcd"
fi
"$dir/kube-apiserver" --version >&2
