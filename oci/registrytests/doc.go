// Package registrytests tests package oci against a real registry (the
// CNCF reference registry, in process: internal/registrytest). They live
// apart from package oci so that oci's fuzz target does not build the
// registry's large dependency tree with fuzzing instrumentation.
//
// It holds tests only; nothing may import it.
package registrytests
