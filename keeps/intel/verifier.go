package intel

import (
	"context"
	"errors"
	"fmt"

	"github.com/keepwasm/keep/keeps"
)

// NoteNotVerified is the note the structure-only verifier adds to every
// claims it returns.
const NoteNotVerified = "quote signature and PCK chain not verified: structure-only verifier (the SGX and TDX backends verify)"

// Verifier is a structure-only keeps.Verifier for Intel SGX and TDX
// quotes (tag keeps.TagIntelQuote). It only parses: it returns the quote's
// claims with SignatureVerified=false and NoteNotVerified, and a nil
// error, so a caller's policy must refuse them where it needs verified
// evidence. Verification proper is VerifyQuote, which the SGX backend
// (keeps/sgx) and the TDX backend call. The zero value is ready to use.
type Verifier struct{}

var _ keeps.Verifier = (*Verifier)(nil)

// NewVerifier returns a Verifier.
func NewVerifier() *Verifier { return &Verifier{} }

// Tags returns []uint64{keeps.TagIntelQuote}.
func (*Verifier) Tags() []uint64 { return []uint64{keeps.TagIntelQuote} }

// Verify parses ev.Data as an Intel quote and returns its claims. Errors:
// ev nil or its tag is not keeps.TagIntelQuote (wrapping
// keeps.ErrUnknownTag), ctx done, or a ParseQuote error (wrapping one of
// this package's Err* values). Endorsements are ignored for now.
func (*Verifier) Verify(ctx context.Context, ev *keeps.Evidence, opts keeps.VerifyOptions) (*keeps.Claims, error) {
	if ev == nil {
		return nil, errors.New("intel: nil evidence")
	}
	if ev.Tag != keeps.TagIntelQuote {
		return nil, fmt.Errorf("intel: %w %d (0x%x): this verifier handles %d only", keeps.ErrUnknownTag, ev.Tag, ev.Tag, keeps.TagIntelQuote)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := ParseQuote(ev.Data)
	if err != nil {
		return nil, err
	}
	c := ClaimsFromQuote(q)
	c.SignatureVerified = false
	c.Notes = append([]string{NoteNotVerified}, c.Notes...)
	if len(ev.Endorsements) > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%d bytes of endorsements were ignored", len(ev.Endorsements)))
	}
	return c, nil
}
