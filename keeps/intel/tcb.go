package intel

// Collateral verification and TCB evaluation, following the steps of
// Intel's Quote Verification Library (QVL) and "Intel SGX and Intel TDX
// Provisioning Certification Service API" (restated in our own words):
//
//  1. The Root CA CRL is signed by the trusted root and current; the PCK
//     CA is not on it.
//  2. The PCK CRL is signed by the PCK CA of the quote's verified chain and
//     current; the PCK leaf is not on it.
//  3. tcbInfo and the QE identity are signed (ECDSA P-256 over their exact
//     bytes) by the "Intel SGX TCB Signing" certificate, which chains to
//     the same trusted root, is current and is not on the Root CA CRL.
//  4. tcbInfo and the QE identity are current (issueDate <= now <
//     nextUpdate) and are for this quote: tcbInfo id "SGX" or "TDX" as the
//     quote, FMSPC and PCE-ID of the PCK certificate; QE identity id "QE"
//     (SGX) or "TD_QE" (TDX).
//  5. Platform TCB level: the first of tcbInfo's levels (Intel lists them
//     from newest to oldest) whose 16 SGX components and PCESVN are all <=
//     the PCK certificate's, and for TDX whose 16 TDX components are <=
//     the quote's TEE_TCB_SVN (bytes 0 and 1 excepted when TEE_TCB_SVN[1],
//     the TDX module's major version, is not 0: those are judged by the
//     TDX module identity).
//  6. TDX module (TDX only): with TEE_TCB_SVN[1] = 0, MRSIGNERSEAM and the
//     masked SEAMATTRIBUTES must match tcbInfo's tdxModule; otherwise the
//     module identity "TDX_<TEE_TCB_SVN[1] in two hex digits>" must exist
//     and match, and its first TCB level with isvsvn <= TEE_TCB_SVN[0]
//     gives the module's status.
//  7. QE: MRSIGNER and ISVPRODID equal, MISCSELECT and ATTRIBUTES of the
//     QE report, masked, equal to the identity's; the first TCB level with
//     isvsvn <= the QE's ISVSVN gives the QE status (OutOfDate if none).
//  8. The overall status is the platform's, made worse by an OutOfDate TDX
//     module or QE (UpToDate and SWHardeningNeeded become OutOfDate;
//     ConfigurationNeeded and ConfigurationAndSWHardeningNeeded become
//     OutOfDateConfigurationNeeded). Advisory IDs are the union of the
//     platform's, module's and QE's levels'.
//
// A Revoked status anywhere, a revoked certificate, or no applicable
// platform or module TCB level are errors.

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"time"
)

// TCBResult is the outcome of a TCB evaluation.
type TCBResult struct {
	// Status is the overall status (step 8 above).
	Status TCBStatus
	// Advisories are the advisory IDs of the matching levels, without
	// duplicates.
	Advisories []string
	// PlatformStatus and PlatformTCBDate are the matching tcbInfo level's.
	PlatformStatus  TCBStatus
	PlatformTCBDate time.Time
	// TDXModuleStatus is the TDX module identity's level status, or ""
	// (SGX quotes, and TDX modules with major version 0).
	TDXModuleStatus TCBStatus
	// QEStatus and QETCBDate are the matching QE identity level's
	// (QETCBDate is zero when the QE is below every level).
	QEStatus  TCBStatus
	QETCBDate time.Time
	// FMSPC is the platform's FMSPC.
	FMSPC [6]byte
	// TCBEvaluationDataNumber is the tcbInfo's.
	TCBEvaluationDataNumber int
	// ValidUntil is the earliest nextUpdate of the tcbInfo, QE identity
	// and CRLs: the verdict may change after it.
	ValidUntil time.Time
}

func (r *TCBResult) note() string {
	s := fmt.Sprintf("TCB status %s: platform %s (TCB level of %s)", r.Status, r.PlatformStatus, r.PlatformTCBDate.UTC().Format(time.DateOnly))
	if r.TDXModuleStatus != "" {
		s += fmt.Sprintf(", TDX module %s", r.TDXModuleStatus)
	}
	s += fmt.Sprintf(", QE %s; collateral for FMSPC %X, tcbEvaluationDataNumber %d, valid until %s",
		r.QEStatus, r.FMSPC, r.TCBEvaluationDataNumber, r.ValidUntil.UTC().Format(time.RFC3339))
	return s
}

func checkWindow(from, until, now time.Time, what string) error {
	if now.Before(from) {
		return fmt.Errorf("%w: %s is not valid before %s (now %s)", ErrExpired, what, from.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !now.Before(until) {
		return fmt.Errorf("%w: %s expired at %s (now %s)", ErrExpired, what, until.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkCRL verifies a CRL's issuer, signature and dates.
func checkCRL(crl *x509.RevocationList, issuer *x509.Certificate, now time.Time, what string) error {
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("%w: %s is issued by %q, want %q", ErrCollateral, what, crl.Issuer.CommonName, issuer.Subject.CommonName)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("%w: %s signature: %v", ErrCollateral, what, err)
	}
	if crl.NextUpdate.IsZero() {
		return fmt.Errorf("%w: %s has no nextUpdate", ErrCollateral, what)
	}
	return checkWindow(crl.ThisUpdate, crl.NextUpdate, now, what)
}

func revoked(crl *x509.RevocationList, cert *x509.Certificate) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

// verifySignedJSON checks a tcbInfo or QE identity signature and its
// TCB Signing certificate chain.
func verifySignedJSON(body []byte, sig [64]byte, chain []*x509.Certificate, root *x509.Certificate, rootCRL *x509.RevocationList, now time.Time, what string) error {
	certs, err := verifyIssuerChain(chain, []string{cnTCBSigning}, []*x509.Certificate{root}, now, what+" issuer chain")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCollateral, err)
	}
	signer := certs[0]
	if revoked(rootCRL, signer) {
		return fmt.Errorf("%w: %w: %s signer %x is on the Root CA CRL", ErrCollateral, ErrRevoked, what, signer.SerialNumber)
	}
	k, err := p256Key(signer)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCollateral, err)
	}
	if !checkP256(k, body, sig) {
		return fmt.Errorf("%w: %s signature does not verify", ErrCollateral, what)
	}
	return nil
}

// EvaluateTCB verifies collateral c and evaluates the TCB of quote q, whose
// signature chain v (from VerifyQuote) has been verified, at time now
// (steps at the top of this file). The collateral must chain to the same
// root as the quote.
func EvaluateTCB(q *Quote, v *QuoteVerification, c *Collateral, now time.Time) (*TCBResult, error) {
	if len(v.PCKChain) != 3 || v.PCK == nil {
		return nil, fmt.Errorf("%w: EvaluateTCB needs a verified PCK chain", ErrUntrustedChain)
	}
	leaf, ca, root := v.PCKChain[0], v.PCKChain[1], v.PCKChain[2]

	// 1, 2: CRLs.
	if err := checkCRL(c.RootCACRL, root, now, "Root CA CRL"); err != nil {
		return nil, err
	}
	if revoked(c.RootCACRL, ca) {
		return nil, fmt.Errorf("%w: %q (serial %x) is on the Root CA CRL", ErrRevoked, ca.Subject.CommonName, ca.SerialNumber)
	}
	if err := checkCRL(c.PCKCRL, ca, now, "PCK CRL"); err != nil {
		return nil, err
	}
	if revoked(c.PCKCRL, leaf) {
		return nil, fmt.Errorf("%w: the PCK certificate (serial %x) is on the PCK CRL", ErrRevoked, leaf.SerialNumber)
	}

	// 3: signatures.
	if err := verifySignedJSON(c.RawTCBInfo, c.TCBInfoSignature, c.TCBInfoIssuerChain, root, c.RootCACRL, now, "tcbInfo"); err != nil {
		return nil, err
	}
	if err := verifySignedJSON(c.RawQEIdentity, c.QEIdentitySignature, c.QEIdentityIssuerChain, root, c.RootCACRL, now, "QE identity"); err != nil {
		return nil, err
	}

	// 4: dates and applicability.
	ti, qi := c.TCBInfo, c.QEIdentity
	if err := checkWindow(ti.IssueDate, ti.NextUpdate, now, "tcbInfo"); err != nil {
		return nil, err
	}
	if err := checkWindow(qi.IssueDate, qi.NextUpdate, now, "QE identity"); err != nil {
		return nil, err
	}
	wantTCBID, wantQEID := "SGX", "QE"
	if q.TD != nil {
		wantTCBID, wantQEID = "TDX", "TD_QE"
	}
	if ti.ID != wantTCBID {
		return nil, fmt.Errorf("%w: tcbInfo id %q for a %s quote, want %q", ErrCollateral, ti.ID, q.TEE(), wantTCBID)
	}
	if qi.ID != wantQEID {
		return nil, fmt.Errorf("%w: QE identity id %q for a %s quote, want %q", ErrCollateral, qi.ID, q.TEE(), wantQEID)
	}
	if !bytes.Equal(ti.FMSPC, v.PCK.FMSPC[:]) {
		return nil, fmt.Errorf("%w: tcbInfo is for FMSPC %X, the PCK certificate's is %X", ErrCollateral, []byte(ti.FMSPC), v.PCK.FMSPC)
	}
	if !bytes.Equal(ti.PCEID, v.PCK.PCEID[:]) {
		return nil, fmt.Errorf("%w: tcbInfo is for PCE-ID %X, the PCK certificate's is %X", ErrCollateral, []byte(ti.PCEID), v.PCK.PCEID)
	}

	r := &TCBResult{FMSPC: v.PCK.FMSPC, TCBEvaluationDataNumber: ti.TCBEvaluationDataNumber}
	r.ValidUntil = ti.NextUpdate
	for _, t := range []time.Time{qi.NextUpdate, c.RootCACRL.NextUpdate, c.PCKCRL.NextUpdate} {
		if t.Before(r.ValidUntil) {
			r.ValidUntil = t
		}
	}

	// 5: platform level.
	level, err := platformLevel(ti, v.PCK, q.TD)
	if err != nil {
		return nil, err
	}
	if level.TCBStatus == TCBRevoked {
		return nil, fmt.Errorf("%w: the platform's TCB level (%s) is Revoked", ErrRevoked, level.TCBDate.UTC().Format(time.DateOnly))
	}
	r.PlatformStatus, r.PlatformTCBDate = level.TCBStatus, level.TCBDate
	r.Status = level.TCBStatus
	adv := append([]string(nil), level.AdvisoryIDs...)

	// 6: TDX module.
	if q.TD != nil {
		ml, err := tdxModuleLevel(ti, q.TD)
		if err != nil {
			return nil, err
		}
		if ml != nil {
			if ml.TCBStatus == TCBRevoked {
				return nil, fmt.Errorf("%w: the TDX module's TCB level is Revoked", ErrRevoked)
			}
			r.TDXModuleStatus = ml.TCBStatus
			r.Status = converge(r.Status, ml.TCBStatus)
			adv = appendNew(adv, ml.AdvisoryIDs)
		}
	}

	// 7: QE.
	ql, err := qeLevel(qi, &q.Signature)
	if err != nil {
		return nil, err
	}
	if ql == nil {
		r.QEStatus = TCBOutOfDate
	} else {
		if ql.TCBStatus == TCBRevoked {
			return nil, fmt.Errorf("%w: the QE's TCB level (ISVSVN %d) is Revoked", ErrRevoked, q.Signature.QEReport.ISVSVN)
		}
		r.QEStatus, r.QETCBDate = ql.TCBStatus, ql.TCBDate
		adv = appendNew(adv, ql.AdvisoryIDs)
	}

	// 8.
	r.Status = converge(r.Status, r.QEStatus)
	r.Advisories = appendNew(nil, adv)
	return r, nil
}

// converge makes status worse when other (a QE or TDX module status) is
// OutOfDate, as Intel's QVL does.
func converge(status, other TCBStatus) TCBStatus {
	if other != TCBOutOfDate {
		return status
	}
	switch status {
	case TCBUpToDate, TCBSWHardeningNeeded:
		return TCBOutOfDate
	case TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded:
		return TCBOutOfDateConfigurationNeeded
	}
	return status
}

func appendNew(dst, src []string) []string {
	for _, s := range src {
		found := false
		for _, d := range dst {
			found = found || d == s
		}
		if !found {
			dst = append(dst, s)
		}
	}
	return dst
}

// platformLevel is step 5.
func platformLevel(ti *TCBInfo, pck *PCKExtension, td *TDReportBody) (*TCBLevel, error) {
	for i := range ti.TCBLevels {
		l := &ti.TCBLevels[i]
		ok := pck.PCESVN >= l.TCB.PCESVN
		for k := 0; k < 16 && ok; k++ {
			ok = pck.TCBComponents[k] >= l.TCB.SGXComponents[k].SVN
		}
		if ok && td != nil {
			start := 0
			if td.TEETCBSVN[1] != 0 {
				start = 2
			}
			for k := start; k < 16 && ok; k++ {
				ok = td.TEETCBSVN[k] >= l.TCB.TDXComponents[k].SVN
			}
		}
		if ok {
			return l, nil
		}
	}
	s := fmt.Sprintf("SGX components %v, PCESVN %d", pck.TCBComponents, pck.PCESVN)
	if td != nil {
		s += fmt.Sprintf(", TEE_TCB_SVN %x", td.TEETCBSVN)
	}
	return nil, fmt.Errorf("%w: %s: older than every TCB level of tcbInfo for FMSPC %X", ErrTCBNotSupported, s, pck.FMSPC)
}

// maskEqual reports whether value&mask == want, bytewise.
func maskEqual(value, mask, want []byte) bool {
	if len(value) != len(mask) || len(value) != len(want) {
		return false
	}
	for i := range value {
		if value[i]&mask[i] != want[i] {
			return false
		}
	}
	return true
}

// tdxModuleLevel is step 6; it returns nil for a module of major version 0.
func tdxModuleLevel(ti *TCBInfo, td *TDReportBody) (*IdentityTCBLevel, error) {
	var attrs [8]byte
	binary.LittleEndian.PutUint64(attrs[:], td.SEAMAttributes)
	major := td.TEETCBSVN[1]
	if major == 0 {
		m := ti.TDXModule
		if m == nil {
			return nil, fmt.Errorf("%w: TDX tcbInfo has no tdxModule", ErrCollateral)
		}
		if !bytes.Equal(m.MRSigner, td.MRSignerSEAM[:]) || !maskEqual(attrs[:], m.AttributesMask, m.Attributes) {
			return nil, fmt.Errorf("%w: TDX module (MRSIGNERSEAM %x, SEAMATTRIBUTES %x) does not match tcbInfo's tdxModule", ErrQEIdentity, td.MRSignerSEAM, attrs)
		}
		return nil, nil
	}
	id := fmt.Sprintf("TDX_%02X", major)
	for i := range ti.TDXModuleIdentities {
		m := &ti.TDXModuleIdentities[i]
		if m.ID != id {
			continue
		}
		if !bytes.Equal(m.MRSigner, td.MRSignerSEAM[:]) || !maskEqual(attrs[:], m.AttributesMask, m.Attributes) {
			return nil, fmt.Errorf("%w: TDX module (MRSIGNERSEAM %x, SEAMATTRIBUTES %x) does not match module identity %s", ErrQEIdentity, td.MRSignerSEAM, attrs, id)
		}
		for j := range m.TCBLevels {
			if uint16(td.TEETCBSVN[0]) >= m.TCBLevels[j].TCB.ISVSVN {
				return &m.TCBLevels[j], nil
			}
		}
		return nil, fmt.Errorf("%w: TDX module %s SVN %d is older than every level of its identity", ErrTCBNotSupported, id, td.TEETCBSVN[0])
	}
	return nil, fmt.Errorf("%w: tcbInfo has no TDX module identity %s", ErrTCBNotSupported, id)
}

// qeLevel is step 7; it returns nil when the QE is below every level.
func qeLevel(qi *EnclaveIdentity, sd *SignatureData) (*IdentityTCBLevel, error) {
	rep := &sd.QEReport
	raw := sd.RawQEReport
	switch {
	case !bytes.Equal(qi.MRSigner, rep.MRSigner[:]):
		return nil, fmt.Errorf("%w: QE MRSIGNER %x, identity %s wants %X", ErrQEIdentity, rep.MRSigner, qi.ID, []byte(qi.MRSigner))
	case rep.ISVProdID != qi.ISVProdID:
		return nil, fmt.Errorf("%w: QE ISVPRODID %d, identity %s wants %d", ErrQEIdentity, rep.ISVProdID, qi.ID, qi.ISVProdID)
	case !maskEqual(raw[16:20], qi.MiscSelectMask, qi.MiscSelect):
		return nil, fmt.Errorf("%w: QE MISCSELECT %x does not match identity %s", ErrQEIdentity, raw[16:20], qi.ID)
	case !maskEqual(raw[48:64], qi.AttributesMask, qi.Attributes):
		return nil, fmt.Errorf("%w: QE ATTRIBUTES %x do not match identity %s", ErrQEIdentity, raw[48:64], qi.ID)
	}
	for i := range qi.TCBLevels {
		if rep.ISVSVN >= qi.TCBLevels[i].TCB.ISVSVN {
			return &qi.TCBLevels[i], nil
		}
	}
	return nil, nil
}
