package intel

// Intel DCAP collateral: what a verifier needs besides the quote to judge
// the platform's TCB, in the JSON bundle format of dcap-qvl
// ("QuoteCollateralV3"), which is also what its get_collateral tools
// write:
//
//	{
//	  "pck_crl_issuer_chain":     PEM: PCK CA, Root CA,
//	  "root_ca_crl":              hex of the DER CRL of the Intel SGX Root CA,
//	  "pck_crl":                  hex of the DER CRL of the PCK CA (Processor or Platform),
//	  "tcb_info_issuer_chain":    PEM: TCB Signing certificate, Root CA,
//	  "tcb_info":                 the tcbInfo JSON object, as a string (the signed bytes),
//	  "tcb_info_signature":       hex of the 64-byte r||s ECDSA P-256 signature of tcb_info,
//	  "qe_identity_issuer_chain": PEM: TCB Signing certificate, Root CA,
//	  "qe_identity":              the enclaveIdentity JSON object, as a string,
//	  "qe_identity_signature":    hex of its signature
//	}
//
// The tcbInfo (version 3) and enclaveIdentity (version 2) objects are those
// of Intel PCS API v4 ("Intel SGX and Intel TDX Provisioning Certification
// Service API", "TCB Info" and "Enclave Identity" responses; field names
// below are Intel's).

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Size limits of collateral. Real bundles are 14 to 19 KiB.
const (
	// MaxCollateralSize bounds a whole collateral bundle.
	MaxCollateralSize = 1 << 20
	// maxCRLSize bounds one DER CRL (real PCK CRLs are a few KiB).
	maxCRLSize = 256 << 10
	// maxSignedJSONSize bounds the tcbInfo and QE identity objects.
	maxSignedJSONSize = 256 << 10
	// maxLevels bounds the TCB levels of a tcbInfo, a TDX module identity
	// or a QE identity, and the TDX module identities of a tcbInfo.
	maxLevels = 256
	// maxAdvisories bounds the advisory IDs of one TCB level.
	maxAdvisories = 256
)

// TCBStatus is a TCB status class of Intel's tcbInfo and enclave identity
// ("tcbStatus").
type TCBStatus string

// The TCB status classes.
const (
	TCBUpToDate                          TCBStatus = "UpToDate"
	TCBSWHardeningNeeded                 TCBStatus = "SWHardeningNeeded"
	TCBConfigurationNeeded               TCBStatus = "ConfigurationNeeded"
	TCBConfigurationAndSWHardeningNeeded TCBStatus = "ConfigurationAndSWHardeningNeeded"
	TCBOutOfDate                         TCBStatus = "OutOfDate"
	TCBOutOfDateConfigurationNeeded      TCBStatus = "OutOfDateConfigurationNeeded"
	TCBRevoked                           TCBStatus = "Revoked"
)

func (s TCBStatus) valid() bool {
	switch s {
	case TCBUpToDate, TCBSWHardeningNeeded, TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded,
		TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBRevoked:
		return true
	}
	return false
}

// HexBytes is a byte string written in hex (either case) in JSON.
type HexBytes []byte

// UnmarshalJSON decodes a JSON string of hex digits.
func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("not hex: %v", err)
	}
	*h = d
	return nil
}

// MarshalJSON encodes h as upper-case hex, as Intel writes it.
func (h HexBytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(fmt.Sprintf("%X", []byte(h)))
}

// TCBComponent is one SVN of a TCB level.
type TCBComponent struct {
	SVN      uint8  `json:"svn"`
	Category string `json:"category,omitempty"`
	Type     string `json:"type,omitempty"`
}

// TCB is the "tcb" object of a tcbInfo TCB level.
type TCB struct {
	// SGXComponents are the 16 "sgxtcbcomponents".
	SGXComponents []TCBComponent `json:"sgxtcbcomponents"`
	// TDXComponents are the 16 "tdxtcbcomponents" (TDX tcbInfo only).
	TDXComponents []TCBComponent `json:"tdxtcbcomponents,omitempty"`
	PCESVN        uint16         `json:"pcesvn"`
}

// TCBLevel is one entry of a tcbInfo's "tcbLevels".
type TCBLevel struct {
	TCB         TCB       `json:"tcb"`
	TCBDate     time.Time `json:"tcbDate"`
	TCBStatus   TCBStatus `json:"tcbStatus"`
	AdvisoryIDs []string  `json:"advisoryIDs,omitempty"`
}

// IdentityTCBLevel is one TCB level of an enclave identity or TDX module
// identity: an ISVSVN and its status.
type IdentityTCBLevel struct {
	TCB struct {
		ISVSVN uint16 `json:"isvsvn"`
	} `json:"tcb"`
	TCBDate     time.Time `json:"tcbDate"`
	TCBStatus   TCBStatus `json:"tcbStatus"`
	AdvisoryIDs []string  `json:"advisoryIDs,omitempty"`
}

// TDXModule is a tcbInfo's "tdxModule": the expected signer and
// attributes of the TDX module when the quote's TEE_TCB_SVN[1] is 0.
type TDXModule struct {
	MRSigner       HexBytes `json:"mrsigner"`
	Attributes     HexBytes `json:"attributes"`
	AttributesMask HexBytes `json:"attributesMask"`
}

// TDXModuleIdentity is one of a tcbInfo's "tdxModuleIdentities" (id
// "TDX_<major version in two hex digits>").
type TDXModuleIdentity struct {
	ID string `json:"id"`
	TDXModule
	TCBLevels []IdentityTCBLevel `json:"tcbLevels"`
}

// TCBInfo is Intel's tcbInfo object, version 3, for SGX ("id": "SGX") or
// TDX ("id": "TDX").
type TCBInfo struct {
	ID                      string              `json:"id"`
	Version                 int                 `json:"version"`
	IssueDate               time.Time           `json:"issueDate"`
	NextUpdate              time.Time           `json:"nextUpdate"`
	FMSPC                   HexBytes            `json:"fmspc"`
	PCEID                   HexBytes            `json:"pceId"`
	TCBType                 int                 `json:"tcbType"`
	TCBEvaluationDataNumber int                 `json:"tcbEvaluationDataNumber"`
	TDXModule               *TDXModule          `json:"tdxModule,omitempty"`
	TDXModuleIdentities     []TDXModuleIdentity `json:"tdxModuleIdentities,omitempty"`
	TCBLevels               []TCBLevel          `json:"tcbLevels"`
}

// EnclaveIdentity is Intel's enclaveIdentity object, version 2: the
// identity of the quoting enclave ("id": "QE" for SGX quotes, "TD_QE" for
// TDX quotes; "QVE" is the quote verification enclave's).
type EnclaveIdentity struct {
	ID                      string             `json:"id"`
	Version                 int                `json:"version"`
	IssueDate               time.Time          `json:"issueDate"`
	NextUpdate              time.Time          `json:"nextUpdate"`
	TCBEvaluationDataNumber int                `json:"tcbEvaluationDataNumber"`
	MiscSelect              HexBytes           `json:"miscselect"`
	MiscSelectMask          HexBytes           `json:"miscselectMask"`
	Attributes              HexBytes           `json:"attributes"`
	AttributesMask          HexBytes           `json:"attributesMask"`
	MRSigner                HexBytes           `json:"mrsigner"`
	ISVProdID               uint16             `json:"isvprodid"`
	TCBLevels               []IdentityTCBLevel `json:"tcbLevels"`
}

// Collateral is a parsed collateral bundle. Nothing in it is verified
// yet: EvaluateTCB checks its signatures, chains, CRLs and dates.
type Collateral struct {
	// PCKCRLIssuerChain is the PCK CRL's issuer chain as the bundle
	// carries it. EvaluateTCB does not rely on it: it checks the PCK CRL
	// against the PCK CA of the quote's verified chain.
	PCKCRLIssuerChain []*x509.Certificate
	// RootCACRL is the Intel SGX Root CA's CRL (revoking PCK CAs and TCB
	// Signing certificates).
	RootCACRL *x509.RevocationList
	// PCKCRL is the PCK CA's CRL (revoking PCK leaf certificates).
	PCKCRL *x509.RevocationList
	// TCBInfoIssuerChain is the TCB Signing certificate and the root.
	TCBInfoIssuerChain []*x509.Certificate
	// RawTCBInfo is the exact tcbInfo bytes TCBInfoSignature signs.
	RawTCBInfo       []byte
	TCBInfo          *TCBInfo
	TCBInfoSignature [64]byte
	// QEIdentityIssuerChain is the TCB Signing certificate and the root.
	QEIdentityIssuerChain []*x509.Certificate
	// RawQEIdentity is the exact enclaveIdentity bytes
	// QEIdentitySignature signs.
	RawQEIdentity       []byte
	QEIdentity          *EnclaveIdentity
	QEIdentitySignature [64]byte
}

type collateralJSON struct {
	PCKCRLIssuerChain     *string `json:"pck_crl_issuer_chain"`
	RootCACRL             *string `json:"root_ca_crl"`
	PCKCRL                *string `json:"pck_crl"`
	TCBInfoIssuerChain    *string `json:"tcb_info_issuer_chain"`
	TCBInfo               *string `json:"tcb_info"`
	TCBInfoSignature      *string `json:"tcb_info_signature"`
	QEIdentityIssuerChain *string `json:"qe_identity_issuer_chain"`
	QEIdentity            *string `json:"qe_identity"`
	QEIdentitySignature   *string `json:"qe_identity_signature"`
}

// ParseCollateral parses a dcap-qvl JSON collateral bundle (format at the
// top of this file). Every field is required; other fields are ignored.
// It checks sizes and syntax (PEM chains, DER CRLs, hex, the tcbInfo and
// QE identity objects and their versions) but no signature or date.
// Errors wrap ErrCollateral.
func ParseCollateral(data []byte) (*Collateral, error) {
	if len(data) > MaxCollateralSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrCollateral, len(data), MaxCollateralSize)
	}
	var j collateralJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCollateral, err)
	}
	for _, f := range []struct {
		v    *string
		name string
	}{
		{j.PCKCRLIssuerChain, "pck_crl_issuer_chain"}, {j.RootCACRL, "root_ca_crl"}, {j.PCKCRL, "pck_crl"},
		{j.TCBInfoIssuerChain, "tcb_info_issuer_chain"}, {j.TCBInfo, "tcb_info"}, {j.TCBInfoSignature, "tcb_info_signature"},
		{j.QEIdentityIssuerChain, "qe_identity_issuer_chain"}, {j.QEIdentity, "qe_identity"}, {j.QEIdentitySignature, "qe_identity_signature"},
	} {
		if f.v == nil {
			return nil, fmt.Errorf("%w: no %q", ErrCollateral, f.name)
		}
	}
	c := &Collateral{}
	var err error
	if c.PCKCRLIssuerChain, err = parseIssuerChain(*j.PCKCRLIssuerChain, "pck_crl_issuer_chain"); err != nil {
		return nil, err
	}
	if c.TCBInfoIssuerChain, err = parseIssuerChain(*j.TCBInfoIssuerChain, "tcb_info_issuer_chain"); err != nil {
		return nil, err
	}
	if c.QEIdentityIssuerChain, err = parseIssuerChain(*j.QEIdentityIssuerChain, "qe_identity_issuer_chain"); err != nil {
		return nil, err
	}
	if c.RootCACRL, err = parseHexCRL(*j.RootCACRL, "root_ca_crl"); err != nil {
		return nil, err
	}
	if c.PCKCRL, err = parseHexCRL(*j.PCKCRL, "pck_crl"); err != nil {
		return nil, err
	}
	if err := parseSignature(*j.TCBInfoSignature, &c.TCBInfoSignature, "tcb_info_signature"); err != nil {
		return nil, err
	}
	if err := parseSignature(*j.QEIdentitySignature, &c.QEIdentitySignature, "qe_identity_signature"); err != nil {
		return nil, err
	}
	c.RawTCBInfo = []byte(*j.TCBInfo)
	if c.TCBInfo, err = ParseTCBInfo(c.RawTCBInfo); err != nil {
		return nil, err
	}
	c.RawQEIdentity = []byte(*j.QEIdentity)
	if c.QEIdentity, err = ParseEnclaveIdentity(c.RawQEIdentity); err != nil {
		return nil, err
	}
	return c, nil
}

func parseIssuerChain(s, name string) ([]*x509.Certificate, error) {
	ders, err := splitPEMChain([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCollateral, name, err)
	}
	if len(ders) > maxIssuerChain {
		return nil, fmt.Errorf("%w: %s has %d certificates, at most %d", ErrCollateral, name, len(ders), maxIssuerChain)
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %s certificate %d: %v", ErrCollateral, name, i, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

func parseHexCRL(s, name string) (*x509.RevocationList, error) {
	if len(s) > 2*maxCRLSize {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrCollateral, name, maxCRLSize)
	}
	der, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not hex: %v", ErrCollateral, name, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCollateral, name, err)
	}
	return crl, nil
}

func parseSignature(s string, dst *[64]byte, name string) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 64 {
		return fmt.Errorf("%w: %s is not 64 bytes of hex (r||s)", ErrCollateral, name)
	}
	copy(dst[:], b)
	return nil
}

// decodeStrict unmarshals one JSON value and refuses data after it.
// Unknown fields are ignored: the objects are Intel-signed, and Intel adds
// fields over time.
func decodeStrict(data []byte, v any, what string) error {
	if len(data) > maxSignedJSONSize {
		return fmt.Errorf("%w: %s of %d bytes, at most %d", ErrCollateral, what, len(data), maxSignedJSONSize)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCollateral, what, err)
	}
	if d.More() {
		return fmt.Errorf("%w: %s: data after the object", ErrCollateral, what)
	}
	return nil
}

func checkLen(b []byte, n int, what string) error {
	if len(b) != n {
		return fmt.Errorf("%w: %s has %d bytes, want %d", ErrCollateral, what, len(b), n)
	}
	return nil
}

func checkDates(issue, next time.Time, what string) error {
	if issue.IsZero() || next.IsZero() || !issue.Before(next) {
		return fmt.Errorf("%w: %s: issueDate %s is not before nextUpdate %s", ErrCollateral, what, issue.Format(time.RFC3339), next.Format(time.RFC3339))
	}
	return nil
}

func checkLevelStatus(s TCBStatus, adv []string, what string) error {
	if !s.valid() {
		return fmt.Errorf("%w: %s: unknown tcbStatus %q", ErrCollateral, what, s)
	}
	if len(adv) > maxAdvisories {
		return fmt.Errorf("%w: %s: %d advisory IDs, at most %d", ErrCollateral, what, len(adv), maxAdvisories)
	}
	return nil
}

func checkIdentityLevels(levels []IdentityTCBLevel, what string) error {
	if len(levels) == 0 || len(levels) > maxLevels {
		return fmt.Errorf("%w: %s has %d TCB levels (want 1 to %d)", ErrCollateral, what, len(levels), maxLevels)
	}
	for i, l := range levels {
		if err := checkLevelStatus(l.TCBStatus, l.AdvisoryIDs, fmt.Sprintf("%s TCB level %d", what, i)); err != nil {
			return err
		}
	}
	return nil
}

// ParseTCBInfo parses and checks the syntax of a tcbInfo object, version
// 3: id "SGX" or "TDX", a 6-byte FMSPC, a 2-byte PCE-ID, issueDate before
// nextUpdate, 1 to 256 TCB levels with 16 SGX components each (and 16 TDX
// components each for TDX), known status values, and, when present, the
// TDX module and module identities with 48-byte signers and 8-byte
// attributes and masks.
func ParseTCBInfo(data []byte) (*TCBInfo, error) {
	var t TCBInfo
	if err := decodeStrict(data, &t, "tcbInfo"); err != nil {
		return nil, err
	}
	if t.Version != 3 {
		return nil, fmt.Errorf("%w: tcbInfo version %d, want 3", ErrCollateral, t.Version)
	}
	if t.ID != "SGX" && t.ID != "TDX" {
		return nil, fmt.Errorf("%w: tcbInfo id %q, want SGX or TDX", ErrCollateral, t.ID)
	}
	if err := checkLen(t.FMSPC, 6, "tcbInfo fmspc"); err != nil {
		return nil, err
	}
	if err := checkLen(t.PCEID, 2, "tcbInfo pceId"); err != nil {
		return nil, err
	}
	if err := checkDates(t.IssueDate, t.NextUpdate, "tcbInfo"); err != nil {
		return nil, err
	}
	if len(t.TCBLevels) == 0 || len(t.TCBLevels) > maxLevels {
		return nil, fmt.Errorf("%w: tcbInfo has %d TCB levels (want 1 to %d)", ErrCollateral, len(t.TCBLevels), maxLevels)
	}
	for i, l := range t.TCBLevels {
		what := fmt.Sprintf("tcbInfo TCB level %d", i)
		if len(l.TCB.SGXComponents) != 16 {
			return nil, fmt.Errorf("%w: %s has %d SGX components, want 16", ErrCollateral, what, len(l.TCB.SGXComponents))
		}
		if t.ID == "TDX" && len(l.TCB.TDXComponents) != 16 {
			return nil, fmt.Errorf("%w: %s has %d TDX components, want 16", ErrCollateral, what, len(l.TCB.TDXComponents))
		}
		if err := checkLevelStatus(l.TCBStatus, l.AdvisoryIDs, what); err != nil {
			return nil, err
		}
	}
	if t.TDXModule != nil {
		if err := checkTDXModule(t.TDXModule, "tcbInfo tdxModule"); err != nil {
			return nil, err
		}
	}
	if len(t.TDXModuleIdentities) > maxLevels {
		return nil, fmt.Errorf("%w: tcbInfo has %d TDX module identities, at most %d", ErrCollateral, len(t.TDXModuleIdentities), maxLevels)
	}
	for i := range t.TDXModuleIdentities {
		m := &t.TDXModuleIdentities[i]
		what := fmt.Sprintf("tcbInfo TDX module identity %q", m.ID)
		if err := checkTDXModule(&m.TDXModule, what); err != nil {
			return nil, err
		}
		if err := checkIdentityLevels(m.TCBLevels, what); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

func checkTDXModule(m *TDXModule, what string) error {
	if err := checkLen(m.MRSigner, 48, what+" mrsigner"); err != nil {
		return err
	}
	if err := checkLen(m.Attributes, 8, what+" attributes"); err != nil {
		return err
	}
	return checkLen(m.AttributesMask, 8, what+" attributesMask")
}

// ParseEnclaveIdentity parses and checks the syntax of an enclaveIdentity
// object, version 2: a known id, issueDate before nextUpdate, 4-byte
// MISCSELECT and mask, 16-byte ATTRIBUTES and mask, a 32-byte MRSIGNER and
// 1 to 256 TCB levels with known status values.
func ParseEnclaveIdentity(data []byte) (*EnclaveIdentity, error) {
	var e EnclaveIdentity
	if err := decodeStrict(data, &e, "QE identity"); err != nil {
		return nil, err
	}
	if e.Version != 2 {
		return nil, fmt.Errorf("%w: QE identity version %d, want 2", ErrCollateral, e.Version)
	}
	switch e.ID {
	case "QE", "TD_QE", "QVE":
	default:
		return nil, fmt.Errorf("%w: QE identity id %q, want QE, TD_QE or QVE", ErrCollateral, e.ID)
	}
	if err := checkDates(e.IssueDate, e.NextUpdate, "QE identity"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		b    []byte
		n    int
		name string
	}{{e.MiscSelect, 4, "miscselect"}, {e.MiscSelectMask, 4, "miscselectMask"}, {e.Attributes, 16, "attributes"}, {e.AttributesMask, 16, "attributesMask"}, {e.MRSigner, 32, "mrsigner"}} {
		if err := checkLen(f.b, f.n, "QE identity "+f.name); err != nil {
			return nil, err
		}
	}
	if err := checkIdentityLevels(e.TCBLevels, "QE identity"); err != nil {
		return nil, err
	}
	return &e, nil
}
