package tdx

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	gtgtesting "github.com/google/go-tdx-guest/testing"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// realQuote is a real TDX quote of shared/vectors/tdx with the values its
// README decodes, and the validity of its PCK leaf certificate.
type realQuote struct {
	file       string
	version    uint16
	mrtd       string
	reportData string // hex prefix; the rest is zero
	pckFrom    string
	pckUntil   string
}

var realQuotes = []realQuote{
	{"tdx/go-tdx-guest-tdx_prod_quote_SPR_E4.dat", 4,
		"6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
		"6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113",
		"2022-09-20T13:20:31Z", "2029-09-20T13:20:31Z"},
	{"tdx/go-tdx-guest-quote_sample_v5.dat", 5,
		"7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876",
		"945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a",
		"2026-01-27T14:36:27Z", "2033-01-27T14:36:27Z"},
	{"tdx/go-tdx-guest-ccel-cos-113-tdx-quote.dat", 4,
		"dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a",
		"",
		"2024-07-02T12:07:37Z", "2031-07-02T12:07:37Z"},
	{"tdx/dcap-qvl-tdx_quote", 4,
		"91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
		"9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
		"2025-02-06T23:25:51Z", "2032-02-06T23:25:51Z"},
	{"tdx/dcap-qvl-tdx_quote_outdated", 5,
		"273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd",
		"d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728",
		"2026-01-23T18:09:41Z", "2033-01-23T18:09:41Z"},
	{"tdx/dcap-qvl-tdx-quote.hex", 4,
		"7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29",
		"7148f47ef58b475fce69b386e2d6b4c964a9533cc328ea8e544db66612a5174698d006951cefa8fd4450e884300638e567e22f9a012ef5754aa6a9d9564fcd8a",
		"2024-08-02T11:15:37Z", "2031-08-02T11:15:37Z"},
	{"tdx/dcap-qvl-quote-from-tappd.hex", 4,
		"c68518a0ebb42136c12b2275164f8c72f25fa9a34392228687ed6e9caeb9c0f1dbd895e9cf475121c029dc47e70e91fd",
		"7668c6b4eafb62301c72714ecc7d90ce9a0e04b52dc117720df2047b0a59f1dbd937243eef1410a3cdc524aad66d4554b4f18b54da2fc0608dac40d6dea5f1d4",
		"2024-08-02T11:15:37Z", "2031-08-02T11:15:37Z"},
	{"tdx/dcap-qvl-near-quote_hex.txt", 4,
		"f06dfda6dce1cf904d4e2bab1dc370634cf95cefa2ceb2de2eee127c9382698090d7a4a13e14c536ec6c9c3c8fa87077",
		"0001d579ba6e734a1046feb6112f852df5f4f1e44a4e7ce1755ce3b07bd6aaab04e89ca01fdf4956d2f609c2709731cb813a",
		"2025-07-31T07:28:39Z", "2032-07-31T07:28:39Z"},
}

// TestRealQuoteSignatures verifies every real TDX quote to the pinned
// Intel SGX Root CA inside its PCK leaf's validity, and fails it just
// outside.
func TestRealQuoteSignatures(t *testing.T) {
	for _, rq := range realQuotes {
		t.Run(rq.file, func(t *testing.T) {
			q := readQuote(t, rq.file)
			from, until := ts(t, rq.pckFrom), ts(t, rq.pckUntil)
			for _, tc := range []struct {
				name string
				now  time.Time
				ok   bool
			}{
				{"at notBefore", from, true},
				{"inside", from.Add(until.Sub(from) / 2), true},
				{"at notAfter", until, true},
				{"before", from.Add(-time.Second), false},
				{"after", until.Add(time.Second), false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					c, err := NewVerifier().Verify(bg, ev(q), keeps.VerifyOptions{Now: tc.now})
					if !tc.ok {
						if !errors.Is(err, ErrVerification) {
							t.Fatalf("err = %v, want ErrVerification", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if !c.SignatureVerified || c.TEE != keeps.TEETDX || c.Debug || c.TCBStatus != "" {
						t.Errorf("claims %+v: want verified, tdx, not debug, no TCB status", c)
					}
					if got := c.Measurements["mrtd"]; !bytes.Equal(got, unhex(t, rq.mrtd)) {
						t.Errorf("mrtd %x, want %s", got, rq.mrtd)
					}
					var wantRD keeps.ReportData
					copy(wantRD[:], unhex(t, rq.reportData))
					if c.ReportData != wantRD {
						t.Errorf("report data %x, want %x", c.ReportData, wantRD)
					}
					if c.Notes[0] != NoteNoCollateral {
						t.Errorf("notes %q", c.Notes)
					}
					p, _ := intel.ParseQuote(q)
					if p.Header.Version != rq.version {
						t.Errorf("version %d, want %d", p.Header.Version, rq.version)
					}
				})
			}
			// A test root instead of Intel's: refused.
			if _, err := (&Verifier{InsecureTestRoots: newSigner(t).Roots()}).Verify(bg, ev(q), keeps.VerifyOptions{Now: from}); !errors.Is(err, ErrVerification) {
				t.Errorf("with a test root: err = %v, want ErrVerification", err)
			}
		})
	}
}

// TestRealCollateral evaluates real quotes against real collateral at a
// fixed time, with the results shared/vectors/README.md gives.
func TestRealCollateral(t *testing.T) {
	for _, tc := range []struct {
		name, quote, collateral, now string
		status                       string
		wantErr                      error
	}{
		{"dcap-qvl tdx_quote", "tdx/dcap-qvl-tdx_quote", "tdx/dcap-qvl-tdx_quote_collateral.json", "2025-07-19T10:00:34Z", "UpToDate", nil},
		{"dcap-qvl tdx_quote, start of the window", "tdx/dcap-qvl-tdx_quote", "tdx/dcap-qvl-tdx_quote_collateral.json", "2025-06-19T10:32:27Z", "UpToDate", nil},
		{"near quote", "tdx/dcap-qvl-near-quote_hex.txt", "tdx/dcap-qvl-near-quote_collateral.json", "2025-09-15T00:00:00Z", "UpToDate", nil},
		{"go-tdx-guest v5 sample, cross-source collateral", "tdx/go-tdx-guest-quote_sample_v5.dat", "tdx/dcap-qvl-tdx_quote_outdated_collateral.json", "2026-03-01T00:00:00Z", "UpToDate", nil},
		{"dcap-qvl tdx_quote_outdated: no TCB level", "tdx/dcap-qvl-tdx_quote_outdated", "tdx/dcap-qvl-tdx_quote_outdated_collateral.json", "2026-03-20T10:41:14Z", "", ErrTCBNotSupported},
		{"dcap-qvl tdx-quote.hex: no TCB level", "tdx/dcap-qvl-tdx-quote.hex", "tdx/dcap-qvl-tdx_quote_collateral.json", "2025-07-19T10:00:34Z", "", ErrTCBNotSupported},
		{"dcap-qvl quote-from-tappd: no TCB level", "tdx/dcap-qvl-quote-from-tappd.hex", "tdx/dcap-qvl-tdx_quote_collateral.json", "2025-07-19T10:00:34Z", "", ErrTCBNotSupported},
		{"PCK CRL expired", "tdx/dcap-qvl-tdx_quote", "tdx/dcap-qvl-tdx_quote_collateral.json", "2025-07-19T10:00:36Z", "", ErrCollateral},
		{"QE identity not yet issued", "tdx/dcap-qvl-tdx_quote", "tdx/dcap-qvl-tdx_quote_collateral.json", "2025-06-19T10:32:26Z", "", ErrCollateral},
		{"collateral for another FMSPC", "tdx/dcap-qvl-tdx_quote", "tdx/dcap-qvl-tdx_quote_outdated_collateral.json", "2026-03-01T00:00:00Z", "", ErrCollateral},
		{"SGX collateral", "tdx/dcap-qvl-tdx_quote", "sgx/dcap-qvl-sgx_quote_collateral.json", "2025-07-19T10:00:34Z", "", ErrCollateral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := readQuote(t, tc.quote)
			col := readVector(t, tc.collateral)
			c, err := NewVerifier().Verify(bg, ev(q), withCollateral(ts(t, tc.now), col))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || c != nil {
					t.Fatalf("claims %v, err %v: want %v", c, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.TCBStatus != tc.status || len(c.Advisories) != 0 || !c.SignatureVerified {
				t.Errorf("TCB %q %q verified %v, want %q, no advisories", c.TCBStatus, c.Advisories, c.SignatureVerified, tc.status)
			}
			if c.Notes[0] != NoteCollateralGiven || !hasNote(c, "TCB status "+tc.status+": platform ") {
				t.Errorf("notes %q", c.Notes)
			}
			t.Log(c.Notes)
		})
	}
}

// TestRealCollateralFromPCS replays go-tdx-guest's recorded Intel PCS
// responses for its SPR quote (testing.TestGetter) through the network
// path: signatures, chains, CRLs and collateral expiry pass at
// 2023-07-01T01:00:00Z, and no TCB level matches (as go-tdx-guest's own
// TestNegativeRawQuoteVerifyWithCollateral expects).
func TestRealCollateralFromPCS(t *testing.T) {
	q := readQuote(t, "tdx/go-tdx-guest-tdx_prod_quote_SPR_E4.dat")
	tr := &getterTransport{g: gtgtesting.TestGetter}
	v := &Verifier{HTTPClient: &http.Client{Transport: tr}}
	_, err := v.Verify(bg, ev(q), keeps.VerifyOptions{Now: ts(t, "2023-07-01T01:00:00Z"), AllowNetwork: true})
	if !errors.Is(err, ErrTCBNotSupported) {
		t.Errorf("err = %v, want ErrTCBNotSupported", err)
	}
	if tr.hits.Load() != 4 { // tcbInfo, QE identity, PCK CRL, Root CA CRL
		t.Errorf("%d requests, want 4", tr.hits.Load())
	}
	// A day after the QE identity's nextUpdate (2023-07-08T07:24:59Z).
	if _, err := v.Verify(bg, ev(q), keeps.VerifyOptions{Now: ts(t, "2023-07-09T00:00:00Z"), AllowNetwork: true}); !errors.Is(err, ErrCollateral) {
		t.Errorf("expired: err = %v, want ErrCollateral", err)
	}
}

// tamperOffsets returns offsets from 0 to n-1 every stride, and n-1.
func tamperOffsets(from, to, stride int) []int {
	var out []int
	for i := from; i < to; i += stride {
		out = append(out, i)
	}
	return append(out, to-1)
}

// TestTamperedRealQuotes flips one bit at a time through the signed
// header and body and through the signature data (signatures, attestation
// key, QE report, authentication data, PCK chain): every change is
// refused. Bytes after the signature data are covered by no signature and
// do not matter.
func TestTamperedRealQuotes(t *testing.T) {
	for _, tc := range []struct {
		file string
		now  string
	}{
		{"tdx/dcap-qvl-tdx_quote", "2025-07-19T10:00:34Z"},
		{"tdx/go-tdx-guest-quote_sample_v5.dat", "2026-03-01T00:00:00Z"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			q := readQuote(t, tc.file)
			p, err := intel.ParseQuote(q)
			if err != nil {
				t.Fatal(err)
			}
			opts := keeps.VerifyOptions{Now: ts(t, tc.now)}
			if _, err := NewVerifier().Verify(bg, ev(q), opts); err != nil {
				t.Fatalf("untampered: %v", err)
			}
			signed, end := len(p.RawSigned), len(q)-len(p.Trailing)
			offsets := append(tamperOffsets(0, signed, 3), tamperOffsets(signed, end, 11)...)
			for _, off := range offsets {
				b := bytes.Clone(q)
				b[off] ^= 0x01
				if c, err := NewVerifier().Verify(bg, ev(b), opts); err == nil {
					t.Errorf("byte %d (of %d signed, %d in all) flipped: verified, claims %v", off, signed, end, c.Measurements["mrtd"])
				}
			}
			if len(p.Trailing) > 0 {
				b := bytes.Clone(q)
				b[len(b)-1] ^= 0x01
				if _, err := NewVerifier().Verify(bg, ev(b), opts); err != nil {
					t.Errorf("trailing byte flipped: %v", err)
				}
			}
		})
	}
}

// TestParseRealCollateral parses every TDX collateral bundle of the
// vectors.
func TestParseRealCollateral(t *testing.T) {
	for _, tc := range []struct {
		file, fmspc, ca string
		levels          int
	}{
		{"tdx/dcap-qvl-tdx_quote_collateral.json", "B0C06F000000", "platform", 2},
		{"tdx/dcap-qvl-tdx_quote_outdated_collateral.json", "90C06F000000", "platform", 3},
		{"tdx/dcap-qvl-near-quote_collateral.json", "20A06F000000", "platform", 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := ParseCollateral(readVector(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if c.FMSPC != tc.fmspc || c.PCKCA != tc.ca || c.TCBInfo.ID != "TDX" || c.QEIdentity.ID != "TD_QE" {
				t.Errorf("FMSPC %s, CA %s, ids %s %s", c.FMSPC, c.PCKCA, c.TCBInfo.ID, c.QEIdentity.ID)
			}
			if tc.levels > 0 && len(c.TCBInfo.TcbLevels) != tc.levels {
				t.Errorf("%d TCB levels, want %d", len(c.TCBInfo.TcbLevels), tc.levels)
			}
			if !slices.Contains(c.rootCRLURLs, "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der") {
				t.Errorf("root CRL URLs %q", c.rootCRLURLs)
			}
		})
	}
}
