package proxy

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/netattest"
)

// TestProxyAttestationOCI: the attestation JSON carries the keep's
// keep-oci-* claims when it has them, and omits them when not.
func TestProxyAttestationOCI(t *testing.T) {
	k := startFakeKeep(t, "good")
	_, front := newProxy(t, k.addr(), &netattest.Policy{AllowSimulated: true})
	if a := attestation(t, front.URL); a.OCIReference != "" || a.OCIManifestDigest != "" {
		t.Fatalf("OCI fields for a keep without OCI claims: %+v", a)
	}
	if _, body := get(t, front.URL+WellKnownPath, ""); strings.Contains(body, "oci_") {
		t.Fatalf("JSON has oci_ fields: %s", body)
	}

	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	md := sha512.Sum384([]byte("good"))
	od := sha256.Sum256([]byte("manifest"))
	ref := "registry.example/app@sha256:" + hex.EncodeToString(od[:])
	id, err := netattest.Issue(context.Background(), att, netattest.IssueOptions{ModuleDigest: md[:],
		OCI: &netattest.OCIOrigin{Reference: ref, ManifestDigest: netattest.HashEntry{Alg: crypto.SHA256, Hash: od[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	k2 := startFakeKeep(t, "good")
	k2.restart(t, id)
	_, front2 := newProxy(t, k2.addr(), &netattest.Policy{AllowSimulated: true})
	a := attestation(t, front2.URL)
	if a.OCIReference != ref || a.OCIManifestDigest != "sha256:"+hex.EncodeToString(od[:]) || a.ModuleHash != digest("good") {
		t.Fatalf("attestation %+v", a)
	}
}
