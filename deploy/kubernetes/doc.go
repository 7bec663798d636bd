// Package kubernetes holds Keep's Kubernetes manifests (a kustomize base and
// the overlays coco-tdx, coco-snp, gke-tdx, gke-snp and sim; see
// docs/KUBERNETES.md) and the Go code that renders and checks them.
//
// Render builds an overlay with kustomize's Go API (krusty); Decode splits
// the result and decodes every object strictly into its k8s.io/api type
// (unknown and duplicate fields are errors, and so is a kind the manifests
// should not contain). The tests assert the security properties every
// overlay must keep (image and module by digest, non-root or no
// capabilities, read-only root file system, probes on the plain-HTTP
// health port, memory limits that fit --max-memory, L4 Service) and, under
// make test-k8s, server-side dry-run apply every overlay on a real
// kube-apiserver started with controller-runtime's envtest; bin/ holds the
// helper modules that build kube-apiserver and etcd from the Go module
// proxy.
//
// This package is deployment tooling: it may import keep's runtime and
// netattest to parse the Enarx.toml and policy it ships, but nothing in
// keep may import it.
package kubernetes
