package tdx_test

// End to end at Keep's interface level: a TDX attester backed by the
// tdxtest signer issues an RA-TLS certificate (netattest.Issue), which
// netattest.VerifyCertificate checks through a registry mapping tag 60000
// to the TDX verifier, and netattest policies judge.

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/tdx"
	"github.com/keepwasm/keep/keeps/tdx/tdxtest"
	"github.com/keepwasm/keep/netattest"
)

func TestRATLSWithTestSigner(t *testing.T) {
	ctx := context.Background()
	s, err := tdxtest.NewSigner(tdxtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	module := sha512.Sum384([]byte("the module"))
	otherModule := sha512.Sum384([]byte("another module"))
	pin := func(d [48]byte) []string { return []string{"sha384:" + hex.EncodeToString(d[:])} }
	mrtd := hex.EncodeToString(s.TD.MRTD[:])
	wrong := strings.Repeat("00", 48)

	issue := func(t *testing.T, s *tdxtest.Signer) *netattest.Identity {
		t.Helper()
		// Through the fake configfs-tsm, as in a TD with Linux 6.7+.
		id, err := netattest.Issue(ctx, &tdx.Attester{TSM: s.ConfigfsClient(nil)}, netattest.IssueOptions{ModuleDigest: module[:]})
		if err != nil {
			t.Fatal(err)
		}
		if id.TEE != keeps.TEETDX {
			t.Errorf("identity TEE %q", id.TEE)
		}
		return id
	}
	registry := func(v *tdx.Verifier) *keeps.Registry {
		r := &keeps.Registry{}
		r.Register(v)
		return r
	}
	testRoots := registry(&tdx.Verifier{InsecureTestRoots: s.Roots()})
	id := issue(t, s)

	for _, tc := range []struct {
		name     string
		registry *keeps.Registry
		policy   netattest.Policy
		verified bool   // VerifyCertificate passes
		accepted bool   // the policy accepts
		reason   string // in the verdict's reasons
	}{
		{name: "test roots, pinned module and MRTD", registry: testRoots,
			policy:   netattest.Policy{ModuleHashes: pin(module), TDX: netattest.TDXPolicy{MRTD: []string{mrtd}}},
			verified: true, accepted: true},
		{name: "test roots, default policy", registry: testRoots, verified: true, accepted: true},
		{name: "wrong MRTD", registry: testRoots,
			policy:   netattest.Policy{TDX: netattest.TDXPolicy{MRTD: []string{wrong}}},
			verified: true, reason: "tdx mrtd"},
		{name: "wrong RTMR0", registry: testRoots,
			policy:   netattest.Policy{TDX: netattest.TDXPolicy{RTMR0: []string{wrong}}},
			verified: true, reason: "tdx rtmr0"},
		{name: "module hash mismatch", registry: testRoots,
			policy:   netattest.Policy{ModuleHashes: pin(otherModule)},
			verified: true, reason: "module hash"},
		{name: "TEE list without tdx", registry: testRoots,
			policy:   netattest.Policy{TEE: []keeps.TEE{keeps.TEESNP}},
			verified: true, reason: "not in the policy's tee list"},
		{name: "default (Intel) roots", registry: registry(tdx.NewVerifier())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := netattest.VerifyCertificate(ctx, id.Certificate, netattest.Options{Registry: tc.registry})
			if tc.verified != (err == nil) {
				t.Fatalf("VerifyCertificate: err = %v, want verified=%v; checks %+v", err, tc.verified, r.Checks)
			}
			if !tc.verified {
				if !strings.Contains(err.Error(), "quote verification failed") {
					t.Errorf("err = %v, want the TDX verifier's ErrVerification", err)
				}
				return
			}
			if ec := r.Evidence; ec == nil || !ec.SignatureVerified || ec.TEE != keeps.TEETDX || ec.Debug {
				t.Fatalf("evidence claims %+v: want verified, tdx, not debug", r.Evidence)
			}
			v := tc.policy.Evaluate(r)
			if v.Accepted != tc.accepted {
				t.Fatalf("verdict %+v, want accepted=%v", v, tc.accepted)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(v.Reasons, "; "), tc.reason) {
				t.Errorf("reasons %q, want one about %q", v.Reasons, tc.reason)
			}
			if tc.accepted && !strings.Contains(strings.Join(v.NotPinned, "; "), "TCB status not evaluated") {
				t.Errorf("not pinned %q: want the unevaluated TCB status reported", v.NotPinned)
			}
		})
	}

	t.Run("debug TD", func(t *testing.T) {
		d, err := tdxtest.NewSigner(tdxtest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d.TD.TDAttributes |= 1
		r, err := netattest.VerifyCertificate(ctx, issue(t, d).Certificate, netattest.Options{Registry: registry(&tdx.Verifier{InsecureTestRoots: d.Roots()})})
		if err != nil {
			t.Fatal(err)
		}
		if v := (&netattest.Policy{}).Evaluate(r); v.Accepted || !strings.Contains(strings.Join(v.Reasons, "; "), "debug") {
			t.Errorf("default policy on a debug TD: %+v", v)
		}
		if v := (&netattest.Policy{AllowDebug: true}).Evaluate(r); !v.Accepted {
			t.Errorf("allow_debug policy on a debug TD: %+v", v)
		}
	})

	t.Run("certificate verified at a time the PCK chain is not valid", func(t *testing.T) {
		_, err := netattest.VerifyCertificate(ctx, id.Certificate, netattest.Options{Registry: testRoots, Now: s.PCK.NotAfter.Add(time.Hour)})
		if err == nil {
			t.Fatal("verified after the PCK certificate expired")
		}
	})
}
