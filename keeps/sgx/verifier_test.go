package sgx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
	"github.com/keepwasm/keep/keeps/intel/inteltest"
)

// Real data lives in shared/vectors beside the repository; see its
// README.md for sources and decoded values.
var vectorsDir = filepath.Join("..", "..", "..", "shared", "vectors")

func readVector(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		tb.Fatalf("test vector %s (want shared/vectors beside the repository): %v", name, err)
	}
	return b
}

// quotesNow lies inside the PCK chain validity of every quote in the
// RA-TLS certificates (the latest leaf starts 2024-02-02, the earliest
// ends 2028-03-27) and of the dcap-qvl SGX quote (2023-09-20 to
// 2030-09-20).
var quotesNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

const diceEvidenceOID = "2.23.133.5.4.9"

// certQuote is an SGX quote found in an RA-TLS certificate extension.
type certQuote struct {
	oid    string
	quote  []byte
	claims []byte // the CBOR claims buffer (DICE format only)
}

// certQuotes returns the quotes in the certificate's evidence extensions:
// legacy raw-quote extensions, and 2.23.133.5.4.9 holding CBOR
// 60000([quote, claims]).
func certQuotes(tb testing.TB, file string) []certQuote {
	tb.Helper()
	blk, _ := pem.Decode(readVector(tb, file))
	if blk == nil {
		tb.Fatalf("%s: no PEM", file)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	var out []certQuote
	for _, ext := range cert.Extensions {
		switch oid := ext.Id.String(); oid {
		case "1.2.840.113741.1337.6", "0.6.9.42.840.113741.1337.6", "1.2.840.113741.1.13.1":
			out = append(out, certQuote{oid: oid, quote: ext.Value})
		case diceEvidenceOID:
			q, c := decodeTagged(tb, ext.Value)
			out = append(out, certQuote{oid: oid, quote: q, claims: c})
		}
	}
	return out
}

// decodeTagged decodes d9 ea60 (tag 60000) 82 (array of 2) and two CBOR
// byte strings.
func decodeTagged(tb testing.TB, b []byte) (quote, claims []byte) {
	tb.Helper()
	if !bytes.HasPrefix(b, []byte{0xd9, 0xea, 0x60, 0x82}) {
		tb.Fatalf("not tag 60000 + array(2): % x", b[:4])
	}
	b = b[4:]
	bstr := func() []byte {
		if len(b) < 1 || b[0]>>5 != 2 {
			tb.Fatal("not a byte string")
		}
		ai := b[0] & 0x1f
		b = b[1:]
		var n int
		switch ai {
		case 24:
			n, b = int(b[0]), b[1:]
		case 25:
			n, b = int(binary.BigEndian.Uint16(b)), b[2:]
		default:
			if ai > 23 {
				tb.Fatalf("length encoding %d", ai)
			}
			n = int(ai)
		}
		s := b[:n]
		b = b[n:]
		return s
	}
	return bstr(), bstr()
}

// raTLSWants: per certificate, the evidence extensions and the README's
// facts about their quotes.
var raTLSWants = []struct {
	file      string
	oids      []string
	debug     bool
	mrenclave string
}{
	{"ra-tls/ccc-gramine-cert.pem", []string{"0.6.9.42.840.113741.1337.6", diceEvidenceOID}, true, "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585"},
	{"ra-tls/ccc-intel-sgxsdk-cert.pem", []string{"1.2.840.113741.1.13.1", diceEvidenceOID}, true, "09e218a4be9dadbf7cdc82c45497d6d4f676d3b75445fc37a376f0b65b47de6a"},
	{"ra-tls/ccc-rats-tls-cert.pem", []string{diceEvidenceOID}, true, "38e1b40b8c68186f359c97ecb6a89965d9d8638f2df06fbe18e84d79a266c041"},
	{"ra-tls/rats-rs-demo-sgx-cert.pem", []string{diceEvidenceOID}, true, "488615372ec6d4b5a27dd7673697113808653b749615b8a58f62e71df0660e85"},
	{"ra-tls/rats-tls-legacy-rsa-sha1.pem", []string{"1.2.840.113741.1337.6"}, false, "144e81488fc3d59ddbe69b03bd939a3b938d85b6a7c9897e2b09808ade956574"},
	{"ra-tls/rats-tls-legacy-rsa-sha256.pem", []string{"1.2.840.113741.1337.6"}, false, "d74f2eb87fa3c64c40d16e35a6f8d3259e3dd931a0bcce0637e33ada67df0b52"},
}

// TestVerifyRATLSQuotes: every SGX quote in the RA-TLS certificates
// verifies up to the pinned Intel root, with the README's DEBUG bit.
func TestVerifyRATLSQuotes(t *testing.T) {
	v := NewVerifier()
	for _, w := range raTLSWants {
		t.Run(filepath.Base(w.file), func(t *testing.T) {
			qs := certQuotes(t, w.file)
			var oids []string
			for _, cq := range qs {
				oids = append(oids, cq.oid)
			}
			if !slices.Equal(oids, w.oids) {
				t.Fatalf("evidence extensions %q, want %q", oids, w.oids)
			}
			for _, cq := range qs {
				c, err := v.Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: cq.quote}, keeps.VerifyOptions{Now: quotesNow})
				if err != nil {
					t.Fatalf("%s: %v", cq.oid, err)
				}
				if !c.SignatureVerified || c.TEE != keeps.TEESGX || c.Simulated || c.TCBStatus != "" {
					t.Fatalf("%s: claims %+v", cq.oid, c)
				}
				if c.Debug != w.debug || slices.Contains(c.Notes, NoteDebug) != w.debug {
					t.Errorf("%s: Debug %v notes %q, want %v", cq.oid, c.Debug, c.Notes, w.debug)
				}
				if hex.EncodeToString(c.Measurements["mrenclave"]) != w.mrenclave {
					t.Errorf("%s: mrenclave %x", cq.oid, c.Measurements["mrenclave"])
				}
				if !slices.Contains(c.Notes, intel.NoteNoCollateral) {
					t.Errorf("%s: notes %q", cq.oid, c.Notes)
				}
				if cq.claims != nil {
					// CCC binding: report_data = sha256(claims buffer) || 0.
					h := sha256.Sum256(cq.claims)
					if !bytes.Equal(c.ReportData[:32], h[:]) || !bytes.Equal(c.ReportData[32:], make([]byte, 32)) {
						t.Errorf("%s: report data %x does not bind the claims", cq.oid, c.ReportData)
					}
				}
			}
		})
	}
}

func TestVerifyWithCollateral(t *testing.T) {
	quote := readVector(t, "sgx/dcap-qvl-sgx_quote")
	coll := readVector(t, "sgx/dcap-qvl-sgx_quote_collateral.json")
	ev := &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: quote}
	for _, tc := range []struct {
		name string
		now  time.Time
		coll []byte
		want string // error text; "" = success
	}{
		{"dcap-qvl time", time.Unix(1752919277, 0).UTC(), coll, ""},
		{"window start", time.Date(2025, 6, 19, 10, 56, 11, 0, time.UTC), coll, ""},
		{"just after the window", time.Unix(1752919278, 0).UTC(), coll, "QE identity expired at 2025-07-19T10:01:18Z"},
		{"a month later", time.Date(2025, 8, 19, 0, 0, 0, 0, time.UTC), coll, "expired"},
		{"before the window", time.Date(2025, 6, 19, 10, 56, 10, 0, time.UTC), coll, "tcbInfo is not valid before"},
		{"another platform's collateral", time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), readVector(t, "tdx/dcap-qvl-tdx_quote_collateral.json"), "bad collateral"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewVerifier().Verify(context.Background(), ev, keeps.VerifyOptions{Now: tc.now, Collateral: map[string][]byte{intel.CollateralName: tc.coll}})
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("%v, want an error about %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.TCBStatus != "ConfigurationAndSWHardeningNeeded" || !slices.Equal(c.Advisories, []string{"INTEL-SA-00289", "INTEL-SA-00615"}) {
				t.Errorf("TCB %s %q", c.TCBStatus, c.Advisories)
			}
			if !c.SignatureVerified || c.Debug || string(c.ReportData[:13]) != "Hello, world!" {
				t.Errorf("claims %+v", c)
			}
		})
	}
}

// TestTamperedQuote flips every byte of a real quote: each flip must make
// verification fail. (The quote has no trailing bytes.)
func TestTamperedQuote(t *testing.T) {
	data := certQuotes(t, "ra-tls/rats-rs-demo-sgx-cert.pem")[0].quote
	q, err := intel.ParseQuote(data)
	if err != nil || len(q.Trailing) != 0 {
		t.Fatalf("%v, %d trailing bytes", err, len(q.Trailing))
	}
	v := NewVerifier()
	opts := keeps.VerifyOptions{Now: quotesNow}
	if _, err := v.Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: data}, opts); err != nil {
		t.Fatal(err)
	}
	stride := 1
	if testing.Short() {
		stride = 5
	}
	buf := bytes.Clone(data)
	for i := 0; i < len(buf); i += stride {
		buf[i] ^= 0xff
		c, err := v.Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: buf}, opts)
		buf[i] ^= 0xff
		if err == nil || c != nil {
			t.Fatalf("byte %d flipped: still verifies", i)
		}
	}
}

func newPKI(t testing.TB) *inteltest.PKI {
	t.Helper()
	p, err := inteltest.NewPKI(inteltest.PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func synthQuote(t testing.TB, p *inteltest.PKI, body inteltest.SGXBody) []byte {
	t.Helper()
	b, err := p.Quote(inteltest.QuoteSpec{Body: body.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var synthNow = time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)

// TestInsecureTestRoots: a quote signed through a self-made hierarchy
// verifies only when its root is given as a test root.
func TestInsecureTestRoots(t *testing.T) {
	p := newPKI(t)
	var rd keeps.ReportData
	copy(rd[:], "test roots")
	ev := &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: synthQuote(t, p, inteltest.DefaultEnclave(rd))}
	opts := keeps.VerifyOptions{Now: synthNow}

	c, err := (&Verifier{InsecureTestRoots: []*x509.Certificate{p.Root}}).Verify(context.Background(), ev, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !c.SignatureVerified || c.ReportData != rd || c.Debug {
		t.Fatalf("%+v", c)
	}
	for name, v := range map[string]*Verifier{"zero value": {}, "NewVerifier": NewVerifier(), "another root": {InsecureTestRoots: []*x509.Certificate{newPKI(t).Root}}} {
		if _, err := v.Verify(context.Background(), ev, opts); !errors.Is(err, intel.ErrUntrustedChain) {
			t.Errorf("%s: %v, want intel.ErrUntrustedChain", name, err)
		}
	}
}

func TestAttributes(t *testing.T) {
	p := newPKI(t)
	v := &Verifier{InsecureTestRoots: []*x509.Certificate{p.Root}}
	for _, tc := range []struct {
		name  string
		flags uint64
		debug bool
		want  string
	}{
		{"INIT|MODE64BIT", 0x05, false, ""},
		{"INIT|DEBUG|MODE64BIT", 0x07, true, ""},
		{"with KSS", 0x85, false, ""},
		{"no INIT", 0x04, false, "INIT is clear"},
		{"no MODE64BIT", 0x03, true, "MODE64BIT is clear"},
		{"PROVISIONKEY", 0x15, false, "PROVISIONKEY is set"},
		{"EINITTOKENKEY", 0x25, false, "EINITTOKENKEY is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := inteltest.DefaultEnclave(keeps.ReportData{})
			body.Flags = tc.flags
			c, err := v.Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: synthQuote(t, p, body)}, keeps.VerifyOptions{Now: synthNow})
			if tc.want != "" {
				if !errors.Is(err, ErrAttributes) || !strings.Contains(err.Error(), tc.want) || c != nil {
					t.Fatalf("%v, want ErrAttributes about %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Debug != tc.debug || slices.Contains(c.Notes, NoteDebug) != tc.debug {
				t.Errorf("Debug %v notes %q", c.Debug, c.Notes)
			}
		})
	}
}

func TestSyntheticCollateral(t *testing.T) {
	p := newPKI(t)
	v := &Verifier{InsecureTestRoots: []*x509.Certificate{p.Root}}
	ev := &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: synthQuote(t, p, inteltest.DefaultEnclave(keeps.ReportData{}))}
	for _, tc := range []struct {
		name string
		spec inteltest.CollateralSpec
		want string
	}{
		{"up to date", inteltest.CollateralSpec{}, ""},
		{"PCK revoked", inteltest.CollateralSpec{RevokeLeaf: true}, "revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coll, err := p.Collateral(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(context.Background(), ev, keeps.VerifyOptions{Now: synthNow, Collateral: map[string][]byte{"intel": coll}})
			if tc.want != "" {
				if !errors.Is(err, intel.ErrRevoked) {
					t.Fatalf("%v", err)
				}
				return
			}
			if err != nil || c.TCBStatus != "UpToDate" || len(c.Advisories) != 0 {
				t.Fatalf("%v %+v", err, c)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	tdx := readVector(t, "tdx/dcap-qvl-tdx_quote")
	sgx := readVector(t, "sgx/dcap-qvl-sgx_quote")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		ev   *keeps.Evidence
		err  error
		text string
	}{
		{"nil evidence", context.Background(), nil, nil, "nil evidence"},
		{"SNP tag", context.Background(), &keeps.Evidence{Tag: keeps.TagSEVSNPReport, Data: sgx}, keeps.ErrUnknownTag, ""},
		{"TDX quote", context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: tdx}, ErrNotSGX, "TDX"},
		{"garbage", context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: []byte("quote")}, intel.ErrTruncated, ""},
		{"cancelled", ctx, &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: sgx}, context.Canceled, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewVerifier().Verify(tc.ctx, tc.ev, keeps.VerifyOptions{Now: quotesNow})
			if err == nil || c != nil || (tc.err != nil && !errors.Is(err, tc.err)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("%v %v, want %v %q", c, err, tc.err, tc.text)
			}
		})
	}
	if _, err := NewVerifier().VerifyQuote(context.Background(), nil, keeps.VerifyOptions{}); err == nil {
		t.Error("nil quote")
	}
	// Endorsements are noted, not used.
	c, err := NewVerifier().Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: sgx, Endorsements: []byte{1, 2}}, keeps.VerifyOptions{Now: quotesNow})
	if err != nil || !slices.Contains(c.Notes, "2 bytes of endorsements were ignored") {
		t.Fatalf("%v %q", err, c.Notes)
	}
}

func TestRegistry(t *testing.T) {
	var r keeps.Registry
	r.Register(NewVerifier())
	v, err := r.Lookup(keeps.TagIntelQuote)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(*Verifier); !ok {
		t.Fatalf("%T", v)
	}
}
