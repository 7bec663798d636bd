package tdx

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	"github.com/google/go-tdx-guest/verify"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// Errors of the verifier besides ErrCollateral, ErrTCBNotSupported,
// ErrRevoked and ErrQEIdentity; test with errors.Is.
var (
	// ErrNotTDX: the evidence is not a TDX quote (an SGX quote, or not a
	// quote at all; intel.ParseQuote's error is wrapped too).
	ErrNotTDX = errors.New("tdx: not a TDX quote")
	// ErrVerification: go-tdx-guest refused the quote: its signature, the
	// QE report signature or binding, or the PCK chain up to the trusted
	// root (including the certificates' validity at the verification
	// time).
	ErrVerification = errors.New("tdx: quote verification failed")
)

// Notes the verifier adds to the claims. Exactly one of the three
// collateral notes is present in every claims it returns.
const (
	// NoteCollateralGiven: the TCB status comes from
	// VerifyOptions.Collateral[CollateralName].
	NoteCollateralGiven = "TCB evaluated from the collateral you gave"
	// NoteCollateralFetched: the TCB status comes from collateral fetched
	// from Intel PCS.
	NoteCollateralFetched = "TCB evaluated from collateral fetched from Intel PCS"
	// NoteNoCollateral: no collateral was given and the network was not
	// allowed, so TCBStatus is empty.
	NoteNoCollateral = "TCB not evaluated: no collateral (give Intel collateral, or allow fetching it from Intel PCS)"
	// NoteDebug is added for a debug TD.
	NoteDebug = "DEBUG TD: the host VMM can read and change the TD's memory and registers"
)

// MeasurementMRSEAM is the claims measurement name of MRSEAM, the TDX
// module's measurement ("mrtd", "rtmr0".."rtmr3", "mrconfigid", "mrowner"
// and "mrownerconfig" are keeps/intel's).
const MeasurementMRSEAM = "mrseam"

// Messages go-tdx-guest (verify.verifyTdQuoteBody and
// verify.verifyQeReport, the last checks verify.TdxQuoteContext makes)
// starts its error with when a TCB status is not UpToDate or no level
// matches. Every check before them (signatures, chains, CRLs, collateral
// signatures and expiry, FMSPC, PCE-ID, tdxModule) has passed when one of
// these is returned. Tested against the pinned go-tdx-guest version.
const (
	gtgTDXStatusPrefix = "TDX TCB info reported by Intel PCS failed TCB status check: "
	gtgQEStatusPrefix  = "QE Identity reported by Intel PCS failed TCB status check: "
)

// Verifier verifies Intel TDX quotes (versions 4 and 5) with go-tdx-guest.
// The zero value is ready to use and trusts only the pinned Intel SGX Root
// CA (IntelSGXRootCA).
//
// Collateral (tcbInfo, QE identity, CRLs) comes from
// keeps.VerifyOptions.Collateral[CollateralName], a dcap-qvl JSON bundle
// (ParseCollateral), or from Intel PCS when none is given and
// VerifyOptions.AllowNetwork is set. Without either the TCB status is not
// evaluated.
type Verifier struct {
	// InsecureTestRoots, when not empty, replace the pinned Intel SGX Root
	// CA as trust anchors. Only tests may set it: with it, anyone can make
	// quotes that verify.
	InsecureTestRoots []*x509.Certificate
	// HTTPClient fetches collateral from Intel PCS; nil means
	// http.DefaultClient. Each request is limited to 30 s (unless the
	// context has a deadline) and 512 KiB.
	HTTPClient *http.Client
}

var _ keeps.Verifier = (*Verifier)(nil)

// NewVerifier returns a Verifier that trusts the pinned Intel SGX Root CA.
func NewVerifier() *Verifier { return &Verifier{} }

// Tags returns []uint64{keeps.TagIntelQuote}. The tag also covers SGX
// quotes, which Verify refuses with ErrNotTDX: register this verifier
// directly only where TDX is the only Intel TEE, else behind a dispatcher
// that reads the quote header and calls VerifyQuote.
func (*Verifier) Tags() []uint64 { return []uint64{keeps.TagIntelQuote} }

// Verify parses ev.Data as an Intel quote and verifies it as a TDX quote
// (see VerifyQuote).
func (v *Verifier) Verify(ctx context.Context, ev *keeps.Evidence, opts keeps.VerifyOptions) (*keeps.Claims, error) {
	if ev == nil {
		return nil, errors.New("tdx: nil evidence")
	}
	if ev.Tag != keeps.TagIntelQuote {
		return nil, fmt.Errorf("tdx: %w %d (0x%x): this verifier handles %d only", keeps.ErrUnknownTag, ev.Tag, ev.Tag, keeps.TagIntelQuote)
	}
	q, err := intel.ParseQuote(ev.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotTDX, err)
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

// VerifyQuote verifies a TDX quote parsed by intel.ParseQuote:
//
//   - the QE vendor ID must be Intel's;
//   - go-tdx-guest must parse the same bytes to the same structure
//     (abi.QuoteToProto, then abi.QuoteToAbiBytes gives back the quote);
//   - go-tdx-guest's verify.TdxQuoteContext checks the quote signature
//     (attestation key over header and body), the QE report signature (PCK
//     leaf), the QE report's binding of the attestation key, and the PCK
//     chain (leaf, Intel SGX PCK Platform CA, root) up to the trusted
//     roots at the verification time; the chain's root must also be one of
//     the trusted roots byte for byte. (go-tdx-guest accepts only the
//     Platform CA as intermediate, which issues every TDX platform's PCK.)
//   - with collateral it also checks, still in go-tdx-guest, the PCK and
//     Root CA CRLs (signatures, revocation of the leaf and CA), the
//     tcbInfo and QE identity (signatures by the TCB Signing certificate
//     chained to the trusted roots, expiry, FMSPC and PCE-ID, tdxModule),
//     and then evaluates the TCB status itself (tcb.go).
//
// The claims have SignatureVerified true, TEE tdx, Debug from TDATTRIBUTES
// bit 0, the measurements of intel.ClaimsFromQuote plus "mrseam", and
// TCBStatus and Advisories when collateral was evaluated. A TCB status
// other than UpToDate is not an error (a policy decides); a platform no
// TCB level applies to, or a revoked one, is.
func (v *Verifier) VerifyQuote(ctx context.Context, q *intel.Quote, opts keeps.VerifyOptions) (*keeps.Claims, error) {
	if q == nil {
		return nil, errors.New("tdx: nil quote")
	}
	if q.TD == nil {
		return nil, fmt.Errorf("%w: %s quote", ErrNotTDX, q.Header.TEEType)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// go-tdx-guest does not look at the QE vendor ID; Intel's QVL requires
	// Intel's.
	if q.Header.QEVendorID != intel.IntelQEVendorID {
		return nil, fmt.Errorf("%w: QE vendor ID %x is not Intel's", ErrVerification, q.Header.QEVendorID)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	roots := v.InsecureTestRoots
	if len(roots) == 0 {
		roots = []*x509.Certificate{IntelSGXRootCA()}
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}

	pq, err := toProto(q)
	if err != nil {
		return nil, err
	}
	chain, err := verify.ExtractChainFromQuote(pq)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVerification, err)
	}
	if !trusted(chain.RootCertificate, roots) {
		return nil, fmt.Errorf("%w: the quote's PCK chain ends in %q (serial %x), which is not a trusted root", ErrVerification, chain.RootCertificate.Subject.CommonName, chain.RootCertificate.SerialNumber)
	}

	vo := &verify.Options{
		TrustedRoots: pool,
		Now:          &verify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now},
	}
	var rec *recordingGetter
	note := NoteNoCollateral
	switch b := opts.Collateral[CollateralName]; {
	case b != nil:
		col, err := ParseCollateral(b)
		if err != nil {
			return nil, err
		}
		rec, note = &recordingGetter{inner: bundleGetter{col}}, NoteCollateralGiven
	case opts.AllowNetwork:
		rec, note = &recordingGetter{inner: pcsGetter{v.HTTPClient}}, NoteCollateralFetched
	}
	if rec != nil {
		vo.GetCollateral, vo.CheckRevocations, vo.Getter = true, true, rec
	}

	statusFailed := false
	if err := runVerify(ctx, pq, vo); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("tdx: %w (%v)", cerr, err)
		}
		msg := err.Error()
		switch {
		case rec == nil:
			return nil, fmt.Errorf("%w: %s", ErrVerification, msg)
		case strings.HasPrefix(msg, gtgTDXStatusPrefix), strings.HasPrefix(msg, gtgQEStatusPrefix):
			statusFailed = true // evaluated below, with the reason
		default:
			// Collateral is fetched and checked before the quote's
			// signatures: tell which failed when possible.
			if err2 := runVerify(ctx, pq, &verify.Options{TrustedRoots: pool, Now: vo.Now}); err2 != nil {
				return nil, fmt.Errorf("%w: %v", ErrVerification, err2)
			}
			if strings.Contains(msg, " was revoked") { // a CRL lists a certificate
				return nil, fmt.Errorf("%w: %w: %s", ErrCollateral, ErrRevoked, msg)
			}
			return nil, fmt.Errorf("%w: %s", ErrCollateral, msg)
		}
	}

	c := intel.ClaimsFromQuote(q)
	c.SignatureVerified = true
	c.Measurements[MeasurementMRSEAM] = bytes.Clone(q.TD.MRSEAM[:])
	notes := []string{note}
	if rec != nil {
		res, err := evaluate(q, chain, rec, now)
		if err != nil {
			return nil, err
		}
		if statusFailed && res.Status == string(pcs.TcbComponentStatusUpToDate) {
			// go-tdx-guest saw a status problem this evaluation did not:
			// do not report UpToDate over it.
			return nil, fmt.Errorf("%w: go-tdx-guest's TCB status check failed although the TCB evaluates as UpToDate", ErrCollateral)
		}
		c.TCBStatus, c.Advisories = res.Status, res.Advisories
		notes = append(notes, res.note())
	}
	if c.Debug {
		notes = append(notes, NoteDebug)
	}
	c.Notes = append(notes, c.Notes...)
	return c, nil
}

// toProto parses q's bytes with go-tdx-guest and checks that both parsers
// read the same quote: go-tdx-guest verifies its own parse, the claims
// come from keeps/intel's.
func toProto(q *intel.Quote) (pq any, err error) {
	defer func() {
		if r := recover(); r != nil {
			pq, err = nil, fmt.Errorf("%w: go-tdx-guest's parser panicked: %v", ErrNotTDX, r)
		}
	}()
	pq, err = abi.QuoteToProto(q.Raw)
	if err != nil {
		return nil, fmt.Errorf("%w: go-tdx-guest: %v", ErrNotTDX, err)
	}
	back, err := abi.QuoteToAbiBytes(pq)
	if err != nil {
		return nil, fmt.Errorf("%w: go-tdx-guest: %v", ErrNotTDX, err)
	}
	if !bytes.Equal(back, q.Raw) {
		return nil, fmt.Errorf("%w: go-tdx-guest and keeps/intel parse the quote differently", ErrNotTDX)
	}
	return pq, nil
}

// runVerify calls go-tdx-guest's verifier, turning a panic into an error.
// vo must not be shared: verify.TdxQuoteContext writes into it.
func runVerify(ctx context.Context, pq any, vo *verify.Options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-tdx-guest panicked: %v", r)
		}
	}()
	return verify.TdxQuoteContext(ctx, pq, vo)
}

func trusted(c *x509.Certificate, roots []*x509.Certificate) bool {
	for _, r := range roots {
		if bytes.Equal(c.Raw, r.Raw) {
			return true
		}
	}
	return false
}

// evaluate runs the TCB evaluation on the collateral go-tdx-guest read and
// verified.
func evaluate(q *intel.Quote, chain *verify.PCKCertificateChain, rec *recordingGetter, now time.Time) (*tcbResult, error) {
	var ti pcs.TdxTcbInfo
	var qi pcs.QeIdentity
	if err := json.Unmarshal(rec.tcbInfo, &ti); err != nil {
		return nil, collateralErr("tcbInfo: %v", err)
	}
	if err := json.Unmarshal(rec.qeIdentity, &qi); err != nil {
		return nil, collateralErr("QE identity: %v", err)
	}
	ext, err := pcs.PckCertificateExtensions(chain.PCKCertificate)
	if err != nil {
		return nil, fmt.Errorf("%w: PCK certificate: %v", ErrVerification, err)
	}
	r, err := evaluateTCB(&ti.TcbInfo, &qi.EnclaveIdentity, tcbInput{
		pck:            ext,
		teeTCBSVN:      q.TD.TEETCBSVN,
		mrSignerSeam:   q.TD.MRSignerSEAM,
		seamAttributes: q.TD.SEAMAttributes,
		qe:             q.Signature.QEReport,
		qeRaw:          q.Signature.RawQEReport,
	}, now)
	if err != nil {
		return nil, err
	}
	if !rec.crlNextUpdate.IsZero() && rec.crlNextUpdate.Before(r.NextUpdate) {
		r.NextUpdate = rec.crlNextUpdate
	}
	return r, nil
}
