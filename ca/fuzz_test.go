package ca_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/keepwasm/keep/ca"
)

// FuzzParseRequest: outside bytes never panic the parser, and an accepted
// request has exactly one evidence format and a checked signature.
func FuzzParseRequest(f *testing.F) {
	f.Add(csr(f, nil, &x509.CertificateRequest{DNSNames: []string{"localhost"}, ExtraExtensions: []pkix.Extension{evidenceExt([]byte{1, 2, 3})}}))
	f.Add(csr(f, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEnarxKVM, Value: []byte{}}}}))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ca.ParseRequest(b)
		if err != nil {
			return
		}
		if r.Format == "" || r.CSR.CheckSignature() != nil {
			t.Fatalf("accepted a request without format or valid signature")
		}
	})
}

// FuzzDecodeChain: a chain answer never panics the decoder.
func FuzzDecodeChain(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x02, 0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := ca.DecodeChain(b)
		if err == nil && (len(certs) == 0 || len(certs) > ca.MaxChainCerts) {
			t.Fatalf("%d certificates accepted", len(certs))
		}
	})
}

// FuzzParseVerdict: the host's answer never panics the guest's parser.
func FuzzParseVerdict(f *testing.F) {
	f.Add([]byte(`{"status":200,"spki_sha256":"00","module_hash":"sha384:00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ca.ParseVerdict(b)
		if err == nil && v.Status != 200 && v.Status != 400 && v.Status != 401 && v.Status != 403 {
			t.Fatalf("status %d accepted", v.Status)
		}
	})
}
