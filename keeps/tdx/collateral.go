package tdx

// Intel DCAP collateral for TDX: the dcap-qvl JSON bundle users give, and
// the HTTPS getters through which go-tdx-guest's verify package reads it.
//
// go-tdx-guest only knows how to fetch collateral from Intel PCS (Intel
// "Provisioning Certification Service for ECDSA Attestation" API v4): it
// calls a trust.HTTPSGetter with the PCS URLs (pcs.TcbInfoURL,
// pcs.QeIdentityURL, pcs.PckCrlURL and the CRL distribution point of the
// Intel SGX Root CA) and reads the issuer chains from the response headers
// "TCB-Info-Issuer-Chain", "SGX-Enclave-Identity-Issuer-Chain" and
// "SGX-PCK-CRL-Issuer-Chain" (URL-encoded PEM, signer then root). A
// bundle is served to it by bundleGetter, which answers exactly those URLs
// from the bundle and nothing else; network fetches go through pcsGetter,
// with size and time limits.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/pcs"
	"github.com/google/go-tdx-guest/verify/trust"
)

// CollateralName is the key of Intel DCAP collateral in
// keeps.VerifyOptions.Collateral (the same key the SGX backend reads). Its
// value is a collateral bundle in dcap-qvl's JSON format (ParseCollateral).
const CollateralName = "intel"

// MaxCollateralSize bounds a collateral bundle (1 MiB). Real TDX bundles
// are under 20 KiB, most of it the PCK CRL.
const MaxCollateralSize = 1 << 20

// maxPCSResponse bounds one response from Intel PCS (512 KiB; the largest,
// a PCK CRL, is tens of KiB).
const maxPCSResponse = 512 << 10

// pcsTimeout bounds one request to Intel PCS when the caller gave no
// deadline of its own.
const pcsTimeout = 30 * time.Second

// Issuer CNs of the PCK CRL ("Intel SGX PCK Certificate and Certificate
// Revocation List Profile Specification") and go-tdx-guest's names for
// them in pcs.PckCrlURL.
const (
	cnPlatformCA  = "Intel SGX PCK Platform CA"
	cnProcessorCA = "Intel SGX PCK Processor CA"
	caPlatform    = "platform"
	caProcessor   = "processor"
)

// Collateral is a parsed dcap-qvl collateral bundle (dcap-qvl's
// QuoteCollateralV3), held in the form Intel PCS serves it.
type Collateral struct {
	// FMSPC is the tcbInfo's FMSPC, upper-case hex.
	FMSPC string
	// PCKCA is the PCK CA that issued the PCK CRL: "platform" or
	// "processor" (pcs.PckCrlURL's names).
	PCKCA string
	// TCBInfo and QEIdentity are the parsed signed bodies (unverified:
	// go-tdx-guest verifies them against the quote).
	TCBInfo    pcs.TcbInfo
	QEIdentity pcs.EnclaveIdentity

	tcbInfoBody, qeIdentityBody   []byte // PCS response bodies
	tcbInfoChain, qeIdentityChain string // URL-encoded PEM, signer then root
	pckCRLChain                   string
	pckCRL, rootCRL               []byte // DER
	rootCRLURLs                   []string
}

// collateralJSON is dcap-qvl's QuoteCollateralV3 in JSON. tcb_info and
// qe_identity are JSON strings holding the exact signed bytes; signatures
// are hex r||s; CRLs are hex DER; chains are PEM (signer, then root).
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

// ErrCollateral is wrapped by every error about collateral: a malformed
// bundle, collateral that does not verify, is not valid at the
// verification time, or is not for the quote's platform.
var ErrCollateral = errors.New("tdx: bad collateral")

func collateralErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCollateral, fmt.Sprintf(format, a...))
}

// ParseCollateral parses a dcap-qvl JSON collateral bundle for a TDX quote:
// an object with the string members pck_crl_issuer_chain, root_ca_crl,
// pck_crl, tcb_info_issuer_chain, tcb_info, tcb_info_signature,
// qe_identity_issuer_chain, qe_identity and qe_identity_signature (other
// members are ignored). It checks the form only: sizes, hex, PEM chains of
// exactly two certificates, parsable CRLs, a tcbInfo with id "TDX" and a
// QE identity with id "TD_QE". Signatures, dates and the match with a
// quote are for the verifier. Errors wrap ErrCollateral.
func ParseCollateral(data []byte) (*Collateral, error) {
	if len(data) > MaxCollateralSize {
		return nil, collateralErr("%d bytes, at most %d", len(data), MaxCollateralSize)
	}
	var j collateralJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, collateralErr("not dcap-qvl collateral JSON: %v", err)
	}
	fields := []struct {
		name string
		v    *string
	}{
		{"pck_crl_issuer_chain", j.PCKCRLIssuerChain}, {"root_ca_crl", j.RootCACRL}, {"pck_crl", j.PCKCRL},
		{"tcb_info_issuer_chain", j.TCBInfoIssuerChain}, {"tcb_info", j.TCBInfo}, {"tcb_info_signature", j.TCBInfoSignature},
		{"qe_identity_issuer_chain", j.QEIdentityIssuerChain}, {"qe_identity", j.QEIdentity}, {"qe_identity_signature", j.QEIdentitySignature},
	}
	for _, f := range fields {
		if f.v == nil || *f.v == "" {
			return nil, collateralErr("member %q is missing or empty", f.name)
		}
	}
	c := &Collateral{}
	var err error
	if c.tcbInfoChain, _, err = issuerChain(*j.TCBInfoIssuerChain, "tcb_info_issuer_chain"); err != nil {
		return nil, err
	}
	var qeRoot *x509.Certificate
	if c.qeIdentityChain, qeRoot, err = issuerChain(*j.QEIdentityIssuerChain, "qe_identity_issuer_chain"); err != nil {
		return nil, err
	}
	c.rootCRLURLs = qeRoot.CRLDistributionPoints
	if c.pckCRLChain, _, err = issuerChain(*j.PCKCRLIssuerChain, "pck_crl_issuer_chain"); err != nil {
		return nil, err
	}
	if c.rootCRL, _, err = hexCRL(*j.RootCACRL, "root_ca_crl"); err != nil {
		return nil, err
	}
	var pckCRL *x509.RevocationList
	if c.pckCRL, pckCRL, err = hexCRL(*j.PCKCRL, "pck_crl"); err != nil {
		return nil, err
	}
	switch pckCRL.Issuer.CommonName {
	case cnPlatformCA:
		c.PCKCA = caPlatform
	case cnProcessorCA:
		c.PCKCA = caProcessor
	default:
		return nil, collateralErr("pck_crl is issued by %q, not a PCK CA", pckCRL.Issuer.CommonName)
	}

	if c.tcbInfoBody, err = signedBody("tcbInfo", *j.TCBInfo, *j.TCBInfoSignature, "tcb_info"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(*j.TCBInfo), &c.TCBInfo); err != nil {
		return nil, collateralErr("tcb_info: %v", err)
	}
	if c.TCBInfo.ID != "TDX" {
		return nil, collateralErr("tcb_info has id %q, want \"TDX\" (is this SGX collateral?)", c.TCBInfo.ID)
	}
	fmspc, err := hex.DecodeString(c.TCBInfo.Fmspc)
	if err != nil || len(fmspc) != 6 {
		return nil, collateralErr("tcb_info: FMSPC %q is not 6 bytes of hex", c.TCBInfo.Fmspc)
	}
	c.FMSPC = strings.ToUpper(c.TCBInfo.Fmspc)

	if c.qeIdentityBody, err = signedBody("enclaveIdentity", *j.QEIdentity, *j.QEIdentitySignature, "qe_identity"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(*j.QEIdentity), &c.QEIdentity); err != nil {
		return nil, collateralErr("qe_identity: %v", err)
	}
	if c.QEIdentity.ID != "TD_QE" {
		return nil, collateralErr("qe_identity has id %q, want \"TD_QE\" (is this SGX collateral?)", c.QEIdentity.ID)
	}
	return c, nil
}

// issuerChain parses a PEM chain of exactly two certificates (signer, root)
// and returns it re-encoded and URL-encoded the way Intel PCS sends it in
// a header, and the root.
func issuerChain(s, name string) (string, *x509.Certificate, error) {
	rest := []byte(s)
	var out []byte
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return "", nil, collateralErr("%s: PEM block %q, want CERTIFICATE", name, b.Type)
		}
		if len(certs) == 2 {
			return "", nil, collateralErr("%s: more than two certificates", name)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return "", nil, collateralErr("%s: certificate %d: %v", name, len(certs), err)
		}
		certs = append(certs, cert)
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes})...)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return "", nil, collateralErr("%s: data that is not PEM", name)
	}
	if len(certs) != 2 {
		return "", nil, collateralErr("%s: %d certificates, want 2 (signer, root)", name, len(certs))
	}
	return url.QueryEscape(string(out)), certs[1], nil
}

func hexCRL(s, name string) ([]byte, *x509.RevocationList, error) {
	der, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, nil, collateralErr("%s: not hex: %v", name, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, nil, collateralErr("%s: %v", name, err)
	}
	return der, crl, nil
}

// signedBody rebuilds the PCS response {"<field>":<signed>,"signature":"<hex>"}
// around the exact signed bytes.
func signedBody(field, signed, sig, name string) ([]byte, error) {
	raw := []byte(signed)
	if !json.Valid(raw) || raw[0] != '{' {
		return nil, collateralErr("%s is not a JSON object", name)
	}
	s, err := hex.DecodeString(sig)
	if err != nil || len(s) != 64 {
		return nil, collateralErr("%s_signature is not 64 bytes of hex (ECDSA P-256 r||s)", name)
	}
	var b bytes.Buffer
	b.WriteString(`{"` + field + `":`)
	b.Write(raw)
	b.WriteString(`,"signature":"` + hex.EncodeToString(s) + `"}`)
	return b.Bytes(), nil
}

// bundleGetter answers go-tdx-guest's PCS requests from a bundle.
type bundleGetter struct{ c *Collateral }

var (
	_ trust.HTTPSGetter        = bundleGetter{}
	_ trust.ContextHTTPSGetter = pcsGetter{}
	_ trust.ContextHTTPSGetter = (*recordingGetter)(nil)
)

// Get implements trust.HTTPSGetter.
func (g bundleGetter) Get(u string) (map[string][]string, []byte, error) {
	c := g.c
	if fmspc, ok := strings.CutPrefix(u, pcs.TdxBaseURL+"/tcb?fmspc="); ok {
		if !strings.EqualFold(fmspc, c.FMSPC) {
			return nil, nil, collateralErr("the collateral's tcbInfo is for FMSPC %s, the quote's PCK certificate has FMSPC %s", c.FMSPC, strings.ToUpper(fmspc))
		}
		return map[string][]string{pcs.TcbInfoIssuerChainPhrase: {c.tcbInfoChain}}, bytes.Clone(c.tcbInfoBody), nil
	}
	if u == pcs.QeIdentityURL() {
		return map[string][]string{pcs.SgxQeIdentityIssuerChainPhrase: {c.qeIdentityChain}}, bytes.Clone(c.qeIdentityBody), nil
	}
	for _, ca := range []string{caPlatform, caProcessor} {
		if u == pcs.PckCrlURL(ca) {
			if ca != c.PCKCA {
				return nil, nil, collateralErr("the collateral's PCK CRL is the %s CA's, the quote's PCK certificate is issued by the %s CA", c.PCKCA, ca)
			}
			return map[string][]string{pcs.SgxPckCrlIssuerChainPhrase: {c.pckCRLChain}}, bytes.Clone(c.pckCRL), nil
		}
	}
	for _, r := range c.rootCRLURLs {
		if u == r {
			return map[string][]string{}, bytes.Clone(c.rootCRL), nil
		}
	}
	return nil, nil, collateralErr("%s is not in the collateral bundle", u)
}

// pcsGetter fetches from Intel PCS over HTTPS, one request per call (no
// retries), with a time limit and a size limit.
type pcsGetter struct{ client *http.Client }

// Get implements trust.HTTPSGetter.
func (g pcsGetter) Get(u string) (map[string][]string, []byte, error) {
	return g.GetContext(context.Background(), u)
}

// GetContext implements trust.ContextHTTPSGetter.
func (g pcsGetter) GetContext(ctx context.Context, u string) (map[string][]string, []byte, error) {
	if !strings.HasPrefix(u, "https://") {
		return nil, nil, fmt.Errorf("tdx: refusing to fetch collateral from %q: not an https URL", u)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pcsTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	client := g.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("tdx: fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("tdx: fetching %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPCSResponse+1))
	if err != nil {
		return nil, nil, fmt.Errorf("tdx: fetching %s: %w", u, err)
	}
	if len(body) > maxPCSResponse {
		return nil, nil, fmt.Errorf("tdx: fetching %s: response larger than %d bytes", u, maxPCSResponse)
	}
	return resp.Header, body, nil
}

// recordingGetter remembers the tcbInfo and QE identity bodies it passed to
// go-tdx-guest, so that the TCB evaluation reads exactly what go-tdx-guest
// verified.
type recordingGetter struct {
	inner               trust.HTTPSGetter
	tcbInfo, qeIdentity []byte
	// crlNextUpdate is the earliest nextUpdate of the CRLs passed.
	crlNextUpdate time.Time
}

// Get implements trust.HTTPSGetter.
func (g *recordingGetter) Get(u string) (map[string][]string, []byte, error) {
	return g.GetContext(context.Background(), u)
}

// GetContext implements trust.ContextHTTPSGetter.
func (g *recordingGetter) GetContext(ctx context.Context, u string) (map[string][]string, []byte, error) {
	h, b, err := trust.GetWith(ctx, g.inner, u)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case strings.HasPrefix(u, pcs.TdxBaseURL+"/tcb?"):
		g.tcbInfo = bytes.Clone(b)
	case u == pcs.QeIdentityURL():
		g.qeIdentity = bytes.Clone(b)
	default: // the PCK CRL or the Root CA CRL
		if crl, err := x509.ParseRevocationList(b); err == nil && !crl.NextUpdate.IsZero() &&
			(g.crlNextUpdate.IsZero() || crl.NextUpdate.Before(g.crlNextUpdate)) {
			g.crlNextUpdate = crl.NextUpdate
		}
	}
	return h, b, nil
}
