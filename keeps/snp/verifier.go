package snp

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/keepwasm/keep/keeps"
)

// Collateral names the verifier reads from keeps.VerifyOptions.Collateral.
const (
	// CollateralVCEK is the report's signing certificate, DER or PEM: the
	// VCEK, or the VLEK for VLEK-signed reports. Used when the evidence's
	// endorsements carry none.
	CollateralVCEK = "snp-vcek"
	// CollateralASKARK is AMD's ASK and ARK in the KDS cert_chain format
	// (PEM, ASK first). Never trusted: it only spares a download of the
	// chain when the network is allowed, and is compared with the trusted
	// roots in a note.
	CollateralASKARK = "snp-ask-ark"
)

// DefaultV2Product is the product assumed for version 2 reports, which do
// not name their CPU: AMD Milan, the first SEV-SNP product.
const DefaultV2Product = "Milan"

// NoteRevocationNotChecked says that AMD's CRL was not consulted.
const NoteRevocationNotChecked = "revocation not checked: AMD's certificate revocation list was not consulted"

// NoteTCBNotEvaluated says why TCBStatus is empty.
const NoteTCBNotEvaluated = "TCB status not evaluated: the verifier has no minimum TCB to compare with"

// Verifier is the keeps.Verifier for SEV-SNP attestation reports (tag
// keeps.TagSEVSNPReport). The zero value trusts AMD's real roots and is
// ready to use; it is safe for concurrent use once in use.
//
// Certificates for the report's signing key come, in this order, from the
// evidence's endorsements (a certificate table), from the collateral
// CollateralVCEK, or, only when VerifyOptions.AllowNetwork is set, from
// AMD's Key Distribution Service. Otherwise Verify fails with ErrNoVCEK.
type Verifier struct {
	// InsecureTestRoots replaces AMD's embedded roots, by product line
	// ("Milan", "Genoa", "Turin"). Only for tests with a fake AMD signer:
	// with it, anyone holding the test keys can forge evidence.
	InsecureTestRoots map[string][]*trust.AMDRootCerts
	// V2Product is the product of version 2 reports and of later reports
	// without CPUID family/model: a product line ("Milan", "Genoa",
	// "Turin") or a KDS product name with stepping ("Milan-B0"). The
	// signing certificate's product must match it. Empty means
	// DefaultV2Product. Reports of version 3 and later name their product
	// and ignore it.
	V2Product string
	// Getter fetches from AMD KDS when VerifyOptions.AllowNetwork is set;
	// nil means a retrying getter that reads at most MaxKDSResponse bytes
	// of a response.
	Getter trust.HTTPSGetter
}

var _ keeps.Verifier = (*Verifier)(nil)

// NewVerifier returns a Verifier that trusts AMD's embedded roots.
func NewVerifier() *Verifier { return &Verifier{} }

// Tags returns []uint64{keeps.TagSEVSNPReport}.
func (*Verifier) Tags() []uint64 { return []uint64{keeps.TagSEVSNPReport} }

// amdRoots are AMD's ARK and ASK/ASVK per product line, from the KDS
// cert_chain bundles embedded in go-sev-guest's trust package. Unlike
// go-sev-guest's own defaults, they include the ASVK, so VLEK-signed
// reports verify too.
var amdRoots = sync.OnceValues(func() (map[string][]*trust.AMDRootCerts, error) {
	out := map[string][]*trust.AMDRootCerts{}
	for _, b := range []struct {
		line       string
		vcek, vlek []byte
	}{
		{"Milan", trust.AskArkMilanVcekBytes, trust.AskArkMilanVlekBytes},
		{"Genoa", trust.AskArkGenoaVcekBytes, trust.AskArkGenoaVlekBytes},
		{"Turin", trust.AskArkTurinVcekBytes, trust.AskArkTurinVlekBytes},
	} {
		var pc, vl trust.ProductCerts
		// The embedded Turin VLEK bundle ends in extra newlines, which
		// go-sev-guest's parser refuses as trailing bytes.
		if err := pc.FromKDSCertBytes(bytes.TrimSpace(b.vcek)); err != nil {
			return nil, fmt.Errorf("embedded %s VCEK chain: %v", b.line, err)
		}
		if err := vl.FromKDSCertBytes(bytes.TrimSpace(b.vlek)); err != nil {
			return nil, fmt.Errorf("embedded %s VLEK chain: %v", b.line, err)
		}
		if pc.Ark == nil || pc.Ask == nil || vl.Asvk == nil || vl.Ark == nil || !pc.Ark.Equal(vl.Ark) {
			return nil, fmt.Errorf("embedded %s chains are inconsistent", b.line)
		}
		r := trust.AMDRootCertsProduct(b.line)
		r.ProductCerts = &trust.ProductCerts{Ark: pc.Ark, Ask: pc.Ask, Asvk: vl.Asvk}
		out[b.line] = []*trust.AMDRootCerts{r}
	}
	return out, nil
})

func (v *Verifier) roots() (map[string][]*trust.AMDRootCerts, bool, error) {
	if v.InsecureTestRoots != nil {
		return v.InsecureTestRoots, true, nil
	}
	r, err := amdRoots()
	return r, false, err
}

// v2Product parses V2Product.
func (v *Verifier) v2Product() (*spb.SevProduct, error) {
	s := v.V2Product
	if s == "" {
		s = DefaultV2Product
	}
	if p, err := kds.ParseProductLine(s); err == nil {
		return p, nil
	}
	p, err := kds.ParseProductName(s, abi.VcekReportSigner)
	if err != nil {
		return nil, fmt.Errorf("snp: V2Product %q: want Milan, Genoa, Turin or a product name such as Milan-B0", s)
	}
	// A fresh copy: go-sev-guest may update the product it is given.
	return &spb.SevProduct{Name: p.Name, MachineStepping: p.MachineStepping}, nil
}

// Verify checks an SEV-SNP report: its format, its signature with the
// VCEK or VLEK, that certificate's chain to a trusted AMD root at opts.Now,
// and that the certificate was issued for the report's chip and reported
// TCB. It returns the report's claims with SignatureVerified set. It
// applies no policy: debug guests, any measurement and any TCB pass.
func (v *Verifier) Verify(ctx context.Context, ev *keeps.Evidence, opts keeps.VerifyOptions) (*keeps.Claims, error) {
	if ev == nil {
		return nil, errors.New("snp: nil evidence")
	}
	if ev.Tag != keeps.TagSEVSNPReport {
		return nil, fmt.Errorf("snp: %w %d (0x%x): this verifier handles 0x%x only", keeps.ErrUnknownTag, ev.Tag, ev.Tag, keeps.TagSEVSNPReport)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(ev.Endorsements) > MaxEndorsementsSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrEndorsementsTooLarge, len(ev.Endorsements), MaxEndorsementsSize)
	}
	rep, err := ParseReport(ev.Data)
	if err != nil {
		return nil, err
	}
	info, _ := abi.ParseSignerInfo(rep.GetSignerInfo()) // checked by ParseReport
	key := info.SigningKey

	var notes []string
	chain := &spb.CertificateChain{Extras: map[string][]byte{}}
	ekSource := ""
	if len(ev.Endorsements) > 0 {
		entries, err := ParseCertTable(ev.Endorsements)
		if err != nil {
			return nil, fmt.Errorf("endorsements: %w", err)
		}
		chain = certChain(entries)
		if len(endorsementKey(chain, key)) > 0 {
			ekSource = "the evidence's certificate table"
		}
	}
	if ekSource == "" {
		if c := opts.Collateral[CollateralVCEK]; len(c) > 0 {
			der, err := oneCert(c)
			if err != nil {
				return nil, fmt.Errorf("%w %q: %v", ErrCollateral, CollateralVCEK, err)
			}
			setEndorsementKey(chain, key, der)
			ekSource = fmt.Sprintf("collateral %q", CollateralVCEK)
		}
	}
	if c := opts.Collateral[CollateralASKARK]; len(c) > 0 && (len(chain.AskCert) == 0 || len(chain.ArkCert) == 0) {
		if len(c) > MaxCollateralSize {
			return nil, fmt.Errorf("%w %q: %d bytes exceeds the %d-byte limit", ErrCollateral, CollateralASKARK, len(c), MaxCollateralSize)
		}
		ask, ark, err := kds.ParseProductCertChain(c)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrCollateral, CollateralASKARK, err)
		}
		chain.AskCert, chain.ArkCert = ask, ark
	}
	fetch := ekSource == ""
	if fetch {
		if !opts.AllowNetwork {
			return nil, ErrNoVCEK
		}
		if key == abi.VlekReportSigner {
			return nil, fmt.Errorf("%w: the report is VLEK-signed, and AMD KDS does not serve VLEKs", ErrNoVCEK)
		}
		ekSource = "AMD KDS"
	}

	roots, insecure, err := v.roots()
	if err != nil {
		return nil, fmt.Errorf("snp: trusted roots: %v", err)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	vo := &verify.Options{
		DisableCertFetching: !fetch,
		Getter:              v.Getter,
		Now:                 now,
		TrustedRoots:        roots,
	}
	if vo.Getter == nil && fetch {
		vo.Getter = defaultGetter() // bounded bodies
	}
	fms := rep.GetCpuid1EaxFms()
	if fms == 0 {
		if vo.Product, err = v.v2Product(); err != nil {
			return nil, err
		}
	}
	att := &spb.Attestation{Report: rep, CertificateChain: chain}
	if err := verify.SnpAttestationContext(ctx, att, vo); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVerify, err)
	}

	// The certificate go-sev-guest verified the signature with.
	ek, err := x509.ParseCertificate(endorsementKey(att.GetCertificateChain(), key))
	if err != nil {
		return nil, fmt.Errorf("%w: %v certificate: %v", ErrVerify, key, err)
	}
	ext, err := kds.CertificateExtensions(ek, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v certificate extensions: %v", ErrVerify, key, err)
	}
	productLine := kds.ProductLineFromFms(fms)
	if fms == 0 {
		productLine = kds.ProductLineOfProductName(ext.ProductName)
	}
	// The V[CL]EK is derived from the REPORTED_TCB (pub. 56860, "VCEK"), so
	// the report must state the TCB its certificate was issued for, and a
	// VCEK's HWID is the chip's CHIP_ID (zero when the guest policy masks
	// it).
	if got, want := DecomposeTCB(rep.GetReportedTcb(), productLine), certTCB(ext); got.Bootloader != want.Bootloader ||
		got.TEE != want.TEE || got.SNP != want.SNP || got.Microcode != want.Microcode {
		return nil, fmt.Errorf("%w: REPORTED_TCB %s, but the %v certificate is for bootloader %d, TEE %d, SNP %d, microcode %d",
			ErrTCBMismatch, DescribeTCB(rep.GetReportedTcb(), productLine), key, want.Bootloader, want.TEE, want.SNP, want.Microcode)
	}
	if key == abi.VcekReportSigner && !allZero(rep.GetChipId()) && !bytes.Equal(rep.GetChipId(), ext.HWID) {
		return nil, fmt.Errorf("%w: CHIP_ID %x is not the VCEK's HWID %x", ErrTCBMismatch, rep.GetChipId(), ext.HWID)
	}

	c := ClaimsFromReport(rep, productLine)
	c.SignatureVerified = true
	notes = append(notes, fmt.Sprintf("report signed by the %v of a %s (%s), from %s; chain verified to the %s ARK at %s",
		key, productLine, ext.ProductName, ekSource, productLine, now.UTC().Format(time.RFC3339)))
	if insecure {
		notes = append(notes, "INSECURE: verified against test roots (InsecureTestRoots), not AMD's")
	}
	if ark := chain.GetArkCert(); len(ark) > 0 && !arkTrusted(roots[productLine], ark) {
		notes = append(notes, "the ARK carried with the evidence is not among the trusted roots; it was not used")
	}
	notes = append(notes, NoteTCBNotEvaluated, NoteRevocationNotChecked)
	c.Notes = append(c.Notes, notes...)
	return c, nil
}

func endorsementKey(c *spb.CertificateChain, key abi.ReportSigner) []byte {
	if key == abi.VlekReportSigner {
		return c.GetVlekCert()
	}
	return c.GetVcekCert()
}

func setEndorsementKey(c *spb.CertificateChain, key abi.ReportSigner, der []byte) {
	if key == abi.VlekReportSigner {
		c.VlekCert = der
	} else {
		c.VcekCert = der
	}
}

func arkTrusted(roots []*trust.AMDRootCerts, ark []byte) bool {
	for _, r := range roots {
		if r.ProductCerts != nil && r.ProductCerts.Ark != nil && bytes.Equal(r.ProductCerts.Ark.Raw, ark) {
			return true
		}
	}
	return false
}

// oneCert returns the DER of a single certificate given as DER or PEM.
func oneCert(b []byte) ([]byte, error) {
	if len(b) > MaxCollateralSize {
		return nil, fmt.Errorf("%d bytes exceeds the %d-byte limit", len(b), MaxCollateralSize)
	}
	der := b
	if blk, rest := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 {
			return nil, fmt.Errorf("want one PEM CERTIFICATE block, got %q and %d more bytes", blk.Type, len(rest))
		}
		der = blk.Bytes
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	return der, nil
}
