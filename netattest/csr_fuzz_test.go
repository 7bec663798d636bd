package netattest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// FuzzVerifyCertificateRequest: the evidence extension of a request, in
// each format, never panics the verifier, and a request whose evidence
// is garbage is never verified.
func FuzzVerifyCertificateRequest(f *testing.F) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), []byte{0xd9, 0xea, 0x60, 0x82, 0x40, 0x40})
	f.Add(uint8(1), []byte{0x30, 0x08, 0x30, 0x04, 0x30, 0x00, 0x30, 0x00, 0x04, 0x00})
	f.Add(uint8(2), []byte{3, 0, 2, 0})
	oids := []asn1.ObjectIdentifier{OIDEvidence, OIDEnarxSNP, OIDEnarxSGX}
	f.Fuzz(func(t *testing.T, which uint8, ext []byte) {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			ExtraExtensions: []pkix.Extension{{Id: oids[int(which)%len(oids)], Value: ext}},
		}, p384)
		if err != nil {
			return
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			return
		}
		res, err := VerifyCertificateRequest(context.Background(), csr, Options{})
		if err == nil && (res.Evidence == nil || !res.Evidence.SignatureVerified && !res.Evidence.Simulated) {
			t.Fatalf("verified without verified evidence: %+v", res)
		}
	})
}
