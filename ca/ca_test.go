package ca_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/ca"
)

var moduleHash = "sha384:" + strings.Repeat("ab", 48)

// csr makes a request with the given key (a fresh P-384 one if nil) and
// template fields.
func csr(t testing.TB, key any, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func evidenceExt(v []byte) pkix.Extension { return pkix.Extension{Id: ca.OIDEvidence, Value: v} }

func TestParseRequest(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	good := &x509.CertificateRequest{DNSNames: []string{"localhost"}, ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1, 2, 3})}}
	goodDER := csr(t, nil, good)
	badSig := bytes.Clone(goodDER)
	badSig[len(badSig)-3] ^= 0xff
	many := make([]string, ca.MaxNames+1)
	for i := range many {
		many[i] = "n" + string(rune('a'+i%26)) + ".example"
	}
	u, _ := url.Parse("urn:x")
	for _, tc := range []struct {
		name   string
		der    []byte
		format ca.Format
		err    string
	}{
		{"keep evidence", goodDER, ca.FormatKeep, ""},
		{"keep evidence, P-256 key", csr(t, p256, good), ca.FormatKeep, ""},
		{"with endorsements", csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1}), {Id: ca.OIDEndorsements, Value: []byte{2}}}}), ca.FormatKeep, ""},
		{"enarx snp", csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxSNP, Value: []byte{0x30, 0}}}}), ca.FormatEnarxSNP, ""},
		{"enarx sgx", csr(t, p256, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxSGX, Value: []byte{3}}}}), ca.FormatEnarxSGX, ""},
		{"enarx kvm", csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxKVM, Value: []byte{}}}}), ca.FormatEnarxKVM, ""},
		{"empty", nil, "", "empty"},
		{"garbage", []byte("not a CSR at all"), "", "malformed certificate request"},
		{"too large", make([]byte, ca.MaxRequestSize+1), "", "exceeds the"},
		{"trailing bytes", append(bytes.Clone(goodDER), 0), "", "trailing data"},
		{"bad signature", badSig, "", "signature"},
		{"ed25519 key", csr(t, edKey, good), "", "not ECDSA P-256 or P-384"},
		{"no evidence", csr(t, nil, &x509.CertificateRequest{DNSNames: []string{"a"}}), "", "no evidence extension"},
		{"two evidence extensions", csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1}), {Id: ca.OIDEnarxKVM, Value: []byte{}}}}), "", "more than one evidence extension"},
		{"unknown extension", csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1}), {Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5}}}}), "", "unknown extension 1.2.3"},
		{"empty evidence", csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{evidenceExt(nil)}}), "", "empty evidence extension"},
		{"kvm with data", csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxKVM, Value: []byte{1}}}}), "", "KVM extension must be empty"},
		{"endorsements with enarx", csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxSNP, Value: []byte{1}}, {Id: ca.OIDEndorsements, Value: []byte{2}}}}), "", "endorsements extension goes only"},
		{"uri name", csr(t, nil, &x509.CertificateRequest{URIs: []*url.URL{u}, ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1})}}), "", "URI and e-mail names"},
		{"too many names", csr(t, nil, &x509.CertificateRequest{DNSNames: many, ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1})}}), "", "more than 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ca.ParseRequest(tc.der)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ca.ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != tc.format {
				t.Errorf("format = %q, want %q", r.Format, tc.format)
			}
		})
	}
}

func authority(t testing.TB, now time.Time) *ca.Authority {
	t.Helper()
	a, err := ca.NewAuthority("test CA", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func accepted(t testing.TB, der []byte) (*ca.Request, *ca.Verdict) {
	t.Helper()
	r, err := ca.ParseRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return r, &ca.Verdict{Status: 200, SPKISHA256: ca.SPKIHash(r.CSR.RawSubjectPublicKeyInfo), ModuleHash: moduleHash, TEE: "sim"}
}

func TestIssue(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	a := authority(t, now)
	ev := []byte{0xd9, 1, 2, 3}
	req, v := accepted(t, csr(t, nil, &x509.CertificateRequest{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtraExtensions: []pkix.Extension{evidenceExt(ev)}}))
	leaf, err := a.Issue(req, v, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool(a.Root), DNSName: "localhost", CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("leaf does not verify to the root for localhost: %v", err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "urn:keep:module:"+moduleHash {
		t.Errorf("URIs = %v, want urn:keep:module:%s", leaf.URIs, moduleHash)
	}
	if got := leaf.NotAfter.Sub(now); got != ca.DefaultLeafTTL {
		t.Errorf("lifetime = %v, want %v", got, ca.DefaultLeafTTL)
	}
	if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
		t.Errorf("EKU = %v, want serverAuth, clientAuth", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Error("leaf is a CA")
	}
	copied := false
	for _, e := range leaf.Extensions {
		if e.Id.Equal(ca.OIDEvidence) {
			copied = bytes.Equal(e.Value, ev)
		}
	}
	if !copied {
		t.Error("the evidence extension was not copied")
	}
	if !bytes.Equal(leaf.RawSubjectPublicKeyInfo, req.CSR.RawSubjectPublicKeyInfo) {
		t.Error("leaf key is not the request's")
	}
	// Serials are random 128-bit numbers: two leaves differ.
	req2, v2 := accepted(t, csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{evidenceExt(ev)}}))
	leaf2, err := a.Issue(req2, v2, now)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SerialNumber.Cmp(leaf2.SerialNumber) == 0 || leaf.SerialNumber.BitLen() > 128 || leaf.SerialNumber.Sign() <= 0 {
		t.Errorf("serials %x and %x: want distinct positive 128-bit numbers", leaf.SerialNumber, leaf2.SerialNumber)
	}
	if len(leaf2.URIs) != 1 {
		t.Errorf("leaf2 URIs = %v", leaf2.URIs)
	}

	// Refusals.
	for _, tc := range []struct {
		name string
		mut  func(*ca.Authority, *ca.Verdict)
		der  []byte
		err  string
	}{
		{"refused verdict", func(_ *ca.Authority, v *ca.Verdict) { v.Status, v.Reason = 403, "no" }, nil, "refuses"},
		{"verdict for another key", func(_ *ca.Authority, v *ca.Verdict) { v.SPKISHA256 = strings.Repeat("0", 64) }, nil, "another key"},
		{"name not allowed", nil, csr(t, nil, &x509.CertificateRequest{DNSNames: []string{"bank.example"}, ExtraExtensions: []pkix.Extension{evidenceExt(ev)}}), "not among the CA's names"},
		{"ip not allowed", nil, csr(t, nil, &x509.CertificateRequest{IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}, ExtraExtensions: []pkix.Extension{evidenceExt(ev)}}), "not among the CA's names"},
		{"bad module hash", func(_ *ca.Authority, v *ca.Verdict) { v.ModuleHash = "sha256:00" }, nil, "is not sha384"},
		{"ttl too short", func(a *ca.Authority, _ *ca.Verdict) { a.LeafTTL = time.Second }, nil, "below"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := tc.der
			if der == nil {
				der = csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{evidenceExt(ev)}})
			}
			aa := *a
			r, v := accepted(t, der)
			if tc.mut != nil {
				tc.mut(&aa, v)
			}
			if _, err := aa.Issue(r, v, now); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}

	// A leaf never outlives the root.
	short, err := ca.NewAuthority("short", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf3, err := short.Issue(req, v, now)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf3.NotAfter.Equal(short.Root.NotAfter) {
		t.Errorf("leaf NotAfter %v, want the root's %v", leaf3.NotAfter, short.Root.NotAfter)
	}
}

func pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

func TestChain(t *testing.T) {
	now := time.Now()
	a := authority(t, now)
	req, v := accepted(t, csr(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1})}}))
	leaf, err := a.Issue(req, v, now)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.EncodeChain(a.Root.Raw, leaf.Raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ca.DecodeChain(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(a.Root) || !got[1].Equal(leaf) {
		t.Fatalf("decoded %d certificates, want [root, leaf]", len(got))
	}
	empty, _ := ca.EncodeChain()
	notCert, _ := asn1.Marshal([]asn1.RawValue{{FullBytes: []byte{0x30, 0}}})
	nine := make([][]byte, ca.MaxChainCerts+1)
	for i := range nine {
		nine[i] = leaf.Raw
	}
	tooMany, _ := ca.EncodeChain(nine...)
	for _, tc := range []struct {
		name, err string
		der       []byte
	}{
		{"garbage", "not a DER SEQUENCE", []byte("garbage")},
		{"trailing", "trailing bytes", append(bytes.Clone(der), 0)},
		{"empty", "0 certificates", empty},
		{"too many", "9 certificates", tooMany},
		{"not a certificate", "certificate 0", notCert},
		{"too large", "exceeds", make([]byte, ca.MaxChainSize+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ca.DecodeChain(tc.der); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestParseVerdict(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{`{"status":200,"spki_sha256":"00"}`, ""},
		{`{"status":500}`, "status 500"},
		{`{"status":`, "verdict"},
		{strings.Repeat(" ", ca.MaxVerdictSize+1), "exceeds"},
	} {
		_, err := ca.ParseVerdict([]byte(tc.in))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseVerdict(%.20q) = %v, want %q", tc.in, err, tc.err)
		}
	}
}

// TestServer drives the protocol over a real HTTP server with a checker
// that accepts or refuses by the request's first DNS name.
func TestServer(t *testing.T) {
	a := authority(t, time.Now())
	srv := &ca.Server{Authority: a, Check: func(_ context.Context, der []byte) (*ca.Verdict, error) {
		r, err := ca.ParseRequest(der)
		if err != nil {
			return &ca.Verdict{Status: 400, Reason: err.Error()}, nil
		}
		v := &ca.Verdict{Status: 200, SPKISHA256: ca.SPKIHash(r.CSR.RawSubjectPublicKeyInfo), ModuleHash: moduleHash}
		switch {
		case len(r.CSR.DNSNames) == 0:
		case r.CSR.DNSNames[0] == "localhost":
		case r.CSR.DNSNames[0] == "127.0.0.1":
			v.Status, v.Reason = 403, "policy: module hash is not in the policy"
		default:
			v.SPKISHA256 = strings.Repeat("0", 64)
		}
		return v, nil
	}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	post := func(ct string, body []byte) (int, []byte) {
		resp, err := http.Post(hs.URL, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	ok := csr(t, nil, &x509.CertificateRequest{DNSNames: []string{"localhost"}, ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1})}})
	status, body := post(ca.MediaTypePKCS10, ok)
	if status != 200 {
		t.Fatalf("POST = %d %s", status, body)
	}
	chain, err := ca.DecodeChain(body)
	if err != nil || len(chain) != 2 || !chain[0].Equal(a.Root) {
		t.Fatalf("chain: %v (%d certs)", err, len(chain))
	}
	if status, body := post(ca.MediaTypePKCS10, ok); status != 403 || !strings.Contains(string(body), "replayed") {
		t.Errorf("replay: %d %s, want 403 replayed", status, body)
	}
	refused := csr(t, nil, &x509.CertificateRequest{DNSNames: []string{"127.0.0.1"}, ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1})}})
	if status, body := post(ca.MediaTypePKCS10, refused); status != 403 || !strings.Contains(string(body), "module hash is not in the policy") {
		t.Errorf("refused: %d %s", status, body)
	}
	// The refused key was not remembered: a later accepted verdict for
	// it would be honoured (no replay entry for refusals).
	other := csr(t, nil, &x509.CertificateRequest{DNSNames: []string{"other.example"}, ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1})}})
	if status, body := post(ca.MediaTypePKCS10, other); status != 500 || !strings.Contains(string(body), "another key") {
		t.Errorf("verdict for another key: %d %s, want 500", status, body)
	}
	if status, body := post("text/plain", ok); status != 415 {
		t.Errorf("wrong content type: %d %s", status, body)
	}
	if status, body := post(ca.MediaTypePKCS10, []byte("garbage")); status != 400 || !strings.Contains(string(body), "malformed") {
		t.Errorf("garbage: %d %s", status, body)
	}
	if status, _ := post(ca.MediaTypePKCS10, make([]byte, ca.MaxRequestSize+10)); status != 413 {
		t.Errorf("oversized: %d", status)
	}
	resp, err := http.Get(hs.URL + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.Get(hs.URL + "/root.pem")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(b, a.RootPEM()) || resp.Header.Get("Content-Type") != ca.MediaTypePEMChain {
		t.Errorf("root.pem: %q %s", resp.Header.Get("Content-Type"), b)
	}
	resp, _ = http.Get(hs.URL + "/nope")
	if resp.StatusCode != 404 {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestModuleURI(t *testing.T) {
	d := sha512.Sum384([]byte("x"))
	h := "sha384:" + hex.EncodeToString(d[:])
	u, err := ca.ModuleURI(h)
	if err != nil || u.String() != "urn:keep:module:"+h {
		t.Fatalf("ModuleURI = %v, %v", u, err)
	}
	for _, bad := range []string{"", "sha384:", "sha256:" + hex.EncodeToString(d[:32]), "sha384:" + strings.ToUpper(hex.EncodeToString(d[:])), h + "/x"} {
		if _, err := ca.ModuleURI(bad); err == nil {
			t.Errorf("ModuleURI(%q) accepted", bad)
		}
	}
}
