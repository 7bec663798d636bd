package netattest

import (
	"context"
	"errors"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// defaultTDX verifies TDX quotes with Keep's pure-Go DCAP verification
// (signatures, PCK chain to the pinned Intel root, TCB from collateral).
func defaultTDX() QuoteVerifier { return tdxVerifier{} }

type tdxVerifier struct{}

func (tdxVerifier) VerifyQuote(ctx context.Context, q *intel.Quote, opts keeps.VerifyOptions) (*keeps.Claims, error) {
	if q.TEE() != keeps.TEETDX {
		return nil, errors.New("not a TDX quote")
	}
	res, err := intel.VerifyQuote(ctx, q, intel.OptionsFrom(opts))
	if err != nil {
		return nil, err
	}
	return res.Claims, nil
}
