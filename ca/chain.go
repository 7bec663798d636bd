package ca

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// EncodeChain returns the DER SEQUENCE OF Certificate of the given DER
// certificates, in order (the protocol's order is root first, leaf last).
func EncodeChain(certs ...[]byte) ([]byte, error) {
	raws := make([]asn1.RawValue, len(certs))
	for i, c := range certs {
		raws[i] = asn1.RawValue{FullBytes: c}
	}
	return asn1.Marshal(raws)
}

// DecodeChain parses a DER SEQUENCE OF Certificate strictly: no trailing
// bytes, 1..MaxChainCerts certificates, each a valid certificate.
func DecodeChain(der []byte) ([]*x509.Certificate, error) {
	if len(der) > MaxChainSize {
		return nil, fmt.Errorf("chain: %d bytes exceeds the %d-byte limit", len(der), MaxChainSize)
	}
	var raws []asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raws)
	if err != nil {
		return nil, fmt.Errorf("chain: not a DER SEQUENCE OF Certificate: %v", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("chain: trailing bytes after the SEQUENCE")
	}
	if len(raws) == 0 || len(raws) > MaxChainCerts {
		return nil, fmt.Errorf("chain: %d certificates, want 1..%d", len(raws), MaxChainCerts)
	}
	out := make([]*x509.Certificate, len(raws))
	for i, r := range raws {
		c, err := x509.ParseCertificate(r.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("chain: certificate %d: %v", i, err)
		}
		out[i] = c
	}
	return out, nil
}
