package netattest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/sim"
)

// evidenceValue returns the value of cert's 2.23.133.5.4.9 extension.
func evidenceValue(t testing.TB, cert *x509.Certificate) []byte {
	t.Helper()
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDEvidence) {
			return e.Value
		}
	}
	t.Fatal("no evidence extension")
	return nil
}

// fuzzSeeds are inputs shared by the fuzzers: a real sim identity's
// extension value, claims and DER, and crafted variants.
type fuzzSeeds struct {
	exts   [][]byte
	claims [][]byte
	ders   [][]byte
}

func newFuzzSeeds(t testing.TB) *fuzzSeeds {
	t.Helper()
	s := &fuzzSeeds{}
	id := simIdentity(t, []byte("module"))
	ext := evidenceValue(t, id.Certificate)
	te, err := ParseEvidenceExtension(ext)
	if err != nil {
		t.Fatal(err)
	}
	s.exts = append(s.exts, ext)
	s.claims = append(s.claims, te.Claims)
	s.ders = append(s.ders, id.Certificate.Raw)

	f := newFixture(t)
	for _, alg := range []crypto.Hash{crypto.SHA384, crypto.SHA512} {
		c := f.claims(alg)
		v := f.ext(c)
		s.claims = append(s.claims, c)
		s.exts = append(s.exts, v)
		s.ders = append(s.ders, f.cert(nil, pkix.Extension{Id: OIDEvidence, Critical: true, Value: v}).Raw)
	}
	extra := rawMap(ClaimPubkeyHash, hashEntryBstr(1, spkiHash(t, f.key, crypto.SHA256)), "key_0", bstr([]byte("value_0\x00")), ClaimNonce, bstr([]byte{1, 2}))
	s.claims = append(s.claims, extra)
	s.ders = append(s.ders, f.cert(nil, evExt(f.ext(extra)), pkix.Extension{Id: OIDEndorsements, Value: []byte{}}).Raw)
	s.ders = append(s.ders, f.cert(nil, pkix.Extension{Id: OIDLegacyRATLS, Value: []byte("quote")}).Raw)

	vec, _ := hex.DecodeString("d9ea608244010203044405060708")
	s.exts = append(s.exts, vec, tagged(keeps.TagSEVSNPReport, arr(bstr([]byte{1}), bstr(nil))))
	he, _ := hex.DecodeString("82014400010203")
	s.claims = append(s.claims,
		rawMap(ClaimPubkeyHash, bstr(he)),
		cat([]byte{0xa1, 0x6b}, []byte("pubkey-hash"), []byte{0x58, 0x24, 0x82, 0x01, 0x58, 0x20}, make([]byte, 32)),
	)
	return s
}

func FuzzParseEvidenceExtension(f *testing.F) {
	s := newFuzzSeeds(f)
	for _, v := range s.exts {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		te, err := ParseEvidenceExtension(data)
		if err != nil {
			if te != nil {
				t.Fatalf("non-nil result with error %v", err)
			}
			return
		}
		if len(data) > MaxExtensionSize || len(te.Evidence) == 0 || len(te.Claims) > MaxClaimsSize {
			t.Fatalf("accepted %d-byte value with %d-byte evidence and %d-byte claims", len(data), len(te.Evidence), len(te.Claims))
		}
		enc, err := EncodeEvidenceExtension(te.Tag, te.Evidence, te.Claims)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", te, err)
		}
		te2, err := ParseEvidenceExtension(enc)
		if err != nil {
			t.Fatalf("re-encoded %x does not parse: %v", enc, err)
		}
		if te2.Tag != te.Tag || !bytes.Equal(te2.Evidence, te.Evidence) || !bytes.Equal(te2.Claims, te.Claims) {
			t.Fatalf("round trip changed %+v into %+v", te, te2)
		}
		enc2, err := EncodeEvidenceExtension(te2.Tag, te2.Evidence, te2.Claims)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not deterministic: %x vs %x (%v)", enc, enc2, err)
		}
	})
}

// checkHashEntry checks the invariant of a parsed hash-entry.
func checkHashEntry(t *testing.T, name string, h *HashEntry) {
	t.Helper()
	switch h.Alg {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		t.Fatalf("%s: algorithm %v accepted", name, h.Alg)
	}
	if len(h.Hash) != h.Alg.Size() {
		t.Fatalf("%s: %d-byte hash accepted for %v", name, len(h.Hash), h.Alg)
	}
}

func FuzzParseClaims(f *testing.F) {
	s := newFuzzSeeds(f)
	for _, c := range s.claims {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseClaims(data)
		if err != nil {
			if c != nil {
				t.Fatalf("non-nil claims with error %v", err)
			}
			return
		}
		if len(data) > MaxClaimsSize {
			t.Fatalf("accepted a %d-byte claims buffer", len(data))
		}
		checkHashEntry(t, ClaimPubkeyHash, &c.PubkeyHash)
		if c.ModuleHash != nil {
			checkHashEntry(t, ClaimModuleHash, c.ModuleHash)
		}
		if c.ConfigHash != nil {
			checkHashEntry(t, ClaimConfigHash, c.ConfigHash)
		}
		for _, k := range []string{ClaimPubkeyHash, ClaimModuleHash, ClaimConfigHash, ClaimNonce} {
			if _, ok := c.Other[k]; ok {
				t.Fatalf("claim %q landed in Other", k)
			}
		}
		// Keep's claims survive EncodeClaims and ParseClaims unchanged.
		enc, err := EncodeClaims(c)
		if err != nil {
			t.Fatalf("EncodeClaims(%+v): %v", c, err)
		}
		c2, err := ParseClaims(enc)
		if err != nil {
			t.Fatalf("re-encoded claims %x do not parse: %v", enc, err)
		}
		same := func(a, b *HashEntry) bool {
			if a == nil || b == nil {
				return a == b
			}
			return a.Alg == b.Alg && bytes.Equal(a.Hash, b.Hash)
		}
		if !same(&c.PubkeyHash, &c2.PubkeyHash) || !same(c.ModuleHash, c2.ModuleHash) || !same(c.ConfigHash, c2.ConfigHash) {
			t.Fatalf("round trip changed %+v into %+v", c, c2)
		}
	})
}

func FuzzVerifyCertificate(f *testing.F) {
	s := newFuzzSeeds(f)
	for _, d := range s.ders {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Skip()
		}
		for _, legacy := range []bool{false, true} {
			res, err := VerifyCertificate(context.Background(), cert, Options{Legacy: legacy})
			if res == nil || len(res.Checks) == 0 {
				t.Fatalf("result %+v, err %v", res, err)
			}
			last := res.Checks[len(res.Checks)-1]
			if err != nil {
				if last.OK || !strings.HasPrefix(err.Error(), last.Name+": ") {
					t.Fatalf("err %v, last check %+v", err, last)
				}
				// A failed check leaves nothing a policy accepts, however
				// permissive, and a report that says so.
				lax := &Policy{AllowSimulated: true, AllowDebug: true, TCBStatus: TCBStatuses}
				if res.Attested() != nil || res.Verified() || lax.Evaluate(res).Accepted {
					t.Fatalf("failed verification (%v) yet attested or accepted", err)
				}
				if rep := NewReport(cert, res, lax.Evaluate(res)); rep.Verified || rep.Accepted || len(rep.Reasons) == 0 {
					t.Fatalf("report of a failed verification: %+v", rep)
				}
				continue
			}
			if res.Attested() == nil {
				t.Fatal("passed without an Attested")
			}
			for _, c := range res.Checks {
				if !c.OK {
					t.Fatalf("passed with a failed check: %+v", res.Checks)
				}
			}
			if last.Name != "report data binding" || res.Evidence == nil {
				t.Fatalf("passed without binding the evidence: %+v", res)
			}
			if !legacy || res.Claims != nil {
				if res.Claims == nil {
					t.Fatal("passed without claims")
				}
				h := res.Claims.PubkeyHash.Alg.New()
				h.Write(cert.RawSubjectPublicKeyInfo)
				if !bytes.Equal(h.Sum(nil), res.Claims.PubkeyHash.Hash) {
					t.Fatal("passed with a pubkey-hash of another key")
				}
			}
			if res.Tag == sim.Tag && !res.Evidence.Simulated {
				t.Fatal("sim evidence not marked simulated")
			}
			if v := (&Policy{}).Evaluate(res); v.Accepted && res.Evidence.Simulated {
				t.Fatal("the default policy accepted simulated evidence")
			}
		}
	})
}

// The fuzz seeds themselves behave: every seed DER verifies or fails with
// a named check, and the crafted ones (all sim) verify.
func TestFuzzSeedsVerify(t *testing.T) {
	s := newFuzzSeeds(t)
	for i, d := range s.ders {
		cert, err := x509.ParseCertificate(d)
		if err != nil {
			t.Fatal(err)
		}
		_, err = VerifyCertificate(context.Background(), cert, Options{})
		legacy := i == len(s.ders)-1
		if legacy != (err != nil) {
			t.Fatalf("seed %d: err = %v", i, err)
		}
		if legacy && errors.Is(err, ErrNoEvidence) {
			t.Fatalf("legacy seed: err = %v, want the legacy refusal", err)
		}
	}
}

// FuzzParsePolicy feeds arbitrary bytes to the policy parser: it must
// return a policy or an error naming the file, never panic, and a policy
// it accepts must never allow simulated evidence unless the text says so.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("tee = [\"sgx\", \"tdx\"]\nallow_debug = true\n[sgx]\nmrenclave = [\"" + strings.Repeat("ab", 32) + "\"]\nmin_isv_svn = 3\n"))
	f.Add([]byte("allow_simulated = true\nmodule_hashes = [\"sha384:" + strings.Repeat("00", 48) + "\"]\n"))
	f.Add([]byte("[snp]\nmin_tcb_snp = 8\n[collateral]\nroot_crl = \"crl.der\"\n"))
	f.Add([]byte("tee = 7\n"))
	f.Add([]byte("[tdx]\nrtmr0 = [\"zz\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("fuzz.toml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// (A quoted key may spell the name with \u escapes.)
		says := bytes.Contains(data, []byte("allow_simulated")) || bytes.Contains(data, []byte(`\u`)) || bytes.Contains(data, []byte(`\U`))
		if p.AllowSimulated && !says {
			t.Fatalf("policy allows simulated evidence without saying so: %q", data)
		}
	})
}
