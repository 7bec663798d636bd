package intel

// Byte layout of Intel DCAP ECDSA quotes.
//
// Sources (facts restated in our own words):
//   - "Intel SGX ECDSA Quote Library API" (DCAP), appendix "Quote Format":
//     tables "Quote Header", "Enclave Report Body" (the SGX REPORT body),
//     "Attributes", "ECDSA 256-bit Quote Signature Data Structure",
//     "QE Authentication Data" and "QE Certification Data". This is
//     quote version 3, which is always SGX.
//   - "Intel TDX DCAP Quoting Library API", appendix on the quote format:
//     tables "Quote Header" (version 4, with TEE type), "TD Quote Body"
//     (TDX 1.0), "ECDSA 256-bit Quote Signature Data Structure - Version 4",
//     "QE Report Certification Data", and for version 5 the "Quote Body
//     Descriptor" (type + size) and the TDX 1.5 "TD Quote Body".
//
// All integers are little-endian. Signatures (r||s) and public keys (x||y)
// are 64-byte big-endian P-256 values.
//
//	quote v3:  header(48) | SGX report body(384)             | u32 sig_len | signature data(sig_len)
//	quote v4:  header(48) | SGX(384) or TD 1.0(584) body       | u32 sig_len | signature data
//	quote v5:  header(48) | u16 body type | u32 body size | body | u32 sig_len | signature data
//
// Signature data, v3:
//
//	quote signature(64) | attestation key(64) | QE report(384) | QE report signature(64)
//	| u16 auth size | QE auth data | u16 cert type | u32 cert size | cert data
//
// Signature data, v4 and v5:
//
//	quote signature(64) | attestation key(64) | u16 cert type (=6) | u32 cert size | cert data,
//
// where cert data of type 6 ("QE Report Certification Data") is
//
//	QE report(384) | QE report signature(64) | u16 auth size | QE auth data
//	| u16 cert type | u32 cert size | cert data
//
// Certification data of type 5 is the PEM PCK certificate chain (PCK leaf,
// intermediate CA, root CA), NUL-terminated in practice.

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/keepwasm/keep/keeps"
)

// MaxQuoteSize is the largest quote ParseQuote accepts (64 KiB). Real
// quotes with a PEM PCK chain are about 5 KiB.
const MaxQuoteSize = 64 << 10

// Sizes of the fixed parts of a quote, in bytes.
const (
	HeaderSize          = 48
	SGXReportBodySize   = 384
	TDReportBody10Size  = 584
	TDReportBody15Size  = 648
	bodyDescriptorSize  = 6 // v5: u16 type + u32 size
	ecdsaP256Size       = 64
	maxPCKChainCerts    = 8
	reportDataOffsetSGX = 320 // in the body: offset 368 in a v3 or v4 SGX quote
	reportDataOffsetTD  = 520 // in the body: 568 in a v4 TDX quote, 574 in v5
)

// Quote versions this package parses.
const (
	Version3 uint16 = 3 // SGX only ("Intel SGX ECDSA Quote Library API")
	Version4 uint16 = 4 // SGX or TDX 1.0 body
	Version5 uint16 = 5 // body descriptor; SGX, TDX 1.0 or TDX 1.5 body
)

// AttestationKeyType is the header's attestation key type.
type AttestationKeyType uint16

// AttestationKeyECDSAP256 (2) is ECDSA-256-with-P-256, the only type
// Intel's QEs produce and the only one this package accepts. (3,
// ECDSA-384-with-P-384, is defined but not supported by Intel.)
const AttestationKeyECDSAP256 AttestationKeyType = 2

// TEEType is the header's TEE type (versions 4 and 5).
type TEEType uint32

// TEE types. In a version 3 header the same 4 bytes are reserved and the
// quote is always SGX; ParseQuote requires them to be zero there.
const (
	TEETypeSGX TEEType = 0x00
	TEETypeTDX TEEType = 0x81
)

func (t TEEType) String() string {
	switch t {
	case TEETypeSGX:
		return "SGX"
	case TEETypeTDX:
		return "TDX"
	}
	return fmt.Sprintf("TEEType(0x%x)", uint32(t))
}

// BodyType says what the quote body is. Version 5 quotes carry it in their
// body descriptor; for versions 3 and 4 ParseQuote derives it from the
// version and TEE type.
type BodyType uint16

// Body types of the version 5 body descriptor.
const (
	BodyTypeSGX   BodyType = 1 // SGX enclave report body, 384 bytes
	BodyTypeTD10  BodyType = 2 // TD report body for TDX 1.0, 584 bytes
	BodyTypeTD15  BodyType = 3 // TD report body for TDX 1.5, 648 bytes
	bodyTypeLimit BodyType = 4
)

// Size returns the size in bytes of a body of type b, or 0 if b is unknown.
func (b BodyType) Size() int {
	switch b {
	case BodyTypeSGX:
		return SGXReportBodySize
	case BodyTypeTD10:
		return TDReportBody10Size
	case BodyTypeTD15:
		return TDReportBody15Size
	}
	return 0
}

func (b BodyType) String() string {
	switch b {
	case BodyTypeSGX:
		return "SGX report"
	case BodyTypeTD10:
		return "TD report 1.0"
	case BodyTypeTD15:
		return "TD report 1.5"
	}
	return fmt.Sprintf("BodyType(%d)", uint16(b))
}

// IntelQEVendorID is the QE vendor ID of Intel's quoting enclaves
// (939a7233-f79c-4ca9-940a-0db3957f0607). ParseQuote does not require it;
// a verifier may.
var IntelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Errors ParseQuote returns, wrapped with details; test with errors.Is.
var (
	// ErrTooLarge: the quote is larger than MaxQuoteSize.
	ErrTooLarge = errors.New("intel: quote too large")
	// ErrTruncated: the quote ends before a fixed-size field, or a length
	// field points past the end of its enclosing structure.
	ErrTruncated = errors.New("intel: quote truncated")
	// ErrUnsupportedVersion: the version is not 3, 4 or 5.
	ErrUnsupportedVersion = errors.New("intel: unsupported quote version")
	// ErrUnsupportedKeyType: the attestation key type is not 2
	// (ECDSA-256-with-P-256).
	ErrUnsupportedKeyType = errors.New("intel: unsupported attestation key type")
	// ErrUnsupportedTEEType: the TEE type is neither SGX (0) nor TDX
	// (0x81), or a version 3 quote has a non-zero reserved TEE field.
	ErrUnsupportedTEEType = errors.New("intel: unsupported TEE type")
	// ErrBadBody: a version 5 body descriptor has an unknown type, a type
	// that does not match the TEE type, or a size that does not match the
	// type.
	ErrBadBody = errors.New("intel: bad quote body descriptor")
	// ErrBadSignatureData: the signature data is not a well-formed ECDSA
	// signature data structure (wrong certification data type, bytes left
	// over inside a sized structure, malformed PCK chain, ...).
	ErrBadSignatureData = errors.New("intel: bad quote signature data")
)

// Header is the 48-byte quote header ("Quote Header" table).
type Header struct {
	// Version is 3, 4 or 5.
	Version uint16
	// AttestationKeyType is always AttestationKeyECDSAP256 after parsing.
	AttestationKeyType AttestationKeyType
	// TEEType is the u32 at offset 4 for versions 4 and 5. In version 3
	// that field is reserved (and must be zero); TEEType is then TEETypeSGX.
	TEEType TEEType
	// QESVN and PCESVN are the SVNs of the quoting enclave and of the PCE
	// when the quote was made (offsets 8 and 10). Only version 3 has them;
	// in versions 4 and 5 offsets 8..11 are reserved and these are zero.
	QESVN  uint16
	PCESVN uint16
	// Reserved is the u32 at offset 8 in versions 4 and 5 (zero in real
	// quotes; not checked), and 0 for version 3.
	Reserved uint32
	// QEVendorID identifies the QE vendor (IntelQEVendorID for Intel).
	QEVendorID [16]byte
	// UserData is custom data of the attestation key owner; Intel's QE
	// puts the first 20 bytes of the QE ID (platform-specific) there.
	UserData [20]byte
}

// SGXAttributeFlags is the FLAGS half of SGX enclave ATTRIBUTES ("Attributes"
// table; SECS.ATTRIBUTES in the Intel SDM).
type SGXAttributeFlags uint64

// SGX attribute flags a policy may require or deny.
const (
	SGXAttrInit          SGXAttributeFlags = 0x01 // INIT: the enclave has been initialised by EINIT (always set in a report)
	SGXAttrDebug         SGXAttributeFlags = 0x02 // DEBUG: a debugger can read and write enclave memory
	SGXAttrMode64Bit     SGXAttributeFlags = 0x04 // MODE64BIT: a 64-bit enclave
	SGXAttrProvisionKey  SGXAttributeFlags = 0x10 // PROVISIONKEY: may use EGETKEY for the provisioning key
	SGXAttrEInitTokenKey SGXAttributeFlags = 0x20 // EINITTOKENKEY: may use EGETKEY for the launch (EINIT token) key
	SGXAttrKSS           SGXAttributeFlags = 0x80 // KSS: key separation and sharing (ISVEXTPRODID, ISVFAMILYID, CONFIGID/CONFIGSVN) in use
)

// Has reports whether every flag in m is set.
func (f SGXAttributeFlags) Has(m SGXAttributeFlags) bool { return f&m == m }

// SGXAttributes are an enclave's ATTRIBUTES: FLAGS (u64) then XFRM (u64).
type SGXAttributes struct {
	Flags SGXAttributeFlags
	// XFRM is the XSAVE feature request mask the enclave runs with.
	XFRM uint64
}

// Init, Debug, Mode64Bit, ProvisionKey and EInitTokenKey report the flag
// of the same name.
func (a SGXAttributes) Init() bool          { return a.Flags.Has(SGXAttrInit) }
func (a SGXAttributes) Debug() bool         { return a.Flags.Has(SGXAttrDebug) }
func (a SGXAttributes) Mode64Bit() bool     { return a.Flags.Has(SGXAttrMode64Bit) }
func (a SGXAttributes) ProvisionKey() bool  { return a.Flags.Has(SGXAttrProvisionKey) }
func (a SGXAttributes) EInitTokenKey() bool { return a.Flags.Has(SGXAttrEInitTokenKey) }

// SGXReportBody is a 384-byte SGX report body ("Enclave Report Body"
// table). It is the body of an SGX quote and also the QE report inside the
// signature data of every quote. Reserved bytes are not kept or checked
// (the signature covers them).
type SGXReportBody struct {
	CPUSVN       [16]byte      // offset 0
	MiscSelect   uint32        // 16 (then 12 reserved)
	ISVExtProdID [16]byte      // 32
	Attributes   SGXAttributes // 48
	MREnclave    [32]byte      // 64 (then 32 reserved)
	MRSigner     [32]byte      // 128 (then 32 reserved)
	ConfigID     [64]byte      // 192
	ISVProdID    uint16        // 256
	ISVSVN       uint16        // 258
	ConfigSVN    uint16        // 260 (then 42 reserved)
	ISVFamilyID  [16]byte      // 304
	ReportData   [64]byte      // 320
}

func parseSGXReportBody(b []byte) SGXReportBody {
	_ = b[SGXReportBodySize-1]
	var r SGXReportBody
	copy(r.CPUSVN[:], b[0:16])
	r.MiscSelect = binary.LittleEndian.Uint32(b[16:20])
	copy(r.ISVExtProdID[:], b[32:48])
	r.Attributes.Flags = SGXAttributeFlags(binary.LittleEndian.Uint64(b[48:56]))
	r.Attributes.XFRM = binary.LittleEndian.Uint64(b[56:64])
	copy(r.MREnclave[:], b[64:96])
	copy(r.MRSigner[:], b[128:160])
	copy(r.ConfigID[:], b[192:256])
	r.ISVProdID = binary.LittleEndian.Uint16(b[256:258])
	r.ISVSVN = binary.LittleEndian.Uint16(b[258:260])
	r.ConfigSVN = binary.LittleEndian.Uint16(b[260:262])
	copy(r.ISVFamilyID[:], b[304:320])
	copy(r.ReportData[:], b[reportDataOffsetSGX:reportDataOffsetSGX+64])
	return r
}

// TDAttributes is a TD's TDATTRIBUTES (u64).
type TDAttributes uint64

// TD attribute bits this package names.
const (
	// TDAttrDebug (bit 0): the TD runs in debug mode; the host VMM can
	// read and write its state.
	TDAttrDebug TDAttributes = 1 << 0
	// TDAttrSEPTVEDisable (bit 28): EPT violations are not converted to #VE
	// in the TD.
	TDAttrSEPTVEDisable TDAttributes = 1 << 28
)

// Debug reports the DEBUG bit.
func (a TDAttributes) Debug() bool { return a&TDAttrDebug != 0 }

// TDReportBody is a TD report body: 584 bytes for TDX 1.0 ("TD Quote
// Body"), 648 for TDX 1.5, which appends TEE_TCB_SVN_2 and MRSERVICETD.
// Measurement registers are 48-byte SHA-384 values.
type TDReportBody struct {
	TEETCBSVN      [16]byte     // offset 0
	MRSEAM         [48]byte     // 16
	MRSignerSEAM   [48]byte     // 64 (zero for Intel's TDX module)
	SEAMAttributes uint64       // 112
	TDAttributes   TDAttributes // 120
	XFAM           uint64       // 128
	MRTD           [48]byte     // 136
	MRConfigID     [48]byte     // 184
	MROwner        [48]byte     // 232
	MROwnerConfig  [48]byte     // 280
	RTMR           [4][48]byte  // 328, 376, 424, 472
	ReportData     [64]byte     // 520
	// TDX 1.5 only (BodyTypeTD15); zero otherwise.
	TEETCBSVN2  [16]byte // 584
	MRServiceTD [48]byte // 600
}

func parseTDReportBody(b []byte) TDReportBody {
	_ = b[TDReportBody10Size-1]
	var r TDReportBody
	copy(r.TEETCBSVN[:], b[0:16])
	copy(r.MRSEAM[:], b[16:64])
	copy(r.MRSignerSEAM[:], b[64:112])
	r.SEAMAttributes = binary.LittleEndian.Uint64(b[112:120])
	r.TDAttributes = TDAttributes(binary.LittleEndian.Uint64(b[120:128]))
	r.XFAM = binary.LittleEndian.Uint64(b[128:136])
	copy(r.MRTD[:], b[136:184])
	copy(r.MRConfigID[:], b[184:232])
	copy(r.MROwner[:], b[232:280])
	copy(r.MROwnerConfig[:], b[280:328])
	for i := range r.RTMR {
		copy(r.RTMR[i][:], b[328+48*i:376+48*i])
	}
	copy(r.ReportData[:], b[reportDataOffsetTD:reportDataOffsetTD+64])
	if len(b) >= TDReportBody15Size {
		copy(r.TEETCBSVN2[:], b[584:600])
		copy(r.MRServiceTD[:], b[600:648])
	}
	return r
}

// CertDataType is the type of QE certification data ("QE Certification
// Data" table).
type CertDataType uint16

// Certification data types.
const (
	CertDataPPIDCleartext     CertDataType = 1 // PPID in clear + CPUSVN, PCESVN, PCEID
	CertDataPPIDRSA2048       CertDataType = 2 // PPID encrypted with RSA-2048-OAEP + ...
	CertDataPPIDRSA3072       CertDataType = 3 // PPID encrypted with RSA-3072-OAEP + ...
	CertDataPCKLeaf           CertDataType = 4 // PCK leaf certificate
	CertDataPCKChain          CertDataType = 5 // PEM PCK chain: leaf, intermediate CA, root CA
	CertDataQEReportCertified CertDataType = 6 // "QE Report Certification Data" (v4/v5 wrapper)
)

// CertificationData is the certification data that identifies the key
// that signed the QE report (the PCK).
type CertificationData struct {
	Type CertDataType
	// Data is the raw certification data.
	Data []byte
	// PCKChain holds the DER certificates of a CertDataPCKChain, in the
	// order of the quote (leaf first in every quote seen). Nil for other
	// types.
	PCKChain [][]byte
}

// Certificates parses PCKChain as X.509 certificates. It checks no
// signature or validity.
func (c *CertificationData) Certificates() ([]*x509.Certificate, error) {
	if c.Type != CertDataPCKChain {
		return nil, fmt.Errorf("intel: certification data type %d has no PCK chain", c.Type)
	}
	certs := make([]*x509.Certificate, 0, len(c.PCKChain))
	for i, der := range c.PCKChain {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("intel: PCK chain certificate %d: %w", i, err)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

// SignatureData is the parsed ECDSA 256-bit quote signature data. Versions
// 4 and 5 wrap the QE report in certification data of type 6; ParseQuote
// unwraps it, so the fields mean the same for every version.
type SignatureData struct {
	// QuoteSignature is the attestation key's ECDSA signature (r||s) over
	// Quote.RawSigned.
	QuoteSignature [64]byte
	// AttestationKey is the attestation public key (x||y, uncompressed
	// point without the 0x04 prefix).
	AttestationKey [64]byte
	// QEReport is the quoting enclave's report; its REPORTDATA[0:32] binds
	// sha256(AttestationKey || QEAuthData).
	QEReport SGXReportBody
	// RawQEReport is the 384 bytes of QEReport, which QEReportSignature
	// signs.
	RawQEReport []byte
	// QEReportSignature is the PCK's ECDSA signature (r||s) over RawQEReport.
	QEReportSignature [64]byte
	// QEAuthData is the QE authentication data (32 bytes from Intel's QEs).
	QEAuthData []byte
	// Certification identifies the PCK (type 5, a PEM chain, in practice).
	Certification CertificationData
}

// Quote is a parsed quote. Its byte slices alias a private copy of the
// input, so they stay valid and unchanged whatever the caller does with
// its buffer.
type Quote struct {
	Header Header
	// BodyType is the body's type (derived for versions 3 and 4).
	BodyType BodyType
	// SGX is the body of an SGX quote, nil for TDX.
	SGX *SGXReportBody
	// TD is the body of a TDX quote, nil for SGX.
	TD *TDReportBody
	// Signature is the parsed signature data.
	Signature SignatureData

	// Raw is the whole quote as given, trailing bytes included.
	Raw []byte
	// RawSigned is what the attestation key signs: the header, the
	// version 5 body descriptor if any, and the body.
	RawSigned []byte
	// RawBody is the body alone.
	RawBody []byte
	// RawSignatureData is the signature data, exactly as long as the
	// quote's signature data length says.
	RawSignatureData []byte
	// Trailing are bytes after the signature data. The quote format has
	// none, but real quotes come in larger buffers (zero padding, or test
	// files with text appended), and Intel's and Google's parsers ignore
	// them; so does ParseQuote. They are not covered by any signature.
	Trailing []byte
}

// TEE returns keeps.TEESGX or keeps.TEETDX.
func (q *Quote) TEE() keeps.TEE {
	if q.TD != nil {
		return keeps.TEETDX
	}
	return keeps.TEESGX
}

// ReportData returns the body's REPORTDATA.
func (q *Quote) ReportData() keeps.ReportData {
	if q.TD != nil {
		return q.TD.ReportData
	}
	if q.SGX != nil {
		return q.SGX.ReportData
	}
	return keeps.ReportData{}
}

// cursor reads fields off a byte slice with bounds checks. base is the
// offset of b in the quote, for error messages.
type cursor struct {
	b    []byte
	off  int
	base int
}

func (c *cursor) left() int { return len(c.b) - c.off }

func (c *cursor) take(n uint64, what string) ([]byte, error) {
	if n > uint64(c.left()) {
		return nil, fmt.Errorf("%w: %s needs %d bytes at offset %d, %d left", ErrTruncated, what, n, c.base+c.off, c.left())
	}
	s := c.b[c.off : c.off+int(n) : c.off+int(n)]
	c.off += int(n)
	return s, nil
}

func (c *cursor) u16(what string) (uint16, error) {
	s, err := c.take(2, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(s), nil
}

func (c *cursor) u32(what string) (uint32, error) {
	s, err := c.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

func (c *cursor) fixed64(dst *[64]byte, what string) error {
	s, err := c.take(ecdsaP256Size, what)
	if err != nil {
		return err
	}
	copy(dst[:], s)
	return nil
}

// sub returns a cursor over the next n bytes and advances past them.
func (c *cursor) sub(n uint64, what string) (*cursor, error) {
	start := c.base + c.off
	s, err := c.take(n, what)
	if err != nil {
		return nil, err
	}
	return &cursor{b: s, base: start}, nil
}

// end fails unless the cursor's structure has been read exactly.
func (c *cursor) end(what string) error {
	if c.left() != 0 {
		return fmt.Errorf("%w: %d unexpected bytes at offset %d after %s", ErrBadSignatureData, c.left(), c.base+c.off, what)
	}
	return nil
}

// ParseQuote parses an Intel DCAP ECDSA quote of version 3, 4 or 5 with an
// ECDSA-P256 attestation key. It checks the structure strictly (versions,
// types, sizes, every length field, the nesting of the signature data) but
// verifies no signature. Bytes after the signature data are accepted and
// returned in Quote.Trailing. It never panics; errors wrap one of the Err*
// variables of this package.
func ParseQuote(data []byte) (*Quote, error) {
	if len(data) > MaxQuoteSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxQuoteSize)
	}
	raw := bytes.Clone(data)
	if raw == nil {
		raw = []byte{}
	}
	c := &cursor{b: raw}
	q := &Quote{Raw: raw}

	hb, err := c.take(HeaderSize, "header")
	if err != nil {
		return nil, err
	}
	h := &q.Header
	h.Version = binary.LittleEndian.Uint16(hb[0:2])
	h.AttestationKeyType = AttestationKeyType(binary.LittleEndian.Uint16(hb[2:4]))
	teeField := binary.LittleEndian.Uint32(hb[4:8])
	copy(h.QEVendorID[:], hb[12:28])
	copy(h.UserData[:], hb[28:48])
	switch h.Version {
	case Version3:
		// Offset 4 is reserved in version 3 (the quote is SGX); offsets 8
		// and 10 are the QE and PCE SVNs.
		if teeField != 0 {
			return nil, fmt.Errorf("%w: version 3 quote with non-zero reserved field 0x%x at offset 4", ErrUnsupportedTEEType, teeField)
		}
		h.TEEType = TEETypeSGX
		h.QESVN = binary.LittleEndian.Uint16(hb[8:10])
		h.PCESVN = binary.LittleEndian.Uint16(hb[10:12])
	case Version4, Version5:
		h.TEEType = TEEType(teeField)
		if h.TEEType != TEETypeSGX && h.TEEType != TEETypeTDX {
			return nil, fmt.Errorf("%w: 0x%x", ErrUnsupportedTEEType, teeField)
		}
		h.Reserved = binary.LittleEndian.Uint32(hb[8:12])
	default:
		return nil, fmt.Errorf("%w: %d (want 3, 4 or 5)", ErrUnsupportedVersion, h.Version)
	}
	if h.AttestationKeyType != AttestationKeyECDSAP256 {
		return nil, fmt.Errorf("%w: %d (want %d, ECDSA-256-with-P-256)", ErrUnsupportedKeyType, h.AttestationKeyType, AttestationKeyECDSAP256)
	}

	// Body.
	switch h.Version {
	case Version3:
		q.BodyType = BodyTypeSGX
	case Version4:
		q.BodyType = BodyTypeSGX
		if h.TEEType == TEETypeTDX {
			q.BodyType = BodyTypeTD10
		}
	case Version5:
		t, err := c.u16("body type")
		if err != nil {
			return nil, err
		}
		size, err := c.u32("body size")
		if err != nil {
			return nil, err
		}
		q.BodyType = BodyType(t)
		if q.BodyType == 0 || q.BodyType >= bodyTypeLimit {
			return nil, fmt.Errorf("%w: unknown body type %d", ErrBadBody, t)
		}
		if (q.BodyType == BodyTypeSGX) != (h.TEEType == TEETypeSGX) {
			return nil, fmt.Errorf("%w: body type %s in a %s quote", ErrBadBody, q.BodyType, h.TEEType)
		}
		if uint64(size) != uint64(q.BodyType.Size()) {
			return nil, fmt.Errorf("%w: %s body of %d bytes, want %d", ErrBadBody, q.BodyType, size, q.BodyType.Size())
		}
	}
	body, err := c.take(uint64(q.BodyType.Size()), q.BodyType.String()+" body")
	if err != nil {
		return nil, err
	}
	q.RawBody = body
	q.RawSigned = raw[:c.off:c.off]
	if q.BodyType == BodyTypeSGX {
		b := parseSGXReportBody(body)
		q.SGX = &b
	} else {
		b := parseTDReportBody(body)
		q.TD = &b
	}

	// Signature data.
	sigLen, err := c.u32("signature data length")
	if err != nil {
		return nil, err
	}
	sc, err := c.sub(uint64(sigLen), "signature data")
	if err != nil {
		return nil, err
	}
	q.RawSignatureData = sc.b
	q.Trailing = raw[c.off:len(raw):len(raw)]
	if err := parseSignatureData(sc, h.Version, &q.Signature); err != nil {
		return nil, err
	}
	return q, nil
}

// parseSignatureData parses the ECDSA 256-bit quote signature data of a
// quote of the given version; c covers exactly the signature data.
func parseSignatureData(c *cursor, version uint16, sd *SignatureData) error {
	if err := c.fixed64(&sd.QuoteSignature, "quote signature"); err != nil {
		return err
	}
	if err := c.fixed64(&sd.AttestationKey, "attestation key"); err != nil {
		return err
	}
	qe := c
	if version != Version3 {
		// Versions 4 and 5: the rest is certification data of type 6
		// holding the QE report, its signature, the auth data and the
		// PCK's certification data.
		t, cc, err := certData(c, "QE report certification data")
		if err != nil {
			return err
		}
		if t != CertDataQEReportCertified {
			return fmt.Errorf("%w: certification data type %d, want %d (QE report certification data)", ErrBadSignatureData, t, CertDataQEReportCertified)
		}
		if err := c.end("QE report certification data"); err != nil {
			return err
		}
		qe = cc
	}
	rep, err := qe.take(SGXReportBodySize, "QE report")
	if err != nil {
		return err
	}
	sd.RawQEReport = rep
	sd.QEReport = parseSGXReportBody(rep)
	if err := qe.fixed64(&sd.QEReportSignature, "QE report signature"); err != nil {
		return err
	}
	authLen, err := qe.u16("QE authentication data size")
	if err != nil {
		return err
	}
	if sd.QEAuthData, err = qe.take(uint64(authLen), "QE authentication data"); err != nil {
		return err
	}
	t, cc, err := certData(qe, "QE certification data")
	if err != nil {
		return err
	}
	if err := qe.end("QE certification data"); err != nil {
		return err
	}
	if t == 0 || t > CertDataPCKChain {
		// Type 6 cannot nest, and no verifier can use a type this parser
		// does not know, so anything but 1..5 is refused.
		return fmt.Errorf("%w: QE certification data type %d (want 1 to 5)", ErrBadSignatureData, t)
	}
	sd.Certification = CertificationData{Type: t, Data: cc.b}
	if t == CertDataPCKChain {
		chain, err := splitPEMChain(cc.b)
		if err != nil {
			return fmt.Errorf("%w: PCK chain: %v", ErrBadSignatureData, err)
		}
		sd.Certification.PCKChain = chain
	}
	// Both the signature data (v3: qe == c) and, for v4/v5, the type-6
	// wrapper were checked above to be consumed exactly.
	return nil
}

// certData reads a certification data header (u16 type, u32 size) and
// returns a cursor over its data.
func certData(c *cursor, what string) (CertDataType, *cursor, error) {
	t, err := c.u16(what + " type")
	if err != nil {
		return 0, nil, err
	}
	size, err := c.u32(what + " size")
	if err != nil {
		return 0, nil, err
	}
	cc, err := c.sub(uint64(size), what)
	if err != nil {
		return 0, nil, err
	}
	return CertDataType(t), cc, nil
}

var (
	pemBegin = []byte("-----BEGIN CERTIFICATE-----")
	pemEnd   = []byte("-----END CERTIFICATE-----")
)

// splitPEMChain decodes the CERTIFICATE blocks of a PEM chain into DER.
// It is stricter than encoding/pem about what may lie between blocks
// (whitespace only, and NUL bytes at the very end, since Intel's QE
// NUL-terminates the chain) and more lenient about line breaks: some
// quotes (rats-tls samples) have "-----END CERTIFICATE----------BEGIN
// CERTIFICATE-----" with no newline, where encoding/pem silently drops a
// certificate.
func splitPEMChain(data []byte) ([][]byte, error) {
	rest := bytes.TrimRight(data, "\x00")
	var chain [][]byte
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, pemBegin) {
			return nil, fmt.Errorf("unexpected bytes at offset %d (want %q)", len(data)-len(rest), pemBegin)
		}
		rest = rest[len(pemBegin):]
		i := bytes.Index(rest, pemEnd)
		if i < 0 {
			return nil, fmt.Errorf("certificate %d has no %q", len(chain), pemEnd)
		}
		b64 := stripSpace(rest[:i])
		rest = rest[i+len(pemEnd):]
		der := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
		n, err := base64.StdEncoding.Strict().Decode(der, b64)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(chain), err)
		}
		if n == 0 {
			return nil, fmt.Errorf("certificate %d is empty", len(chain))
		}
		if len(chain) == maxPCKChainCerts {
			return nil, fmt.Errorf("more than %d certificates", maxPCKChainCerts)
		}
		chain = append(chain, der[:n:n])
	}
	if len(chain) == 0 {
		return nil, errors.New("no certificate")
	}
	return chain, nil
}

func stripSpace(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			out = append(out, c)
		}
	}
	return out
}
