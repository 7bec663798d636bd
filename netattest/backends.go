package netattest

import (
	"context"
	"fmt"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
	"github.com/keepwasm/keep/keeps/sgx"
	"github.com/keepwasm/keep/keeps/snp"
)

// registerBackends adds the hardware verifiers.
func registerBackends(r *keeps.Registry) {
	r.Register(&IntelQuoteVerifier{SGX: sgx.NewVerifier(), TDX: defaultTDX()})
	r.Register(snp.NewVerifier())
}

// QuoteVerifier verifies a parsed Intel quote of one TEE type.
type QuoteVerifier interface {
	VerifyQuote(ctx context.Context, q *intel.Quote, opts keeps.VerifyOptions) (*keeps.Claims, error)
}

// IntelQuoteVerifier handles CBOR tag 60000, which covers every Intel
// quote: it parses the quote and hands it to the SGX or TDX verifier by
// the TEE type in its header. Tests replace SGX or TDX with verifiers
// configured for test roots.
type IntelQuoteVerifier struct {
	SGX, TDX QuoteVerifier
}

// Tags returns keeps.TagIntelQuote.
func (*IntelQuoteVerifier) Tags() []uint64 { return []uint64{keeps.TagIntelQuote} }

// Verify parses the quote and dispatches it.
func (v *IntelQuoteVerifier) Verify(ctx context.Context, ev *keeps.Evidence, opts keeps.VerifyOptions) (*keeps.Claims, error) {
	if ev == nil || ev.Tag != keeps.TagIntelQuote {
		return nil, fmt.Errorf("intel quote verifier: %w", keeps.ErrUnknownTag)
	}
	q, err := intel.ParseQuote(ev.Data)
	if err != nil {
		return nil, err
	}
	var qv QuoteVerifier
	switch q.TEE() {
	case keeps.TEESGX:
		qv = v.SGX
	case keeps.TEETDX:
		qv = v.TDX
	}
	if qv == nil {
		return nil, fmt.Errorf("no verifier for %s quotes", q.TEE())
	}
	c, err := qv.VerifyQuote(ctx, q, opts)
	if err != nil {
		return nil, err
	}
	if len(ev.Endorsements) > 0 {
		c.Notes = append(c.Notes, "the certificate's endorsements extension was not used: Intel collateral comes from the verifier's options")
	}
	return c, nil
}
