package netattest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// MaxCertificateFileSize bounds a certificate file (PEM or DER). Keep's
// certificates are about 6 KB, those with an Intel quote and PCK chain
// under 16 KB.
const MaxCertificateFileSize = 1 << 20

// LoadCertificate reads one certificate, PEM or DER, from the file at path,
// reading at most MaxCertificateFileSize+1 bytes of it.
func LoadCertificate(path string) (*x509.Certificate, error) {
	data, err := ReadFileLimited(path, MaxCertificateFileSize)
	if err != nil {
		return nil, err
	}
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block is %q, want CERTIFICATE", path, b.Type)
		}
		data = b.Bytes
	}
	cert, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return cert, nil
}
