package netattest

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keepwasm/keep/keeps"
)

func rep(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func hx(b []byte) string { return hex.EncodeToString(b) }

var fullPolicy = `
tee = ["sgx", "tdx", "snp"]
module_hashes = ["sha384:` + strings.Repeat("01", 48) + `"]
config_hashes = ["sha384:` + strings.Repeat("02", 48) + `"]
allow_debug = true
allow_simulated = true
tcb_status = ["UpToDate", "SWHardeningNeeded"]

[sgx]
mrenclave = ["` + "1111111111111111111111111111111111111111111111111111111111111111" + `"]
mrsigner = ["` + "2222222222222222222222222222222222222222222222222222222222222222" + `", "` + "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB" + `"]
isv_prod_id = 7
min_isv_svn = 3

[tdx]
mrtd = ["` + "333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333" + `"]
rtmr0 = ["` + "404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040404040" + `"]
rtmr1 = ["` + "414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141" + `"]
rtmr2 = ["` + "424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242424242" + `"]
rtmr3 = ["` + "434343434343434343434343434343434343434343434343434343434343434343434343434343434343434343434343" + `"]

[snp]
measurement = ["` + "555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555555" + `"]
host_data = ["` + "6666666666666666666666666666666666666666666666666666666666666666" + `"]
`

func TestParsePolicyFull(t *testing.T) {
	p, err := ParsePolicy("full.toml", []byte(fullPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.TEE, []keeps.TEE{keeps.TEESGX, keeps.TEETDX, keeps.TEESNP}) ||
		len(p.ModuleHashes) != 1 || len(p.ConfigHashes) != 1 || !p.AllowDebug || !p.AllowSimulated ||
		!slices.Equal(p.TCBStatus, []string{"UpToDate", "SWHardeningNeeded"}) {
		t.Fatalf("policy %+v", p)
	}
	if len(p.SGX.MRENCLAVE) != 1 || len(p.SGX.MRSIGNER) != 2 || p.SGX.ISVProdID == nil || *p.SGX.ISVProdID != 7 || p.SGX.MinISVSVN == nil || *p.SGX.MinISVSVN != 3 {
		t.Fatalf("sgx %+v", p.SGX)
	}
	if len(p.TDX.MRTD) != 1 || len(p.TDX.RTMR0) != 1 || len(p.TDX.RTMR1) != 1 || len(p.TDX.RTMR2) != 1 || len(p.TDX.RTMR3) != 1 {
		t.Fatalf("tdx %+v", p.TDX)
	}
	if len(p.SNP.Measurement) != 1 || len(p.SNP.HostData) != 1 {
		t.Fatalf("snp %+v", p.SNP)
	}
}

func TestParsePolicyEmptyAndExample(t *testing.T) {
	p, err := ParsePolicy("empty.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.AllowSimulated || p.AllowDebug || p.TEE != nil || p.SGX.ISVProdID != nil {
		t.Fatalf("empty policy %+v", p)
	}
	p, err = LoadPolicy(filepath.Join("..", "examples", "policy.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.TEE, []keeps.TEE{keeps.TEETDX, keeps.TEESNP}) || len(p.ModuleHashes) != 1 || p.AllowSimulated {
		t.Fatalf("example policy %+v", p)
	}
	if _, err := LoadPolicy(filepath.Join(t.TempDir(), "missing.toml")); err == nil || !os.IsNotExist(err) {
		t.Fatalf("missing file: err = %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.toml")
	if err := os.WriteFile(big, []byte("#"+strings.Repeat("x", MaxPolicySize)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy(big); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Fatalf("oversize file: err = %v", err)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	h32 := strings.Repeat("ab", 32)
	h48 := strings.Repeat("ab", 48)
	for _, tc := range []struct {
		name, src, wantErr string
	}{
		{"unknown key", "tees = [\"sgx\"]\n", `p.toml: unknown key "tees"`},
		{"unknown nested key", "[sgx]\nmrenclav = []\n", `unknown key "sgx.mrenclav"`},
		{"unknown table", "[sev]\nmeasurement = []\n", `unknown key "sev`},
		{"mrenclave bad hex", "[sgx]\nmrenclave = [\"" + strings.Repeat("zz", 32) + "\"]\n", `sgx.mrenclave: "zzzz`},
		{"mrenclave bad hex message", "[sgx]\nmrenclave = [\"" + strings.Repeat("zz", 32) + "\"]\n", "is not 32 bytes of hex"},
		{"mrenclave 31 bytes", "[sgx]\nmrenclave = [\"" + h32[:62] + "\"]\n", "sgx.mrenclave: \"" + h32[:62] + "\" is not 32 bytes of hex"},
		{"mrenclave 48 bytes", "[sgx]\nmrenclave = [\"" + h48 + "\"]\n", "sgx.mrenclave: "},
		{"mrenclave odd digits", "[sgx]\nmrenclave = [\"" + h32 + "a\"]\n", "sgx.mrenclave: "},
		{"mrsigner short", "[sgx]\nmrsigner = [\"00\"]\n", `sgx.mrsigner: "00" is not 32 bytes of hex`},
		{"mrtd 32 bytes", "[tdx]\nmrtd = [\"" + h32 + "\"]\n", "tdx.mrtd: \"" + h32 + "\" is not 48 bytes of hex"},
		{"rtmr3 bad", "[tdx]\nrtmr3 = [\"x\"]\n", "tdx.rtmr3: "},
		{"snp measurement short", "[snp]\nmeasurement = [\"" + h32 + "\"]\n", "snp.measurement: "},
		{"snp host_data long", "[snp]\nhost_data = [\"" + h48 + "\"]\n", "snp.host_data: "},
		{"tee sim", "tee = [\"sim\"]\n", "allow_simulated"},
		{"tee sim message", "tee = [\"sgx\", \"sim\"]\n", `tee: "sim" cannot be listed; set allow_simulated = true`},
		{"unknown tee", "tee = [\"sev\"]\n", `tee: unknown TEE "sev" (want sgx, tdx or snp)`},
		{"uppercase tee", "tee = [\"SGX\"]\n", `unknown TEE "SGX"`},
		{"unknown tcb status", "tcb_status = [\"Fine\"]\n", `tcb_status: unknown status "Fine"`},
		{"lowercase tcb status", "tcb_status = [\"uptodate\"]\n", `tcb_status: unknown status "uptodate"`},
		{"module hash sha256", "module_hashes = [\"sha256:" + h32 + "\"]\n", `module_hashes: "sha256:` + h32 + `" is not sha384:<96 hex digits>`},
		{"module hash no prefix", "module_hashes = [\"" + h48 + "\"]\n", "module_hashes: "},
		{"module hash short", "module_hashes = [\"sha384:" + h32 + "\"]\n", "is not sha384:<96 hex digits>"},
		{"module hash upper prefix", "module_hashes = [\"SHA384:" + h48 + "\"]\n", "is not sha384:"},
		{"config hash bad", "config_hashes = [\"sha384:xyz\"]\n", `config_hashes: "sha384:xyz"`},
		{"wrong type", "allow_simulated = \"yes\"\n", "p.toml:1: "},
		{"fractional svn", "[sgx]\nmin_isv_svn = 1.5\n", "p.toml:2: "},
		{"syntax error", "a = \nb", "p.toml:1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy("p.toml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParsePolicy = %+v, %v; want an error containing %q", p, err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "p.toml") {
				t.Fatalf("err = %v, want it to name the file", err)
			}
		})
	}
	if _, err := ParsePolicy("p.toml", make([]byte, MaxPolicySize+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversize: err = %v", err)
	}
}

// BUG: BurntSushi/toml (v1.6.0) decodes a negative integer into a uint64
// by wrapping it (it range-checks uint8/16/32 destinations, not uint64), and
// Validate does not check SGXPolicy.ISVProdID or MinISVSVN. So
// "min_isv_svn = -1" parses without error as MinISVSVN = 2^64-1 (every
// enclave is then refused with "sgx isv_svn N is below the minimum
// 18446744073709551615"), and "isv_prod_id = -2" as 2^64-2. A policy file
// with a negative value must be an error at load time.
func TestParsePolicyNegativeSVN(t *testing.T) {
	for _, src := range []string{"[sgx]\nmin_isv_svn = -1\n", "[sgx]\nisv_prod_id = -2\n"} {
		p, err := ParsePolicy("p.toml", []byte(src))
		if err == nil {
			got := map[string]uint64{}
			if p.SGX.MinISVSVN != nil {
				got["min_isv_svn"] = *p.SGX.MinISVSVN
			}
			if p.SGX.ISVProdID != nil {
				got["isv_prod_id"] = *p.SGX.ISVProdID
			}
			t.Errorf("ParsePolicy(%q) accepted it as %v; want an error", src, got)
		}
	}
}

// result builds a verification result by hand.
func result(ec keeps.Claims, c *Claims) *Result {
	if c == nil {
		c = &Claims{PubkeyHash: HashEntry{Alg: crypto.SHA256, Hash: rep(0, 32)}}
	}
	return sealed(&ec, c)
}

// sealed builds, as VerifyCertificate does after every check passed, a
// verified result with these claims (which may be nil).
func sealed(ec *keeps.Claims, c *Claims) *Result {
	r := &Result{Evidence: ec, Claims: c}
	for _, name := range requiredChecks {
		r.pass(name, "by hand")
	}
	r.attested = &Attested{claims: c, evidence: ec}
	return r
}

func sgxClaims() keeps.Claims {
	return keeps.Claims{
		TEE:               keeps.TEESGX,
		SignatureVerified: true,
		Measurements:      map[string][]byte{"mrenclave": rep(0x11, 32), "mrsigner": rep(0x22, 32)},
		SVNs:              map[string]uint64{"isv_prod_id": 7, "isv_svn": 3},
	}
}

func joined(s []string) string { return strings.Join(s, "\n") }

func TestEvaluateEmptyPolicy(t *testing.T) {
	p := &Policy{}
	// Accepted: verified, non-debug SGX, TCB not rated.
	v := p.Evaluate(result(sgxClaims(), nil))
	if !v.Accepted || v.Err() != nil || len(v.Reasons) != 0 {
		t.Fatalf("verdict %+v", v)
	}
	for _, want := range []string{
		"no module hash pinned: any module accepted",
		"no config hash pinned: any config accepted",
		"no sgx measurement pinned: any enclave accepted",
		"TCB status not evaluated",
	} {
		if !slices.Contains(v.NotPinned, want) {
			t.Errorf("NotPinned %q lacks %q", v.NotPinned, want)
		}
	}
	for tee, what := range map[keeps.TEE]string{keeps.TEETDX: "TD", keeps.TEESNP: "guest"} {
		v := p.Evaluate(result(keeps.Claims{TEE: tee, SignatureVerified: true, TCBStatus: "UpToDate"}, nil))
		if !v.Accepted || !slices.Contains(v.NotPinned, "no "+string(tee)+" measurement pinned: any "+what+" accepted") || slices.Contains(v.NotPinned, "TCB status not evaluated") {
			t.Errorf("%s: verdict %+v", tee, v)
		}
	}

	for _, tc := range []struct {
		name   string
		ec     func(c *keeps.Claims)
		reason string
	}{
		{"sim", func(c *keeps.Claims) { *c = keeps.Claims{TEE: keeps.TEESim, Simulated: true} }, "simulated evidence (sim backend)"},
		{"simulated sgx", func(c *keeps.Claims) { c.Simulated = true }, "allow_simulated"},
		{"sim TEE without the flag", func(c *keeps.Claims) { c.TEE = keeps.TEESim }, "simulated evidence"},
		{"debug", func(c *keeps.Claims) { c.Debug = true }, "debug mode"},
		{"unknown TEE", func(c *keeps.Claims) { c.TEE = "foo" }, `unknown TEE type "foo"`},
		{"empty TEE", func(c *keeps.Claims) { c.TEE = "" }, `unknown TEE type ""`},
		{"unverified signature", func(c *keeps.Claims) { c.SignatureVerified = false }, "the sgx evidence's signature was not verified to the vendor's root"},
		{"TCB OutOfDate", func(c *keeps.Claims) { c.TCBStatus = "OutOfDate" }, "TCB status OutOfDate is not in [UpToDate]"},
		{"TCB SWHardeningNeeded", func(c *keeps.Claims) { c.TCBStatus = "SWHardeningNeeded" }, "TCB status SWHardeningNeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ec := sgxClaims()
			tc.ec(&ec)
			v := p.Evaluate(result(ec, nil))
			if v.Accepted || !strings.Contains(joined(v.Reasons), tc.reason) {
				t.Fatalf("verdict %+v, want a refusal containing %q", v, tc.reason)
			}
			if err := v.Err(); err == nil || !strings.Contains(err.Error(), tc.reason) || !strings.HasPrefix(err.Error(), "policy refused the certificate: ") {
				t.Fatalf("Err() = %v", err)
			}
		})
	}

	// A result without evidence claims is refused by any policy.
	for _, p := range []*Policy{{}, {AllowSimulated: true, AllowDebug: true}} {
		if v := p.Evaluate(&Result{}); v.Accepted || !strings.Contains(joined(v.Reasons), "failed verification") {
			t.Fatalf("no evidence: verdict %+v", v)
		}
	}
}

func TestEvaluateFlags(t *testing.T) {
	simRes := result(keeps.Claims{TEE: keeps.TEESim, Simulated: true}, nil)
	v := (&Policy{AllowSimulated: true}).Evaluate(simRes)
	if !v.Accepted || slices.Contains(v.NotPinned, "TCB status not evaluated") {
		t.Fatalf("allow_simulated: verdict %+v", v)
	}
	// allow_simulated does not extend to unknown TEEs or debug.
	if v := (&Policy{AllowSimulated: true}).Evaluate(result(keeps.Claims{TEE: "foo", SignatureVerified: true}, nil)); v.Accepted {
		t.Fatalf("allow_simulated accepted an unknown TEE: %+v", v)
	}
	if v := (&Policy{AllowSimulated: true}).Evaluate(result(keeps.Claims{TEE: keeps.TEESim, Simulated: true, Debug: true}, nil)); v.Accepted {
		t.Fatalf("allow_simulated accepted a debug TEE: %+v", v)
	}
	ec := sgxClaims()
	ec.Debug = true
	if v := (&Policy{AllowDebug: true}).Evaluate(result(ec, nil)); !v.Accepted {
		t.Fatalf("allow_debug: verdict %+v", v)
	}
	// The tee list narrows the hardware TEEs.
	v = (&Policy{TEE: []keeps.TEE{keeps.TEETDX}}).Evaluate(result(sgxClaims(), nil))
	if v.Accepted || !strings.Contains(joined(v.Reasons), "TEE sgx is not in the policy's tee list [tdx]") {
		t.Fatalf("tee list: verdict %+v", v)
	}
	// tcb_status widens the accepted statuses.
	p := &Policy{TCBStatus: []string{"UpToDate", "SWHardeningNeeded"}}
	for status, ok := range map[string]bool{"UpToDate": true, "SWHardeningNeeded": true, "OutOfDate": false, "ConfigurationNeeded": false} {
		ec := sgxClaims()
		ec.TCBStatus = status
		v := p.Evaluate(result(ec, nil))
		if v.Accepted != ok {
			t.Errorf("tcb_status %s: verdict %+v, want accepted=%v", status, v, ok)
		}
		if !ok && !strings.Contains(joined(v.Reasons), "TCB status "+status+" is not in [UpToDate SWHardeningNeeded]") {
			t.Errorf("tcb_status %s: reasons %q", status, v.Reasons)
		}
	}
	// Several failures are all reported.
	ec = sgxClaims()
	ec.Debug, ec.SignatureVerified, ec.TCBStatus = true, false, "OutOfDate"
	if v := (&Policy{}).Evaluate(result(ec, nil)); len(v.Reasons) != 3 {
		t.Fatalf("reasons %q, want 3", v.Reasons)
	}
}

func TestEvaluateHashPins(t *testing.T) {
	mod := rep(0x01, 48)
	cfg := rep(0x02, 48)
	claims := &Claims{
		PubkeyHash: HashEntry{Alg: crypto.SHA256, Hash: rep(0, 32)},
		ModuleHash: &HashEntry{Alg: crypto.SHA384, Hash: mod},
		ConfigHash: &HashEntry{Alg: crypto.SHA384, Hash: cfg},
	}
	res := result(sgxClaims(), claims)
	other := "sha384:" + strings.Repeat("ff", 48)
	for _, tc := range []struct {
		name   string
		p      Policy
		res    *Result
		reason string // "" means accepted
	}{
		{"module pinned", Policy{ModuleHashes: []string{other, "sha384:" + hx(mod)}}, res, ""},
		{"module pinned, upper-case hex", Policy{ModuleHashes: []string{"sha384:" + strings.ToUpper(hx(mod))}}, res, ""},
		{"module other", Policy{ModuleHashes: []string{other}}, res, "module hash sha384:" + hx(mod) + " is not in the policy"},
		{"config pinned", Policy{ConfigHashes: []string{"sha384:" + hx(cfg)}}, res, ""},
		{"config other", Policy{ConfigHashes: []string{other}}, res, "config hash sha384:" + hx(cfg) + " is not in the policy"},
		{"module claim missing", Policy{ModuleHashes: []string{other}}, result(sgxClaims(), nil), "the certificate has no module hash claim, and the policy pins one"},
		{"config claim missing", Policy{ConfigHashes: []string{other}}, result(sgxClaims(), nil), "no config hash claim"},
		{"no claims at all", Policy{ModuleHashes: []string{other}}, sealed(func() *keeps.Claims { c := sgxClaims(); return &c }(), nil), "no module hash claim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.p.Evaluate(tc.res)
			if tc.reason == "" {
				if !v.Accepted {
					t.Fatalf("verdict %+v", v)
				}
				return
			}
			if v.Accepted || !strings.Contains(joined(v.Reasons), tc.reason) {
				t.Fatalf("verdict %+v, want a refusal containing %q", v, tc.reason)
			}
		})
	}
	v := (&Policy{ModuleHashes: []string{"sha384:" + hx(mod)}}).Evaluate(res)
	if slices.Contains(v.NotPinned, "no module hash pinned: any module accepted") {
		t.Fatalf("pinned module reported as not pinned: %q", v.NotPinned)
	}
}

func u64(v uint64) *uint64 { return &v }

func TestEvaluateMeasurementPins(t *testing.T) {
	sgx := sgxClaims()
	tdx := keeps.Claims{TEE: keeps.TEETDX, SignatureVerified: true, Measurements: map[string][]byte{
		"mrtd": rep(0x33, 48), "rtmr0": rep(0x40, 48), "rtmr1": rep(0x41, 48), "rtmr2": rep(0x42, 48), "rtmr3": rep(0x43, 48),
	}}
	snp := keeps.Claims{TEE: keeps.TEESNP, SignatureVerified: true, Measurements: map[string][]byte{
		"measurement": rep(0x55, 48), "host_data": rep(0x66, 32),
	}}
	w32 := []string{strings.Repeat("99", 32)}
	w48 := []string{strings.Repeat("99", 48)}
	for _, tc := range []struct {
		name   string
		p      Policy
		ec     keeps.Claims
		reason string // "" means accepted
	}{
		{"mrenclave right", Policy{SGX: SGXPolicy{MRENCLAVE: []string{hx(rep(0x11, 32))}}}, sgx, ""},
		{"mrenclave right, upper case", Policy{SGX: SGXPolicy{MRENCLAVE: []string{strings.ToUpper(hx(rep(0xab, 32))), hx(rep(0x11, 32))}}}, sgx, ""},
		{"mrenclave wrong", Policy{SGX: SGXPolicy{MRENCLAVE: w32}}, sgx, "sgx mrenclave " + hx(rep(0x11, 32)) + " is not in the policy"},
		{"mrsigner right", Policy{SGX: SGXPolicy{MRSIGNER: []string{hx(rep(0x22, 32))}}}, sgx, ""},
		{"mrsigner wrong", Policy{SGX: SGXPolicy{MRSIGNER: w32}}, sgx, "sgx mrsigner " + hx(rep(0x22, 32)) + " is not in the policy"},
		{"mrsigner given the mrenclave", Policy{SGX: SGXPolicy{MRSIGNER: []string{hx(rep(0x11, 32))}}}, sgx, "sgx mrsigner"},
		{"isv_prod_id right", Policy{SGX: SGXPolicy{ISVProdID: u64(7)}}, sgx, ""},
		{"isv_prod_id wrong", Policy{SGX: SGXPolicy{ISVProdID: u64(8)}}, sgx, "sgx isv_prod_id 7 is not 8"},
		{"min_isv_svn equal", Policy{SGX: SGXPolicy{MinISVSVN: u64(3)}}, sgx, ""},
		{"min_isv_svn below", Policy{SGX: SGXPolicy{MinISVSVN: u64(2)}}, sgx, ""},
		{"min_isv_svn above", Policy{SGX: SGXPolicy{MinISVSVN: u64(4)}}, sgx, "sgx isv_svn 3 is below the minimum 4"},
		{"mrtd right", Policy{TDX: TDXPolicy{MRTD: []string{hx(rep(0x33, 48))}}}, tdx, ""},
		{"mrtd wrong", Policy{TDX: TDXPolicy{MRTD: w48}}, tdx, "tdx mrtd " + hx(rep(0x33, 48)) + " is not in the policy"},
		{"rtmr0 right", Policy{TDX: TDXPolicy{RTMR0: []string{hx(rep(0x40, 48))}}}, tdx, ""},
		{"rtmr0 wrong", Policy{TDX: TDXPolicy{RTMR0: w48}}, tdx, "tdx rtmr0 "},
		{"rtmr1 wrong", Policy{TDX: TDXPolicy{RTMR1: w48}}, tdx, "tdx rtmr1 "},
		{"rtmr2 wrong", Policy{TDX: TDXPolicy{RTMR2: w48}}, tdx, "tdx rtmr2 "},
		{"rtmr3 right", Policy{TDX: TDXPolicy{RTMR3: []string{hx(rep(0x43, 48))}}}, tdx, ""},
		{"rtmr3 wrong", Policy{TDX: TDXPolicy{RTMR3: w48}}, tdx, "tdx rtmr3 " + hx(rep(0x43, 48)) + " is not in the policy"},
		{"snp measurement right", Policy{SNP: SNPPolicy{Measurement: []string{hx(rep(0x55, 48))}}}, snp, ""},
		{"snp measurement wrong", Policy{SNP: SNPPolicy{Measurement: w48}}, snp, "snp measurement " + hx(rep(0x55, 48)) + " is not in the policy"},
		{"snp host_data right", Policy{SNP: SNPPolicy{HostData: []string{hx(rep(0x66, 32))}}}, snp, ""},
		{"snp host_data wrong", Policy{SNP: SNPPolicy{HostData: w32}}, snp, "snp host_data "},
		{"measurement missing from the evidence", Policy{SNP: SNPPolicy{HostData: w32}}, keeps.Claims{TEE: keeps.TEESNP, SignatureVerified: true}, "snp host_data"},
		// Pins of another TEE do not apply.
		{"sgx pins, tdx evidence", Policy{SGX: SGXPolicy{MRENCLAVE: w32, ISVProdID: u64(99)}}, tdx, ""},
		{"tdx pins, snp evidence", Policy{TDX: TDXPolicy{MRTD: w48}}, snp, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.p.Evaluate(result(tc.ec, nil))
			if tc.reason == "" {
				if !v.Accepted {
					t.Fatalf("verdict %+v", v)
				}
				return
			}
			if v.Accepted || !strings.Contains(joined(v.Reasons), tc.reason) {
				t.Fatalf("verdict %+v, want a refusal containing %q", v, tc.reason)
			}
		})
	}
	// A measurement pin removes the "not pinned" note for that TEE only.
	v := (&Policy{SGX: SGXPolicy{MRENCLAVE: []string{hx(rep(0x11, 32))}}}).Evaluate(result(sgx, nil))
	if slices.Contains(v.NotPinned, "no sgx measurement pinned: any enclave accepted") {
		t.Fatalf("NotPinned %q", v.NotPinned)
	}
	v = (&Policy{SGX: SGXPolicy{MRENCLAVE: w32}}).Evaluate(result(tdx, nil))
	if !slices.Contains(v.NotPinned, "no tdx measurement pinned: any TD accepted") {
		t.Fatalf("NotPinned %q", v.NotPinned)
	}
}

// A policy parsed from TOML evaluates as the equivalent struct.
func TestParsedPolicyEvaluates(t *testing.T) {
	p, err := ParsePolicy("p.toml", []byte("tcb_status = [\"UpToDate\", \"SWHardeningNeeded\"]\n[sgx]\nmrenclave = [\""+hx(rep(0x11, 32))+"\"]\nmin_isv_svn = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	ec := sgxClaims()
	ec.TCBStatus = "SWHardeningNeeded"
	if v := p.Evaluate(result(ec, nil)); !v.Accepted {
		t.Fatalf("verdict %+v", v)
	}
	ec.SVNs["isv_svn"] = 2
	if v := p.Evaluate(result(ec, nil)); v.Accepted || !strings.Contains(joined(v.Reasons), "isv_svn 2 is below the minimum 3") {
		t.Fatalf("verdict %+v", v)
	}
}

func TestSNPMinimumTCB(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	res := sealed(&keeps.Claims{TEE: keeps.TEESNP, SignatureVerified: true,
		SVNs: map[string]uint64{"guest_svn": 2, "tcb_bootloader": 3, "tcb_tee": 0, "tcb_snp": 8, "tcb_microcode": 115}}, nil)
	for _, tc := range []struct {
		p    SNPPolicy
		ok   bool
		want string
	}{
		{SNPPolicy{MinTCBSNP: u(8), MinTCBMicrocode: u(115), MinGuestSVN: u(2)}, true, ""},
		{SNPPolicy{MinTCBSNP: u(9)}, false, "snp tcb_snp 8 is below the minimum 9"},
		{SNPPolicy{MinTCBMicrocode: u(200)}, false, "tcb_microcode 115"},
		{SNPPolicy{MinGuestSVN: u(3)}, false, "guest_svn 2"},
	} {
		v := (&Policy{SNP: tc.p}).Evaluate(res)
		if v.Accepted != tc.ok || (tc.want != "" && !strings.Contains(strings.Join(v.Reasons, ";"), tc.want)) {
			t.Errorf("%+v: verdict %+v", tc.p, v)
		}
	}
}
