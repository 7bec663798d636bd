package intel

// The SGX extension of PCK certificates.
//
// Source: "Intel SGX PCK Certificate and Certificate Revocation List
// Profile Specification", section "SGX Extensions" (facts restated in our
// own words). The extension (OID 1.2.840.113741.1.13.1, non-critical) is
// a SEQUENCE of SEQUENCE { OID, value }:
//
//	.1  PPID        OCTET STRING (16)
//	.2  TCB         SEQUENCE of SEQUENCE { OID, value }:
//	      .2.1 .. .2.16  SGX TCB components (CPUSVN components) INTEGER 0..255
//	      .2.17          PCESVN INTEGER 0..65535
//	      .2.18          CPUSVN OCTET STRING (16)
//	.3  PCE-ID      OCTET STRING (2)
//	.4  FMSPC       OCTET STRING (6)
//	.5  SGX Type    ENUMERATED (0 standard, 1 scalable, 2 scalable with integrity)
//	.6  PlatformInstanceID OCTET STRING (16), Platform CA certificates only
//	.7  Configuration SEQUENCE, Platform CA certificates only

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// OIDSGXExtension is the OID of the SGX extension of PCK certificates.
var OIDSGXExtension = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

// Sub-OIDs of the SGX extension, as the last arc under OIDSGXExtension
// (and, for the TCB, under OIDSGXExtension.2).
const (
	sgxExtPPID               = 1
	sgxExtTCB                = 2
	sgxExtPCEID              = 3
	sgxExtFMSPC              = 4
	sgxExtSGXType            = 5
	sgxExtPlatformInstanceID = 6
	sgxExtConfiguration      = 7

	sgxTCBPCESVN = 17 // .2.17
	sgxTCBCPUSVN = 18 // .2.18
)

// MaxPCKExtensionSize bounds the SGX extension ParsePCKExtension accepts.
// Real ones are about 450 (Processor CA) to 550 bytes (Platform CA).
const MaxPCKExtensionSize = 4 << 10

// ErrBadPCKCertificate: a PCK certificate lacks the SGX extension, or the
// extension is malformed.
var ErrBadPCKCertificate = errors.New("intel: bad PCK certificate")

// PCKExtension is the decoded SGX extension of a PCK leaf certificate: the
// platform's identity and the TCB level the certificate was issued for.
type PCKExtension struct {
	// PPID is the encrypted platform provisioning ID.
	PPID [16]byte
	// TCBComponents are the 16 SGX TCB components (CPUSVN components),
	// compared with a TCB level's "sgxtcbcomponents".
	TCBComponents [16]uint8
	// PCESVN is the PCE security version the certificate was issued for.
	PCESVN uint16
	// CPUSVN is the raw CPUSVN the certificate was issued for.
	CPUSVN [16]byte
	// PCEID identifies the PCE (tcbInfo's "pceId").
	PCEID [2]byte
	// FMSPC is the platform's family-model-stepping-platform-custom-SKU,
	// the key of its tcbInfo.
	FMSPC [6]byte
	// SGXType is 0 (standard), 1 (scalable) or 2 (scalable with
	// integrity).
	SGXType int
	// PlatformInstanceID is set in certificates of the Platform CA only.
	PlatformInstanceID []byte
}

type oidValue struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// parseOIDSequence parses SEQUENCE OF SEQUENCE { OID, ANY } exactly.
func parseOIDSequence(der []byte, what string) ([]oidValue, error) {
	var seq []oidValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadPCKCertificate, what, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %s: %d bytes after the sequence", ErrBadPCKCertificate, what, len(rest))
	}
	return seq, nil
}

// subArc returns the arc after parent if id is parent.arc, else -1.
func subArc(id, parent asn1.ObjectIdentifier) int {
	if len(id) != len(parent)+1 {
		return -1
	}
	for i := range parent {
		if id[i] != parent[i] {
			return -1
		}
	}
	return id[len(parent)]
}

func octets(v asn1.RawValue, n int, what string) ([]byte, error) {
	var b []byte
	rest, err := asn1.Unmarshal(v.FullBytes, &b)
	if err != nil || len(rest) != 0 || v.Tag != asn1.TagOctetString || v.Class != asn1.ClassUniversal {
		return nil, fmt.Errorf("%w: %s is not an OCTET STRING", ErrBadPCKCertificate, what)
	}
	if n >= 0 && len(b) != n {
		return nil, fmt.Errorf("%w: %s has %d bytes, want %d", ErrBadPCKCertificate, what, len(b), n)
	}
	return b, nil
}

func smallInt(v asn1.RawValue, max int, what string) (int, error) {
	var n int
	rest, err := asn1.Unmarshal(v.FullBytes, &n)
	if err != nil || len(rest) != 0 {
		return 0, fmt.Errorf("%w: %s is not an INTEGER", ErrBadPCKCertificate, what)
	}
	if n < 0 || n > max {
		return 0, fmt.Errorf("%w: %s is %d, want 0 to %d", ErrBadPCKCertificate, what, n, max)
	}
	return n, nil
}

// ParsePCKExtension decodes the value (the OCTET STRING's contents) of the
// SGX extension of a PCK certificate. PPID, TCB (all 16 components, PCESVN
// and CPUSVN), PCE-ID, FMSPC and SGX Type are required; each field may
// appear once; fields with unknown OIDs are ignored.
func ParsePCKExtension(der []byte) (*PCKExtension, error) {
	if len(der) > MaxPCKExtensionSize {
		return nil, fmt.Errorf("%w: SGX extension of %d bytes, at most %d", ErrBadPCKCertificate, len(der), MaxPCKExtensionSize)
	}
	top, err := parseOIDSequence(der, "SGX extension")
	if err != nil {
		return nil, err
	}
	e := &PCKExtension{}
	seen := map[int]bool{}
	for _, f := range top {
		arc := subArc(f.ID, OIDSGXExtension)
		if arc < 0 {
			continue
		}
		if seen[arc] {
			return nil, fmt.Errorf("%w: SGX extension field %s repeated", ErrBadPCKCertificate, f.ID)
		}
		seen[arc] = true
		switch arc {
		case sgxExtPPID:
			b, err := octets(f.Value, 16, "PPID")
			if err != nil {
				return nil, err
			}
			copy(e.PPID[:], b)
		case sgxExtTCB:
			if err := parsePCKTCB(f.Value, e); err != nil {
				return nil, err
			}
		case sgxExtPCEID:
			b, err := octets(f.Value, 2, "PCE-ID")
			if err != nil {
				return nil, err
			}
			copy(e.PCEID[:], b)
		case sgxExtFMSPC:
			b, err := octets(f.Value, 6, "FMSPC")
			if err != nil {
				return nil, err
			}
			copy(e.FMSPC[:], b)
		case sgxExtSGXType:
			var t asn1.Enumerated
			rest, err := asn1.Unmarshal(f.Value.FullBytes, &t)
			if err != nil || len(rest) != 0 || t < 0 || t > 2 {
				return nil, fmt.Errorf("%w: SGX Type is not an ENUMERATED 0..2", ErrBadPCKCertificate)
			}
			e.SGXType = int(t)
		case sgxExtPlatformInstanceID:
			b, err := octets(f.Value, 16, "PlatformInstanceID")
			if err != nil {
				return nil, err
			}
			e.PlatformInstanceID = b
		}
	}
	for _, need := range []struct {
		arc  int
		name string
	}{{sgxExtPPID, "PPID"}, {sgxExtTCB, "TCB"}, {sgxExtPCEID, "PCE-ID"}, {sgxExtFMSPC, "FMSPC"}, {sgxExtSGXType, "SGX Type"}} {
		if !seen[need.arc] {
			return nil, fmt.Errorf("%w: SGX extension has no %s", ErrBadPCKCertificate, need.name)
		}
	}
	return e, nil
}

func parsePCKTCB(v asn1.RawValue, e *PCKExtension) error {
	if v.Tag != asn1.TagSequence || v.Class != asn1.ClassUniversal || !v.IsCompound {
		return fmt.Errorf("%w: TCB is not a SEQUENCE", ErrBadPCKCertificate)
	}
	fields, err := parseOIDSequence(v.FullBytes, "TCB")
	if err != nil {
		return err
	}
	tcbOID := append(append(asn1.ObjectIdentifier{}, OIDSGXExtension...), sgxExtTCB)
	seen := map[int]bool{}
	for _, f := range fields {
		arc := subArc(f.ID, tcbOID)
		if arc < 0 {
			continue
		}
		if seen[arc] {
			return fmt.Errorf("%w: TCB field %s repeated", ErrBadPCKCertificate, f.ID)
		}
		seen[arc] = true
		switch {
		case arc >= 1 && arc <= 16:
			n, err := smallInt(f.Value, 255, fmt.Sprintf("TCB component %d", arc))
			if err != nil {
				return err
			}
			e.TCBComponents[arc-1] = uint8(n)
		case arc == sgxTCBPCESVN:
			n, err := smallInt(f.Value, 65535, "PCESVN")
			if err != nil {
				return err
			}
			e.PCESVN = uint16(n)
		case arc == sgxTCBCPUSVN:
			b, err := octets(f.Value, 16, "CPUSVN")
			if err != nil {
				return err
			}
			copy(e.CPUSVN[:], b)
		}
	}
	for arc := 1; arc <= sgxTCBCPUSVN; arc++ {
		if !seen[arc] {
			return fmt.Errorf("%w: TCB has no field %s.%d", ErrBadPCKCertificate, tcbOID, arc)
		}
	}
	return nil
}

// PCKExtensionOf returns the decoded SGX extension of a PCK certificate.
func PCKExtensionOf(cert *x509.Certificate) (*PCKExtension, error) {
	var found *PCKExtension
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(OIDSGXExtension) {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%w: two SGX extensions", ErrBadPCKCertificate)
		}
		e, err := ParsePCKExtension(ext.Value)
		if err != nil {
			return nil, err
		}
		found = e
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no SGX extension (%s)", ErrBadPCKCertificate, OIDSGXExtension)
	}
	return found, nil
}

// PCKCA names the intermediate CA that issues PCK certificates.
type PCKCA string

// The two PCK issuing CAs, by the value of "ca" in Intel PCS's PCK CRL
// request; their certificates' common names are "Intel SGX PCK Processor
// CA" and "Intel SGX PCK Platform CA".
const (
	PCKCAProcessor PCKCA = "processor"
	PCKCAPlatform  PCKCA = "platform"
)

// Common names in Intel's PCK hierarchy ("Intel SGX PCK Certificate and
// Certificate Revocation List Profile Specification").
const (
	cnRoot         = "Intel SGX Root CA"
	cnProcessorCA  = "Intel SGX PCK Processor CA"
	cnPlatformCA   = "Intel SGX PCK Platform CA"
	cnPCKLeaf      = "Intel SGX PCK Certificate"
	cnTCBSigning   = "Intel SGX TCB Signing"
	maxIssuerChain = 4
)

func pckCAOf(cert *x509.Certificate) (PCKCA, bool) {
	switch cert.Subject.CommonName {
	case cnProcessorCA:
		return PCKCAProcessor, true
	case cnPlatformCA:
		return PCKCAPlatform, true
	}
	return "", false
}

func certIn(c *x509.Certificate, list []*x509.Certificate) bool {
	for _, r := range list {
		if bytes.Equal(c.Raw, r.Raw) {
			return true
		}
	}
	return false
}
