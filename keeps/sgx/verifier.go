package sgx

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// Errors of the SGX verifier besides those of keeps/intel (which it
// returns wrapped: intel.ErrBadSignature, intel.ErrUntrustedChain,
// intel.ErrExpired, intel.ErrCollateral, ...).
var (
	// ErrNotSGX: the evidence is a TDX quote.
	ErrNotSGX = errors.New("sgx: not an SGX quote")
	// ErrAttributes: the enclave's attributes make it unfit: INIT or
	// MODE64BIT clear, or PROVISIONKEY or EINITTOKENKEY set.
	ErrAttributes = errors.New("sgx: enclave attributes refused")
)

// NoteDebug is the note added to the claims of a DEBUG enclave.
const NoteDebug = "DEBUG enclave: a debugger on the host can read and change its memory"

// Verifier is the keeps.Verifier for Intel SGX DCAP quotes. The zero value
// is ready to use and trusts only the pinned Intel SGX Root CA.
//
// It reads keeps.VerifyOptions.Collateral[intel.CollateralName] (a
// dcap-qvl JSON collateral bundle) to evaluate the TCB status, and fetches
// the collateral from Intel PCS when the options allow network access and
// give none.
type Verifier struct {
	// InsecureTestRoots, when not empty, replace the pinned Intel SGX Root
	// CA as trust anchors. Only tests may set it: with it, anyone can make
	// quotes that verify.
	InsecureTestRoots []*x509.Certificate
	// PCS is the client for network fetches; nil means intel.DefaultPCS.
	PCS *intel.PCSClient
}

var _ keeps.Verifier = (*Verifier)(nil)

// NewVerifier returns a Verifier that trusts the pinned Intel SGX Root CA.
func NewVerifier() *Verifier { return &Verifier{} }

// Tags returns []uint64{keeps.TagIntelQuote}. The tag also covers TDX
// quotes, which Verify refuses with ErrNotSGX: register this verifier
// directly only where SGX is the only Intel TEE, else behind a dispatcher
// that calls VerifyQuote.
func (*Verifier) Tags() []uint64 { return []uint64{keeps.TagIntelQuote} }

// Verify parses ev.Data as an Intel quote and verifies it as an SGX quote
// (see VerifyQuote). Errors: nil evidence, a tag other than
// keeps.TagIntelQuote (wrapping keeps.ErrUnknownTag), intel.ParseQuote
// errors, and those of VerifyQuote.
func (v *Verifier) Verify(ctx context.Context, ev *keeps.Evidence, opts keeps.VerifyOptions) (*keeps.Claims, error) {
	if ev == nil {
		return nil, errors.New("sgx: nil evidence")
	}
	if ev.Tag != keeps.TagIntelQuote {
		return nil, fmt.Errorf("sgx: %w %d (0x%x): this verifier handles %d only", keeps.ErrUnknownTag, ev.Tag, ev.Tag, keeps.TagIntelQuote)
	}
	q, err := intel.ParseQuote(ev.Data)
	if err != nil {
		return nil, err
	}
	c, err := v.VerifyQuote(ctx, q, opts)
	if err != nil {
		return nil, err
	}
	if len(ev.Endorsements) > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%d bytes of endorsements were ignored", len(ev.Endorsements)))
	}
	return c, nil
}

// VerifyQuote verifies a parsed SGX quote: the signature chain up to the
// trusted root and, with collateral, the TCB status (intel.VerifyQuote),
// then the enclave's attributes (INIT and MODE64BIT must be set,
// PROVISIONKEY and EINITTOKENKEY clear; DEBUG is reported in
// Claims.Debug). The claims it returns have SignatureVerified true; on any
// failure it returns an error and no claims.
func (v *Verifier) VerifyQuote(ctx context.Context, q *intel.Quote, opts keeps.VerifyOptions) (*keeps.Claims, error) {
	if q == nil {
		return nil, errors.New("sgx: nil quote")
	}
	if q.SGX == nil {
		return nil, fmt.Errorf("%w: %s quote", ErrNotSGX, q.Header.TEEType)
	}
	o := intel.OptionsFrom(opts)
	o.InsecureTestRoots = v.InsecureTestRoots
	o.PCS = v.PCS
	res, err := intel.VerifyQuote(ctx, q, o)
	if err != nil {
		return nil, err
	}
	if err := CheckAttributes(q.SGX.Attributes); err != nil {
		return nil, err
	}
	c := res.Claims
	if c.Debug {
		c.Notes = append(c.Notes, NoteDebug)
	}
	return c, nil
}

// CheckAttributes applies Gramine's attribute rules to an enclave's
// ATTRIBUTES: INIT and MODE64BIT must be set; PROVISIONKEY and
// EINITTOKENKEY (Gramine's "LICENSE_KEY") must be clear, since only
// Intel's architectural enclaves need them. DEBUG is not judged here.
func CheckAttributes(a intel.SGXAttributes) error {
	switch {
	case !a.Init():
		return fmt.Errorf("%w: INIT is clear (flags %#x)", ErrAttributes, uint64(a.Flags))
	case !a.Mode64Bit():
		return fmt.Errorf("%w: MODE64BIT is clear: not a 64-bit enclave (flags %#x)", ErrAttributes, uint64(a.Flags))
	case a.ProvisionKey():
		return fmt.Errorf("%w: PROVISIONKEY is set (flags %#x)", ErrAttributes, uint64(a.Flags))
	case a.EInitTokenKey():
		return fmt.Errorf("%w: EINITTOKENKEY is set (flags %#x)", ErrAttributes, uint64(a.Flags))
	}
	return nil
}
