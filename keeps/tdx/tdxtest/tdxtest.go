package tdxtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/faketsm"
)

// Certificate CNs go-tdx-guest requires (verify.go: rootCertPhrase,
// intermediateCertPhrase, pckCertPhrase, tcbSigningPhrase).
const (
	CNRoot       = "Intel SGX Root CA"
	CNPlatformCA = "Intel SGX PCK Platform CA"
	CNPCK        = "Intel SGX PCK Certificate"
	CNTCBSigning = "Intel SGX TCB Signing"
)

// RootCRLURL is the test root's CRL distribution point; go-tdx-guest asks
// its getter for this URL to read the Root CA CRL.
const RootCRLURL = "https://tdxtest.invalid/root.crl"

// IntelQEVendorID is the QE vendor ID of Intel's quoting enclaves.
var IntelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// IntelQEMRSigner is the MRSIGNER of Intel's quoting enclaves.
var IntelQEMRSigner = [32]byte{
	0x8c, 0x4f, 0x57, 0x75, 0xd7, 0x96, 0x50, 0x3e, 0x96, 0x13, 0x7f, 0x77, 0xc6, 0x8a, 0x82, 0x9a,
	0x00, 0x56, 0xac, 0x8d, 0xed, 0x70, 0x14, 0x0b, 0x08, 0x1b, 0x09, 0x44, 0x90, 0xc5, 0x7b, 0xff,
}

// OIDs of the SGX extension of PCK certificates ("Intel SGX PCK
// Certificate and Certificate Revocation List Profile Specification").
var (
	oidSGX     = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidPPID    = append(oidSGX[:len(oidSGX):len(oidSGX)], 1)
	oidTCB     = append(oidSGX[:len(oidSGX):len(oidSGX)], 2)
	oidPCEID   = append(oidSGX[:len(oidSGX):len(oidSGX)], 3)
	oidFMSPC   = append(oidSGX[:len(oidSGX):len(oidSGX)], 4)
	oidSGXType = append(oidSGX[:len(oidSGX):len(oidSGX)], 5)
)

// Options configure NewSigner. Zero fields take the defaults named.
type Options struct {
	// NotBefore and NotAfter bound every certificate (default
	// 2020-01-01 to 2050-01-01 UTC).
	NotBefore, NotAfter time.Time
	// FMSPC of the PCK certificate (default 00906ED50000).
	FMSPC [6]byte
	// PCEID of the PCK certificate (default 0000).
	PCEID [2]byte
	// SGXComponents are the PCK certificate's 16 SGX TCB component SVNs
	// (default 3,3,2,2,4,1,0,5,0,...).
	SGXComponents *[16]byte
	// PCESVN of the PCK certificate (default 13).
	PCESVN uint16
}

// TDBody is the content of a TD report body ("TD Quote Body" table).
type TDBody struct {
	TEETCBSVN      [16]byte
	MRSEAM         [48]byte
	MRSignerSEAM   [48]byte
	SEAMAttributes uint64
	TDAttributes   uint64
	XFAM           uint64
	MRTD           [48]byte
	MRConfigID     [48]byte
	MROwner        [48]byte
	MROwnerConfig  [48]byte
	RTMR           [4][48]byte
	// TDX 1.5 (quote version 5 only).
	TEETCBSVN2  [16]byte
	MRServiceTD [48]byte
}

// QEReport is the content of the QE's SGX report body.
type QEReport struct {
	CPUSVN     [16]byte
	MiscSelect uint32
	Attributes [16]byte
	MREnclave  [32]byte
	MRSigner   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
}

// Signer is a test PKI and attestation key. Change TD, QE, Version or
// AuthData before making quotes to vary them; a Signer is safe for
// concurrent Quote calls once configured.
type Signer struct {
	Root, PlatformCA, PCK, TCBSigning                     *x509.Certificate
	RootKey, PlatformCAKey, PCKKey, TCBSigningKey, AttKey *ecdsa.PrivateKey

	// FMSPC, PCEID, SGXComponents and PCESVN are the PCK certificate's.
	FMSPC         [6]byte
	PCEID         [2]byte
	SGXComponents [16]byte
	PCESVN        uint16

	// Version is the quote version, 4 (default) or 5 (TDX 1.5 body).
	Version uint16
	// TD is the body every quote carries (with the report data asked for).
	TD TDBody
	// QE is the QE report every quote carries.
	QE QEReport
	// AuthData is the QE authentication data (default 32 bytes 0..31).
	AuthData []byte
	// QEVendorID is the header's QE vendor ID (default IntelQEVendorID).
	QEVendorID [16]byte
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// NewSigner makes a fresh test PKI and attestation key, with a
// non-debug TD body (TDX module major version 1), and a QE report like
// Intel's TD QE (ISVPRODID 2, ISVSVN 4).
func NewSigner(o Options) (*Signer, error) {
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.FMSPC == [6]byte{} {
		o.FMSPC = [6]byte{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00}
	}
	if o.SGXComponents == nil {
		o.SGXComponents = &[16]byte{3, 3, 2, 2, 4, 1, 0, 5}
	}
	if o.PCESVN == 0 {
		o.PCESVN = 13
	}
	s := &Signer{FMSPC: o.FMSPC, PCEID: o.PCEID, SGXComponents: *o.SGXComponents, PCESVN: o.PCESVN, Version: 4, QEVendorID: IntelQEVendorID}
	keys := []**ecdsa.PrivateKey{&s.RootKey, &s.PlatformCAKey, &s.PCKKey, &s.TCBSigningKey, &s.AttKey}
	for _, k := range keys {
		var err error
		if *k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	serial := int64(0)
	issue := func(cn string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool, edit func(*x509.Certificate)) (*x509.Certificate, error) {
		serial++
		t := &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}},
			NotBefore:             o.NotBefore,
			NotAfter:              o.NotAfter,
			BasicConstraintsValid: true,
			IsCA:                  ca,
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
			SignatureAlgorithm:    x509.ECDSAWithSHA256,
		}
		if ca {
			t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
			t.MaxPathLen, t.MaxPathLenZero = 1, false
		}
		if edit != nil {
			edit(t)
		}
		if parent == nil {
			parent, parentKey = t, key
		}
		der, err := x509.CreateCertificate(rand.Reader, t, parent, &key.PublicKey, parentKey)
		if err != nil {
			return nil, fmt.Errorf("tdxtest: %s: %w", cn, err)
		}
		return x509.ParseCertificate(der)
	}
	var err error
	if s.Root, err = issue(CNRoot, s.RootKey, nil, nil, true, func(t *x509.Certificate) {
		t.CRLDistributionPoints = []string{RootCRLURL}
	}); err != nil {
		return nil, err
	}
	if s.PlatformCA, err = issue(CNPlatformCA, s.PlatformCAKey, s.Root, s.RootKey, true, func(t *x509.Certificate) {
		t.MaxPathLen, t.MaxPathLenZero = 0, true
		t.CRLDistributionPoints = []string{RootCRLURL}
	}); err != nil {
		return nil, err
	}
	if s.TCBSigning, err = issue(CNTCBSigning, s.TCBSigningKey, s.Root, s.RootKey, false, nil); err != nil {
		return nil, err
	}
	ext, err := s.sgxExtension()
	if err != nil {
		return nil, err
	}
	if s.PCK, err = issue(CNPCK, s.PCKKey, s.PlatformCA, s.PlatformCAKey, false, func(t *x509.Certificate) {
		// go-tdx-guest wants exactly six extensions, as Intel's PCKs have:
		// authority and subject key IDs, CRL distribution points, key
		// usage, basic constraints and the SGX extension.
		t.SubjectKeyId = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
		t.CRLDistributionPoints = []string{"https://tdxtest.invalid/pckcrl"}
		t.ExtraExtensions = []pkix.Extension{{Id: oidSGX, Value: ext}}
	}); err != nil {
		return nil, err
	}

	s.TD = TDBody{
		TEETCBSVN:    [16]byte{6, 1, 3},
		TDAttributes: 1 << 28, // SEPT_VE_DISABLE, not DEBUG
		XFAM:         0x602e7,
	}
	copy(s.TD.MRSEAM[:], fill(48, 0x5e))
	copy(s.TD.MRTD[:], fill(48, 0x7d))
	copy(s.TD.MRConfigID[:], fill(48, 0xc0))
	copy(s.TD.MROwner[:], fill(48, 0x0e))
	copy(s.TD.MROwnerConfig[:], fill(48, 0x0c))
	for i := range s.TD.RTMR {
		copy(s.TD.RTMR[i][:], fill(48, byte(0xa0+i)))
	}
	s.TD.TEETCBSVN2 = [16]byte{6, 1, 3}
	s.QE = QEReport{MRSigner: IntelQEMRSigner, ISVProdID: 2, ISVSVN: 4, Attributes: [16]byte{0x11}}
	copy(s.QE.MREnclave[:], fill(32, 0x9e))
	s.AuthData = make([]byte, 32)
	for i := range s.AuthData {
		s.AuthData[i] = byte(i)
	}
	return s, nil
}

type oidValue struct {
	ID    asn1.ObjectIdentifier
	Value any
}

type oidSeq struct {
	ID    asn1.ObjectIdentifier
	Value []oidValue
}

func (s *Signer) sgxExtension() ([]byte, error) {
	var tcb []oidValue
	for i, c := range s.SGXComponents {
		tcb = append(tcb, oidValue{append(oidTCB[:len(oidTCB):len(oidTCB)], i+1), int(c)})
	}
	tcb = append(tcb,
		oidValue{append(oidTCB[:len(oidTCB):len(oidTCB)], 17), int(s.PCESVN)},
		oidValue{append(oidTCB[:len(oidTCB):len(oidTCB)], 18), s.SGXComponents[:]}, // CPUSVN
	)
	ppid := fill(16, 0x99)
	var parts []any
	parts = append(parts,
		oidValue{oidPPID, ppid},
		oidSeq{oidTCB, tcb},
		oidValue{oidPCEID, s.PCEID[:]},
		oidValue{oidFMSPC, s.FMSPC[:]},
		oidValue{oidSGXType, asn1.Enumerated(0)},
	)
	var raw []asn1.RawValue
	for _, p := range parts {
		b, err := asn1.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("tdxtest: SGX extension: %w", err)
		}
		raw = append(raw, asn1.RawValue{FullBytes: b})
	}
	return asn1.Marshal(raw)
}

// Roots returns the test root, for a verifier's InsecureTestRoots.
func (s *Signer) Roots() []*x509.Certificate { return []*x509.Certificate{s.Root} }

// PEM encodes certificates as concatenated PEM blocks.
func PEM(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// Header and body sizes ("Intel TDX DCAP Quoting Library API").
const (
	headerSize   = 48
	body10Size   = 584
	body15Size   = 648
	qeReportSize = 384
	teeTDX       = 0x81
	akECDSAP256  = 2
	bodyTypeTD15 = 3
	certPCKChain = 5
	certQEReport = 6
)

func (b *TDBody) bytes(rd [64]byte, v15 bool) []byte {
	out := make([]byte, 0, body15Size)
	out = append(out, b.TEETCBSVN[:]...)
	out = append(out, b.MRSEAM[:]...)
	out = append(out, b.MRSignerSEAM[:]...)
	out = binary.LittleEndian.AppendUint64(out, b.SEAMAttributes)
	out = binary.LittleEndian.AppendUint64(out, b.TDAttributes)
	out = binary.LittleEndian.AppendUint64(out, b.XFAM)
	out = append(out, b.MRTD[:]...)
	out = append(out, b.MRConfigID[:]...)
	out = append(out, b.MROwner[:]...)
	out = append(out, b.MROwnerConfig[:]...)
	for i := range b.RTMR {
		out = append(out, b.RTMR[i][:]...)
	}
	out = append(out, rd[:]...)
	if v15 {
		out = append(out, b.TEETCBSVN2[:]...)
		out = append(out, b.MRServiceTD[:]...)
	}
	return out
}

func (r *QEReport) bytes(rd [64]byte) []byte {
	out := make([]byte, qeReportSize)
	copy(out[0:16], r.CPUSVN[:])
	binary.LittleEndian.PutUint32(out[16:20], r.MiscSelect)
	copy(out[48:64], r.Attributes[:])
	copy(out[64:96], r.MREnclave[:])
	copy(out[128:160], r.MRSigner[:])
	binary.LittleEndian.PutUint16(out[256:258], r.ISVProdID)
	binary.LittleEndian.PutUint16(out[258:260], r.ISVSVN)
	copy(out[320:384], rd[:])
	return out
}

// sign returns the raw r||s ECDSA signature of SHA-256(msg).
func sign(k *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

func u16(b []byte, v int) []byte { return binary.LittleEndian.AppendUint16(b, uint16(v)) }
func u32(b []byte, v int) []byte { return binary.LittleEndian.AppendUint32(b, uint32(v)) }

// Quote makes a TDX quote binding rd.
func (s *Signer) Quote(rd [64]byte) ([]byte, error) {
	if s.Version != 4 && s.Version != 5 {
		return nil, fmt.Errorf("tdxtest: quote version %d (want 4 or 5)", s.Version)
	}
	signed := u16(nil, int(s.Version))
	signed = u16(signed, akECDSAP256)
	signed = u32(signed, teeTDX)
	signed = append(signed, make([]byte, 4)...) // reserved
	signed = append(signed, s.QEVendorID[:]...)
	signed = append(signed, make([]byte, 20)...) // user data
	if s.Version == 5 {
		signed = u16(signed, bodyTypeTD15)
		signed = u32(signed, body15Size)
	}
	signed = append(signed, s.TD.bytes(rd, s.Version == 5)...)

	ecdh, err := s.AttKey.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	attKey := ecdh.Bytes()[1:] // x||y without the 0x04 prefix
	quoteSig, err := sign(s.AttKey, signed)
	if err != nil {
		return nil, err
	}
	var qeRD [64]byte
	h := sha256.Sum256(append(bytes.Clone(attKey), s.AuthData...))
	copy(qeRD[:], h[:])
	qe := s.QE.bytes(qeRD)
	qeSig, err := sign(s.PCKKey, qe)
	if err != nil {
		return nil, err
	}
	chain := append(PEM(s.PCK, s.PlatformCA, s.Root), 0)

	inner := append(bytes.Clone(qe), qeSig...)
	inner = u16(inner, len(s.AuthData))
	inner = append(inner, s.AuthData...)
	inner = u16(inner, certPCKChain)
	inner = u32(inner, len(chain))
	inner = append(inner, chain...)

	sig := append(bytes.Clone(quoteSig), attKey...)
	sig = u16(sig, certQEReport)
	sig = u32(sig, len(inner))
	sig = append(sig, inner...)

	q := u32(signed, len(sig))
	return append(q, sig...), nil
}

// IsSupported returns nil: with GetRawQuote, a Signer is a go-tdx-guest
// client.QuoteProvider (and a keeps/tdx QuoteProvider).
func (*Signer) IsSupported() error { return nil }

// GetRawQuote returns Quote(reportData).
func (s *Signer) GetRawQuote(reportData [64]byte) ([]byte, error) { return s.Quote(reportData) }

// ConfigfsClient returns a fake configfs-tsm (go-configfs-tsm's faketsm,
// Linux 6.11 attributes) whose report provider is "tdx_guest" and whose
// outblob is s.Quote of the inblob (zero-padded to 64 bytes). Every inblob
// written is sent to inblobs when it is not nil (without blocking).
func (s *Signer) ConfigfsClient(inblobs chan<- []byte) configfsi.Client {
	rep := faketsm.Report611(0)
	fallback := rep.ReadAttr
	rep.ReadAttr = func(e *faketsm.ReportEntry, attr string) ([]byte, error) {
		switch attr {
		case "provider":
			return []byte("tdx_guest\n"), nil
		case "outblob":
			in, ok := e.InAttrs["inblob"]
			if !ok || len(in.Value) == 0 || len(in.Value) > 64 {
				return nil, syscall.EINVAL
			}
			if inblobs != nil {
				select {
				case inblobs <- bytes.Clone(in.Value):
				default:
				}
			}
			var rd [64]byte
			copy(rd[:], in.Value)
			return s.Quote(rd)
		}
		return fallback(e, attr)
	}
	return &faketsm.Client{Subsystems: map[string]configfsi.Client{"report": rep}}
}

// Collateral: what Signer.Collateral puts in a bundle.

// TCBLevel is a tcbInfo TCB level.
type TCBLevel struct {
	SGXComponents [16]byte
	PCESVN        uint16
	TDXComponents [16]byte
	Status        string
	Date          time.Time
	Advisories    []string
}

// Level is a TDX module identity or QE identity TCB level.
type Level struct {
	ISVSVN     uint16
	Status     string
	Date       time.Time
	Advisories []string
}

// CollateralSpec says what collateral to make. Zero fields take the
// defaults named.
type CollateralSpec struct {
	// IssueDate and NextUpdate of the tcbInfo, QE identity and CRLs
	// (default: the Signer's certificate validity).
	IssueDate, NextUpdate time.Time
	// TCBLevels of the tcbInfo (default: one UpToDate level equal to the
	// Signer's PCK TCB and TD TEE_TCB_SVN).
	TCBLevels []TCBLevel
	// ModuleLevels of the TDX module identity TDX_<TEE_TCB_SVN[1]>
	// (default: one UpToDate level at TEE_TCB_SVN[0]; none when
	// TEE_TCB_SVN[1] is 0).
	ModuleLevels []Level
	// QELevels of the QE identity (default: one UpToDate level at the QE's
	// ISVSVN).
	QELevels []Level
	// FMSPC of the tcbInfo (default: the Signer's).
	FMSPC *[6]byte
	// RevokePCK puts the PCK certificate on the PCK CRL.
	RevokePCK bool
	// TCBEvaluationDataNumber of tcbInfo and QE identity (default 17).
	TCBEvaluationDataNumber int
}

type jsonComp struct {
	SVN uint8 `json:"svn"`
}

type jsonTCB struct {
	SGX    []jsonComp `json:"sgxtcbcomponents,omitempty"`
	PCESVN *uint16    `json:"pcesvn,omitempty"`
	TDX    []jsonComp `json:"tdxtcbcomponents,omitempty"`
	ISVSVN *uint16    `json:"isvsvn,omitempty"`
}

type jsonLevel struct {
	TCB        jsonTCB  `json:"tcb"`
	Date       string   `json:"tcbDate"`
	Status     string   `json:"tcbStatus"`
	Advisories []string `json:"advisoryIDs,omitempty"`
}

func comps(c [16]byte) []jsonComp {
	out := make([]jsonComp, 16)
	for i := range c {
		out[i].SVN = c[i]
	}
	return out
}

func date(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func idLevels(ls []Level) []jsonLevel {
	var out []jsonLevel
	for _, l := range ls {
		v := l.ISVSVN
		out = append(out, jsonLevel{TCB: jsonTCB{ISVSVN: &v}, Date: date(l.Date), Status: l.Status, Advisories: l.Advisories})
	}
	return out
}

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// Collateral makes a dcap-qvl JSON collateral bundle for the Signer's
// quotes, signed by its TCB Signing key and CAs.
func (s *Signer) Collateral(spec CollateralSpec) ([]byte, error) {
	if spec.IssueDate.IsZero() {
		spec.IssueDate = s.Root.NotBefore
	}
	if spec.NextUpdate.IsZero() {
		spec.NextUpdate = s.Root.NotAfter
	}
	if spec.TCBEvaluationDataNumber == 0 {
		spec.TCBEvaluationDataNumber = 17
	}
	fmspc := s.FMSPC
	if spec.FMSPC != nil {
		fmspc = *spec.FMSPC
	}
	tcbDate := spec.IssueDate.Add(-24 * time.Hour)
	if spec.TCBLevels == nil {
		spec.TCBLevels = []TCBLevel{{SGXComponents: s.SGXComponents, PCESVN: s.PCESVN, TDXComponents: s.TD.TEETCBSVN, Status: "UpToDate", Date: tcbDate}}
	}
	if spec.ModuleLevels == nil && s.TD.TEETCBSVN[1] != 0 {
		spec.ModuleLevels = []Level{{ISVSVN: uint16(s.TD.TEETCBSVN[0]), Status: "UpToDate", Date: tcbDate}}
	}
	if spec.QELevels == nil {
		spec.QELevels = []Level{{ISVSVN: s.QE.ISVSVN, Status: "UpToDate", Date: tcbDate}}
	}

	var levels []jsonLevel
	for _, l := range spec.TCBLevels {
		p := l.PCESVN
		levels = append(levels, jsonLevel{TCB: jsonTCB{SGX: comps(l.SGXComponents), PCESVN: &p, TDX: comps(l.TDXComponents)}, Date: date(l.Date), Status: l.Status, Advisories: l.Advisories})
	}
	type module struct {
		MRSigner       string      `json:"mrsigner"`
		Attributes     string      `json:"attributes"`
		AttributesMask string      `json:"attributesMask"`
		ID             string      `json:"id,omitempty"`
		TCBLevels      []jsonLevel `json:"tcbLevels,omitempty"`
	}
	seam := make([]byte, 8)
	binary.LittleEndian.PutUint64(seam, s.TD.SEAMAttributes)
	mod := module{MRSigner: hexUpper(s.TD.MRSignerSEAM[:]), Attributes: hexUpper(seam), AttributesMask: "FFFFFFFFFFFFFFFF"}
	var ids []module
	if s.TD.TEETCBSVN[1] != 0 {
		id := mod
		id.ID = fmt.Sprintf("TDX_%02X", s.TD.TEETCBSVN[1])
		id.TCBLevels = idLevels(spec.ModuleLevels)
		ids = append(ids, id)
	}
	tcbInfo, err := json.Marshal(struct {
		ID         string      `json:"id"`
		Version    int         `json:"version"`
		IssueDate  string      `json:"issueDate"`
		NextUpdate string      `json:"nextUpdate"`
		FMSPC      string      `json:"fmspc"`
		PCEID      string      `json:"pceId"`
		TCBType    int         `json:"tcbType"`
		EvalNumber int         `json:"tcbEvaluationDataNumber"`
		TDXModule  module      `json:"tdxModule"`
		Identities []module    `json:"tdxModuleIdentities,omitempty"`
		TCBLevels  []jsonLevel `json:"tcbLevels"`
	}{"TDX", 3, date(spec.IssueDate), date(spec.NextUpdate), hexUpper(fmspc[:]), hexUpper(s.PCEID[:]), 0, spec.TCBEvaluationDataNumber, mod, ids, levels})
	if err != nil {
		return nil, err
	}
	misc := make([]byte, 4)
	binary.LittleEndian.PutUint32(misc, s.QE.MiscSelect)
	qeIdentity, err := json.Marshal(struct {
		ID             string      `json:"id"`
		Version        int         `json:"version"`
		IssueDate      string      `json:"issueDate"`
		NextUpdate     string      `json:"nextUpdate"`
		EvalNumber     int         `json:"tcbEvaluationDataNumber"`
		MiscSelect     string      `json:"miscselect"`
		MiscSelectMask string      `json:"miscselectMask"`
		Attributes     string      `json:"attributes"`
		AttributesMask string      `json:"attributesMask"`
		MRSigner       string      `json:"mrsigner"`
		ISVProdID      uint16      `json:"isvprodid"`
		TCBLevels      []jsonLevel `json:"tcbLevels"`
	}{"TD_QE", 2, date(spec.IssueDate), date(spec.NextUpdate), spec.TCBEvaluationDataNumber,
		hexUpper(misc), "FFFFFFFF", hexUpper(s.QE.Attributes[:]), "FBFFFFFFFFFFFFFF0000000000000000",
		hexUpper(s.QE.MRSigner[:]), s.QE.ISVProdID, idLevels(spec.QELevels)})
	if err != nil {
		return nil, err
	}
	tcbSig, err := sign(s.TCBSigningKey, tcbInfo)
	if err != nil {
		return nil, err
	}
	qeSig, err := sign(s.TCBSigningKey, qeIdentity)
	if err != nil {
		return nil, err
	}
	rootCRL, err := s.crl(s.Root, s.RootKey, spec)
	if err != nil {
		return nil, err
	}
	var revoked []*x509.Certificate
	if spec.RevokePCK {
		revoked = append(revoked, s.PCK)
	}
	pckCRL, err := s.crl(s.PlatformCA, s.PlatformCAKey, spec, revoked...)
	if err != nil {
		return nil, err
	}
	signingChain := string(PEM(s.TCBSigning, s.Root))
	return json.MarshalIndent(map[string]string{
		"pck_crl_issuer_chain":     string(PEM(s.PlatformCA, s.Root)),
		"root_ca_crl":              hex.EncodeToString(rootCRL),
		"pck_crl":                  hex.EncodeToString(pckCRL),
		"tcb_info_issuer_chain":    signingChain,
		"tcb_info":                 string(tcbInfo),
		"tcb_info_signature":       hex.EncodeToString(tcbSig),
		"qe_identity_issuer_chain": signingChain,
		"qe_identity":              string(qeIdentity),
		"qe_identity_signature":    hex.EncodeToString(qeSig),
	}, "", "  ")
}

var crlNumber struct {
	sync.Mutex
	n int64
}

func (s *Signer) crl(issuer *x509.Certificate, key *ecdsa.PrivateKey, spec CollateralSpec, revoke ...*x509.Certificate) ([]byte, error) {
	crlNumber.Lock()
	crlNumber.n++
	n := crlNumber.n
	crlNumber.Unlock()
	var entries []x509.RevocationListEntry
	for _, c := range revoke {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: spec.IssueDate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(n),
		ThisUpdate:                spec.IssueDate,
		NextUpdate:                spec.NextUpdate,
		RevokedCertificateEntries: entries,
		SignatureAlgorithm:        x509.ECDSAWithSHA256,
	}, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("tdxtest: CRL of %s: %w", issuer.Subject.CommonName, err)
	}
	return der, nil
}
