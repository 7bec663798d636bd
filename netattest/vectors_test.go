package netattest

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
)

var vectorsDir = filepath.Join("..", "..", "shared", "vectors", "ra-tls")

func loadVector(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		t.Fatalf("test vectors (../shared beside the repo): %v", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// The six real RA-TLS certificates from Gramine, the Intel SGX SDK,
// rats-tls and rats-rs pass every structural check, and their SGX quotes
// reach the Intel quote verifier with the enclave identity decoded. The
// values are those in ../shared/vectors/README.md.
func TestRealCertificates(t *testing.T) {
	for _, tc := range []struct {
		file      string
		legacy    bool // only a legacy extension
		debug     bool
		mrenclave string
		mrsigner  string
		binding   string
	}{
		{"ccc-gramine-cert.pem", false, true, "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585", "adc53501f21ced9b998e37a7a18e061c63e00315045fa57a49c18ef0a30d02ca", "SHA-256(claims)"},
		{"ccc-intel-sgxsdk-cert.pem", false, true, "09e218a4be9dadbf7cdc82c45497d6d4f676d3b75445fc37a376f0b65b47de6a", "e0c86c51e05ad8592673db348155bddf4bcad6131a5205ce4265c0d795803ba2", "SHA-256(claims)"},
		{"ccc-rats-tls-cert.pem", false, true, "38e1b40b8c68186f359c97ecb6a89965d9d8638f2df06fbe18e84d79a266c041", "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e", "SHA-256(claims)"},
		{"rats-rs-demo-sgx-cert.pem", false, true, "488615372ec6d4b5a27dd7673697113808653b749615b8a58f62e71df0660e85", "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e", "SHA-256(claims)"},
		{"rats-tls-legacy-rsa-sha1.pem", true, false, "144e81488fc3d59ddbe69b03bd939a3b938d85b6a7c9897e2b09808ade956574", "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e", "SHA-256(PKCS#1 RSAPublicKey)"},
		{"rats-tls-legacy-rsa-sha256.pem", true, false, "d74f2eb87fa3c64c40d16e35a6f8d3259e3dd931a0bcce0637e33ada67df0b52", "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e", "SHA-256(PKCS#1 RSAPublicKey)"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cert := loadVector(t, tc.file)
			// A time inside every PCK certificate's validity (see the
			// vectors README), so the test does not depend on today.
			now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
			res, err := VerifyCertificate(context.Background(), cert, Options{Now: now})
			if tc.legacy {
				if err == nil || !strings.Contains(err.Error(), "legacy") {
					t.Fatalf("legacy-only certificate without Legacy: err = %v", err)
				}
				res, err = VerifyCertificate(context.Background(), cert, Options{Legacy: true, Now: now})
			}
			if err != nil {
				t.Fatalf("verify: %v\nchecks: %+v", err, res.Checks)
			}
			if res.Tag != keeps.TagIntelQuote || res.Evidence.TEE != keeps.TEESGX {
				t.Fatalf("tag %d, TEE %q; want the Intel quote verifier and sgx", res.Tag, res.Evidence.TEE)
			}
			last := res.Checks[len(res.Checks)-1]
			if last.Name != "report data binding" || !strings.Contains(last.Detail, tc.binding) {
				t.Fatalf("binding check = %+v, want %s", last, tc.binding)
			}
			if res.Evidence.Debug != tc.debug {
				t.Fatalf("Debug = %v, want %v", res.Evidence.Debug, tc.debug)
			}
			if tc.mrenclave != "" {
				if got := hex.EncodeToString(res.Evidence.Measurements["mrenclave"]); got != tc.mrenclave {
					t.Fatalf("mrenclave %s, want %s", got, tc.mrenclave)
				}
				if got := hex.EncodeToString(res.Evidence.Measurements["mrsigner"]); got != tc.mrsigner {
					t.Fatalf("mrsigner %s, want %s", got, tc.mrsigner)
				}
			}
			// The quote's signatures and PCK chain verify to the pinned
			// Intel root: allow_debug accepts them all; the default policy
			// refuses exactly the debug enclaves, and says so.
			if !res.Evidence.SignatureVerified {
				t.Fatal("signature chain not verified")
			}
			if v := (&Policy{AllowDebug: true}).Evaluate(res); !v.Accepted {
				t.Fatalf("allow_debug verdict %+v", v)
			}
			v := (&Policy{}).Evaluate(res)
			if got := strings.Contains(strings.Join(v.Reasons, ";"), "debug mode"); got != tc.debug || v.Accepted == tc.debug {
				t.Fatalf("default verdict %+v: refusal for debug mode = %v, want %v", v, got, tc.debug)
			}
			// Pinning another MRENCLAVE refuses.
			if v := (&Policy{AllowDebug: true, SGX: SGXPolicy{MRENCLAVE: []string{strings.Repeat("00", 32)}}}).Evaluate(res); v.Accepted {
				t.Fatal("a policy pinning another MRENCLAVE accepted")
			}
			// Outside the PCK certificate's validity, verification fails.
			if _, err := VerifyCertificate(context.Background(), cert, Options{Legacy: tc.legacy, Now: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
				t.Fatal("verified in 2040, after the PCK certificates expired")
			}
		})
	}
}

// The example policy in examples/ parses.
func TestExampleFiles(t *testing.T) {
	if _, err := LoadPolicy(filepath.Join("..", "examples", "policy.toml")); err != nil {
		t.Fatal(err)
	}
}
