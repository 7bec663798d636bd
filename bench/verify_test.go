package bench

// RA-TLS certificate verification, in-process: a sim certificate (what
// every keep on a machine without a TEE presents), a TDX certificate made
// by the tdxtest signer (fake PKI, real go-tdx-guest verification), with
// and without its DCAP collateral, and a real SGX certificate (Gramine,
// ../shared/vectors/ra-tls; no collateral ships with it).
//
// "cold" is what a client pays the first time it sees a certificate: a
// fresh netattest.Verifier, so its fingerprint cache is empty (process-wide
// one-time work, such as parsing the pinned Intel root, is warm after the
// first iteration). "cached" is every later connection to the same keep:
// the Verifier finds the certificate's SHA-256 fingerprint in its cache.
//
//	go test -run '^$' -bench Verify ./bench

import (
	"context"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/sgx"
	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/keeps/tdx"
	"github.com/keepwasm/keep/keeps/tdx/tdxtest"
	"github.com/keepwasm/keep/netattest"
)

// sgxVector is a real Gramine RA-TLS certificate with an SGX DCAP quote;
// sgxNow lies inside its PCK certificates' validity (see the vectors'
// README), so the benchmark does not depend on today's date.
var (
	sgxVector = filepath.Join("..", "..", "shared", "vectors", "ra-tls", "ccc-gramine-cert.pem")
	sgxNow    = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

type verifyCase struct {
	cert   *x509.Certificate
	policy *netattest.Policy
	opts   netattest.Options
}

func simCase(b *testing.B) verifyCase {
	att, err := sim.NewAttester()
	if err != nil {
		b.Fatal(err)
	}
	return verifyCase{cert: issue(b, att), policy: &netattest.Policy{AllowSimulated: true}}
}

func tdxCase(b *testing.B, collateral bool) verifyCase {
	s, err := tdxtest.NewSigner(tdxtest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	reg := &keeps.Registry{}
	reg.Register(&netattest.IntelQuoteVerifier{SGX: sgx.NewVerifier(), TDX: &tdx.Verifier{InsecureTestRoots: s.Roots()}})
	c := verifyCase{cert: issue(b, &tdx.Attester{TSM: s.ConfigfsClient(nil)}), policy: &netattest.Policy{}, opts: netattest.Options{Registry: reg}}
	if collateral {
		col, err := s.Collateral(tdxtest.CollateralSpec{})
		if err != nil {
			b.Fatal(err)
		}
		c.opts.Collateral = map[string][]byte{tdx.CollateralName: col}
	}
	return c
}

func sgxCase(b *testing.B) verifyCase {
	data, err := os.ReadFile(sgxVector)
	if err != nil {
		b.Skipf("SGX vector (../shared beside the repository): %v", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		b.Fatalf("%s: no PEM block", sgxVector)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		b.Fatal(err)
	}
	// A debug enclave: the default policy would refuse it.
	return verifyCase{cert: cert, policy: &netattest.Policy{AllowDebug: true}, opts: netattest.Options{Now: sgxNow}}
}

func issue(b *testing.B, att keeps.Attester) *x509.Certificate {
	digest := sha512.Sum384([]byte("bench module"))
	id, err := netattest.Issue(context.Background(), att, netattest.IssueOptions{ModuleDigest: digest[:]})
	if err != nil {
		b.Fatal(err)
	}
	return id.Certificate
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		make func(*testing.B) verifyCase
	}{
		{"sim", simCase},
		{"tdx-fake", func(b *testing.B) verifyCase { return tdxCase(b, false) }},
		{"tdx-fake-collateral", func(b *testing.B) verifyCase { return tdxCase(b, true) }},
		{"sgx-gramine", sgxCase},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := tc.make(b)
			b.Run("cold", func(b *testing.B) {
				for b.Loop() {
					if _, err := netattest.NewVerifier(c.policy, c.opts).Verify(ctx, c.cert); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("cached", func(b *testing.B) {
				v := netattest.NewVerifier(c.policy, c.opts)
				if _, err := v.Verify(ctx, c.cert); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := v.Verify(ctx, c.cert); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
