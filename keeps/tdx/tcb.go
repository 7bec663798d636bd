package tdx

// TCB status evaluation of a TDX quote from tcbInfo and the TD QE identity
// that go-tdx-guest has already verified (signatures, issuer chains, CRLs,
// expiry, FMSPC, PCE-ID and tdxModule). It follows Intel's Quote
// Verification Library (QVL: TcbLevelCheck, TdxModuleCheck,
// QuoteVerifier::convergeTcbStatusWithQeTcbStatus), restated:
//
//  1. Platform level: the first tcbInfo level (Intel lists them newest
//     first) whose 16 SGX TCB components and PCESVN are <= the PCK
//     certificate's, and whose 16 TDX components are <= the quote's
//     TEE_TCB_SVN, skipping components 0 and 1 when TEE_TCB_SVN[1] (the TDX
//     module's major version) is not 0. None: the TCB is not supported.
//  2. TDX module, when TEE_TCB_SVN[1] != 0: the tdxModuleIdentities entry
//     "TDX_<TEE_TCB_SVN[1] as two hex digits>" (compared case-insensitively)
//     must exist and match MRSIGNERSEAM and the masked SEAMATTRIBUTES; its
//     first level with isvsvn <= TEE_TCB_SVN[0] gives the module's status.
//     None: not supported.
//  3. QE: MRSIGNER and ISVPRODID equal to the identity's, MISCSELECT and
//     ATTRIBUTES equal once masked; the first level with isvsvn <= the QE's
//     ISVSVN gives its status. None: Revoked (as QVL's
//     EnclaveIdentityV2::getTcbStatus).
//  4. A Revoked status anywhere is an error. Otherwise the platform status,
//     made worse by an OutOfDate module, then by an OutOfDate QE
//     (UpToDate and SWHardeningNeeded become OutOfDate;
//     ConfigurationNeeded and ConfigurationAndSWHardeningNeeded become
//     OutOfDateConfigurationNeeded), is the TCB status. Advisory IDs are
//     those of the three matching levels.
//
// Not evaluated: QVL's TD relaunch advice for TDX 1.5 bodies (from
// TEE_TCB_SVN_2), which has no status in keeps' vocabulary.
//
// go-tdx-guest's own status check only looks at the module's level when
// TEE_TCB_SVN[1] != 0 and ignores the platform's, and fails instead of
// reporting a status that is not UpToDate; hence this file.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/pcs"

	"github.com/keepwasm/keep/keeps/intel"
)

// Errors of the TCB evaluation, wrapped with details.
var (
	// ErrTCBNotSupported: no tcbInfo level (or TDX module identity level)
	// applies to the platform; Intel's QVL fails such quotes
	// (STATUS_TCB_NOT_SUPPORTED).
	ErrTCBNotSupported = errors.New("tdx: no TCB level matches the platform")
	// ErrRevoked: the platform's, the TDX module's or the QE's TCB level
	// is Revoked, or a certificate is on a CRL.
	ErrRevoked = errors.New("tdx: revoked")
	// ErrQEIdentity: the quoting enclave or the TDX module does not match
	// its identity in the collateral. It comes with ErrCollateral; when
	// go-tdx-guest finds the mismatch first, only ErrCollateral.
	ErrQEIdentity = errors.New("tdx: identity mismatch")
)

// Offsets in the 384-byte SGX report body of the QE report ("Enclave
// Report Body" table of the Intel SGX ECDSA Quote Library API).
const (
	qeAttributesOff = 48 // ATTRIBUTES, 16 bytes
)

// tcbResult is the outcome of a TCB evaluation.
type tcbResult struct {
	// Status is the overall TCB status (step 4).
	Status string
	// Advisories are the advisory IDs of the matching levels, each once.
	Advisories []string
	// PlatformStatus and PlatformTCBDate are the matching tcbInfo level's.
	PlatformStatus, PlatformTCBDate string
	// ModuleStatus is the TDX module identity level's status, or "" when
	// TEE_TCB_SVN[1] is 0.
	ModuleStatus string
	// QEStatus and QETCBDate are the matching QE identity level's.
	QEStatus, QETCBDate string
	// FMSPC is the tcbInfo's FMSPC (upper-case hex).
	FMSPC string
	// TCBEvaluationDataNumber is the tcbInfo's.
	TCBEvaluationDataNumber int
	// NextUpdate is the earliest nextUpdate of the tcbInfo, the QE
	// identity and the CRLs: the result may change after it.
	NextUpdate time.Time
}

// note is a one-line summary for keeps.Claims.Notes.
func (r *tcbResult) note() string {
	s := fmt.Sprintf("TCB status %s: platform %s (TCB level of %s)", r.Status, r.PlatformStatus, r.PlatformTCBDate)
	if r.ModuleStatus != "" {
		s += ", TDX module " + r.ModuleStatus
	}
	return s + fmt.Sprintf(", QE %s (TCB level of %s); FMSPC %s, tcbEvaluationDataNumber %d, collateral valid until %s",
		r.QEStatus, r.QETCBDate, r.FMSPC, r.TCBEvaluationDataNumber, r.NextUpdate.UTC().Format(time.RFC3339))
}

// tcbInput is what the evaluation reads from the verified quote.
type tcbInput struct {
	pck            *pcs.PckExtensions
	teeTCBSVN      [16]byte
	mrSignerSeam   [48]byte
	seamAttributes uint64
	qe             intel.SGXReportBody
	qeRaw          []byte
}

// evaluateTCB runs steps 1-4 on a verified tcbInfo and QE identity.
func evaluateTCB(ti *pcs.TcbInfo, qi *pcs.EnclaveIdentity, in tcbInput, now time.Time) (*tcbResult, error) {
	// go-tdx-guest checks nextUpdate only; refuse collateral from the
	// future too.
	if now.Before(ti.IssueDate) {
		return nil, collateralErr("tcbInfo is not valid before its issueDate %s", ti.IssueDate.UTC().Format(time.RFC3339))
	}
	if now.Before(qi.IssueDate) {
		return nil, collateralErr("QE identity is not valid before its issueDate %s", qi.IssueDate.UTC().Format(time.RFC3339))
	}
	r := &tcbResult{FMSPC: strings.ToUpper(ti.Fmspc), TCBEvaluationDataNumber: ti.TcbEvaluationDataNumber, NextUpdate: ti.NextUpdate}
	if qi.NextUpdate.Before(r.NextUpdate) {
		r.NextUpdate = qi.NextUpdate
	}

	// 1. Platform.
	platform, err := platformLevel(ti, in)
	if err != nil {
		return nil, err
	}
	r.PlatformStatus, r.PlatformTCBDate = string(platform.TcbStatus), platform.TcbDate
	levels := []*pcs.TcbLevel{platform}

	// 2. TDX module.
	var module *pcs.TcbLevel
	if in.teeTCBSVN[1] != 0 {
		if module, err = moduleLevel(ti, in); err != nil {
			return nil, err
		}
		r.ModuleStatus = string(module.TcbStatus)
		levels = append(levels, module)
	}

	// 3. QE.
	qe, err := qeLevel(qi, in)
	if err != nil {
		return nil, err
	}
	r.QEStatus, r.QETCBDate = string(qe.TcbStatus), qe.TcbDate
	levels = append(levels, qe)

	// 4. Converge.
	for _, l := range []struct {
		what string
		l    *pcs.TcbLevel
	}{{"platform", platform}, {"TDX module", module}, {"QE", qe}} {
		if l.l != nil && l.l.TcbStatus == pcs.TcbComponentStatusRevoked {
			return nil, fmt.Errorf("%w: the %s's TCB level (%s) is Revoked", ErrRevoked, l.what, l.l.TcbDate)
		}
	}
	status := platform.TcbStatus
	if module != nil {
		status = converge(status, module.TcbStatus)
	}
	r.Status = string(converge(status, qe.TcbStatus))
	for _, l := range levels {
		for _, a := range l.AdvisoryIDs {
			if !slices.Contains(r.Advisories, a) {
				r.Advisories = append(r.Advisories, a)
			}
		}
	}
	return r, nil
}

// converge makes status worse when other is OutOfDate (QVL's
// convergeTcbStatusWithTdxModuleStatus and convergeTcbStatusWithQeTcbStatus).
func converge(status, other pcs.TcbComponentStatus) pcs.TcbComponentStatus {
	if other != pcs.TcbComponentStatusOutOfDate {
		return status
	}
	switch status {
	case pcs.TcbComponentStatusUpToDate, pcs.TcbComponentStatusSwHardeningNeeded:
		return pcs.TcbComponentStatusOutOfDate
	case pcs.TcbComponentStatusConfigurationNeeded, pcs.TcbComponentStatusConfigurationAndSWHardeningNeeded:
		return pcs.TcbComponentStatusOutOfDateConfigurationNeeded
	}
	return status
}

func platformLevel(ti *pcs.TcbInfo, in tcbInput) (*pcs.TcbLevel, error) {
	if len(in.pck.TCB.CPUSvnComponents) != 16 {
		return nil, collateralErr("PCK certificate has %d SGX TCB components, want 16", len(in.pck.TCB.CPUSvnComponents))
	}
	first := 0
	if in.teeTCBSVN[1] != 0 {
		first = 2 // judged by the TDX module identity
	}
	for i := range ti.TcbLevels {
		l := &ti.TcbLevels[i]
		if len(l.Tcb.SgxTcbcomponents) != 16 || len(l.Tcb.TdxTcbcomponents) != 16 {
			return nil, collateralErr("tcbInfo level %d has %d SGX and %d TDX components, want 16 each", i, len(l.Tcb.SgxTcbcomponents), len(l.Tcb.TdxTcbcomponents))
		}
		ok := in.pck.TCB.PCESvn >= l.Tcb.Pcesvn
		for c := 0; ok && c < 16; c++ {
			ok = in.pck.TCB.CPUSvnComponents[c] >= l.Tcb.SgxTcbcomponents[c].Svn
		}
		for c := first; ok && c < 16; c++ {
			ok = in.teeTCBSVN[c] >= l.Tcb.TdxTcbcomponents[c].Svn
		}
		if ok {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w: none of the %d levels of tcbInfo (FMSPC %s, tcbEvaluationDataNumber %d) applies to SGX TCB components %v, PCESVN %d, TEE_TCB_SVN %x",
		ErrTCBNotSupported, len(ti.TcbLevels), strings.ToUpper(ti.Fmspc), ti.TcbEvaluationDataNumber, in.pck.TCB.CPUSvnComponents, in.pck.TCB.PCESvn, in.teeTCBSVN)
}

func moduleLevel(ti *pcs.TcbInfo, in tcbInput) (*pcs.TcbLevel, error) {
	id := fmt.Sprintf("TDX_%02X", in.teeTCBSVN[1])
	for i := range ti.TdxModuleIdentities {
		m := &ti.TdxModuleIdentities[i]
		if !strings.EqualFold(m.ID, id) {
			continue
		}
		if !bytes.Equal(m.Mrsigner.Bytes, in.mrSignerSeam[:]) {
			return nil, fmt.Errorf("%w: %w: MRSIGNERSEAM %x is not the %s identity's %x", ErrCollateral, ErrQEIdentity, in.mrSignerSeam, id, m.Mrsigner.Bytes)
		}
		if len(m.Attributes.Bytes) != 8 || len(m.AttributesMask.Bytes) != 8 {
			return nil, collateralErr("%s identity: attributes and mask must be 8 bytes", id)
		}
		var seam [8]byte
		binary.LittleEndian.PutUint64(seam[:], in.seamAttributes)
		if !bytes.Equal(and(seam[:], m.AttributesMask.Bytes), m.Attributes.Bytes) {
			return nil, fmt.Errorf("%w: %w: SEAMATTRIBUTES %x do not match the %s identity", ErrCollateral, ErrQEIdentity, seam, id)
		}
		for j := range m.TcbLevels {
			if uint32(in.teeTCBSVN[0]) >= m.TcbLevels[j].Tcb.Isvsvn {
				return &m.TcbLevels[j], nil
			}
		}
		return nil, fmt.Errorf("%w: TDX module ISVSVN %d is below every level of %s", ErrTCBNotSupported, in.teeTCBSVN[0], id)
	}
	return nil, fmt.Errorf("%w: tcbInfo has no TDX module identity %s", ErrTCBNotSupported, id)
}

func qeLevel(qi *pcs.EnclaveIdentity, in tcbInput) (*pcs.TcbLevel, error) {
	qe := in.qe
	if !bytes.Equal(qi.Mrsigner.Bytes, qe.MRSigner[:]) {
		return nil, fmt.Errorf("%w: %w: QE MRSIGNER %x is not the QE identity's %x", ErrCollateral, ErrQEIdentity, qe.MRSigner, qi.Mrsigner.Bytes)
	}
	if qe.ISVProdID != qi.IsvProdID {
		return nil, fmt.Errorf("%w: %w: QE ISVPRODID %d is not the QE identity's %d", ErrCollateral, ErrQEIdentity, qe.ISVProdID, qi.IsvProdID)
	}
	if len(qi.Miscselect.Bytes) != 4 || len(qi.MiscselectMask.Bytes) != 4 || len(qi.Attributes.Bytes) != 16 || len(qi.AttributesMask.Bytes) != 16 {
		return nil, collateralErr("QE identity: miscselect and mask must be 4 bytes, attributes and mask 16")
	}
	misc := binary.LittleEndian.Uint32(qi.Miscselect.Bytes)
	if qe.MiscSelect&binary.LittleEndian.Uint32(qi.MiscselectMask.Bytes) != misc {
		return nil, fmt.Errorf("%w: %w: QE MISCSELECT %08x does not match the QE identity", ErrCollateral, ErrQEIdentity, qe.MiscSelect)
	}
	attr := in.qeRaw[qeAttributesOff : qeAttributesOff+16]
	if !bytes.Equal(and(attr, qi.AttributesMask.Bytes), qi.Attributes.Bytes) {
		return nil, fmt.Errorf("%w: %w: QE ATTRIBUTES %x do not match the QE identity", ErrCollateral, ErrQEIdentity, attr)
	}
	for i := range qi.TcbLevels {
		if qi.TcbLevels[i].Tcb.Isvsvn <= uint32(qe.ISVSVN) {
			return &qi.TcbLevels[i], nil
		}
	}
	return nil, fmt.Errorf("%w: QE ISVSVN %d is below every level of the QE identity", ErrRevoked, qe.ISVSVN)
}

func and(a, mask []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] & mask[i]
	}
	return out
}
