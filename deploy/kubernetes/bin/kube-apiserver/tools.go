//go:build tools

// Package tools pins k8s.io/kubernetes/cmd/kube-apiserver in this helper
// module so that `go build k8s.io/kubernetes/cmd/kube-apiserver` resolves it
// from the Go module proxy. This module is not part of keep: it exists only
// to build the API server that make test-k8s starts through envtest.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
