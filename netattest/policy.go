package netattest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/keepwasm/keep/internal/tomlerr"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
	"github.com/keepwasm/keep/keeps/snp"
)

// MaxPolicySize bounds a policy file.
const MaxPolicySize = 1 << 20

// Policy decides which verified certificates are acceptable. The zero
// Policy is the default policy (see DefaultPolicy in docs/POLICY.md):
//
//   - evidence must come from a hardware TEE Keep knows (sgx, tdx, snp),
//     with its signature chain verified to the vendor's root;
//   - never simulated evidence, never a debug TEE;
//   - TCB status "UpToDate" when the verifier rated it;
//   - any module, config and measurement, each reported as "not pinned".
type Policy struct {
	// TEE lists the acceptable TEE types; empty means sgx, tdx and snp.
	// "sim" cannot be listed: use AllowSimulated.
	TEE []keeps.TEE `toml:"tee"`
	// ModuleHashes lists acceptable module digests ("sha384:<hex>").
	ModuleHashes []string `toml:"module_hashes"`
	// ConfigHashes lists acceptable Enarx.toml digests ("sha384:<hex>").
	ConfigHashes []string `toml:"config_hashes"`
	// AllowDebug accepts TEEs whose memory a debugger can read.
	AllowDebug bool `toml:"allow_debug"`
	// AllowSimulated accepts evidence from the sim backend, which no
	// hardware stands behind. Only for development.
	AllowSimulated bool `toml:"allow_simulated"`
	// TCBStatus lists acceptable TCB status classes; empty means
	// ["UpToDate"].
	TCBStatus []string `toml:"tcb_status"`
	// AllowNetwork lets verifiers fetch collateral from Intel PCS / AMD KDS.
	AllowNetwork bool `toml:"allow_network"`
	// Collateral names files of vendor collateral, relative to the policy
	// file: intel = "collateral.json", snp-vcek = "vcek.pem", ...
	Collateral map[string]string `toml:"collateral"`

	SGX SGXPolicy `toml:"sgx"`
	TDX TDXPolicy `toml:"tdx"`
	SNP SNPPolicy `toml:"snp"`
}

// SGXPolicy pins SGX enclave identity. Each list, when set, must contain
// the enclave's value.
type SGXPolicy struct {
	MRENCLAVE []string `toml:"mrenclave"`
	MRSIGNER  []string `toml:"mrsigner"`
	ISVProdID *uint64  `toml:"isv_prod_id"`
	MinISVSVN *uint64  `toml:"min_isv_svn"`
}

// TDXPolicy pins TD measurements.
type TDXPolicy struct {
	MRTD  []string `toml:"mrtd"`
	RTMR0 []string `toml:"rtmr0"`
	RTMR1 []string `toml:"rtmr1"`
	RTMR2 []string `toml:"rtmr2"`
	RTMR3 []string `toml:"rtmr3"`
}

// SNPPolicy pins SEV-SNP guest measurements and minimum versions. The
// minimum TCB applies to the report's REPORTED_TCB security patch levels.
type SNPPolicy struct {
	Measurement      []string `toml:"measurement"`
	HostData         []string `toml:"host_data"`
	MinGuestSVN      *uint64  `toml:"min_guest_svn"`
	MinTCBBootloader *uint64  `toml:"min_tcb_bootloader"`
	MinTCBTEE        *uint64  `toml:"min_tcb_tee"`
	MinTCBSNP        *uint64  `toml:"min_tcb_snp"`
	MinTCBMicrocode  *uint64  `toml:"min_tcb_microcode"`
}

// hardwareTEEs are the TEE types an empty policy accepts.
var hardwareTEEs = []keeps.TEE{keeps.TEESGX, keeps.TEETDX, keeps.TEESNP}

// LoadPolicy reads a policy file. Unknown keys and bad values are errors.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// ParsePolicy refuses more than MaxPolicySize bytes.
	return ParsePolicy(path, data)
}

// ParsePolicy parses policy TOML; name is used in errors.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxPolicySize)
	}
	var p Policy
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&p)
	if err != nil {
		if line, msg := tomlerr.Split(err); line > 0 {
			return nil, fmt.Errorf("%s:%d: %s", name, line, msg)
		} else {
			return nil, fmt.Errorf("%s: %s", name, msg)
		}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %q", name, und[0].String())
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for k, v := range p.Collateral {
		if !filepath.IsAbs(v) {
			p.Collateral[k] = filepath.Join(filepath.Dir(name), v)
		}
	}
	return &p, nil
}

// MaxCollateralSize bounds one collateral file.
const MaxCollateralSize = 1 << 20

// CollateralNames are the names of vendor collateral the backends read
// (the keys of a policy's [collateral] table and of --collateral).
var CollateralNames = []string{intel.CollateralName, snp.CollateralVCEK, snp.CollateralASKARK}

func checkCollateralName(name string) error {
	if !slices.Contains(CollateralNames, name) {
		return fmt.Errorf("unknown collateral name %q (want one of %s)", name, strings.Join(CollateralNames, ", "))
	}
	return nil
}

// options returns verification options with the policy's collateral files
// read and its network permission applied. Collateral already in base
// (given by name) is kept unless the policy names a file for it too.
func (p *Policy) options(base Options) (Options, error) {
	base.AllowNetwork = base.AllowNetwork || p.AllowNetwork
	coll := make(map[string][]byte, len(base.Collateral)+len(p.Collateral))
	for k, v := range base.Collateral {
		if err := checkCollateralName(k); err != nil {
			return base, err
		}
		coll[k] = v
	}
	names := make([]string, 0, len(p.Collateral))
	for k := range p.Collateral {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if err := checkCollateralName(k); err != nil {
			return base, fmt.Errorf("collateral: %w", err)
		}
		data, err := ReadFileLimited(p.Collateral[k], MaxCollateralSize)
		if err != nil {
			return base, fmt.Errorf("collateral %s: %w", k, err)
		}
		coll[k] = data
	}
	if len(coll) > 0 {
		base.Collateral = coll
	}
	return base, nil
}

// Overrides are what a command line adds to a policy file.
type Overrides struct {
	// AllowSimulated and AllowDebug, when true, turn on the policy's
	// allow_simulated and allow_debug.
	AllowSimulated, AllowDebug bool
	// AllowNetwork, when true, turns on allow_network.
	AllowNetwork bool
	// Collateral names collateral files by name (relative to the current
	// directory); they replace the policy's files of the same name.
	Collateral map[string]string
	// Legacy and Now are verification options (see Options).
	Legacy bool
	Now    time.Time
}

// LoadVerifier is how every user of a policy file gets its Verifier (keep
// verify, keep proxy, a TLS listener's client_policy, a connect's policy):
// it loads the policy at path ("" means the default policy), applies the
// overrides, and reads every collateral file the policy or the overrides
// name, so that [collateral] and allow_network are honoured everywhere.
// Unknown collateral names and unreadable or oversized files are errors.
func LoadVerifier(path string, o Overrides) (*Verifier, error) {
	policy := &Policy{}
	if path != "" {
		var err error
		if policy, err = LoadPolicy(path); err != nil {
			return nil, err
		}
	}
	policy.AllowSimulated = policy.AllowSimulated || o.AllowSimulated
	policy.AllowDebug = policy.AllowDebug || o.AllowDebug
	policy.AllowNetwork = policy.AllowNetwork || o.AllowNetwork
	for k, file := range o.Collateral {
		if err := checkCollateralName(k); err != nil {
			return nil, err
		}
		if policy.Collateral == nil {
			policy.Collateral = map[string]string{}
		}
		policy.Collateral[k] = file
	}
	opts, err := policy.options(Options{Legacy: o.Legacy, Now: o.Now})
	if err != nil {
		if path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	return newVerifier(policy, opts, nil), nil
}

// ReadFileLimited reads the file at path, refusing one larger than limit
// bytes without reading more than limit+1 of it (so /dev/zero, a FIFO fed
// forever or a huge file cannot exhaust memory).
func ReadFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // "path: reason", whoever wraps it
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	return ReadLimited(f, path, limit)
}

// ReadLimited reads r to its end, refusing more than limit bytes; name
// is used in the error.
func ReadLimited(r io.Reader, name string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than the %d-byte limit", name, limit)
	}
	return data, nil
}

// Validate checks the policy's values.
func (p *Policy) Validate() error {
	for k, v := range p.Collateral {
		if err := checkCollateralName(k); err != nil {
			return fmt.Errorf("collateral: %w", err)
		}
		if v == "" {
			return fmt.Errorf("collateral: %s: empty file name", k)
		}
	}
	for _, t := range p.TEE {
		if t == keeps.TEESim {
			return errors.New(`tee: "sim" cannot be listed; set allow_simulated = true`)
		}
		if !slices.Contains(hardwareTEEs, t) {
			return fmt.Errorf("tee: unknown TEE %q (want sgx, tdx or snp)", t)
		}
	}
	for _, l := range []struct {
		key  string
		vals []string
	}{{"module_hashes", p.ModuleHashes}, {"config_hashes", p.ConfigHashes}} {
		for _, v := range l.vals {
			if _, err := parseDigest(v); err != nil {
				return fmt.Errorf("%s: %w", l.key, err)
			}
		}
	}
	for _, l := range []struct {
		key  string
		vals []string
		size int
	}{
		{"sgx.mrenclave", p.SGX.MRENCLAVE, 32}, {"sgx.mrsigner", p.SGX.MRSIGNER, 32},
		{"tdx.mrtd", p.TDX.MRTD, 48}, {"tdx.rtmr0", p.TDX.RTMR0, 48}, {"tdx.rtmr1", p.TDX.RTMR1, 48},
		{"tdx.rtmr2", p.TDX.RTMR2, 48}, {"tdx.rtmr3", p.TDX.RTMR3, 48},
		{"snp.measurement", p.SNP.Measurement, 48}, {"snp.host_data", p.SNP.HostData, 32},
	} {
		for _, v := range l.vals {
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != l.size {
				return fmt.Errorf("%s: %q is not %d bytes of hex", l.key, v, l.size)
			}
		}
	}
	// ISVPRODID and ISVSVN are 16-bit fields of the SGX report body. (The
	// TOML decoder wraps a negative number into a huge uint64; this catches
	// it too.)
	for _, f := range []struct {
		key string
		v   *uint64
	}{{"sgx.isv_prod_id", p.SGX.ISVProdID}, {"sgx.min_isv_svn", p.SGX.MinISVSVN}} {
		if f.v != nil && *f.v > 0xffff {
			return fmt.Errorf("%s: %d is out of range 0..65535", f.key, int64(*f.v))
		}
	}
	for _, s := range p.TCBStatus {
		if !slices.Contains(TCBStatuses, s) {
			return fmt.Errorf("tcb_status: unknown status %q (want one of %s)", s, strings.Join(TCBStatuses, ", "))
		}
	}
	return nil
}

// TCBStatuses are the TCB status classes of Intel's TCB info and QE
// identity (Intel PCS API, "tcbStatus"); SEV-SNP verifiers map onto them.
var TCBStatuses = []string{"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"}

func parseDigest(s string) ([]byte, error) {
	h, ok := strings.CutPrefix(s, "sha384:")
	b, err := hex.DecodeString(h)
	if !ok || err != nil || len(b) != 48 {
		return nil, fmt.Errorf("%q is not sha384:<96 hex digits>", s)
	}
	return b, nil
}

// Verdict is a policy's decision about one verified certificate.
type Verdict struct {
	// Accepted is true when every rule passed.
	Accepted bool `json:"accepted"`
	// Reasons say why the certificate was refused (empty when accepted).
	Reasons []string `json:"reasons,omitempty"`
	// NotPinned says what the policy left open, such as "no module hash
	// pinned: any module accepted".
	NotPinned []string `json:"not_pinned,omitempty"`

	// of is the certificate EvaluateAttested judged; NewReport reports
	// Accepted only for a verdict on its own result's Attested.
	of *Attested
}

func (v *Verdict) refuse(format string, a ...any) {
	v.Reasons = append(v.Reasons, fmt.Sprintf(format, a...))
}
func (v *Verdict) open(format string, a ...any) {
	v.NotPinned = append(v.NotPinned, fmt.Sprintf(format, a...))
}

// Err returns nil for an accepted verdict, else an error with the reasons.
func (v *Verdict) Err() error {
	if v.Accepted {
		return nil
	}
	return fmt.Errorf("policy refused the certificate: %s", strings.Join(v.Reasons, "; "))
}

// Evaluate applies the policy to a verification result. Only a result
// whose every check passed (Result.Attested) is judged at all: any other
// is refused, with the failed check as the reason, whatever its claims
// say.
func (p *Policy) Evaluate(r *Result) *Verdict {
	a := r.Attested()
	if a == nil {
		v := &Verdict{}
		f := r.Failed()
		if f == nil { // every listed check passed, yet no Attested: a hand-made Result
			f = &Check{Name: "verification", Detail: "the result was not made by VerifyCertificate"}
		}
		v.refuse("the certificate failed verification: %s: %s", f.Name, f.Detail)
		return v
	}
	return p.EvaluateAttested(a)
}

// EvaluateAttested applies the policy to a verified certificate. A nil
// Attested is refused.
func (p *Policy) EvaluateAttested(a *Attested) *Verdict {
	v := &Verdict{of: a}
	if a == nil || a.evidence == nil {
		v.refuse("the certificate failed verification")
		return v
	}
	ec := a.evidence
	switch {
	case ec.Simulated || ec.TEE == keeps.TEESim:
		if !p.AllowSimulated {
			v.refuse("simulated evidence (sim backend): no TEE stands behind it; allow it explicitly with allow_simulated (or --allow-simulated)")
		}
	case !slices.Contains(hardwareTEEs, ec.TEE):
		v.refuse("unknown TEE type %q", ec.TEE)
	default:
		allowed := p.TEE
		if len(allowed) == 0 {
			allowed = hardwareTEEs
		}
		if !slices.Contains(allowed, ec.TEE) {
			v.refuse("TEE %s is not in the policy's tee list %v", ec.TEE, allowed)
		}
		if !ec.SignatureVerified {
			v.refuse("the %s evidence's signature was not verified to the vendor's root", ec.TEE)
		}
	}
	if ec.Debug && !p.AllowDebug {
		v.refuse("the TEE is in debug mode (its memory is readable by the host); allow it with allow_debug")
	}
	p.evalHashes(v, a.claims)
	p.evalMeasurements(v, ec)
	if ec.TCBStatus == "" {
		if !ec.Simulated {
			v.open("TCB status not evaluated")
		}
	} else {
		allowed := p.TCBStatus
		if len(allowed) == 0 {
			allowed = []string{"UpToDate"}
		}
		if !slices.Contains(allowed, ec.TCBStatus) {
			v.refuse("TCB status %s is not in %v", ec.TCBStatus, allowed)
		}
	}
	v.Accepted = len(v.Reasons) == 0
	return v
}

func (p *Policy) evalHashes(v *Verdict, claims *Claims) {
	for _, h := range []struct {
		name  string
		want  []string
		claim func(*Claims) *HashEntry
	}{
		{"module hash", p.ModuleHashes, func(c *Claims) *HashEntry { return c.ModuleHash }},
		{"config hash", p.ConfigHashes, func(c *Claims) *HashEntry { return c.ConfigHash }},
	} {
		var got *HashEntry
		if claims != nil {
			got = h.claim(claims)
		}
		switch {
		case len(h.want) == 0:
			what := map[string]string{"module hash": "any module", "config hash": "any config"}[h.name]
			v.open("no %s pinned: %s accepted", h.name, what)
		case got == nil:
			v.refuse("the certificate has no %s claim, and the policy pins one", h.name)
		default:
			if !slices.ContainsFunc(h.want, func(s string) bool {
				b, _ := parseDigest(s)
				return bytes.Equal(b, got.Hash)
			}) {
				v.refuse("%s %s is not in the policy", h.name, got)
			}
		}
	}
}

func (p *Policy) evalMeasurements(v *Verdict, ec *keeps.Claims) {
	type pin struct {
		name string
		want []string
	}
	var pins []pin
	switch ec.TEE {
	case keeps.TEESGX:
		pins = []pin{{"mrenclave", p.SGX.MRENCLAVE}, {"mrsigner", p.SGX.MRSIGNER}}
		if p.SGX.ISVProdID != nil && ec.SVNs["isv_prod_id"] != *p.SGX.ISVProdID {
			v.refuse("sgx isv_prod_id %d is not %d", ec.SVNs["isv_prod_id"], *p.SGX.ISVProdID)
		}
		if p.SGX.MinISVSVN != nil && ec.SVNs["isv_svn"] < *p.SGX.MinISVSVN {
			v.refuse("sgx isv_svn %d is below the minimum %d", ec.SVNs["isv_svn"], *p.SGX.MinISVSVN)
		}
	case keeps.TEETDX:
		pins = []pin{{"mrtd", p.TDX.MRTD}, {"rtmr0", p.TDX.RTMR0}, {"rtmr1", p.TDX.RTMR1}, {"rtmr2", p.TDX.RTMR2}, {"rtmr3", p.TDX.RTMR3}}
	case keeps.TEESNP:
		pins = []pin{{"measurement", p.SNP.Measurement}, {"host_data", p.SNP.HostData}}
		for _, m := range []struct {
			svn string
			min *uint64
		}{{"guest_svn", p.SNP.MinGuestSVN}, {"tcb_bootloader", p.SNP.MinTCBBootloader}, {"tcb_tee", p.SNP.MinTCBTEE}, {"tcb_snp", p.SNP.MinTCBSNP}, {"tcb_microcode", p.SNP.MinTCBMicrocode}} {
			if m.min == nil {
				continue
			}
			if got, ok := ec.SVNs[m.svn]; !ok || got < *m.min {
				v.refuse("snp %s %d is below the minimum %d", m.svn, got, *m.min)
			}
		}
	default:
		return
	}
	pinned := false
	for _, pn := range pins {
		if len(pn.want) == 0 {
			continue
		}
		pinned = true
		got := ec.Measurements[pn.name]
		if !slices.ContainsFunc(pn.want, func(s string) bool { return strings.EqualFold(s, hex.EncodeToString(got)) }) {
			v.refuse("%s %s %x is not in the policy", ec.TEE, pn.name, got)
		}
	}
	if !pinned {
		v.open("no %s measurement pinned: any %s accepted", ec.TEE, map[keeps.TEE]string{keeps.TEESGX: "enclave", keeps.TEETDX: "TD", keeps.TEESNP: "guest"}[ec.TEE])
	}
}
