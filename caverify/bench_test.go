package caverify_test

import (
	"testing"

	"github.com/keepwasm/keep/ca"
	"github.com/keepwasm/keep/netattest"
)

// BenchmarkCertificate is one certificate as a keep gets it from the CA
// on the sim backend: a key and a CSR with fresh evidence, the POST over
// HTTP, verification under a policy, issuance, and the chain decoded.
func BenchmarkCertificate(b *testing.B) {
	hs, _ := server(b, allowSimPins, netattest.Options{})
	for b.Loop() {
		status, body := post(b, hs.URL, keepCSR(b, module))
		if status != 200 {
			b.Fatalf("%d %s", status, body)
		}
		if _, err := ca.DecodeChain(body); err != nil {
			b.Fatal(err)
		}
	}
}
