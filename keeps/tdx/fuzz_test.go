package tdx

import (
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-tdx-guest/pcs"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/tdx/tdxtest"
)

// TestMain caps the fuzzer's input minimization at 250 ms unless
// -test.fuzzminimizetime was given: on 5-20 KB seeds Go's quadratic
// minimizer otherwise stalls "go test -fuzz" for a minute per new input.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.fuzzminimizetime" })
	if !given {
		if err := flag.Set("test.fuzzminimizetime", "250ms"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

var hexFMSPC = regexp.MustCompile(`^[0-9A-F]{12}$`)

// FuzzParseCollateral checks that ParseCollateral never panics, refuses
// inputs over MaxCollateralSize, fails only with ErrCollateral, and that
// what it accepts can be served to go-tdx-guest. Seeded with the real TDX
// bundles and a synthetic one.
func FuzzParseCollateral(f *testing.F) {
	for _, name := range []string{
		"tdx/dcap-qvl-tdx_quote_collateral.json",
		"tdx/dcap-qvl-tdx_quote_outdated_collateral.json",
		"tdx/dcap-qvl-near-quote_collateral.json",
		"sgx/dcap-qvl-sgx_quote_collateral.json",
	} {
		f.Add(readVector(f, name))
	}
	f.Add(mustCollateral(f, newSigner(f), tdxtest.CollateralSpec{}))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"tcb_info":"{}"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCollateral(data)
		if err != nil {
			if !errors.Is(err, ErrCollateral) {
				t.Fatalf("error %v does not wrap ErrCollateral", err)
			}
			return
		}
		if len(data) > MaxCollateralSize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		if !hexFMSPC.MatchString(c.FMSPC) || (c.PCKCA != caPlatform && c.PCKCA != caProcessor) {
			t.Fatalf("FMSPC %q, PCK CA %q", c.FMSPC, c.PCKCA)
		}
		g := bundleGetter{c}
		for _, u := range []string{pcs.TcbInfoURL(strings.ToLower(c.FMSPC)), pcs.QeIdentityURL(), pcs.PckCrlURL(c.PCKCA)} {
			if _, b, err := g.Get(u); err != nil || len(b) == 0 {
				t.Fatalf("Get(%s): %d bytes, %v", u, len(b), err)
			}
		}
		if _, _, err := g.Get("https://example.com/"); err == nil {
			t.Fatal("served a URL that is not in the bundle")
		}
	})
}

func TestParseCollateralLimits(t *testing.T) {
	good := readVector(t, "tdx/dcap-qvl-tdx_quote_collateral.json")
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"too large", append(append([]byte{}, good[:len(good)-1]...), append([]byte(strings.Repeat(" ", MaxCollateralSize)), '}')...)},
		{"empty", nil},
		{"not JSON", []byte("tcb")},
		{"member missing", []byte(strings.Replace(string(good), `"pck_crl"`, `"pck_crl_x"`, 1))},
		{"tcb_info not an object", []byte(strings.Replace(string(good), `"tcb_info": "{`, `"tcb_info": "[{`, 1))},
		{"signature not 64 bytes", []byte(strings.Replace(string(good), `"tcb_info_signature": "`, `"tcb_info_signature": "00`, 1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCollateral(tc.data); !errors.Is(err, ErrCollateral) {
				t.Errorf("err = %v, want ErrCollateral", err)
			}
		})
	}
}

// FuzzVerify feeds arbitrary bytes through the whole verifier (both
// parsers and go-tdx-guest's checks, which panic on some malformed
// structures keeps/intel refuses first): it must never panic, and claims
// come only with a verified signature.
func FuzzVerify(f *testing.F) {
	for _, rq := range realQuotes {
		f.Add(readQuote(f, rq.file))
	}
	s := newSigner(f)
	f.Add(mustQuote(f, s, [64]byte{}))
	s.Version = 5
	f.Add(mustQuote(f, s, [64]byte{}))
	v := &Verifier{InsecureTestRoots: s.Roots()}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := v.Verify(bg, ev(data), keeps.VerifyOptions{Now: synthNow})
		if err != nil {
			if c != nil {
				t.Fatal("claims with an error")
			}
			return
		}
		if !c.SignatureVerified || c.TEE != keeps.TEETDX {
			t.Fatalf("claims %+v", c)
		}
	})
}
