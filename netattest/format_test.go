package netattest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/sim"
)

// ---- CBOR and certificate crafting helpers -------------------------------

// cborHead encodes a CBOR item head of the given major type and argument,
// in the shortest form.
func cborHead(major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return []byte{m | byte(n)}
	case n <= 0xff:
		return []byte{m | 24, byte(n)}
	case n <= 0xffff:
		return []byte{m | 25, byte(n >> 8), byte(n)}
	case n <= 0xffffffff:
		return []byte{m | 26, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return []byte{m | 27, byte(n >> 56), byte(n >> 48), byte(n >> 40), byte(n >> 32), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// bstr encodes a definite byte string.
func bstr(b []byte) []byte { return cat(cborHead(2, uint64(len(b))), b) }

// tstr encodes a definite text string.
func tstr(s string) []byte { return cat(cborHead(3, uint64(len(s))), []byte(s)) }

// arr encodes a definite array of already-encoded items.
func arr(items ...[]byte) []byte { return cat(cborHead(4, uint64(len(items))), cat(items...)) }

// tagged encodes tag(n) around an already-encoded item.
func tagged(n uint64, item []byte) []byte { return cat(cborHead(6, n), item) }

// rawMap encodes a definite map from alternating text keys and
// already-encoded values, in order and keeping duplicates.
func rawMap(kv ...any) []byte {
	out := cborHead(5, uint64(len(kv)/2))
	for i := 0; i < len(kv); i += 2 {
		out = cat(out, tstr(kv[i].(string)), kv[i+1].([]byte))
	}
	return out
}

// hashEntryBstr is a claim value: bstr holding CBOR [alg, bstr hash].
func hashEntryBstr(alg uint64, h []byte) []byte {
	return bstr(arr(cborHead(0, alg), bstr(h)))
}

// spkiHash hashes key's SubjectPublicKeyInfo with h.
func spkiHash(t testing.TB, key *ecdsa.PrivateKey, h crypto.Hash) []byte {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	hh := h.New()
	hh.Write(spki)
	return hh.Sum(nil)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixture crafts RA-TLS certificates around one key and one sim attester.
type fixture struct {
	t   testing.TB
	key *ecdsa.PrivateKey
	att *sim.Attester
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, key: newKey(t), att: att}
}

// claims returns Keep's claims buffer for the fixture's key.
func (f *fixture) claims(alg crypto.Hash) []byte {
	f.t.Helper()
	mod := sha512.Sum384([]byte("module"))
	b, err := EncodeClaims(&Claims{
		PubkeyHash: HashEntry{Alg: alg, Hash: spkiHash(f.t, f.key, alg)},
		ModuleHash: &HashEntry{Alg: crypto.SHA384, Hash: mod[:]},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// evidence returns sim evidence whose report data binds claims.
func (f *fixture) evidence(claims []byte) []byte {
	f.t.Helper()
	ev, err := f.att.Attest(context.Background(), ReportDataFor(claims))
	if err != nil {
		f.t.Fatal(err)
	}
	return ev.Data
}

// ext returns a well-formed evidence extension value binding claims.
func (f *fixture) ext(claims []byte) []byte {
	f.t.Helper()
	v, err := EncodeEvidenceExtension(sim.Tag, f.evidence(claims), claims)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func evExt(value []byte) pkix.Extension { return pkix.Extension{Id: OIDEvidence, Value: value} }

// cert self-signs a certificate for the fixture's key with signer (nil:
// the key itself) and the given extra extensions.
func (f *fixture) cert(signer crypto.Signer, exts ...pkix.Extension) *x509.Certificate {
	f.t.Helper()
	if signer == nil {
		signer = f.key
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{CommonName: "format test"},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.Add(time.Hour),
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &f.key.PublicKey, signer)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// verifyNoPanic runs VerifyCertificate, turning a panic into a test failure.
func verifyNoPanic(t testing.TB, cert *x509.Certificate, opts Options) (res *Result, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("VerifyCertificate panicked: %v", p)
		}
	}()
	return VerifyCertificate(context.Background(), cert, opts)
}

// ---- unit vectors ---------------------------------------------------------

// The rats-rs CBOR unit vectors (rats-rs/src/cert/dice/cbor.rs).
func TestRatsRsVectors(t *testing.T) {
	got, err := EncodeEvidenceExtension(keeps.TagIntelQuote, []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if want := "d9ea608244010203044405060708"; hex.EncodeToString(got) != want {
		t.Fatalf("EncodeEvidenceExtension = %x, want %s", got, want)
	}
	te, err := ParseEvidenceExtension(got)
	if err != nil {
		t.Fatal(err)
	}
	if te.Tag != 60000 || !bytes.Equal(te.Evidence, []byte{1, 2, 3, 4}) || !bytes.Equal(te.Claims, []byte{5, 6, 7, 8}) {
		t.Fatalf("parsed %+v", te)
	}

	he, err := encodeHashEntry(HashEntry{Alg: crypto.SHA256, Hash: []byte{0, 1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "82014400010203"; hex.EncodeToString(he) != want {
		t.Fatalf("hash-entry = %x, want %s", he, want)
	}
	// As a claim it is refused: 4 bytes is not a SHA-256.
	_, err = parseHashEntry(ClaimPubkeyHash, he)
	if err == nil || !strings.Contains(err.Error(), "4-byte hash for SHA-256 (want 32)") {
		t.Fatalf("parseHashEntry(%x) err = %v", he, err)
	}
	for alg, id := range map[crypto.Hash]string{crypto.SHA384: "07", crypto.SHA512: "08"} {
		he, err := encodeHashEntry(HashEntry{Alg: alg, Hash: []byte{9}})
		if err != nil || hex.EncodeToString(he) != "82"+id+"4109" {
			t.Fatalf("hash-entry %v = %x, %v", alg, he, err)
		}
	}
	if _, err := encodeHashEntry(HashEntry{Alg: crypto.SHA1, Hash: make([]byte, 20)}); err == nil {
		t.Fatal("encodeHashEntry accepted SHA-1")
	}
}

// Keep's claims with only a SHA-256 pubkey-hash are byte for byte the
// 51-byte buffer Gramine and the Intel SGX SDK write.
func TestEncodeClaimsGramineLayout(t *testing.T) {
	h := bytes.Repeat([]byte{0xab}, 32)
	got, err := EncodeClaims(&Claims{PubkeyHash: HashEntry{Alg: crypto.SHA256, Hash: h}})
	if err != nil {
		t.Fatal(err)
	}
	want := cat([]byte{0xa1, 0x6b}, []byte("pubkey-hash"), []byte{0x58, 0x24, 0x82, 0x01, 0x58, 0x20}, h)
	if !bytes.Equal(got, want) || len(got) != 51 {
		t.Fatalf("claims = %x, want %x", got, want)
	}
	// Keep's own claims follow pubkey-hash, in a fixed order.
	m := bytes.Repeat([]byte{1}, 48)
	c := bytes.Repeat([]byte{2}, 48)
	got, err = EncodeClaims(&Claims{PubkeyHash: HashEntry{Alg: crypto.SHA256, Hash: h}, ModuleHash: &HashEntry{Alg: crypto.SHA384, Hash: m}, ConfigHash: &HashEntry{Alg: crypto.SHA384, Hash: c}})
	if err != nil {
		t.Fatal(err)
	}
	want = rawMap(ClaimPubkeyHash, hashEntryBstr(1, h), ClaimModuleHash, hashEntryBstr(7, m), ClaimConfigHash, hashEntryBstr(7, c))
	if !bytes.Equal(got, want) {
		t.Fatalf("claims = %x, want %x", got, want)
	}
}

func TestReportDataFor(t *testing.T) {
	claims := []byte("claims")
	rd := ReportDataFor(claims)
	h := sha256.Sum256(claims)
	if !bytes.Equal(rd[:32], h[:]) || !bytes.Equal(rd[32:], make([]byte, 32)) {
		t.Fatalf("ReportDataFor = %x", rd)
	}
}

// ---- ParseEvidenceExtension -----------------------------------------------

func TestParseEvidenceExtension(t *testing.T) {
	ev, cl := []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}
	good := tagged(60000, arr(bstr(ev), bstr(cl)))
	big := make([]byte, MaxExtensionSize)
	for _, tc := range []struct {
		name    string
		in      []byte
		wantTag uint64 // when no error is wanted
		wantErr string // substring; "" means success
		shape   bool   // errors.Is(err, ErrEvidenceShape)
	}{
		{name: "vector", in: good, wantTag: 60000},
		{name: "snp tag", in: tagged(keeps.TagSEVSNPReport, arr(bstr(ev), bstr(cl))), wantTag: keeps.TagSEVSNPReport},
		{name: "sim tag", in: tagged(sim.Tag, arr(bstr(ev), bstr(cl))), wantTag: sim.Tag},
		{name: "empty claims", in: tagged(60000, arr(bstr(ev), bstr(nil))), wantTag: 60000},
		{name: "empty", in: nil, wantErr: "EOF", shape: true},
		{name: "truncated", in: good[:len(good)-1], wantErr: "unexpected EOF", shape: true},
		{name: "trailing byte", in: cat(good, []byte{0}), wantErr: "extraneous data", shape: true},
		{name: "trailing item", in: cat(good, good), wantErr: "extraneous data", shape: true},
		{name: "untagged array", in: arr(bstr(ev), bstr(cl)), wantErr: "cbor.RawTag", shape: true},
		{name: "bare bstr", in: bstr(ev), wantErr: "cbor.RawTag", shape: true},
		{name: "array of 1", in: tagged(60000, arr(bstr(ev))), wantErr: "array of 1 elements", shape: true},
		{name: "array of 3", in: tagged(60000, arr(bstr(ev), bstr(cl), bstr(cl))), wantErr: "array of 3 elements", shape: true},
		{name: "array of 0", in: tagged(60000, arr()), wantErr: "array of 0 elements", shape: true},
		{name: "content a map", in: tagged(60000, rawMap("a", bstr(ev))), wantErr: "content", shape: true},
		{name: "content a bstr", in: tagged(60000, bstr(ev)), wantErr: "content", shape: true},
		{name: "evidence text", in: tagged(60000, arr(tstr("abcd"), bstr(cl))), wantErr: "element 0 is not a byte string", shape: true},
		{name: "claims text", in: tagged(60000, arr(bstr(ev), tstr("abcd"))), wantErr: "element 1 is not a byte string", shape: true},
		{name: "claims int", in: tagged(60000, arr(bstr(ev), cborHead(0, 5))), wantErr: "element 1 is not a byte string", shape: true},
		{name: "claims tagged bstr", in: tagged(60000, arr(bstr(ev), tagged(24, bstr(cl)))), wantErr: "CBOR tag isn't allowed", shape: true},
		{name: "claims null", in: tagged(60000, arr(bstr(ev), []byte{0xf6})), wantErr: "element 1 is not a byte string", shape: true},
		{name: "empty evidence", in: tagged(60000, arr(bstr(nil), bstr(cl))), wantErr: "empty evidence", shape: true},
		{name: "indefinite array", in: tagged(60000, cat([]byte{0x9f}, bstr(ev), bstr(cl), []byte{0xff})), wantErr: "indefinite-length array isn't allowed", shape: true},
		{name: "indefinite bstr", in: tagged(60000, arr(cat([]byte{0x5f}, bstr(ev), []byte{0xff}), bstr(cl))), wantErr: "indefinite-length byte string isn't allowed", shape: true},
		{name: "invalid UTF-8 text", in: tagged(60000, arr(bstr(ev), []byte{0x62, 0xff, 0xfe})), wantErr: "element 1 is not a byte string", shape: true},
		{name: "too deep", in: tagged(60000, arr(bstr(ev), arr(arr(arr(arr(bstr(cl))))))), wantErr: "exceeded max nested level", shape: true},
		{name: "claims over 4 KiB", in: tagged(60000, arr(bstr(ev), bstr(make([]byte, MaxClaimsSize+1)))), wantErr: "4096-byte limit"},
		{name: "claims at 4 KiB", in: tagged(60000, arr(bstr(ev), bstr(make([]byte, MaxClaimsSize)))), wantTag: 60000},
		{name: "value over 64 KiB", in: tagged(60000, arr(bstr(big), bstr(cl))), wantErr: "exceeds the 65536-byte limit"},
		{name: "1 MiB", in: tagged(60000, arr(bstr(make([]byte, 1<<20)), bstr(cl))), wantErr: "exceeds the 65536-byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te, err := ParseEvidenceExtension(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if te.Tag != tc.wantTag || len(te.Evidence) == 0 {
					t.Fatalf("parsed %+v, want tag %d", te, tc.wantTag)
				}
				return
			}
			if err == nil {
				t.Fatalf("parsed %+v, want an error containing %q", te, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.shape != errors.Is(err, ErrEvidenceShape) {
				t.Fatalf("errors.Is(%v, ErrEvidenceShape) = %v, want %v", err, !tc.shape, tc.shape)
			}
		})
	}
}

// No proper prefix of a well-formed extension value parses.
func TestParseEvidenceExtensionEveryPrefix(t *testing.T) {
	f := newFixture(t)
	v := f.ext(f.claims(crypto.SHA256))
	for n := range len(v) {
		if te, err := ParseEvidenceExtension(v[:n]); err == nil || !errors.Is(err, ErrEvidenceShape) {
			t.Fatalf("prefix of %d/%d bytes: %+v, %v", n, len(v), te, err)
		}
	}
}

// ParseEvidenceExtension copies nothing it does not own: the result must
// not change when the input buffer is reused.
func TestParseEvidenceExtensionNoAlias(t *testing.T) {
	in := tagged(60000, arr(bstr([]byte{1, 2, 3, 4}), bstr([]byte{5, 6, 7, 8})))
	te, err := ParseEvidenceExtension(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0
	}
	if !bytes.Equal(te.Evidence, []byte{1, 2, 3, 4}) || !bytes.Equal(te.Claims, []byte{5, 6, 7, 8}) {
		t.Fatalf("result aliases the input: %+v", te)
	}
}

// ParseEvidenceExtension's contract is "a CBOR tag whose content is a
// definite array of exactly two byte strings", and ParseClaims's is a map
// with text keys whose hash-entries are [uint alg, bstr hash]. With tags
// allowed, fxamacker/cbor silently strips a tag in front of an item it
// decodes into a typed Go value, so these inputs used to be accepted as if
// untagged (found while writing these tests, and fixed in format.go by
// forbidding tags below the outer one). Gramine and librats reject them.
func TestNestedTagsRejected(t *testing.T) {
	ev, cl := []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}
	for _, in := range [][]byte{
		tagged(60000, tagged(5, arr(bstr(ev), bstr(cl)))),
		tagged(60000, tagged(60000, arr(bstr(ev), bstr(cl)))),
	} {
		if te, err := ParseEvidenceExtension(in); err == nil || !errors.Is(err, ErrEvidenceShape) {
			t.Errorf("ParseEvidenceExtension(%x) = %+v, %v; want ErrEvidenceShape (the tag's content is a tag, not an array)", in, te, err)
		}
	}

	h := make([]byte, 32)
	for name, in := range map[string][]byte{
		"tagged key":        cat(cborHead(5, 1), tagged(5, tstr(ClaimPubkeyHash)), hashEntryBstr(1, h)),
		"tagged hash-entry": rawMap(ClaimPubkeyHash, bstr(tagged(5, arr(cborHead(0, 1), bstr(h))))),
		"tagged hash":       rawMap(ClaimPubkeyHash, bstr(arr(cborHead(0, 1), tagged(5, bstr(h))))),
		"bignum alg id":     rawMap(ClaimPubkeyHash, bstr(arr(tagged(2, bstr([]byte{1})), bstr(h)))),
	} {
		if c, err := ParseClaims(in); err == nil {
			t.Errorf("ParseClaims(%s: %x) = %+v, want an error", name, in, c)
		}
	}

	// End to end: a certificate whose extension nests a tag verifies.
	f := newFixture(t)
	claims := f.claims(crypto.SHA256)
	cert := f.cert(nil, evExt(tagged(sim.Tag, tagged(5, arr(bstr(f.evidence(claims)), bstr(claims))))))
	if _, err := verifyNoPanic(t, cert, Options{}); err == nil {
		t.Errorf("VerifyCertificate accepted evidence extension tag(%d)(tag(5)([evidence, claims]))", sim.Tag)
	}
}

// ---- ParseClaims ----------------------------------------------------------

func TestParseClaims(t *testing.T) {
	h256 := bytes.Repeat([]byte{0x11}, 32)
	h384 := bytes.Repeat([]byte{0x22}, 48)
	h512 := bytes.Repeat([]byte{0x33}, 64)
	for _, tc := range []struct {
		name    string
		in      []byte
		wantErr string
		check   func(t *testing.T, c *Claims)
	}{
		{name: "sha256", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256)), check: func(t *testing.T, c *Claims) {
			if c.PubkeyHash.Alg != crypto.SHA256 || !bytes.Equal(c.PubkeyHash.Hash, h256) || c.ModuleHash != nil || c.ConfigHash != nil || c.Nonce != nil || c.Other != nil {
				t.Fatalf("claims %+v", c)
			}
			if s := c.PubkeyHash.String(); s != "sha256:"+hex.EncodeToString(h256) {
				t.Fatalf("String() = %s", s)
			}
		}},
		{name: "sha384", in: rawMap(ClaimPubkeyHash, hashEntryBstr(7, h384)), check: func(t *testing.T, c *Claims) {
			if c.PubkeyHash.Alg != crypto.SHA384 || !bytes.Equal(c.PubkeyHash.Hash, h384) || !strings.HasPrefix(c.PubkeyHash.String(), "sha384:") {
				t.Fatalf("claims %+v", c)
			}
		}},
		{name: "sha512", in: rawMap(ClaimPubkeyHash, hashEntryBstr(8, h512)), check: func(t *testing.T, c *Claims) {
			if c.PubkeyHash.Alg != crypto.SHA512 || !bytes.Equal(c.PubkeyHash.Hash, h512) || !strings.HasPrefix(c.PubkeyHash.String(), "sha512:") {
				t.Fatalf("claims %+v", c)
			}
		}},
		{name: "keep claims, nonce and others", in: rawMap(
			"key_0", bstr([]byte("value_0\x00")),
			ClaimPubkeyHash, hashEntryBstr(1, h256),
			ClaimModuleHash, hashEntryBstr(7, h384),
			ClaimConfigHash, hashEntryBstr(8, h512),
			ClaimNonce, bstr([]byte("nonce")),
			"n", cborHead(0, 42),
			"s", tstr("text"),
		), check: func(t *testing.T, c *Claims) {
			if c.ModuleHash == nil || c.ModuleHash.Alg != crypto.SHA384 || !bytes.Equal(c.ModuleHash.Hash, h384) {
				t.Fatalf("module hash %+v", c.ModuleHash)
			}
			if c.ConfigHash == nil || c.ConfigHash.Alg != crypto.SHA512 || !bytes.Equal(c.ConfigHash.Hash, h512) {
				t.Fatalf("config hash %+v", c.ConfigHash)
			}
			if string(c.Nonce) != "nonce" {
				t.Fatalf("nonce %q", c.Nonce)
			}
			if len(c.Other) != 3 || !bytes.Equal(c.Other["key_0"].([]byte), []byte("value_0\x00")) || c.Other["n"] != uint64(42) || c.Other["s"] != "text" {
				t.Fatalf("other %#v", c.Other)
			}
		}},
		{name: "empty", in: nil, wantErr: "claims buffer is not a CBOR map"},
		{name: "array", in: arr(tstr(ClaimPubkeyHash), hashEntryBstr(1, h256)), wantErr: "claims buffer is not a CBOR map"},
		{name: "tagged map", in: tagged(259, rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256))), wantErr: "claims buffer is not a CBOR map"},
		{name: "bstr", in: bstr([]byte{0xa0}), wantErr: "claims buffer is not a CBOR map"},
		{name: "empty map", in: rawMap(), wantErr: `claims have no "pubkey-hash"`},
		{name: "missing pubkey-hash", in: rawMap(ClaimModuleHash, hashEntryBstr(7, h384)), wantErr: `claims have no "pubkey-hash"`},
		{name: "duplicate pubkey-hash", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256), ClaimPubkeyHash, hashEntryBstr(1, h256)), wantErr: "duplicate map key"},
		{name: "duplicate other", in: rawMap("a", bstr(nil), ClaimPubkeyHash, hashEntryBstr(1, h256), "a", bstr([]byte{1})), wantErr: "duplicate map key"},
		{name: "duplicate non-minimal key", in: cat(cborHead(5, 2), tstr(ClaimPubkeyHash), hashEntryBstr(1, h256), []byte{0x78, 11}, []byte(ClaimPubkeyHash), hashEntryBstr(1, h256)), wantErr: "duplicate map key"},
		{name: "integer key", in: cat(cborHead(5, 2), tstr(ClaimPubkeyHash), hashEntryBstr(1, h256), cborHead(0, 1), bstr(nil)), wantErr: "claims buffer"},
		{name: "bstr key", in: cat(cborHead(5, 1), bstr([]byte(ClaimPubkeyHash)), hashEntryBstr(1, h256)), wantErr: "claims buffer"},
		{name: "trailing bytes", in: cat(rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256)), []byte{0}), wantErr: "extraneous data"},
		{name: "truncated", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256))[:40], wantErr: "unexpected EOF"},
		{name: "indefinite map", in: cat([]byte{0xbf}, tstr(ClaimPubkeyHash), hashEntryBstr(1, h256), []byte{0xff}), wantErr: "indefinite-length map isn't allowed"},
		{name: "indefinite hash-entry", in: rawMap(ClaimPubkeyHash, bstr(cat([]byte{0x9f, 0x01}, bstr(h256), []byte{0xff}))), wantErr: "indefinite-length array isn't allowed"},
		{name: "over 4 KiB", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256), "pad", bstr(make([]byte, MaxClaimsSize))), wantErr: "4096-byte limit"},
		{name: "pubkey-hash not bstr", in: rawMap(ClaimPubkeyHash, arr(cborHead(0, 1), bstr(h256))), wantErr: `claim "pubkey-hash" is not a byte string`},
		{name: "pubkey-hash text", in: rawMap(ClaimPubkeyHash, tstr(string(h256))), wantErr: `claim "pubkey-hash" is not a byte string`},
		{name: "hash-entry not array", in: rawMap(ClaimPubkeyHash, bstr(bstr(h256))), wantErr: "not a hash-entry [alg, hash]"},
		{name: "hash-entry of 3", in: rawMap(ClaimPubkeyHash, bstr(arr(cborHead(0, 1), bstr(h256), bstr(nil)))), wantErr: "not a hash-entry [alg, hash]"},
		{name: "hash-entry of 1", in: rawMap(ClaimPubkeyHash, bstr(arr(cborHead(0, 1)))), wantErr: "not a hash-entry [alg, hash]"},
		{name: "hash-entry trailing", in: rawMap(ClaimPubkeyHash, bstr(cat(arr(cborHead(0, 1), bstr(h256)), []byte{0}))), wantErr: "not a hash-entry [alg, hash]"},
		{name: "hash-entry text hash", in: rawMap(ClaimPubkeyHash, bstr(arr(cborHead(0, 1), tstr(strings.Repeat("a", 32))))), wantErr: "not a hash-entry [alg, hash]"},
		{name: "negative alg", in: rawMap(ClaimPubkeyHash, bstr(arr(cborHead(1, 0), bstr(h256)))), wantErr: "not a hash-entry [alg, hash]"},
		{name: "alg 2", in: rawMap(ClaimPubkeyHash, hashEntryBstr(2, h256)), wantErr: "unknown hash algorithm id 2 (want 1, 7 or 8)"},
		{name: "alg 0", in: rawMap(ClaimPubkeyHash, hashEntryBstr(0, h256)), wantErr: "unknown hash algorithm id 0"},
		{name: "alg huge", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1<<63, h256)), wantErr: "unknown hash algorithm id 9223372036854775808"},
		{name: "31 bytes for sha256", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256[:31])), wantErr: "31-byte hash for SHA-256 (want 32)"},
		{name: "33 bytes for sha256", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, append(h256, 0))), wantErr: "33-byte hash for SHA-256 (want 32)"},
		{name: "empty hash", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, nil)), wantErr: "0-byte hash for SHA-256"},
		{name: "sha256 under alg 7", in: rawMap(ClaimPubkeyHash, hashEntryBstr(7, h256)), wantErr: "32-byte hash for SHA-384 (want 48)"},
		{name: "sha384 under alg 8", in: rawMap(ClaimPubkeyHash, hashEntryBstr(8, h384)), wantErr: "48-byte hash for SHA-512 (want 64)"},
		{name: "bad module hash", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256), ClaimModuleHash, hashEntryBstr(7, h256)), wantErr: `claim "keep-module-hash": 32-byte hash for SHA-384`},
		{name: "bad config hash", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256), ClaimConfigHash, hashEntryBstr(3, h384)), wantErr: `claim "keep-config-hash": unknown hash algorithm id 3`},
		{name: "module hash text", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256), ClaimModuleHash, tstr("sha384:00")), wantErr: `claim "keep-module-hash" is not a byte string`},
		{name: "nonce not bstr", in: rawMap(ClaimPubkeyHash, hashEntryBstr(1, h256), ClaimNonce, tstr("n")), wantErr: `claim "nonce" is not a byte string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseClaims(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				tc.check(t, c)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseClaims(%x) = %+v, %v; want an error containing %q", tc.in, c, err, tc.wantErr)
			}
		})
	}
}

// EncodeClaims output parses back to the same claims.
func TestEncodeClaimsRoundTrip(t *testing.T) {
	for _, alg := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		in := &Claims{
			PubkeyHash: HashEntry{Alg: alg, Hash: bytes.Repeat([]byte{7}, alg.Size())},
			ModuleHash: &HashEntry{Alg: crypto.SHA384, Hash: bytes.Repeat([]byte{8}, 48)},
			ConfigHash: &HashEntry{Alg: crypto.SHA384, Hash: bytes.Repeat([]byte{9}, 48)},
		}
		b, err := EncodeClaims(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := ParseClaims(b)
		if err != nil {
			t.Fatal(err)
		}
		if out.PubkeyHash.String() != in.PubkeyHash.String() || out.ModuleHash.String() != in.ModuleHash.String() || out.ConfigHash.String() != in.ConfigHash.String() {
			t.Fatalf("round trip: %+v -> %+v", in, out)
		}
	}
	if _, err := EncodeClaims(&Claims{PubkeyHash: HashEntry{Alg: crypto.MD5, Hash: make([]byte, 16)}}); err == nil {
		t.Fatal("EncodeClaims accepted an MD5 pubkey-hash")
	}
}

// ---- VerifyCertificate on crafted certificates ----------------------------

func TestVerifyCertificateCrafted(t *testing.T) {
	f := newFixture(t)
	good := f.claims(crypto.SHA256)
	other := newKey(t)

	type build func(f *fixture) *x509.Certificate
	withExt := func(value func(f *fixture) []byte) build {
		return func(f *fixture) *x509.Certificate { return f.cert(nil, evExt(value(f))) }
	}
	// withClaims binds claims to sim evidence, as a correct attester would.
	withClaims := func(claims func(f *fixture) []byte) build {
		return withExt(func(f *fixture) []byte { return f.ext(claims(f)) })
	}
	// withParts encodes tag(sim)[evidence bound to claims, claims] by hand.
	withParts := func(enc func(ev, claims []byte) []byte, claims func(f *fixture) []byte) build {
		return withExt(func(f *fixture) []byte {
			c := claims(f)
			return enc(f.evidence(c), c)
		})
	}
	goodClaims := func(*fixture) []byte { return good }
	pkh := func(f *fixture) []byte { return hashEntryBstr(1, spkiHash(t, f.key, crypto.SHA256)) }

	for _, tc := range []struct {
		name      string
		build     build
		wantErr   string // "" means verification passes
		wantIs    error
		wantCheck string // the failed check's name
		check     func(t *testing.T, r *Result)
	}{
		{name: "ok sha256", build: withClaims(goodClaims), check: func(t *testing.T, r *Result) {
			if r.Claims.PubkeyHash.Alg != crypto.SHA256 {
				t.Fatalf("pubkey-hash %v", r.Claims.PubkeyHash)
			}
		}},
		{name: "ok sha384", build: withClaims(func(f *fixture) []byte { return f.claims(crypto.SHA384) }), check: func(t *testing.T, r *Result) {
			if r.Claims.PubkeyHash.Alg != crypto.SHA384 {
				t.Fatalf("pubkey-hash %v", r.Claims.PubkeyHash)
			}
		}},
		{name: "ok sha512", build: withClaims(func(f *fixture) []byte { return f.claims(crypto.SHA512) }), check: func(t *testing.T, r *Result) {
			if r.Claims.PubkeyHash.Alg != crypto.SHA512 {
				t.Fatalf("pubkey-hash %v", r.Claims.PubkeyHash)
			}
		}},
		{name: "critical extension accepted", build: func(f *fixture) *x509.Certificate {
			return f.cert(nil, pkix.Extension{Id: OIDEvidence, Critical: true, Value: f.ext(good)})
		}},
		{name: "extra claims kept in Other", build: withClaims(func(f *fixture) []byte {
			return rawMap(ClaimPubkeyHash, pkh(f), "key_0", bstr([]byte("value_0\x00")), "key_1", bstr([]byte("value_1\x00")))
		}), check: func(t *testing.T, r *Result) {
			if len(r.Claims.Other) != 2 || !bytes.Equal(r.Claims.Other["key_0"].([]byte), []byte("value_0\x00")) || !bytes.Equal(r.Claims.Other["key_1"].([]byte), []byte("value_1\x00")) {
				t.Fatalf("Other = %#v", r.Claims.Other)
			}
			if r.Claims.ModuleHash != nil {
				t.Fatalf("module hash %v", r.Claims.ModuleHash)
			}
		}},
		{name: "empty endorsements tolerated", build: func(f *fixture) *x509.Certificate {
			return f.cert(nil, evExt(f.ext(good)), pkix.Extension{Id: OIDEndorsements, Value: []byte{}})
		}},
		{name: "unrelated extensions ignored", build: func(f *fixture) *x509.Certificate {
			return f.cert(nil, pkix.Extension{Id: asn1.ObjectIdentifier{2, 23, 133, 5, 4, 8}, Value: []byte{1}}, evExt(f.ext(good)))
		}},

		{name: "no extension", build: func(f *fixture) *x509.Certificate { return f.cert(nil) },
			wantErr: "has no RA-TLS evidence extension", wantIs: ErrNoEvidence, wantCheck: "evidence extension"},
		{name: "wrong OID", build: func(f *fixture) *x509.Certificate {
			return f.cert(nil, pkix.Extension{Id: asn1.ObjectIdentifier{2, 23, 133, 5, 4, 8}, Value: f.ext(good)})
		}, wantErr: "has no RA-TLS evidence extension", wantIs: ErrNoEvidence, wantCheck: "evidence extension"},
		{name: "endorsements OID only", build: func(f *fixture) *x509.Certificate {
			return f.cert(nil, pkix.Extension{Id: OIDEndorsements, Value: f.ext(good)})
		}, wantErr: "has no RA-TLS evidence extension", wantIs: ErrNoEvidence, wantCheck: "evidence extension"},
		{name: "legacy OID without Legacy", build: func(f *fixture) *x509.Certificate {
			return f.cert(nil, pkix.Extension{Id: OIDLegacyRATLS, Value: f.evidence(good)})
		}, wantErr: "legacy formats are accepted only when asked for", wantCheck: "evidence extension"},
		{name: "truncated CBOR", build: withExt(func(f *fixture) []byte { v := f.ext(good); return v[:len(v)-1] }),
			wantErr: "unexpected EOF", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "trailing bytes", build: withExt(func(f *fixture) []byte { return append(f.ext(good), 0x00) }),
			wantErr: "extraneous data", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "unknown tag", build: withParts(func(ev, c []byte) []byte { return tagged(12345, arr(bstr(ev), bstr(c))) }, goodClaims),
			wantErr: "no verifier for evidence tag 12345 (0x3039)", wantIs: keeps.ErrUnknownTag, wantCheck: "evidence"},
		{name: "intel tag with sim evidence", build: withParts(func(ev, c []byte) []byte { return tagged(keeps.TagIntelQuote, arr(bstr(ev), bstr(c))) }, goodClaims),
			wantErr: "evidence: ", wantCheck: "evidence"},
		{name: "untagged array", build: withParts(func(ev, c []byte) []byte { return arr(bstr(ev), bstr(c)) }, goodClaims),
			wantErr: "cannot unmarshal array into Go value of type cbor.RawTag", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "array of 1", build: withParts(func(ev, c []byte) []byte { return tagged(sim.Tag, arr(bstr(ev))) }, goodClaims),
			wantErr: "array of 1 elements", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "array of 3", build: withParts(func(ev, c []byte) []byte { return tagged(sim.Tag, arr(bstr(ev), bstr(c), bstr(c))) }, goodClaims),
			wantErr: "array of 3 elements", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "claims element a text string", build: withParts(func(ev, c []byte) []byte { return tagged(sim.Tag, arr(bstr(ev), tstr(hex.EncodeToString(c)))) }, goodClaims),
			wantErr: "element 1 is not a byte string", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "evidence element a text string", build: withParts(func(ev, c []byte) []byte { return tagged(sim.Tag, arr(tstr(hex.EncodeToString(ev)), bstr(c))) }, goodClaims),
			wantErr: "element 0 is not a byte string", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "indefinite-length array", build: withParts(func(ev, c []byte) []byte {
			return tagged(sim.Tag, cat([]byte{0x9f}, bstr(ev), bstr(c), []byte{0xff}))
		}, goodClaims), wantErr: "indefinite-length array isn't allowed", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "indefinite-length claims bstr", build: withParts(func(ev, c []byte) []byte {
			return tagged(sim.Tag, arr(bstr(ev), cat([]byte{0x5f}, bstr(c[:10]), bstr(c[10:]), []byte{0xff})))
		}, goodClaims), wantErr: "indefinite-length byte string isn't allowed", wantIs: ErrEvidenceShape, wantCheck: "evidence extension"},
		{name: "evidence of 1 MiB", build: withExt(func(f *fixture) []byte {
			return tagged(sim.Tag, arr(bstr(make([]byte, 1<<20)), bstr(good)))
		}), wantErr: "exceeds the 65536-byte limit", wantCheck: "evidence extension"},
		{name: "claims not a map", build: withClaims(func(f *fixture) []byte { return arr(tstr(ClaimPubkeyHash), pkh(f)) }),
			wantErr: "claims buffer is not a CBOR map", wantCheck: "claims"},
		{name: "duplicate claim keys", build: withClaims(func(f *fixture) []byte {
			return rawMap(ClaimPubkeyHash, pkh(f), ClaimPubkeyHash, pkh(f))
		}), wantErr: "duplicate map key", wantCheck: "claims"},
		{name: "missing pubkey-hash", build: withClaims(func(f *fixture) []byte {
			return rawMap(ClaimModuleHash, hashEntryBstr(7, make([]byte, 48)))
		}), wantErr: `claims have no "pubkey-hash"`, wantCheck: "claims"},
		{name: "unknown hash alg", build: withClaims(func(f *fixture) []byte {
			return rawMap(ClaimPubkeyHash, hashEntryBstr(2, spkiHash(t, f.key, crypto.SHA256)))
		}), wantErr: "unknown hash algorithm id 2", wantCheck: "claims"},
		{name: "hash of wrong length", build: withClaims(func(f *fixture) []byte {
			return rawMap(ClaimPubkeyHash, hashEntryBstr(1, spkiHash(t, f.key, crypto.SHA256)[:31]))
		}), wantErr: "31-byte hash for SHA-256 (want 32)", wantCheck: "claims"},
		{name: "sha384 hash labelled sha512", build: withClaims(func(f *fixture) []byte {
			return rawMap(ClaimPubkeyHash, hashEntryBstr(8, spkiHash(t, f.key, crypto.SHA384)))
		}), wantErr: "48-byte hash for SHA-512 (want 64)", wantCheck: "claims"},
		{name: "pubkey-hash of another key", build: withClaims(func(f *fixture) []byte {
			return rawMap(ClaimPubkeyHash, hashEntryBstr(1, spkiHash(t, other, crypto.SHA256)))
		}), wantErr: "pubkey-hash: does not match the certificate's public key", wantCheck: "pubkey-hash"},
		{name: "pubkey-hash of the SPKI's key bits only", build: withClaims(func(f *fixture) []byte {
			pk, err := f.key.PublicKey.ECDH()
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.Sum256(pk.Bytes()) // the raw point, not the SPKI
			return rawMap(ClaimPubkeyHash, hashEntryBstr(1, h[:]))
		}), wantErr: "pubkey-hash: does not match", wantCheck: "pubkey-hash"},
		{name: "report data of other claims", build: withExt(func(f *fixture) []byte {
			v, err := EncodeEvidenceExtension(sim.Tag, f.evidence(f.claims(crypto.SHA384)), good)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}), wantErr: "report data binding: the evidence's report data is not the hash of the claims", wantCheck: "report data binding"},
		{name: "report data SHA-384 form refused for sim", build: withExt(func(f *fixture) []byte {
			var rd keeps.ReportData
			h := sha512.Sum384(good)
			copy(rd[:], h[:])
			ev, err := f.att.Attest(context.Background(), rd)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := EncodeEvidenceExtension(sim.Tag, ev.Data, good)
			return v
		}), wantErr: "report data binding", wantCheck: "report data binding"},
		{name: "report data with non-zero padding", build: withExt(func(f *fixture) []byte {
			rd := ReportDataFor(good)
			rd[63] = 1
			ev, err := f.att.Attest(context.Background(), rd)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := EncodeEvidenceExtension(sim.Tag, ev.Data, good)
			return v
		}), wantErr: "report data binding", wantCheck: "report data binding"},
		{name: "corrupt sim evidence", build: withExt(func(f *fixture) []byte {
			ev := f.evidence(good)
			ev[len(ev)/2] ^= 0x01
			v, _ := EncodeEvidenceExtension(sim.Tag, ev, good)
			return v
		}), wantErr: "evidence: sim evidence", wantCheck: "evidence"},
		{name: "endorsements over the limit", build: func(f *fixture) *x509.Certificate {
			return f.cert(nil, evExt(f.ext(good)), pkix.Extension{Id: OIDEndorsements, Value: make([]byte, MaxEndorsementsSize+1)})
		}, wantErr: "endorsements: 65537 bytes exceeds the 65536-byte limit", wantCheck: "endorsements"},
		{name: "signed by another key", build: func(f *fixture) *x509.Certificate {
			return f.cert(other, evExt(f.ext(good)))
		}, wantErr: "self-signature: x509: ECDSA verification failure", wantCheck: "self-signature"},
		{name: "signature byte flipped", build: func(f *fixture) *x509.Certificate {
			c := f.cert(nil, evExt(f.ext(good)))
			der := bytes.Clone(c.Raw)
			der[len(der)-1] ^= 0x01 // last byte of the signature's s
			c2, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			return c2
		}, wantErr: "self-signature: x509: ECDSA verification failure", wantCheck: "self-signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := tc.build(f)
			res, err := verifyNoPanic(t, cert, Options{})
			if res == nil {
				t.Fatal("nil Result")
			}
			if len(res.Checks) == 0 {
				t.Fatalf("no checks recorded (err %v)", err)
			}
			last := res.Checks[len(res.Checks)-1]
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v (checks %+v)", err, res.Checks)
				}
				for _, c := range res.Checks {
					if !c.OK {
						t.Fatalf("passed with a failed check: %+v", res.Checks)
					}
				}
				if last.Name != "report data binding" || res.Evidence == nil || !res.Evidence.Simulated || res.Claims == nil || res.Tag != sim.Tag {
					t.Fatalf("result %+v", res)
				}
				if res.Fingerprint != sha256.Sum256(cert.Raw) {
					t.Fatal("wrong fingerprint")
				}
				if tc.check != nil {
					tc.check(t, res)
				}
				return
			}
			if err == nil {
				t.Fatalf("verification passed, want an error containing %q (checks %+v)", tc.wantErr, res.Checks)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("errors.Is(%v, %v) = false", err, tc.wantIs)
			}
			if last.OK || last.Name != tc.wantCheck {
				t.Fatalf("last check %+v, want failed %q", last, tc.wantCheck)
			}
			if !strings.HasPrefix(err.Error(), tc.wantCheck+": ") {
				t.Fatalf("err = %v, want it prefixed by the check name %q", err, tc.wantCheck)
			}
			for _, c := range res.Checks[:len(res.Checks)-1] {
				if !c.OK {
					t.Fatalf("a check before the last failed: %+v", res.Checks)
				}
			}
		})
	}
}

// fakeVerifier returns fixed claims, to exercise the verifier-independent
// parts of VerifyCertificate with TEE types the sim cannot produce.
type fakeVerifier struct {
	tag    uint64
	claims keeps.Claims
}

func (v fakeVerifier) Tags() []uint64 { return []uint64{v.tag} }
func (v fakeVerifier) Verify(ctx context.Context, ev *keeps.Evidence, _ keeps.VerifyOptions) (*keeps.Claims, error) {
	c := v.claims
	return &c, nil
}

// The Intel SGX SDK's TDX form, SHA-384(claims) ‖ 16 zero bytes, is
// accepted for TDX evidence and only for it.
func TestVerifyCertificateTDXReportDataForm(t *testing.T) {
	f := newFixture(t)
	claims := f.claims(crypto.SHA384)
	var alt keeps.ReportData
	h := sha512.Sum384(claims)
	copy(alt[:], h[:])
	ext, err := EncodeEvidenceExtension(keeps.TagIntelQuote, []byte("quote"), claims)
	if err != nil {
		t.Fatal(err)
	}
	cert := f.cert(nil, evExt(ext))
	for _, tc := range []struct {
		tee keeps.TEE
		rd  keeps.ReportData
		ok  bool
	}{
		{keeps.TEETDX, alt, true},
		{keeps.TEETDX, ReportDataFor(claims), true},
		{keeps.TEESGX, ReportDataFor(claims), true},
		{keeps.TEESGX, alt, false},
		{keeps.TEESNP, alt, false},
	} {
		reg := &keeps.Registry{}
		reg.Register(fakeVerifier{tag: keeps.TagIntelQuote, claims: keeps.Claims{TEE: tc.tee, ReportData: tc.rd}})
		res, err := verifyNoPanic(t, cert, Options{Registry: reg})
		if (err == nil) != tc.ok {
			t.Fatalf("%s with report data %x: err = %v, want ok=%v (checks %+v)", tc.tee, tc.rd[:4], err, tc.ok, res.Checks)
		}
		if !tc.ok && !strings.Contains(err.Error(), "report data binding") {
			t.Fatalf("err = %v", err)
		}
	}
}

// Options.Registry replaces the default registry: without the sim
// verifier, sim evidence has no verifier.
func TestVerifyCertificateCustomRegistry(t *testing.T) {
	f := newFixture(t)
	cert := f.cert(nil, evExt(f.ext(f.claims(crypto.SHA256))))
	_, err := verifyNoPanic(t, cert, Options{Registry: &keeps.Registry{}})
	if !errors.Is(err, keeps.ErrUnknownTag) {
		t.Fatalf("err = %v, want ErrUnknownTag", err)
	}
}
