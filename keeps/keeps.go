package keeps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// TEE names a kind of trusted execution environment.
type TEE string

// The TEEs Keep knows. TEESim is Keep's software backend: no hardware
// stands behind it.
const (
	TEESim TEE = "sim"
	TEESGX TEE = "sgx"
	TEETDX TEE = "tdx"
	TEESNP TEE = "snp"
)

// ReportDataSize is the size of the user data a TEE binds into its
// evidence: REPORTDATA in SGX and TDX reports, REPORT_DATA in SEV-SNP
// attestation reports. All three are 64 bytes.
const ReportDataSize = 64

// ReportData is the caller's data an attester binds into its evidence.
type ReportData [ReportDataSize]byte

// CBOR tags of evidence formats in the interoperable RA-TLS extension
// (CCC Attestation SIG, "Interoperable RA-TLS SGX/TDX evidence formats").
const (
	// TagIntelQuote (IANA CBOR tag 60000): an Intel SGX or TDX ECDSA quote,
	// of any version; its header tells SGX from TDX.
	TagIntelQuote uint64 = 60000
	// TagSEVSNPReport (0x1a7504): an AMD SEV-SNP attestation report. Not
	// IANA-registered; it is the value librats, rats-tls and rats-rs use.
	TagSEVSNPReport uint64 = 0x1a7504
)

// Evidence is what an attester produces: a tagged blob and optional
// endorsements (for example the VCEK chain of an SEV-SNP report).
type Evidence struct {
	// Tag is the CBOR tag naming the format of Data.
	Tag uint64
	// Data is the raw quote or report.
	Data []byte
	// Endorsements are format-specific supporting data, or nil.
	Endorsements []byte
}

// Attester produces evidence on the keep's side.
type Attester interface {
	// TEE names the environment the attester runs in.
	TEE() TEE
	// Attest returns evidence that binds rd.
	Attest(ctx context.Context, rd ReportData) (*Evidence, error)
}

// Claims is what a verifier established about evidence. Fields a TEE does
// not have are left empty.
type Claims struct {
	// TEE is the environment the evidence comes from.
	TEE TEE
	// Simulated is true when no hardware stands behind the evidence.
	Simulated bool
	// Debug is true when the TEE allows a host debugger to read its memory.
	Debug bool
	// ReportData is the data bound into the evidence.
	ReportData ReportData
	// Measurements of the TEE's initial state, by name: "mrenclave" and
	// "mrsigner" (SGX); "mrtd", "rtmr0".."rtmr3" (TDX); "measurement",
	// "host_data" (SNP); "sim" (sim).
	Measurements map[string][]byte
	// SVNs are security version numbers and product ids, by name
	// ("isv_prod_id", "isv_svn", ...).
	SVNs map[string]uint64
	// TCBStatus is the platform's TCB status class as the vendor rates it
	// ("UpToDate", "OutOfDate", ...), or "" when it was not evaluated.
	TCBStatus string
	// Advisories are the vendor's security advisory ids that apply to the
	// platform's TCB level (for example "INTEL-SA-00615").
	Advisories []string
	// SignatureVerified is true when the evidence's signature chain was
	// checked up to a trusted root.
	SignatureVerified bool
	// Notes are facts a human should see, such as what was not checked.
	Notes []string
}

// VerifyOptions are what a verifier may need besides the evidence.
type VerifyOptions struct {
	// Now is the time at which certificates and collateral must be valid;
	// the zero value means time.Now().
	Now time.Time
	// Collateral is vendor collateral the user supplied, by name. Each
	// backend documents the names it reads (for example "intel" for a
	// DCAP collateral bundle, "snp-vcek" for a VCEK certificate).
	Collateral map[string][]byte
	// AllowNetwork lets a verifier fetch missing collateral or
	// certificates from the vendor (Intel PCS, AMD KDS).
	AllowNetwork bool
}

// Verifier checks evidence of one or more formats.
type Verifier interface {
	// Tags lists the evidence tags this verifier handles.
	Tags() []uint64
	// Verify checks the evidence's signatures and returns its claims. It
	// does not apply policy beyond what makes the evidence trustworthy.
	Verify(ctx context.Context, ev *Evidence, opts VerifyOptions) (*Claims, error)
}

// ErrUnknownTag is returned for evidence no registered verifier handles.
var ErrUnknownTag = errors.New("no verifier for evidence tag")

// Registry maps evidence tags to verifiers. The zero value is empty and
// ready to use; it is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[uint64]Verifier
}

// Register adds v for each of its tags, replacing earlier registrations.
func (r *Registry) Register(v Verifier) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[uint64]Verifier{}
	}
	for _, t := range v.Tags() {
		r.m[t] = v
	}
}

// Lookup returns the verifier for tag.
func (r *Registry) Lookup(tag uint64) (Verifier, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[tag]
	if !ok {
		return nil, fmt.Errorf("%w %d (0x%x)", ErrUnknownTag, tag, tag)
	}
	return v, nil
}

// Tags returns the registered tags in increasing order.
func (r *Registry) Tags() []uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ts := make([]uint64, 0, len(r.m))
	for t := range r.m {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}
