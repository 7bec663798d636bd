package caverify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/keepwasm/keep/ca"
	"github.com/keepwasm/keep/caverify"
	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/keeps/snp"
	"github.com/keepwasm/keep/netattest"
)

var (
	module      = bytes.Repeat([]byte{0x11}, 48)
	otherModule = bytes.Repeat([]byte{0x22}, 48)
	moduleHash  = "sha384:" + hex.EncodeToString(module)
	measurement = bytes.Repeat([]byte{0x4d}, 48)
	signerOnce  = sync.OnceValues(func() (*sevtest.AmdSigner, error) {
		return sevtest.DefaultTestOnlyCertChain("Milan-B1", time.Now().Add(-24*time.Hour))
	})
	simAttester  = sync.OnceValues(sim.NewAttester)
	allowSimPins = &netattest.Policy{AllowSimulated: true, ModuleHashes: []string{moduleHash}}
)

func signer(t testing.TB) *sevtest.AmdSigner {
	t.Helper()
	s, err := signerOnce()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// registry has the sim verifier and an SEV-SNP verifier that trusts
// go-sev-guest's fake AMD chain.
func registry(t testing.TB) *keeps.Registry {
	s := signer(t)
	r := trust.AMDRootCertsProduct("Milan")
	r.ProductCerts = &trust.ProductCerts{Ark: s.Ark, Ask: s.Ask, Asvk: s.Asvk}
	reg := &keeps.Registry{}
	reg.Register(sim.Verifier{})
	reg.Register(&snp.Verifier{InsecureTestRoots: map[string][]*trust.AMDRootCerts{"Milan": {r}}})
	return reg
}

// keepCSR is a request as a keep on the sim backend makes it.
func keepCSR(t testing.TB, digest []byte) []byte {
	t.Helper()
	att, err := simAttester()
	if err != nil {
		t.Fatal(err)
	}
	der, _, _, err := netattest.NewCertificateRequest(context.Background(), att, netattest.IssueOptions{ModuleDigest: digest, DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// snpReport is a version 2 report signed by the fake VCEK.
func snpReport(t testing.TB, rd []byte, debug bool) []byte {
	t.Helper()
	raw := sevtest.CreateRawReport(&sevtest.TestReportOptions{ReportData: rd, Version: 2})
	rep := bytes.Clone(raw[:abi.ReportSize])
	binary.LittleEndian.PutUint64(rep[0x08:0x10], abi.SnpPolicyToBytes(abi.SnpPolicy{SMT: true, Debug: debug}))
	copy(rep[0x90:0xC0], measurement)
	d := sha512.Sum384(abi.SignedComponent(rep))
	r, s, err := ecdsa.Sign(rand.Reader, signer(t).Keys.Vcek, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := abi.SetSignature(r, s, rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// enarxSNPCSR is a request as an Enarx keep on SEV-SNP makes it: a P-384
// key, report data [0:48] = SHA-384(SPKI) (of bindKey's SPKI when set),
// and extension 1.3.6.1.4.1.58270.1.3 = DER {{vcek, crl}, report}.
func enarxSNPCSR(t testing.TB, debug bool, bindKey *ecdsa.PrivateKey) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if bindKey == nil {
		bindKey = key
	}
	spki, err := x509.MarshalPKIXPublicKey(&bindKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rd := make([]byte, 64)
	h := sha512.Sum384(spki)
	copy(rd, h[:])
	type crts struct {
		VCEK asn1.RawValue
		CRL  asn1.RawValue
	}
	ev, err := asn1.Marshal(struct {
		Crts   crts
		Report []byte
	}{crts{asn1.RawValue{FullBytes: signer(t).Vcek.Raw}, asn1.RawValue{FullBytes: []byte{0x30, 0}}}, snpReport(t, rd, debug)})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxSNP, Value: ev}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// transplant makes a request for a fresh key carrying the evidence
// extension of der: evidence bound to another key.
func transplant(t testing.TB, der []byte) []byte {
	t.Helper()
	r, err := ca.ParseRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	out, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{r.Evidence}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kvmCSR(t testing.TB) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxKVM, Value: []byte{}}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// server is a CA over real HTTP whose checker is caverify with policy.
func server(t testing.TB, policy *netattest.Policy, opts netattest.Options) (*httptest.Server, *ca.Authority) {
	t.Helper()
	a, err := ca.NewAuthority("test CA", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Registry == nil {
		opts.Registry = registry(t)
	}
	hs := httptest.NewServer(&ca.Server{Authority: a, Check: (&caverify.Checker{Policy: policy, Options: opts}).Func()})
	t.Cleanup(hs.Close)
	return hs, a
}

func post(t testing.TB, url string, der []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, ca.MediaTypePKCS10, bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestRequests: each request is answered with the status and reason the
// protocol gives (docs/CA.md), over a real CA server.
func TestRequests(t *testing.T) {
	snpPolicy := &netattest.Policy{SNP: netattest.SNPPolicy{Measurement: []string{hex.EncodeToString(measurement)}}}
	later := time.Now().Add(8 * 365 * 24 * time.Hour)
	accepted := keepCSR(t, module)
	for _, tc := range []struct {
		name   string
		policy *netattest.Policy
		opts   netattest.Options
		der    []byte
		status int
		reason string
		uri    string // want this URI SAN on the leaf
		ext    asn1.ObjectIdentifier
	}{
		{"keep request", allowSimPins, netattest.Options{}, accepted, 200, "", "urn:keep:module:" + moduleHash, ca.OIDEvidence},
		{"evidence bound to another key", allowSimPins, netattest.Options{}, transplant(t, keepCSR(t, module)), 401, "pubkey-hash: does not match", "", nil},
		{"sim evidence without allow_simulated", &netattest.Policy{ModuleHashes: []string{moduleHash}}, netattest.Options{}, keepCSR(t, module), 403, "simulated evidence", "", nil},
		{"module the policy does not pin", allowSimPins, netattest.Options{}, keepCSR(t, otherModule), 403, "module hash sha384:2222", "", nil},
		{"garbage", allowSimPins, netattest.Options{}, []byte("\x30\x03garbage"), 400, "malformed certificate request", "", nil},
		{"evidence that does not parse", allowSimPins, netattest.Options{}, func() []byte {
			key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			d, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEvidence, Value: []byte{0xd9, 0xff}}}}, key)
			return d
		}(), 400, "evidence extension", "", nil},
		{"enarx snp", snpPolicy, netattest.Options{}, enarxSNPCSR(t, false, nil), 200, "", "", ca.OIDEnarxSNP},
		{"enarx snp in debug mode", snpPolicy, netattest.Options{}, enarxSNPCSR(t, true, nil), 403, "debug mode", "", nil},
		{"enarx snp bound to another key", snpPolicy, netattest.Options{}, enarxSNPCSR(t, false, func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader); return k }()), 401, "report data is not the hash of the request's public key", "", nil},
		{"enarx snp with expired VCEK", snpPolicy, netattest.Options{Now: later}, enarxSNPCSR(t, false, nil), 401, "expired", "", nil},
		{"enarx snp but the policy pins a module", &netattest.Policy{ModuleHashes: []string{moduleHash}}, netattest.Options{}, enarxSNPCSR(t, false, nil), 403, "no module hash claim", "", nil},
		{"enarx kvm without allow_simulated", &netattest.Policy{}, netattest.Options{}, kvmCSR(t), 403, "simulated evidence", "", nil},
		{"enarx kvm with allow_simulated", &netattest.Policy{AllowSimulated: true}, netattest.Options{}, kvmCSR(t), 200, "", "", ca.OIDEnarxKVM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, a := server(t, tc.policy, tc.opts)
			status, body := post(t, hs.URL, tc.der)
			if status != 200 {
				t.Logf("%d %s", status, body)
			}
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, body, tc.status)
			}
			if status != 200 {
				if !strings.Contains(string(body), tc.reason) {
					t.Fatalf("reason %q, want it to contain %q", body, tc.reason)
				}
				return
			}
			chain, err := ca.DecodeChain(body)
			if err != nil {
				t.Fatal(err)
			}
			leaf := chain[len(chain)-1]
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool(a.Root)}); err != nil {
				t.Errorf("leaf does not chain to the root: %v", err)
			}
			var uris []string
			for _, u := range leaf.URIs {
				uris = append(uris, u.String())
			}
			if tc.uri == "" && len(uris) != 0 || tc.uri != "" && (len(uris) != 1 || uris[0] != tc.uri) {
				t.Errorf("URI SANs %v, want %q", uris, tc.uri)
			}
			found := false
			for _, e := range leaf.Extensions {
				found = found || e.Id.Equal(tc.ext)
			}
			if !found {
				t.Errorf("the leaf lacks the copied evidence extension %v", tc.ext)
			}
		})
	}
}

// TestEnarxSGX: a real SGX quote (dcap-qvl's, with its collateral) in
// Enarx's SGX extension goes to the Intel verifier, which accepts it, and
// is then refused because its report data does not hash this request's
// key: no one can reuse another enclave's quote. The key must be P-256,
// as Enarx's SGX keys are.
func TestEnarxSGX(t *testing.T) {
	vec := filepath.Join("..", "..", "shared", "vectors", "sgx")
	quote, err := os.ReadFile(filepath.Join(vec, "dcap-qvl-sgx_quote"))
	if err != nil {
		t.Fatalf("test vector (want ../shared beside the repository): %v", err)
	}
	coll, err := os.ReadFile(filepath.Join(vec, "dcap-qvl-sgx_quote_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	opts := netattest.Options{Registry: netattest.DefaultRegistry(), Now: time.Unix(1752919277, 0).UTC(), Collateral: map[string][]byte{"intel": coll}}
	mk := func(curve elliptic.Curve) []byte {
		key, _ := ecdsa.GenerateKey(curve, rand.Reader)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxSGX, Value: quote}}}, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	chk := &caverify.Checker{Policy: &netattest.Policy{TCBStatus: []string{"ConfigurationAndSWHardeningNeeded"}}, Options: opts}
	v := chk.Check(context.Background(), mk(elliptic.P256()))
	if v.Status != 401 || !strings.Contains(v.Reason, "report data is not the hash of the request's public key") {
		t.Errorf("P-256 request with another enclave's quote: %+v", v)
	}
	v = chk.Check(context.Background(), mk(elliptic.P384()))
	if v.Status != 400 || !strings.Contains(v.Reason, "not ECDSA P-256") {
		t.Errorf("P-384 request with SGX evidence: %+v", v)
	}
}

// TestReplay: the same request (from this keep or replayed by another) is
// certified once.
func TestReplay(t *testing.T) {
	hs, _ := server(t, allowSimPins, netattest.Options{})
	der := keepCSR(t, module)
	if status, body := post(t, hs.URL, der); status != 200 {
		t.Fatalf("first: %d %s", status, body)
	}
	status, body := post(t, hs.URL, der)
	if status != 403 || !strings.Contains(string(body), "replayed request") {
		t.Fatalf("replay: %d %s, want 403 replayed request", status, body)
	}
}

// TestLeafVerifiesAsRATLS: the leaf carries the request's evidence, so an
// RA-TLS verifier checks it as it checks a keep's self-signed certificate.
func TestLeafVerifiesAsRATLS(t *testing.T) {
	hs, _ := server(t, allowSimPins, netattest.Options{})
	status, body := post(t, hs.URL, keepCSR(t, module))
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	chain, err := ca.DecodeChain(body)
	if err != nil {
		t.Fatal(err)
	}
	leaf := chain[1]
	res, err := netattest.VerifyCertificate(context.Background(), leaf, netattest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v := allowSimPins.Evaluate(res); !v.Accepted {
		t.Fatalf("policy refused the leaf: %v", v.Reasons)
	}
	if res.Claims.ModuleHash.String() != moduleHash {
		t.Errorf("module hash %s", res.Claims.ModuleHash)
	}
	// The same leaf with another key is refused: the evidence binds the
	// request's key, not whatever key a certificate names.
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	a, _ := ca.NewAuthority("x", 0, time.Now())
	tmpl := &x509.Certificate{SerialNumber: leaf.SerialNumber, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, ExtraExtensions: []pkix.Extension{}}
	for _, e := range leaf.Extensions {
		if e.Id.Equal(ca.OIDEvidence) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Root, &other.PublicKey, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := x509.ParseCertificate(der)
	if _, err := netattest.VerifyCertificate(context.Background(), forged, netattest.Options{}); err == nil || !strings.Contains(err.Error(), "pubkey-hash") {
		t.Fatalf("a CA-issued certificate with the evidence of another key: %v", err)
	}
}

// TestOIDs: netattest and ca name Enarx's extensions alike.
func TestOIDs(t *testing.T) {
	for _, p := range [][2]asn1.ObjectIdentifier{{ca.OIDEnarxKVM, netattest.OIDEnarxKVM}, {ca.OIDEnarxSGX, netattest.OIDEnarxSGX}, {ca.OIDEnarxSNP, netattest.OIDEnarxSNP}, {ca.OIDEvidence, netattest.OIDEvidence}, {ca.OIDEndorsements, netattest.OIDEndorsements}} {
		if !p[0].Equal(p[1]) {
			t.Errorf("ca %v != netattest %v", p[0], p[1])
		}
	}
}

func pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}
