package intel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel/inteltest"
)

// allQuotesNow lies inside every real quote's PCK chain validity: the
// latest PCK leaf (go-tdx-guest-quote_sample_v5.dat) starts 2026-01-27,
// the earliest to end (the rats-tls legacy quotes) ends 2028-03-27.
var allQuotesNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func parse(tb testing.TB, data []byte) *Quote {
	tb.Helper()
	q, err := ParseQuote(data)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestPinnedRoot(t *testing.T) {
	der, err := os.ReadFile("intel_sgx_root_ca.der")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der, readVector(t, "tdx/dcap-qvl-intel-sgx-root-ca.der")) {
		t.Fatal("embedded root differs from shared/vectors")
	}
	sum := sha256.Sum256(der)
	if hex.EncodeToString(sum[:]) != IntelSGXRootCASHA256 {
		t.Fatal("hash")
	}
	r := IntelSGXRootCA()
	if r.Subject.CommonName != "Intel SGX Root CA" || !r.IsCA || r.CheckSignatureFrom(r) != nil {
		t.Fatalf("root %q CA %v", r.Subject.CommonName, r.IsCA)
	}
	if r.SerialNumber.Text(16) != "22650cd65a9d3489f383b49552bf501b392706ac" {
		t.Errorf("serial %x", r.SerialNumber)
	}
	// The key the research notes give for the Intel SGX Root CA.
	pub, _ := r.PublicKey.(interface{ Bytes() ([]byte, error) })
	b, err := pub.Bytes()
	if err != nil || hex.EncodeToString(b) != "040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394" {
		t.Errorf("root key %x", b)
	}
	if IntelSGXRootCA() == r {
		t.Error("IntelSGXRootCA must return a fresh copy")
	}
}

// wantPCK are the README's PCK facts for each real quote, by file (the
// RA-TLS quotes by certificate file).
var wantPCK = map[string]struct {
	ca     PCKCA
	fmspc  string
	pcesvn uint16
	comps  string // first components, as in the README
}{
	"sgx/dcap-qvl-sgx_quote":                      {PCKCAProcessor, "00A067110000", 13, "11,11,2,2,255,1,0"},
	"tdx/dcap-qvl-tdx_quote":                      {PCKCAPlatform, "B0C06F000000", 11, "3,3,2,2,4,1,0,5,0"},
	"tdx/dcap-qvl-tdx_quote_outdated":             {PCKCAPlatform, "90C06F000000", 13, "3,3,2,2,4,1,0,3,0"},
	"tdx/go-tdx-guest-tdx_prod_quote_SPR_E4.dat":  {PCKCAPlatform, "50806F000000", 11, "3,3,2,2,2,1,0,2,0"},
	"tdx/go-tdx-guest-quote_sample_v5.dat":        {PCKCAPlatform, "90C06F000000", 13, "4,4,2,2,4,1,0,5,0"},
	"tdx/go-tdx-guest-ccel-cos-113-tdx-quote.dat": {PCKCAPlatform, "00806F050000", 11, ""},
	"tdx/dcap-qvl-tdx-quote.hex":                  {PCKCAPlatform, "B0C06F000000", 11, "2,2,2,2,3,1,0,3,0"},
	"tdx/dcap-qvl-quote-from-tappd.hex":           {PCKCAPlatform, "B0C06F000000", 11, "2,2,2,2,3,1,0,3,0"},
	"tdx/dcap-qvl-near-quote_hex.txt":             {PCKCAPlatform, "20A06F000000", 13, ""},
	"ra-tls/ccc-gramine-cert.pem":                 {PCKCAPlatform, "00606A000000", 11, "4,4,3,3,255,255,0"},
	"ra-tls/ccc-intel-sgxsdk-cert.pem":            {PCKCAProcessor, "00706A100000", 13, "8,8,0"},
	"ra-tls/ccc-rats-tls-cert.pem":                {PCKCAPlatform, "00606A000000", 11, "4,4,3,3,255,255,0"},
	"ra-tls/rats-rs-demo-sgx-cert.pem":            {PCKCAPlatform, "00606A000000", 13, "12,12,3,3,255,255,0"},
	"ra-tls/rats-tls-legacy-rsa-sha1.pem":         {PCKCAPlatform, "00606A000000", 10, "4,4,3,3,255,255,0"},
	"ra-tls/rats-tls-legacy-rsa-sha256.pem":       {PCKCAPlatform, "00606A000000", 10, "4,4,3,3,255,255,0"},
}

// TestVerifyEveryRealQuote verifies the signature chain of every real
// quote (raw files and RA-TLS certificates) up to the pinned root, and
// checks the PCK facts against the README.
func TestVerifyEveryRealQuote(t *testing.T) {
	quotes := allRealQuotes(t)
	for _, name := range sortedNames(quotes) {
		t.Run(name, func(t *testing.T) {
			q := parse(t, quotes[name])
			v, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: allQuotesNow})
			if err != nil {
				t.Fatal(err)
			}
			c := v.Claims
			if !c.SignatureVerified || c.TCBStatus != "" || v.TCB != nil || c.TEE != q.TEE() || c.ReportData != q.ReportData() {
				t.Fatalf("claims %+v", c)
			}
			if !slices.Contains(c.Notes, NoteNoCollateral) {
				t.Errorf("notes %q", c.Notes)
			}
			if len(v.PCKChain) != 3 || !bytes.Equal(v.PCKChain[2].Raw, intelSGXRootCADER) {
				t.Fatal("chain does not end in the pinned root")
			}
			file, _, _ := strings.Cut(name, "#")
			w, ok := wantPCK[file]
			if !ok {
				t.Fatalf("no PCK expectation for %s", file)
			}
			if v.PCKCA != w.ca || fmt.Sprintf("%X", v.PCK.FMSPC) != w.fmspc || v.PCK.PCESVN != w.pcesvn {
				t.Errorf("PCK CA %s FMSPC %X PCESVN %d, want %s %s %d", v.PCKCA, v.PCK.FMSPC, v.PCK.PCESVN, w.ca, w.fmspc, w.pcesvn)
			}
			var comps []string
			for _, c := range v.PCK.TCBComponents {
				comps = append(comps, fmt.Sprint(c))
			}
			if !strings.HasPrefix(strings.Join(comps, ","), w.comps) {
				t.Errorf("TCB components %v, want prefix %s", v.PCK.TCBComponents, w.comps)
			}

			// Outside the PCK leaf's validity: refused.
			leaf := v.PCKChain[0]
			for _, now := range []time.Time{leaf.NotBefore.Add(-time.Second), leaf.NotAfter.Add(time.Second)} {
				_, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: now})
				if !errors.Is(err, ErrExpired) {
					t.Errorf("at %s: %v, want ErrExpired", now, err)
				}
			}
		})
	}
}

// collateralCase pairs a real quote with real collateral (README "Quick
// reference" table).
type collateralCase struct {
	quote, coll string
	from, until time.Time // the window where everything is valid
	status      TCBStatus
	advisories  []string
	module      TCBStatus
	err         error
}

var collateralCases = []collateralCase{
	{quote: "sgx/dcap-qvl-sgx_quote", coll: "sgx/dcap-qvl-sgx_quote_collateral.json",
		from: ts("2025-06-19T10:56:11Z"), until: ts("2025-07-19T10:01:18Z"),
		status: TCBConfigurationAndSWHardeningNeeded, advisories: []string{"INTEL-SA-00289", "INTEL-SA-00615"}},
	{quote: "tdx/dcap-qvl-tdx_quote", coll: "tdx/dcap-qvl-tdx_quote_collateral.json",
		from: ts("2025-06-19T10:32:27Z"), until: ts("2025-07-19T10:00:35Z"), status: TCBUpToDate, module: TCBUpToDate},
	{quote: "tdx/dcap-qvl-tdx_quote_outdated", coll: "tdx/dcap-qvl-tdx_quote_outdated_collateral.json",
		from: ts("2026-02-18T10:58:51Z"), until: ts("2026-03-20T10:41:15Z"), err: ErrTCBNotSupported},
	{quote: "tdx/dcap-qvl-near-quote_hex.txt", coll: "tdx/dcap-qvl-near-quote_collateral.json",
		from: ts("2025-09-02T07:41:59Z"), until: ts("2025-10-02T07:03:51Z"), status: TCBUpToDate, module: TCBUpToDate},
	{quote: "tdx/go-tdx-guest-quote_sample_v5.dat", coll: "tdx/dcap-qvl-tdx_quote_outdated_collateral.json",
		from: ts("2026-02-18T10:58:51Z"), until: ts("2026-03-20T10:41:15Z"), status: TCBUpToDate, module: TCBUpToDate},
	{quote: "tdx/dcap-qvl-tdx-quote.hex", coll: "tdx/dcap-qvl-tdx_quote_collateral.json",
		from: ts("2025-06-19T10:32:27Z"), until: ts("2025-07-19T10:00:35Z"), err: ErrTCBNotSupported},
	{quote: "tdx/dcap-qvl-quote-from-tappd.hex", coll: "tdx/dcap-qvl-tdx_quote_collateral.json",
		from: ts("2025-06-19T10:32:27Z"), until: ts("2025-07-19T10:00:35Z"), err: ErrTCBNotSupported},
	// Cross pairings: collateral for another platform or TEE.
	{quote: "sgx/dcap-qvl-sgx_quote", coll: "tdx/dcap-qvl-tdx_quote_collateral.json",
		from: ts("2025-06-19T10:56:11Z"), until: ts("2025-07-19T10:00:35Z"), err: ErrCollateral},
	{quote: "tdx/dcap-qvl-tdx_quote", coll: "tdx/dcap-qvl-near-quote_collateral.json",
		from: ts("2025-09-02T07:41:59Z"), until: ts("2025-10-02T07:03:51Z"), err: ErrCollateral},
}

func TestVerifyWithRealCollateral(t *testing.T) {
	for _, tc := range collateralCases {
		t.Run(tc.quote+"+"+tc.coll, func(t *testing.T) {
			q := parse(t, readQuoteFile(t, tc.quote))
			coll := readVector(t, tc.coll)
			for _, now := range []time.Time{tc.from, tc.until.Add(-time.Second), tc.from.Add(tc.until.Sub(tc.from) / 2)} {
				v, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: now, Collateral: coll})
				if tc.err != nil {
					if !errors.Is(err, tc.err) {
						t.Fatalf("at %s: %v, want %v", now, err, tc.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("at %s: %v", now, err)
				}
				if v.TCB.Status != tc.status || v.Claims.TCBStatus != string(tc.status) || !slices.Equal(v.Claims.Advisories, tc.advisories) {
					t.Errorf("at %s: status %s advisories %q, want %s %q", now, v.TCB.Status, v.Claims.Advisories, tc.status, tc.advisories)
				}
				if v.TCB.QEStatus != TCBUpToDate || v.TCB.TDXModuleStatus != tc.module {
					t.Errorf("QE %s module %s", v.TCB.QEStatus, v.TCB.TDXModuleStatus)
				}
				if !v.TCB.ValidUntil.Equal(tc.until) {
					t.Errorf("valid until %s, want %s", v.TCB.ValidUntil, tc.until)
				}
				if !v.Claims.SignatureVerified || slices.Contains(v.Claims.Notes, NoteNoCollateral) {
					t.Errorf("claims %+v", v.Claims)
				}
			}
			if tc.err != nil {
				return
			}
			// Just outside the window: refused, saying why.
			for _, c := range []struct {
				now  time.Time
				word string
			}{{tc.until, "expired"}, {tc.until.Add(time.Hour), "expired"}, {tc.from.Add(-time.Second), "not valid before"}} {
				_, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: c.now, Collateral: coll})
				if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), c.word) {
					t.Errorf("at %s: %v, want ErrExpired saying %q", c.now, err, c.word)
				}
			}
		})
	}
}

// TestSGXSampleExpiry is the README's SGX case at dcap-qvl's own time and
// just after it: the QE identity expires first.
func TestSGXSampleExpiry(t *testing.T) {
	q := parse(t, readQuoteFile(t, "sgx/dcap-qvl-sgx_quote"))
	coll := readVector(t, "sgx/dcap-qvl-sgx_quote_collateral.json")
	v, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: time.Unix(1752919277, 0), Collateral: coll})
	if err != nil {
		t.Fatal(err)
	}
	if v.Claims.TCBStatus != "ConfigurationAndSWHardeningNeeded" || !slices.Equal(v.Claims.Advisories, []string{"INTEL-SA-00289", "INTEL-SA-00615"}) {
		t.Fatalf("%s %q", v.Claims.TCBStatus, v.Claims.Advisories)
	}
	_, err = VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: time.Unix(1752919278, 0), Collateral: coll})
	if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "QE identity expired at 2025-07-19T10:01:18Z") {
		t.Fatalf("%v", err)
	}
}

// tamperOffsets returns the offsets to flip in a quote: all of them, or,
// in -short mode, every 7th plus the first and last 64 bytes.
func tamperOffsets(n int, all bool) []int {
	var out []int
	for i := 0; i < n; i++ {
		if all || i%7 == 0 || i < 64 || i >= n-64 {
			out = append(out, i)
		}
	}
	return out
}

// TestTamperedRealQuotes flips each byte of real quotes (all but the
// unsigned trailing bytes) and wants every one refused: every byte of the
// header, body and signature data is covered by a signature, a hash or a
// strict structural check.
func TestTamperedRealQuotes(t *testing.T) {
	files := []struct {
		name string
		now  time.Time
		all  bool
	}{
		{"sgx/dcap-qvl-sgx_quote", allQuotesNow, true},               // v3 SGX, Processor CA
		{"tdx/go-tdx-guest-quote_sample_v5.dat", allQuotesNow, true}, // v5 TDX 1.5
		{"tdx/dcap-qvl-tdx_quote", allQuotesNow, false},              // v4 TDX, trailing bytes
		{"tdx/go-tdx-guest-tdx_prod_quote_SPR_E4.dat", allQuotesNow, false},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			data := readQuoteFile(t, f.name)
			q := parse(t, data)
			if _, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: f.now}); err != nil {
				t.Fatal(err)
			}
			signedEnd := len(data) - len(q.Trailing)
			buf := bytes.Clone(data)
			for _, i := range tamperOffsets(signedEnd, f.all && !testing.Short()) {
				for _, mask := range []byte{0xff, 0x01} {
					buf[i] ^= mask
					tq, err := ParseQuote(buf)
					if err == nil {
						_, err = VerifyQuote(context.Background(), tq, VerifyQuoteOptions{Now: f.now})
					}
					buf[i] ^= mask
					if err == nil {
						t.Fatalf("flipping byte %d with %#x still verifies", i, mask)
					}
				}
			}
			// Trailing bytes are outside every signature; changing them is
			// harmless and VerifyQuote says nothing of them but a note.
			if len(q.Trailing) > 0 {
				buf[len(buf)-1] ^= 0xff
				if _, err := VerifyQuote(context.Background(), parse(t, buf), VerifyQuoteOptions{Now: f.now}); err != nil {
					t.Errorf("trailing byte: %v", err)
				}
			}
		})
	}
}

// TestTamperedCollateral flips bytes of the signed tcbInfo and QE identity
// in real collateral.
func TestTamperedCollateral(t *testing.T) {
	q := parse(t, readQuoteFile(t, "sgx/dcap-qvl-sgx_quote"))
	coll := readVector(t, "sgx/dcap-qvl-sgx_quote_collateral.json")
	now := time.Unix(1752919277, 0)
	for _, s := range []struct{ old, new string }{
		{`\"tcbStatus\":\"ConfigurationAndSWHardeningNeeded\"`, `\"tcbStatus\":\"UpToDate\"`},
		{`\"isvsvn\":8`, `\"isvsvn\":7`},
		{`\"fmspc\":\"00A067110000\"`, `\"fmspc\":\"00a067110000\"`},
	} {
		if !bytes.Contains(coll, []byte(s.old)) {
			t.Fatalf("%s not in the collateral", s.old)
		}
		bad := bytes.Replace(coll, []byte(s.old), []byte(s.new), 1)
		_, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: now, Collateral: bad})
		if !errors.Is(err, ErrCollateral) || !strings.Contains(err.Error(), "signature does not verify") {
			t.Errorf("%s -> %s: %v", s.old, s.new, err)
		}
	}
}

func newPKI(t testing.TB, o inteltest.PKIOptions) *inteltest.PKI {
	t.Helper()
	p, err := inteltest.NewPKI(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func makeQuote(t testing.TB, p *inteltest.PKI, s inteltest.QuoteSpec) *Quote {
	t.Helper()
	b, err := p.Quote(s)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, b)
}

var synthNow = time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)

// TestTestRoots: a quote signed through a self-made hierarchy verifies only
// with that root as an insecure test root, never with the pinned root.
func TestTestRoots(t *testing.T) {
	p := newPKI(t, inteltest.PKIOptions{})
	other := newPKI(t, inteltest.PKIOptions{})
	noRoot := append(inteltest.PEM(p.Leaf, p.CA), 0)
	for _, tc := range []struct {
		name  string
		spec  inteltest.QuoteSpec
		roots []*x509.Certificate
		err   error
	}{
		{"test root", inteltest.QuoteSpec{}, []*x509.Certificate{p.Root}, nil},
		{"test root among others", inteltest.QuoteSpec{}, []*x509.Certificate{other.Root, p.Root}, nil},
		{"chain without its root", inteltest.QuoteSpec{Chain: noRoot}, []*x509.Certificate{p.Root}, nil},
		{"version 4", inteltest.QuoteSpec{Version: 4}, []*x509.Certificate{p.Root}, nil},
		{"pinned root", inteltest.QuoteSpec{}, nil, ErrUntrustedChain},
		{"pinned root, chain without root", inteltest.QuoteSpec{Chain: noRoot}, nil, ErrUntrustedChain},
		{"another test root", inteltest.QuoteSpec{}, []*x509.Certificate{other.Root}, ErrUntrustedChain},
		{"same-named root with another key", inteltest.QuoteSpec{Chain: append(inteltest.PEM(p.Leaf, p.CA, other.Root), 0)}, []*x509.Certificate{other.Root}, ErrUntrustedChain},
		{"leaf signed by another CA", inteltest.QuoteSpec{Chain: append(inteltest.PEM(p.Leaf, other.CA, other.Root), 0)}, []*x509.Certificate{other.Root}, ErrUntrustedChain},
		{"leaf only", inteltest.QuoteSpec{Chain: inteltest.PEM(p.Leaf)}, []*x509.Certificate{p.Root}, ErrUntrustedChain},
		{"CA in the leaf's place", inteltest.QuoteSpec{Chain: inteltest.PEM(p.CA, p.Root)}, []*x509.Certificate{p.Root}, ErrUntrustedChain},
		{"QE vendor not Intel", inteltest.QuoteSpec{QEVendorID: &[16]byte{1}}, []*x509.Certificate{p.Root}, ErrUntrustedChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := makeQuote(t, p, tc.spec)
			v, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: synthNow, InsecureTestRoots: tc.roots})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("%v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !v.Claims.SignatureVerified || v.PCK.FMSPC != p.FMSPC || v.PCKCA != PCKCAProcessor || !v.PCKChain[2].Equal(p.Root) {
				t.Fatalf("%+v", v)
			}
		})
	}
}

// TestSignatureChecks breaks each signature-related step in a quote that
// is otherwise valid.
func TestSignatureChecks(t *testing.T) {
	p := newPKI(t, inteltest.PKIOptions{})
	roots := []*x509.Certificate{p.Root}
	good, err := p.Quote(inteltest.QuoteSpec{})
	if err != nil {
		t.Fatal(err)
	}
	q := parse(t, good)
	// Offsets in a v3 quote: signature data starts at 48+384+4.
	sd := HeaderSize + SGXReportBodySize + 4
	for _, tc := range []struct {
		name string
		off  int
		want string
	}{
		{"header user data", 40, "quote signature"},
		{"body report data", HeaderSize + 320, "quote signature"},
		{"quote signature", sd + 10, "quote signature"},
		{"attestation key", sd + 64 + 10, "attestation key"},
		{"QE report", sd + 128 + 100, "QE report signature"},
		{"QE report signature", sd + 128 + 384 + 3, "QE report signature"},
		{"QE auth data", sd + 128 + 384 + 64 + 2 + 5, "QE report data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(good)
			b[tc.off] ^= 0x40
			_, err := VerifyQuote(context.Background(), parse(t, b), VerifyQuoteOptions{Now: synthNow, InsecureTestRoots: roots})
			if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrBadSignature about %q", err, tc.want)
			}
		})
	}
	if _, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: synthNow, InsecureTestRoots: roots}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := VerifyQuote(ctx, q, VerifyQuoteOptions{Now: synthNow, InsecureTestRoots: roots}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func u16p(v uint16) *uint16 { return &v }

// TestSynthesizedCollateral drives the TCB evaluation through every
// outcome with collateral signed by a test hierarchy.
func TestSynthesizedCollateral(t *testing.T) {
	p := newPKI(t, inteltest.PKIOptions{})
	other := newPKI(t, inteltest.PKIOptions{})
	from, until := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	lvl := func(c [16]uint8, pcesvn uint16, st string, adv ...string) inteltest.TCBLevel {
		return inteltest.TCBLevel{Components: c, PCESVN: pcesvn, Status: st, Advisories: adv}
	}
	mine := p.TCBComponents
	newer := mine
	newer[6] = 12
	qe := func(levels ...inteltest.QEIdentityLevel) []byte { return inteltest.QEIdentity(from, until, levels...) }
	platformQE := inteltest.DefaultQE()
	platformQE.ISVProdID = 2
	miscQE := inteltest.DefaultQE()
	miscQE.MiscSelect = 1
	debugQE := inteltest.DefaultQE()
	debugQE.Flags |= 0x02 // DEBUG is inside the mask (FB...)
	qe32 := inteltest.DefaultQE()
	qe32.Flags &^= 0x04 // MODE64BIT is outside the mask
	otherFMSPC := newPKI(t, inteltest.PKIOptions{FMSPC: &[6]byte{1, 2, 3, 4, 5, 6}})

	type tc struct {
		name      string
		spec      inteltest.CollateralSpec
		qe        *inteltest.SGXBody
		now       time.Time
		coll      []byte // overrides spec
		status    TCBStatus
		qeStatus  TCBStatus
		adv       []string
		err       error
		errString string
	}
	cases := []tc{
		{name: "up to date", status: TCBUpToDate, qeStatus: TCBUpToDate},
		{name: "second level", spec: inteltest.CollateralSpec{TCBInfo: p.TCBInfo(from, until,
			lvl(newer, 13, "SWHardeningNeeded", "SA-1"), lvl(mine, 13, "ConfigurationAndSWHardeningNeeded", "SA-1", "SA-2"))},
			status: TCBConfigurationAndSWHardeningNeeded, qeStatus: TCBUpToDate, adv: []string{"SA-1", "SA-2"}},
		{name: "PCESVN too low for the first level", spec: inteltest.CollateralSpec{TCBInfo: p.TCBInfo(from, until,
			lvl(mine, 14, "UpToDate"), lvl(mine, 12, "OutOfDate", "SA-3"))},
			status: TCBOutOfDate, qeStatus: TCBUpToDate, adv: []string{"SA-3"}},
		{name: "no level", spec: inteltest.CollateralSpec{TCBInfo: p.TCBInfo(from, until, lvl(newer, 13, "UpToDate"))}, err: ErrTCBNotSupported},
		{name: "revoked level", spec: inteltest.CollateralSpec{TCBInfo: p.TCBInfo(from, until, lvl(mine, 13, "Revoked"))}, err: ErrRevoked},
		{name: "QE out of date makes UpToDate OutOfDate", spec: inteltest.CollateralSpec{QEIdentity: qe(
			inteltest.QEIdentityLevel{ISVSVN: 9, Status: "UpToDate"}, inteltest.QEIdentityLevel{ISVSVN: 8, Status: "OutOfDate", Advisories: []string{"SA-Q"}})},
			status: TCBOutOfDate, qeStatus: TCBOutOfDate, adv: []string{"SA-Q"}},
		{name: "QE out of date and configuration needed", spec: inteltest.CollateralSpec{
			TCBInfo:    p.TCBInfo(from, until, lvl(mine, 13, "ConfigurationNeeded", "SA-1")),
			QEIdentity: qe(inteltest.QEIdentityLevel{ISVSVN: 8, Status: "OutOfDate", Advisories: []string{"SA-1", "SA-Q"}})},
			status: TCBOutOfDateConfigurationNeeded, qeStatus: TCBOutOfDate, adv: []string{"SA-1", "SA-Q"}},
		{name: "QE below every level", spec: inteltest.CollateralSpec{QEIdentity: qe(inteltest.QEIdentityLevel{ISVSVN: 9, Status: "UpToDate"})},
			status: TCBOutOfDate, qeStatus: TCBOutOfDate},
		{name: "QE revoked", spec: inteltest.CollateralSpec{QEIdentity: qe(inteltest.QEIdentityLevel{ISVSVN: 8, Status: "Revoked"})}, err: ErrRevoked},
		{name: "QE ISVPRODID", qe: &platformQE, err: ErrQEIdentity, errString: "ISVPRODID"},
		{name: "QE MISCSELECT", qe: &miscQE, err: ErrQEIdentity, errString: "MISCSELECT"},
		{name: "QE ATTRIBUTES: debug QE", qe: &debugQE, err: ErrQEIdentity, errString: "ATTRIBUTES"},
		{name: "QE ATTRIBUTES: masked bit", qe: &qe32, status: TCBUpToDate, qeStatus: TCBUpToDate},
		{name: "PCK leaf revoked", spec: inteltest.CollateralSpec{RevokeLeaf: true}, err: ErrRevoked, errString: "PCK CRL"},
		{name: "PCK CA revoked", spec: inteltest.CollateralSpec{RevokeCA: true}, err: ErrRevoked, errString: "Root CA CRL"},
		{name: "TCB signer revoked", spec: inteltest.CollateralSpec{RevokeTCBSigner: true}, err: ErrRevoked},
		{name: "PCK CRL from another CA", spec: inteltest.CollateralSpec{PCKCRLSigner: other.CAKey, PCKCRLSignerCrt: other.CA}, err: ErrCollateral, errString: "PCK CRL"},
		{name: "tcbInfo signature", spec: inteltest.CollateralSpec{CorruptTCBInfoSignature: true}, err: ErrCollateral, errString: "tcbInfo signature"},
		{name: "QE identity signature", spec: inteltest.CollateralSpec{CorruptQEIdentitySignature: true}, err: ErrCollateral, errString: "QE identity signature"},
		{name: "FMSPC", spec: inteltest.CollateralSpec{TCBInfo: otherFMSPC.DefaultTCBInfo(from, until)}, err: ErrCollateral, errString: "FMSPC"},
		{name: "expired", now: until, err: ErrExpired, errString: "expired"},
		{name: "not yet valid", now: from.Add(-time.Second), err: ErrExpired, errString: "not valid before"},
		{name: "another hierarchy's collateral", coll: mustCollateral(t, other, inteltest.CollateralSpec{}), err: ErrCollateral},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := makeQuote(t, p, inteltest.QuoteSpec{QE: c.qe})
			coll := c.coll
			if coll == nil {
				coll = mustCollateral(t, p, c.spec)
			}
			now := c.now
			if now.IsZero() {
				now = synthNow
			}
			v, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: now, Collateral: coll, InsecureTestRoots: []*x509.Certificate{p.Root}})
			if c.err != nil {
				if !errors.Is(err, c.err) || !strings.Contains(fmt.Sprint(err), c.errString) {
					t.Fatalf("%v, want %v about %q", err, c.err, c.errString)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.TCB.Status != c.status || v.TCB.QEStatus != c.qeStatus || !slices.Equal(v.Claims.Advisories, c.adv) {
				t.Errorf("status %s QE %s advisories %q, want %s %s %q", v.TCB.Status, v.TCB.QEStatus, v.Claims.Advisories, c.status, c.qeStatus, c.adv)
			}
		})
	}
	// The pinned root refuses the test hierarchy's quote before looking at
	// collateral.
	q := makeQuote(t, p, inteltest.QuoteSpec{})
	if _, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: synthNow, Collateral: mustCollateral(t, p, inteltest.CollateralSpec{})}); !errors.Is(err, ErrUntrustedChain) {
		t.Errorf("pinned root: %v", err)
	}
}

func mustCollateral(t testing.TB, p *inteltest.PKI, s inteltest.CollateralSpec) []byte {
	t.Helper()
	b, err := p.Collateral(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExpiredPCKLeaf(t *testing.T) {
	p := newPKI(t, inteltest.PKIOptions{LeafNotAfter: synthNow.Add(-time.Hour)})
	q := makeQuote(t, p, inteltest.QuoteSpec{})
	_, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: synthNow, InsecureTestRoots: []*x509.Certificate{p.Root}})
	if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "Intel SGX PCK Certificate") {
		t.Fatal(err)
	}
}

func TestConverge(t *testing.T) {
	for _, tc := range []struct{ platform, other, want TCBStatus }{
		{TCBUpToDate, TCBUpToDate, TCBUpToDate},
		{TCBSWHardeningNeeded, TCBUpToDate, TCBSWHardeningNeeded},
		{TCBConfigurationNeeded, TCBUpToDate, TCBConfigurationNeeded},
		{TCBOutOfDate, TCBUpToDate, TCBOutOfDate},
		{TCBUpToDate, TCBOutOfDate, TCBOutOfDate},
		{TCBSWHardeningNeeded, TCBOutOfDate, TCBOutOfDate},
		{TCBConfigurationNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded},
		{TCBConfigurationAndSWHardeningNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded},
		{TCBOutOfDate, TCBOutOfDate, TCBOutOfDate},
		{TCBOutOfDateConfigurationNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded},
	} {
		if got := converge(tc.platform, tc.other); got != tc.want {
			t.Errorf("converge(%s, %s) = %s, want %s", tc.platform, tc.other, got, tc.want)
		}
	}
}

func TestOptionsFrom(t *testing.T) {
	now := time.Unix(1, 0)
	o := OptionsFrom(keeps.VerifyOptions{Now: now, Collateral: map[string][]byte{"intel": []byte("x"), "snp-vcek": []byte("y")}, AllowNetwork: true})
	if !o.Now.Equal(now) || string(o.Collateral) != "x" || !o.AllowNetwork || o.InsecureTestRoots != nil {
		t.Fatalf("%+v", o)
	}
}
