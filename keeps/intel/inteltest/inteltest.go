package inteltest

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
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Common names Intel's hierarchy uses (and verifiers check).
const (
	CNProcessorCA = "Intel SGX PCK Processor CA"
	CNPlatformCA  = "Intel SGX PCK Platform CA"
	CNPCKLeaf     = "Intel SGX PCK Certificate"
	CNTCBSigning  = "Intel SGX TCB Signing"
	// CNRoot is the fake root's name; it is deliberately not Intel's.
	CNRoot = "Keep Test SGX Root CA"
)

// IntelQEVendorID is the QE vendor ID quotes get.
var IntelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// QEMRSigner is the MRSIGNER of Intel's quoting enclaves, which the
// default QE report and QE identity use.
var QEMRSigner = mustHex("8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// PKIOptions shape the fake hierarchy. The zero value gives a Processor
// CA, FMSPC 00A067110000, PCE-ID 0000, TCB components 11,11,2,2,255,1,0...
// and PCESVN 13 (the dcap-qvl SGX sample's values), all certificates
// valid 2020-01-01 to 2050-01-01.
type PKIOptions struct {
	NotBefore, NotAfter time.Time
	// LeafNotAfter, if set, ends the PCK leaf's validity early.
	LeafNotAfter time.Time
	// Platform makes the PCK CA the Platform CA.
	Platform      bool
	FMSPC         *[6]byte
	PCEID         [2]byte
	TCBComponents *[16]uint8
	PCESVN        *uint16
}

// PKI is a fake Intel PCK hierarchy with its private keys.
type PKI struct {
	Root, CA, Leaf, TCBSigner             *x509.Certificate
	RootKey, CAKey, LeafKey, TCBSignerKey *ecdsa.PrivateKey
	FMSPC                                 [6]byte
	PCEID                                 [2]byte
	TCBComponents                         [16]uint8
	PCESVN                                uint16
	notBefore, notAfter                   time.Time
	serial                                int64
}

var oidSGX = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

func sub(parent asn1.ObjectIdentifier, arc int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, parent...), arc)
}

type oidAny struct {
	ID    asn1.ObjectIdentifier
	Value any
}

// SGXExtension encodes the value of a PCK certificate's SGX extension.
func SGXExtension(fmspc [6]byte, pceID [2]byte, comps [16]uint8, pcesvn uint16, platform bool) ([]byte, error) {
	tcbOID := sub(oidSGX, 2)
	var tcb []oidAny
	for i, c := range comps {
		tcb = append(tcb, oidAny{sub(tcbOID, i+1), int(c)})
	}
	cpusvn := make([]byte, 16)
	copy(cpusvn, comps[:])
	tcb = append(tcb, oidAny{sub(tcbOID, 17), int(pcesvn)}, oidAny{sub(tcbOID, 18), cpusvn})
	tcbDER, err := asn1.Marshal(tcb)
	if err != nil {
		return nil, err
	}
	ppid := bytes.Repeat([]byte{0xaa}, 16)
	fields := []oidAny{
		{sub(oidSGX, 1), ppid},
		{sub(oidSGX, 2), asn1.RawValue{FullBytes: tcbDER}},
		{sub(oidSGX, 3), pceID[:]},
		{sub(oidSGX, 4), fmspc[:]},
		{sub(oidSGX, 5), asn1.Enumerated(0)},
	}
	if platform {
		fields[4].Value = asn1.Enumerated(1)
		fields = append(fields, oidAny{sub(oidSGX, 6), bytes.Repeat([]byte{0xbb}, 16)})
	}
	return asn1.Marshal(fields)
}

func (p *PKI) nextSerial() *big.Int {
	p.serial++
	return big.NewInt(p.serial)
}

func (p *PKI) issue(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	tmpl.SerialNumber = p.nextSerial()
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = p.notBefore
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = p.notAfter
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func name(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}}
}

// NewPKI makes a fresh hierarchy with new keys.
func NewPKI(o PKIOptions) (*PKI, error) {
	p := &PKI{notBefore: o.NotBefore, notAfter: o.NotAfter, PCEID: o.PCEID}
	if p.notBefore.IsZero() {
		p.notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if p.notAfter.IsZero() {
		p.notAfter = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	p.FMSPC = [6]byte{0x00, 0xa0, 0x67, 0x11, 0x00, 0x00}
	if o.FMSPC != nil {
		p.FMSPC = *o.FMSPC
	}
	p.TCBComponents = [16]uint8{11, 11, 2, 2, 255, 1}
	if o.TCBComponents != nil {
		p.TCBComponents = *o.TCBComponents
	}
	p.PCESVN = 13
	if o.PCESVN != nil {
		p.PCESVN = *o.PCESVN
	}
	var err error
	for _, k := range []**ecdsa.PrivateKey{&p.RootKey, &p.CAKey, &p.LeafKey, &p.TCBSignerKey} {
		if *k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	p.Root, err = p.issue(&x509.Certificate{
		Subject: name(CNRoot), IsCA: true, BasicConstraintsValid: true, MaxPathLen: 1,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, &p.RootKey.PublicKey, p.RootKey)
	if err != nil {
		return nil, err
	}
	caName := CNProcessorCA
	if o.Platform {
		caName = CNPlatformCA
	}
	p.CA, err = p.issue(&x509.Certificate{
		Subject: name(caName), IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.Root, &p.CAKey.PublicKey, p.RootKey)
	if err != nil {
		return nil, err
	}
	ext, err := SGXExtension(p.FMSPC, p.PCEID, p.TCBComponents, p.PCESVN, o.Platform)
	if err != nil {
		return nil, err
	}
	p.Leaf, err = p.issue(&x509.Certificate{
		Subject: name(CNPCKLeaf), BasicConstraintsValid: true, NotAfter: o.LeafNotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtraExtensions: []pkix.Extension{{Id: oidSGX, Value: ext}},
	}, p.CA, &p.LeafKey.PublicKey, p.CAKey)
	if err != nil {
		return nil, err
	}
	p.TCBSigner, err = p.issue(&x509.Certificate{
		Subject: name(CNTCBSigning), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}, p.Root, &p.TCBSignerKey.PublicKey, p.RootKey)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// PEM encodes certificates as a PEM chain.
func PEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// PCKChain is the PEM chain a quote carries: leaf, PCK CA, root,
// NUL-terminated as Intel's QE writes it.
func (p *PKI) PCKChain() []byte { return append(PEM(p.Leaf, p.CA, p.Root), 0) }

// SGXBody is the content of a 384-byte SGX report body (an enclave's, or
// the QE's).
type SGXBody struct {
	CPUSVN     [16]byte
	MiscSelect uint32
	Flags      uint64 // ATTRIBUTES.FLAGS
	XFRM       uint64
	MREnclave  [32]byte
	MRSigner   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
	ReportData [64]byte
}

// Bytes encodes the body ("Enclave Report Body" table); reserved and KSS
// fields are zero.
func (s SGXBody) Bytes() []byte {
	b := make([]byte, 384)
	copy(b[0:16], s.CPUSVN[:])
	binary.LittleEndian.PutUint32(b[16:], s.MiscSelect)
	binary.LittleEndian.PutUint64(b[48:], s.Flags)
	binary.LittleEndian.PutUint64(b[56:], s.XFRM)
	copy(b[64:96], s.MREnclave[:])
	copy(b[128:160], s.MRSigner[:])
	binary.LittleEndian.PutUint16(b[256:], s.ISVProdID)
	binary.LittleEndian.PutUint16(b[258:], s.ISVSVN)
	copy(b[320:384], s.ReportData[:])
	return b
}

// DefaultEnclave is a production-like enclave body: INIT and MODE64BIT
// set (not DEBUG), XFRM 0xe7.
func DefaultEnclave(rd [64]byte) SGXBody {
	var b SGXBody
	b.Flags = 0x05
	b.XFRM = 0xe7
	b.MREnclave[0], b.MRSigner[0] = 0xe1, 0x51
	b.ReportData = rd
	return b
}

// DefaultQE is a QE report body matching DefaultQEIdentity: Intel's QE
// MRSIGNER, ISVPRODID 1, ISVSVN 8, ATTRIBUTES INIT|PROVISIONKEY and
// MODE64BIT. Its REPORTDATA is set when the quote is made.
func DefaultQE() SGXBody {
	var b SGXBody
	b.Flags = 0x15
	b.XFRM = 0xe7
	copy(b.MRSigner[:], QEMRSigner)
	b.ISVProdID = 1
	b.ISVSVN = 8
	return b
}

// QuoteSpec describes a quote to make. The zero value makes a version 3
// SGX quote of DefaultEnclave with zero report data.
type QuoteSpec struct {
	// Version is 3 (default) or 4.
	Version uint16
	// TDX makes a version 4 TDX quote; Body must then be 584 bytes.
	TDX bool
	// Body is the raw body; nil means DefaultEnclave(zero).Bytes().
	Body []byte
	// QE is the QE report; nil means DefaultQE().
	QE *SGXBody
	// QEAuthData defaults to the 32 bytes 0, 1, ..., 31.
	QEAuthData []byte
	// Chain is the certification data (type 5); nil means PCKChain().
	Chain []byte
	// QEVendorID defaults to IntelQEVendorID.
	QEVendorID *[16]byte
}

func sign(k *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// Quote makes a quote signed through the hierarchy: a fresh attestation
// key signs header and body, the PCK leaf key signs the QE report, and the
// QE report binds the attestation key and QE auth data.
func (p *PKI) Quote(s QuoteSpec) ([]byte, error) {
	version := s.Version
	if version == 0 {
		version = 3
	}
	if version != 3 && version != 4 || s.TDX && version != 4 {
		return nil, errors.New("inteltest: version 3 (SGX) or 4 (SGX or TDX) only")
	}
	body := s.Body
	if body == nil {
		body = DefaultEnclave([64]byte{}).Bytes()
	}
	if want := map[bool]int{false: 384, true: 584}[s.TDX]; len(body) != want {
		return nil, fmt.Errorf("inteltest: body of %d bytes, want %d", len(body), want)
	}
	ak, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	akRaw, err := ak.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	akRaw = akRaw[1:]
	auth := s.QEAuthData
	if auth == nil {
		auth = make([]byte, 32)
		for i := range auth {
			auth[i] = byte(i)
		}
	}
	qe := DefaultQE()
	if s.QE != nil {
		qe = *s.QE
	}
	h := sha256.Sum256(append(append([]byte{}, akRaw...), auth...))
	qe.ReportData = [64]byte{}
	copy(qe.ReportData[:], h[:])
	qeRaw := qe.Bytes()
	qeSig, err := sign(p.LeafKey, qeRaw)
	if err != nil {
		return nil, err
	}
	chain := s.Chain
	if chain == nil {
		chain = p.PCKChain()
	}

	hdr := make([]byte, 48)
	binary.LittleEndian.PutUint16(hdr[0:], version)
	binary.LittleEndian.PutUint16(hdr[2:], 2) // ECDSA-256-with-P-256
	if s.TDX {
		binary.LittleEndian.PutUint32(hdr[4:], 0x81)
	}
	if version == 3 {
		binary.LittleEndian.PutUint16(hdr[8:], qe.ISVSVN)
		binary.LittleEndian.PutUint16(hdr[10:], p.PCESVN)
	}
	vendor := IntelQEVendorID
	if s.QEVendorID != nil {
		vendor = *s.QEVendorID
	}
	copy(hdr[12:28], vendor[:])
	signed := append(hdr, body...)
	quoteSig, err := sign(ak, signed)
	if err != nil {
		return nil, err
	}

	// QE report, its signature, auth data, PCK certification data.
	var qeCert bytes.Buffer
	qeCert.Write(qeRaw)
	qeCert.Write(qeSig)
	_ = binary.Write(&qeCert, binary.LittleEndian, uint16(len(auth)))
	qeCert.Write(auth)
	_ = binary.Write(&qeCert, binary.LittleEndian, uint16(5))
	_ = binary.Write(&qeCert, binary.LittleEndian, uint32(len(chain)))
	qeCert.Write(chain)

	var sd bytes.Buffer
	sd.Write(quoteSig)
	sd.Write(akRaw)
	if version == 3 {
		sd.Write(qeCert.Bytes())
	} else {
		_ = binary.Write(&sd, binary.LittleEndian, uint16(6))
		_ = binary.Write(&sd, binary.LittleEndian, uint32(qeCert.Len()))
		sd.Write(qeCert.Bytes())
	}
	out := append([]byte{}, signed...)
	out = binary.LittleEndian.AppendUint32(out, uint32(sd.Len()))
	return append(out, sd.Bytes()...), nil
}

// CollateralSpec describes a collateral bundle. Zero fields get defaults
// that make the PKI's default quote UpToDate.
type CollateralSpec struct {
	// IssueDate and NextUpdate are the dates of the tcbInfo, the QE
	// identity and both CRLs; defaults 2025-01-01 and 2025-02-01.
	IssueDate, NextUpdate time.Time
	// TCBInfo is the tcbInfo object; nil means DefaultTCBInfo.
	TCBInfo []byte
	// QEIdentity is the enclaveIdentity object; nil means
	// DefaultQEIdentity.
	QEIdentity []byte
	// RevokeLeaf puts the PCK leaf on the PCK CRL; RevokeCA puts the PCK
	// CA on the root CRL; RevokeTCBSigner puts the TCB Signing
	// certificate there.
	RevokeLeaf, RevokeCA, RevokeTCBSigner bool
	// PCKCRLSigner signs the PCK CRL instead of the PCK CA (with the
	// given issuer certificate), to make a CRL from the wrong CA.
	PCKCRLSigner    *ecdsa.PrivateKey
	PCKCRLSignerCrt *x509.Certificate
	// CorruptTCBInfoSignature and CorruptQEIdentitySignature flip a bit
	// of the signature.
	CorruptTCBInfoSignature, CorruptQEIdentitySignature bool
}

func (s *CollateralSpec) dates() (time.Time, time.Time) {
	from, until := s.IssueDate, s.NextUpdate
	if from.IsZero() {
		from = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if until.IsZero() {
		until = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	}
	return from, until
}

// TCBLevel is a level for DefaultTCBInfo-style objects.
type TCBLevel struct {
	Components [16]uint8
	PCESVN     uint16
	Status     string
	Advisories []string
}

type jsonComp struct {
	SVN uint8 `json:"svn"`
}

// TCBInfo returns an SGX tcbInfo object (version 3) for the PKI's FMSPC
// and PCE-ID with the given levels.
func (p *PKI) TCBInfo(from, until time.Time, levels ...TCBLevel) []byte {
	type tcb struct {
		SGX    []jsonComp `json:"sgxtcbcomponents"`
		PCESVN uint16     `json:"pcesvn"`
	}
	type level struct {
		TCB      tcb      `json:"tcb"`
		Date     string   `json:"tcbDate"`
		Status   string   `json:"tcbStatus"`
		Advisory []string `json:"advisoryIDs,omitempty"`
	}
	ls := []level{}
	for _, l := range levels {
		c := make([]jsonComp, 16)
		for i := range c {
			c[i].SVN = l.Components[i]
		}
		ls = append(ls, level{tcb{c, l.PCESVN}, "2024-03-13T00:00:00Z", l.Status, l.Advisories})
	}
	b, err := json.Marshal(map[string]any{
		"id": "SGX", "version": 3,
		"issueDate": from.UTC().Format(time.RFC3339), "nextUpdate": until.UTC().Format(time.RFC3339),
		"fmspc": fmt.Sprintf("%X", p.FMSPC), "pceId": fmt.Sprintf("%X", p.PCEID),
		"tcbType": 0, "tcbEvaluationDataNumber": 17, "tcbLevels": ls,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// DefaultTCBInfo has one UpToDate level equal to the PKI's TCB.
func (p *PKI) DefaultTCBInfo(from, until time.Time) []byte {
	return p.TCBInfo(from, until, TCBLevel{Components: p.TCBComponents, PCESVN: p.PCESVN, Status: "UpToDate"})
}

// QEIdentityLevel is an ISVSVN level of a QE identity.
type QEIdentityLevel struct {
	ISVSVN     uint16
	Status     string
	Advisories []string
}

// QEIdentity returns an enclaveIdentity object (version 2, id "QE")
// matching DefaultQE, with the given levels.
func QEIdentity(from, until time.Time, levels ...QEIdentityLevel) []byte {
	type level struct {
		TCB struct {
			ISVSVN uint16 `json:"isvsvn"`
		} `json:"tcb"`
		Date     string   `json:"tcbDate"`
		Status   string   `json:"tcbStatus"`
		Advisory []string `json:"advisoryIDs,omitempty"`
	}
	ls := []level{}
	for _, l := range levels {
		var x level
		x.TCB.ISVSVN, x.Date, x.Status, x.Advisory = l.ISVSVN, "2024-03-13T00:00:00Z", l.Status, l.Advisories
		ls = append(ls, x)
	}
	b, err := json.Marshal(map[string]any{
		"id": "QE", "version": 2,
		"issueDate": from.UTC().Format(time.RFC3339), "nextUpdate": until.UTC().Format(time.RFC3339),
		"tcbEvaluationDataNumber": 17,
		"miscselect":              "00000000", "miscselectMask": "FFFFFFFF",
		"attributes": "11000000000000000000000000000000", "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
		"mrsigner": fmt.Sprintf("%X", QEMRSigner), "isvprodid": 1, "tcbLevels": ls,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// DefaultQEIdentity has one UpToDate level at ISVSVN 8.
func DefaultQEIdentity(from, until time.Time) []byte {
	return QEIdentity(from, until, QEIdentityLevel{ISVSVN: 8, Status: "UpToDate"})
}

func (p *PKI) crl(issuer *x509.Certificate, key *ecdsa.PrivateKey, from, until time.Time, revoke ...*x509.Certificate) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, c := range revoke {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: from})
	}
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: from, NextUpdate: until, RevokedCertificateEntries: entries,
	}, issuer, key)
}

// Collateral makes a dcap-qvl JSON collateral bundle signed by the PKI.
func (p *PKI) Collateral(s CollateralSpec) ([]byte, error) {
	from, until := s.dates()
	tcbInfo := s.TCBInfo
	if tcbInfo == nil {
		tcbInfo = p.DefaultTCBInfo(from, until)
	}
	qeID := s.QEIdentity
	if qeID == nil {
		qeID = DefaultQEIdentity(from, until)
	}
	var rootRevoked, pckRevoked []*x509.Certificate
	if s.RevokeCA {
		rootRevoked = append(rootRevoked, p.CA)
	}
	if s.RevokeTCBSigner {
		rootRevoked = append(rootRevoked, p.TCBSigner)
	}
	if s.RevokeLeaf {
		pckRevoked = append(pckRevoked, p.Leaf)
	}
	rootCRL, err := p.crl(p.Root, p.RootKey, from, until, rootRevoked...)
	if err != nil {
		return nil, err
	}
	crlIssuer, crlKey := p.CA, p.CAKey
	if s.PCKCRLSigner != nil {
		crlIssuer, crlKey = s.PCKCRLSignerCrt, s.PCKCRLSigner
	}
	pckCRL, err := p.crl(crlIssuer, crlKey, from, until, pckRevoked...)
	if err != nil {
		return nil, err
	}
	tcbSig, err := sign(p.TCBSignerKey, tcbInfo)
	if err != nil {
		return nil, err
	}
	qeSig, err := sign(p.TCBSignerKey, qeID)
	if err != nil {
		return nil, err
	}
	if s.CorruptTCBInfoSignature {
		tcbSig[5] ^= 1
	}
	if s.CorruptQEIdentitySignature {
		qeSig[5] ^= 1
	}
	signing := string(PEM(p.TCBSigner, p.Root))
	return json.Marshal(map[string]string{
		"pck_crl_issuer_chain":     string(PEM(p.CA, p.Root)),
		"root_ca_crl":              hex.EncodeToString(rootCRL),
		"pck_crl":                  hex.EncodeToString(pckCRL),
		"tcb_info_issuer_chain":    signing,
		"tcb_info":                 string(tcbInfo),
		"tcb_info_signature":       hex.EncodeToString(tcbSig),
		"qe_identity_issuer_chain": signing,
		"qe_identity":              string(qeID),
		"qe_identity_signature":    hex.EncodeToString(qeSig),
	})
}
