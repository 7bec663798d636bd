package netattest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"strings"
	"testing"

	"github.com/keepwasm/keep/keeps/sim"
)

// TestOCIClaims: the registry origin rides in the signed claims next to
// the module hash, which stays the SHA-384 of the module.
func TestOCIClaims(t *testing.T) {
	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	md := sha512.Sum384([]byte("module"))
	od := sha256.Sum256([]byte("manifest"))
	origin := &OCIOrigin{Reference: "127.0.0.1:5000/hello@sha256:" + hexs(od[:]), ManifestDigest: HashEntry{Alg: crypto.SHA256, Hash: od[:]}}
	id, err := Issue(context.Background(), att, IssueOptions{ModuleDigest: md[:], OCI: origin})
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyCertificate(context.Background(), id.Certificate, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Claims
	if c.OCI == nil || c.OCI.Reference != origin.Reference || c.OCI.ManifestDigest.String() != "sha256:"+hexs(od[:]) ||
		c.ModuleHash.String() != "sha384:"+hexs(md[:]) || c.Other != nil {
		t.Fatalf("claims %+v oci %+v", c, c.OCI)
	}
	// Without an origin, no OCI claims.
	id, err = Issue(context.Background(), att, IssueOptions{ModuleDigest: md[:]})
	if err != nil {
		t.Fatal(err)
	}
	if id.Claims.OCI != nil {
		t.Fatal("OCI claims without an origin")
	}
	// Issue refuses a bad origin rather than writing it.
	bad := *origin
	bad.ManifestDigest = HashEntry{Alg: crypto.SHA384, Hash: md[:]}
	if _, err := Issue(context.Background(), att, IssueOptions{ModuleDigest: md[:], OCI: &bad}); err == nil {
		t.Fatal("Issue accepted a SHA-384 OCI digest")
	}
}

func TestParseOCIClaims(t *testing.T) {
	ph := sha256.Sum256([]byte("key"))
	od := sha256.Sum256([]byte("manifest"))
	entry := func(alg uint64, h []byte) []byte {
		b, err := encMode.Marshal(hashEntryWire{Alg: alg, Hash: h})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	base := func() map[string]any {
		return map[string]any{ClaimPubkeyHash: entry(HashAlgSHA256, ph[:])}
	}
	for _, tc := range []struct {
		name string
		add  map[string]any
		want string
	}{
		{"ok", map[string]any{ClaimOCIReference: "r/x:v1", ClaimOCIManifestDigest: entry(HashAlgSHA256, od[:])}, ""},
		{"reference-alone", map[string]any{ClaimOCIReference: "r/x:v1"}, "come together"},
		{"digest-alone", map[string]any{ClaimOCIManifestDigest: entry(HashAlgSHA256, od[:])}, "come together"},
		{"reference-bytes", map[string]any{ClaimOCIReference: []byte("r/x:v1"), ClaimOCIManifestDigest: entry(HashAlgSHA256, od[:])}, "not a text string"},
		{"reference-empty", map[string]any{ClaimOCIReference: "", ClaimOCIManifestDigest: entry(HashAlgSHA256, od[:])}, "1 to 1024"},
		{"reference-long", map[string]any{ClaimOCIReference: strings.Repeat("r", 1025), ClaimOCIManifestDigest: entry(HashAlgSHA256, od[:])}, "1 to 1024"},
		{"digest-sha384", map[string]any{ClaimOCIReference: "r/x:v1", ClaimOCIManifestDigest: entry(HashAlgSHA384, make([]byte, 48))}, "SHA-256 or SHA-512"},
		{"digest-short", map[string]any{ClaimOCIReference: "r/x:v1", ClaimOCIManifestDigest: entry(HashAlgSHA256, od[:31])}, "31-byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			for k, v := range tc.add {
				m[k] = v
			}
			buf, err := encMode.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseClaims(buf)
			if tc.want == "" {
				if err != nil || c.OCI == nil || c.OCI.Reference != "r/x:v1" {
					t.Fatalf("ParseClaims: %v, %+v", err, c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseClaims: %v; want %q", err, tc.want)
			}
		})
	}
}
