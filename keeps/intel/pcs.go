package intel

// Fetching collateral from Intel's Provisioning Certification Service
// ("Intel SGX and Intel TDX Provisioning Certification Service API", API
// version 4). Endpoints used, relative to https://api.trustedservices.intel.com:
//
//	GET /sgx/certification/v4/tcb?fmspc=<hex>     (TDX: /tdx/certification/v4/tcb)
//	    body {"tcbInfo": {...}, "signature": "<hex>"}, header TCB-Info-Issuer-Chain
//	GET /sgx/certification/v4/qe/identity          (TDX: /tdx/certification/v4/qe/identity)
//	    body {"enclaveIdentity": {...}, "signature": "<hex>"}, header SGX-Enclave-Identity-Issuer-Chain
//	GET /sgx/certification/v4/pckcrl?ca=<processor|platform>&encoding=der
//	    body DER CRL, header SGX-PCK-CRL-Issuer-Chain
//
// and the Root CA CRL at the Intel SGX Root CA's CRL distribution point,
// https://certificates.trustedservices.intel.com/IntelSGXRootCA.der.
// Issuer chains come URL-encoded (PEM) in the headers. Nothing fetched is
// trusted: the responses are assembled into a collateral bundle that goes
// through ParseCollateral and EvaluateTCB like a bundle a user supplied.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/keepwasm/keep/keeps"
)

// Default PCS locations.
const (
	DefaultPCSBaseURL = "https://api.trustedservices.intel.com"
	DefaultRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
)

// maxPCSResponse bounds each PCS response body.
const maxPCSResponse = 512 << 10

// PCSClient fetches DCAP collateral from Intel PCS (or a server with the
// same API, such as a PCCS). The zero value uses Intel's servers.
type PCSClient struct {
	// BaseURL is the API root; "" means DefaultPCSBaseURL.
	BaseURL string
	// RootCRLURL is where the Root CA CRL is; "" means DefaultRootCRLURL.
	RootCRLURL string
	// HTTPClient is the client to use; nil means one with a 30 s timeout.
	HTTPClient *http.Client
}

// DefaultPCS is the client VerifyQuote uses when the options name none.
var DefaultPCS = &PCSClient{}

var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

type pcsResponse struct {
	body  []byte
	chain string
}

func (p *PCSClient) get(ctx context.Context, u string, chainHeaders ...string) (*pcsResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNetwork, err)
	}
	hc := p.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNetwork, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", ErrNetwork, u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPCSResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrNetwork, u, err)
	}
	if len(body) > maxPCSResponse {
		return nil, fmt.Errorf("%w: GET %s: response larger than %d bytes", ErrNetwork, u, maxPCSResponse)
	}
	r := &pcsResponse{body: body}
	for _, h := range chainHeaders {
		if v := resp.Header.Get(h); v != "" {
			// PathUnescape, not QueryUnescape: base64 has '+'.
			if r.chain, err = url.PathUnescape(v); err != nil {
				return nil, fmt.Errorf("%w: GET %s: header %s: %v", ErrNetwork, u, h, err)
			}
			break
		}
	}
	if len(chainHeaders) > 0 && r.chain == "" {
		return nil, fmt.Errorf("%w: GET %s: no %s header", ErrNetwork, u, chainHeaders[0])
	}
	return r, nil
}

// signedBody splits a PCS JSON response {"<field>": {...}, "signature": "..."}
// into the exact signed bytes and the signature.
func signedBody(body []byte, field string) (string, string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "", "", fmt.Errorf("%w: %s response: %v", ErrNetwork, field, err)
	}
	var sig string
	if err := json.Unmarshal(m["signature"], &sig); err != nil || len(m[field]) == 0 {
		return "", "", fmt.Errorf("%w: %s response has no %q or signature", ErrNetwork, field, field)
	}
	return string(m[field]), sig, nil
}

// derCRL accepts a DER CRL, or a PEM "X509 CRL" block.
func derCRL(b []byte) []byte {
	if blk, _ := pem.Decode(b); blk != nil && blk.Type == "X509 CRL" {
		return blk.Bytes
	}
	return b
}

// FetchCollateral fetches the collateral for a platform with the given
// FMSPC whose PCK certificate was issued by ca, for quotes of TEE tee
// (keeps.TEESGX or keeps.TEETDX), and returns it as a dcap-qvl JSON
// bundle for ParseCollateral. Errors wrap ErrNetwork.
func (p *PCSClient) FetchCollateral(ctx context.Context, tee keeps.TEE, fmspc [6]byte, ca PCKCA) ([]byte, error) {
	base := p.BaseURL
	if base == "" {
		base = DefaultPCSBaseURL
	}
	rootCRLURL := p.RootCRLURL
	if rootCRLURL == "" {
		rootCRLURL = DefaultRootCRLURL
	}
	kind := "sgx"
	if tee == keeps.TEETDX {
		kind = "tdx"
	}
	tcb, err := p.get(ctx, fmt.Sprintf("%s/%s/certification/v4/tcb?fmspc=%X", base, kind, fmspc), "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain")
	if err != nil {
		return nil, err
	}
	qe, err := p.get(ctx, fmt.Sprintf("%s/%s/certification/v4/qe/identity", base, kind), "SGX-Enclave-Identity-Issuer-Chain")
	if err != nil {
		return nil, err
	}
	pckCRL, err := p.get(ctx, fmt.Sprintf("%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", base, url.QueryEscape(string(ca))), "SGX-PCK-CRL-Issuer-Chain")
	if err != nil {
		return nil, err
	}
	rootCRL, err := p.get(ctx, rootCRLURL)
	if err != nil {
		return nil, err
	}
	tcbInfo, tcbSig, err := signedBody(tcb.body, "tcbInfo")
	if err != nil {
		return nil, err
	}
	qeID, qeSig, err := signedBody(qe.body, "enclaveIdentity")
	if err != nil {
		return nil, err
	}
	j := map[string]string{
		"pck_crl_issuer_chain":     pckCRL.chain,
		"root_ca_crl":              hex.EncodeToString(derCRL(rootCRL.body)),
		"pck_crl":                  hex.EncodeToString(derCRL(pckCRL.body)),
		"tcb_info_issuer_chain":    tcb.chain,
		"tcb_info":                 tcbInfo,
		"tcb_info_signature":       tcbSig,
		"qe_identity_issuer_chain": qe.chain,
		"qe_identity":              qeID,
		"qe_identity_signature":    qeSig,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNetwork, err)
	}
	return buf.Bytes(), nil
}
