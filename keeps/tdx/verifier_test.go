package tdx

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/verify"
	"github.com/google/go-tdx-guest/verify/trust"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
	"github.com/keepwasm/keep/keeps/tdx/tdxtest"
)

// synthNow lies inside every default validity of tdxtest.
var synthNow = time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)

func TestSyntheticQuotes(t *testing.T) {
	s := newSigner(t)
	rd := [64]byte{0: 0xaa, 63: 0xbb}
	col := mustCollateral(t, s, tdxtest.CollateralSpec{})
	for _, tc := range []struct {
		name       string
		version    uint16
		opts       keeps.VerifyOptions
		wantStatus string
		wantNote   string
	}{
		{"v4 without collateral", 4, keeps.VerifyOptions{Now: synthNow}, "", NoteNoCollateral},
		{"v5 without collateral", 5, keeps.VerifyOptions{Now: synthNow}, "", NoteNoCollateral},
		{"v4 with collateral", 4, withCollateral(synthNow, col), "UpToDate", NoteCollateralGiven},
		{"v5 with collateral", 5, withCollateral(synthNow, col), "UpToDate", NoteCollateralGiven},
		{"zero Now is the current time", 4, keeps.VerifyOptions{}, "", NoteNoCollateral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.Version = tc.version
			defer func() { s.Version = 4 }()
			q := mustQuote(t, s, rd)
			c, err := (&Verifier{InsecureTestRoots: s.Roots()}).Verify(bg, ev(q), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !c.SignatureVerified || c.TEE != keeps.TEETDX || c.Debug || c.Simulated {
				t.Errorf("claims %+v: want verified, tdx, not debug, not simulated", c)
			}
			if c.ReportData != rd {
				t.Errorf("report data %x, want %x", c.ReportData, rd)
			}
			if c.TCBStatus != tc.wantStatus {
				t.Errorf("TCB status %q, want %q", c.TCBStatus, tc.wantStatus)
			}
			if c.Notes[0] != tc.wantNote || collateralNotes(c) != 1 {
				t.Errorf("notes %q: want %q first and once", c.Notes, tc.wantNote)
			}
			want := map[string][]byte{
				"mrtd": s.TD.MRTD[:], "mrseam": s.TD.MRSEAM[:], "mrconfigid": s.TD.MRConfigID[:],
				"mrowner": s.TD.MROwner[:], "mrownerconfig": s.TD.MROwnerConfig[:],
				"rtmr0": s.TD.RTMR[0][:], "rtmr1": s.TD.RTMR[1][:], "rtmr2": s.TD.RTMR[2][:], "rtmr3": s.TD.RTMR[3][:],
			}
			if len(c.Measurements) != len(want) {
				t.Errorf("measurements %v, want the %d of %v", c.Measurements, len(want), want)
			}
			for k, v := range want {
				if !bytes.Equal(c.Measurements[k], v) {
					t.Errorf("measurement %s = %x, want %x", k, c.Measurements[k], v)
				}
			}
			if c.SVNs[intel.SVNQE] != uint64(s.QE.ISVSVN) {
				t.Errorf("qe_svn %d, want %d", c.SVNs[intel.SVNQE], s.QE.ISVSVN)
			}
		})
	}
}

func TestTCBStatus(t *testing.T) {
	s := newSigner(t)
	q := mustQuote(t, s, [64]byte{1})
	sgx, pcesvn, tdx := s.SGXComponents, s.PCESVN, s.TD.TEETCBSVN
	bump := func(c [16]byte, i int) [16]byte { c[i]++; return c }
	level := func(status string, adv ...string) tdxtest.TCBLevel {
		return tdxtest.TCBLevel{SGXComponents: sgx, PCESVN: pcesvn, TDXComponents: tdx, Status: status, Date: synthNow.AddDate(-1, 0, 0), Advisories: adv}
	}
	lvl := func(isvsvn uint16, status string, adv ...string) tdxtest.Level {
		return tdxtest.Level{ISVSVN: isvsvn, Status: status, Date: synthNow.AddDate(-1, 0, 0), Advisories: adv}
	}
	qeSVN, modSVN := s.QE.ISVSVN, uint16(s.TD.TEETCBSVN[0])
	otherFMSPC := [6]byte{0xb0, 0xc0, 0x6f}
	for _, tc := range []struct {
		name    string
		spec    tdxtest.CollateralSpec
		now     time.Time
		status  string
		adv     []string
		wantErr []error
	}{
		{name: "default", status: "UpToDate"},
		{name: "platform OutOfDate although the module is UpToDate",
			spec:   tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{level("OutOfDate", "INTEL-SA-00001")}},
			status: "OutOfDate", adv: []string{"INTEL-SA-00001"}},
		{name: "newest level needs a higher SGX component",
			spec: tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{
				{SGXComponents: bump(sgx, 0), PCESVN: pcesvn, TDXComponents: tdx, Status: "UpToDate"},
				level("SWHardeningNeeded", "INTEL-SA-00002", "INTEL-SA-00003"),
			}},
			status: "SWHardeningNeeded", adv: []string{"INTEL-SA-00002", "INTEL-SA-00003"}},
		{name: "newest level needs a higher PCESVN",
			spec: tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{
				{SGXComponents: sgx, PCESVN: pcesvn + 1, TDXComponents: tdx, Status: "UpToDate"},
				level("ConfigurationNeeded"),
			}},
			status: "ConfigurationNeeded"},
		{name: "newest level needs a higher TDX component",
			spec: tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{
				{SGXComponents: sgx, PCESVN: pcesvn, TDXComponents: bump(tdx, 2), Status: "UpToDate"},
				level("OutOfDate"),
			}},
			status: "OutOfDate"},
		{name: "TDX components 0 and 1 belong to the module identity",
			spec: tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{
				{SGXComponents: sgx, PCESVN: pcesvn, TDXComponents: bump(bump(tdx, 0), 1), Status: "UpToDate"},
			}},
			status: "UpToDate"},
		{name: "module OutOfDate",
			spec:   tdxtest.CollateralSpec{ModuleLevels: []tdxtest.Level{lvl(modSVN+1, "UpToDate"), lvl(modSVN, "OutOfDate", "INTEL-SA-00010")}},
			status: "OutOfDate", adv: []string{"INTEL-SA-00010"}},
		{name: "ConfigurationNeeded and module OutOfDate",
			spec: tdxtest.CollateralSpec{
				TCBLevels:    []tdxtest.TCBLevel{level("ConfigurationNeeded", "INTEL-SA-00020")},
				ModuleLevels: []tdxtest.Level{lvl(modSVN, "OutOfDate", "INTEL-SA-00020", "INTEL-SA-00021")},
			},
			status: "OutOfDateConfigurationNeeded", adv: []string{"INTEL-SA-00020", "INTEL-SA-00021"}},
		{name: "QE OutOfDate",
			spec:   tdxtest.CollateralSpec{QELevels: []tdxtest.Level{lvl(qeSVN+1, "UpToDate"), lvl(qeSVN-1, "OutOfDate")}},
			status: "OutOfDate"},
		{name: "ConfigurationAndSWHardeningNeeded and QE OutOfDate",
			spec: tdxtest.CollateralSpec{
				TCBLevels: []tdxtest.TCBLevel{level("ConfigurationAndSWHardeningNeeded")},
				QELevels:  []tdxtest.Level{lvl(qeSVN, "OutOfDate", "INTEL-SA-00030")},
			},
			status: "OutOfDateConfigurationNeeded", adv: []string{"INTEL-SA-00030"}},
		{name: "SWHardeningNeeded and QE UpToDate",
			spec:   tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{level("SWHardeningNeeded")}},
			status: "SWHardeningNeeded"},
		{name: "no platform level applies",
			spec:    tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{{SGXComponents: sgx, PCESVN: pcesvn + 1, TDXComponents: tdx, Status: "UpToDate"}}},
			wantErr: []error{ErrTCBNotSupported}},
		{name: "module below every level",
			spec:    tdxtest.CollateralSpec{ModuleLevels: []tdxtest.Level{lvl(modSVN+1, "UpToDate")}},
			wantErr: []error{ErrTCBNotSupported}},
		{name: "platform Revoked",
			spec:    tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{level("Revoked")}},
			wantErr: []error{ErrRevoked}},
		{name: "module Revoked",
			spec:    tdxtest.CollateralSpec{ModuleLevels: []tdxtest.Level{lvl(modSVN, "Revoked")}},
			wantErr: []error{ErrRevoked}},
		{name: "QE Revoked",
			spec:    tdxtest.CollateralSpec{QELevels: []tdxtest.Level{lvl(qeSVN, "Revoked")}},
			wantErr: []error{ErrRevoked}},
		{name: "QE below every level",
			spec:    tdxtest.CollateralSpec{QELevels: []tdxtest.Level{lvl(qeSVN+1, "UpToDate")}},
			wantErr: []error{ErrRevoked}},
		{name: "PCK certificate on the PCK CRL",
			spec:    tdxtest.CollateralSpec{RevokePCK: true},
			wantErr: []error{ErrCollateral, ErrRevoked}},
		{name: "collateral expired",
			spec:    tdxtest.CollateralSpec{IssueDate: synthNow.AddDate(0, -2, 0), NextUpdate: synthNow.AddDate(0, -1, 0)},
			wantErr: []error{ErrCollateral}},
		{name: "collateral not yet valid",
			spec:    tdxtest.CollateralSpec{IssueDate: synthNow.AddDate(0, 0, 1), NextUpdate: synthNow.AddDate(0, 1, 0)},
			wantErr: []error{ErrCollateral}},
		{name: "collateral for another FMSPC",
			spec:    tdxtest.CollateralSpec{FMSPC: &otherFMSPC},
			wantErr: []error{ErrCollateral}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := mustCollateral(t, s, tc.spec)
			c, err := (&Verifier{InsecureTestRoots: s.Roots()}).Verify(bg, ev(q), withCollateral(synthNow, col))
			if len(tc.wantErr) > 0 {
				for _, w := range tc.wantErr {
					if !errors.Is(err, w) {
						t.Errorf("err = %v, want %v", err, w)
					}
				}
				if c != nil {
					t.Errorf("claims %+v returned with an error", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.TCBStatus != tc.status || !slices.Equal(c.Advisories, tc.adv) {
				t.Errorf("TCB %q %q, want %q %q; notes %q", c.TCBStatus, c.Advisories, tc.status, tc.adv, c.Notes)
			}
			if !c.SignatureVerified || c.Notes[0] != NoteCollateralGiven || !hasNote(c, "TCB status "+tc.status+": ") {
				t.Errorf("claims %+v: want verified, %q, and a TCB status note", c, NoteCollateralGiven)
			}
		})
	}
}

// TestTDXModuleVersion0 covers TDs on a TDX module with major version 0
// (TEE_TCB_SVN[1] = 0): every TDX component counts, no module identity.
func TestTDXModuleVersion0(t *testing.T) {
	s := newSigner(t)
	s.TD.TEETCBSVN = [16]byte{3, 0, 4}
	q := mustQuote(t, s, [64]byte{2})
	for _, tc := range []struct {
		name   string
		tdx    [16]byte
		status string
	}{
		{"all components match", s.TD.TEETCBSVN, "UpToDate"},
		{"component 0 too low for the newest level", [16]byte{4, 0, 4}, "OutOfDate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := mustCollateral(t, s, tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{
				{SGXComponents: s.SGXComponents, PCESVN: s.PCESVN, TDXComponents: tc.tdx, Status: "UpToDate"},
				{SGXComponents: s.SGXComponents, PCESVN: s.PCESVN, Status: "OutOfDate"},
			}})
			c, err := (&Verifier{InsecureTestRoots: s.Roots()}).Verify(bg, ev(q), withCollateral(synthNow, col))
			if err != nil {
				t.Fatal(err)
			}
			if c.TCBStatus != tc.status || hasNote(c, "TCB status "+tc.status+": platform "+tc.status+" (TCB level of") == false {
				t.Errorf("TCB %q, want %q; notes %q", c.TCBStatus, tc.status, c.Notes)
			}
			if slices.ContainsFunc(c.Notes, func(n string) bool { return strings.Contains(n, "TDX module") }) {
				t.Errorf("notes %q mention a TDX module identity", c.Notes)
			}
		})
	}
}

// TestIdentityMismatch: a QE or TDX module that does not match its
// identity is refused, whether go-tdx-guest finds it (TCB UpToDate) or,
// after go-tdx-guest's own status check failed, this package's evaluation
// (module OutOfDate: go-tdx-guest then skips its QE identity check).
func TestIdentityMismatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*tdxtest.Signer) // applied after the collateral is made
		want []error
	}{
		{"QE MRSIGNER", func(s *tdxtest.Signer) { s.QE.MRSigner[0] ^= 1 }, []error{ErrCollateral}},
		{"QE ISVPRODID", func(s *tdxtest.Signer) { s.QE.ISVProdID++ }, []error{ErrCollateral}},
		{"QE MISCSELECT", func(s *tdxtest.Signer) { s.QE.MiscSelect = 1 }, []error{ErrCollateral}},
		{"QE ATTRIBUTES", func(s *tdxtest.Signer) { s.QE.Attributes[1] = 1 }, []error{ErrCollateral}},
		{"QE ATTRIBUTES outside the mask", func(s *tdxtest.Signer) { s.QE.Attributes[0] |= 0x04 }, nil},
		{"MRSIGNERSEAM", func(s *tdxtest.Signer) { s.TD.MRSignerSEAM[0] = 1 }, []error{ErrCollateral}},
		{"module identity missing", func(s *tdxtest.Signer) { s.TD.TEETCBSVN[1] = 3 }, []error{ErrTCBNotSupported}},
	} {
		for _, moduleOutOfDate := range []bool{false, true} {
			name := tc.name
			spec := tdxtest.CollateralSpec{}
			want := tc.want
			if moduleOutOfDate {
				name += ", module OutOfDate"
				spec.ModuleLevels = []tdxtest.Level{{ISVSVN: 1, Status: "OutOfDate"}}
				if len(want) == 1 && want[0] == ErrCollateral && tc.name != "MRSIGNERSEAM" {
					want = []error{ErrCollateral, ErrQEIdentity}
				}
			}
			t.Run(name, func(t *testing.T) {
				s := newSigner(t)
				col := mustCollateral(t, s, spec)
				tc.edit(s)
				c, err := (&Verifier{InsecureTestRoots: s.Roots()}).Verify(bg, ev(mustQuote(t, s, [64]byte{})), withCollateral(synthNow, col))
				if want == nil {
					if err != nil {
						t.Fatal(err)
					}
					if wantStatus := map[bool]string{false: "UpToDate", true: "OutOfDate"}[moduleOutOfDate]; c.TCBStatus != wantStatus {
						t.Errorf("TCB %q, want %q", c.TCBStatus, wantStatus)
					}
					return
				}
				for _, w := range want {
					if !errors.Is(err, w) {
						t.Errorf("err = %v, want %v", err, w)
					}
				}
			})
		}
	}
}

func TestDebugTD(t *testing.T) {
	s := newSigner(t)
	s.TD.TDAttributes |= 1 // TDATTRIBUTES.DEBUG
	c, err := (&Verifier{InsecureTestRoots: s.Roots()}).Verify(bg, ev(mustQuote(t, s, [64]byte{})), keeps.VerifyOptions{Now: synthNow})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Debug || !slices.Contains(c.Notes, NoteDebug) {
		t.Errorf("Debug %v, notes %q: want a debug TD and %q", c.Debug, c.Notes, NoteDebug)
	}
}

func TestTrustAnchors(t *testing.T) {
	s, other := newSigner(t), newSigner(t)
	q := mustQuote(t, s, [64]byte{})
	for _, tc := range []struct {
		name string
		v    *Verifier
		now  time.Time
		ok   bool
	}{
		{"test root", &Verifier{InsecureTestRoots: s.Roots()}, synthNow, true},
		{"test root among others", &Verifier{InsecureTestRoots: append(other.Roots(), s.Root)}, synthNow, true},
		{"pinned Intel root (default)", NewVerifier(), synthNow, false},
		{"another test root", &Verifier{InsecureTestRoots: other.Roots()}, synthNow, false},
		{"QE vendor ID not Intel's", nil, synthNow, false},
		{"before the certificates", &Verifier{InsecureTestRoots: s.Roots()}, s.PCK.NotBefore.Add(-time.Second), false},
		{"after the certificates", &Verifier{InsecureTestRoots: s.Roots()}, s.PCK.NotAfter.Add(time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := q
			if tc.v == nil { // a quote from another QE vendor
				s.QEVendorID[0] ^= 1
				q = mustQuote(t, s, [64]byte{})
				s.QEVendorID[0] ^= 1
				tc.v = &Verifier{InsecureTestRoots: s.Roots()}
			}
			c, err := tc.v.Verify(bg, ev(q), keeps.VerifyOptions{Now: tc.now})
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok && (!errors.Is(err, ErrVerification) || c != nil) {
				t.Errorf("err = %v, claims %v: want ErrVerification and no claims", err, c)
			}
		})
	}

	// Collateral signed by another PKI does not verify either.
	col := mustCollateral(t, other, tdxtest.CollateralSpec{})
	if _, err := (&Verifier{InsecureTestRoots: s.Roots()}).Verify(bg, ev(q), withCollateral(synthNow, col)); !errors.Is(err, ErrCollateral) {
		t.Errorf("collateral of another PKI: err = %v, want ErrCollateral", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	s := newSigner(t)
	q := mustQuote(t, s, [64]byte{})
	v := &Verifier{InsecureTestRoots: s.Roots()}
	canceled, cancel := context.WithCancel(bg)
	cancel()
	for _, tc := range []struct {
		name string
		ev   *keeps.Evidence
		opts keeps.VerifyOptions
		ctx  bool
		want error
	}{
		{name: "nil evidence"},
		{name: "wrong tag", ev: &keeps.Evidence{Tag: keeps.TagSEVSNPReport, Data: q}, want: keeps.ErrUnknownTag},
		{name: "empty", ev: ev(nil), want: ErrNotTDX},
		{name: "truncated", ev: ev(q[:len(q)-1]), want: ErrNotTDX},
		{name: "SGX quote", ev: ev(readQuote(t, "sgx/dcap-qvl-sgx_quote")), want: ErrNotTDX},
		{name: "bad collateral JSON", ev: ev(q), opts: withCollateral(synthNow, []byte("{")), want: ErrCollateral},
		{name: "canceled context", ev: ev(q), ctx: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := bg
			if tc.ctx {
				ctx = canceled
			}
			opts := tc.opts
			if opts.Now.IsZero() {
				opts.Now = synthNow
			}
			c, err := v.Verify(ctx, tc.ev, opts)
			if err == nil || c != nil {
				t.Fatalf("claims %v, err %v: want an error", c, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := v.VerifyQuote(bg, nil, keeps.VerifyOptions{}); err == nil {
		t.Error("VerifyQuote(nil) succeeded")
	}
}

func TestEndorsementsNoted(t *testing.T) {
	s := newSigner(t)
	e := ev(mustQuote(t, s, [64]byte{}))
	e.Endorsements = []byte{1, 2, 3}
	c, err := (&Verifier{InsecureTestRoots: s.Roots()}).Verify(bg, e, keeps.VerifyOptions{Now: synthNow})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.Notes, "3 bytes of endorsements were ignored") {
		t.Errorf("notes %q", c.Notes)
	}
}

func TestTags(t *testing.T) {
	if got := NewVerifier().Tags(); !slices.Equal(got, []uint64{keeps.TagIntelQuote}) {
		t.Errorf("Tags() = %v", got)
	}
}

// getterTransport serves HTTP requests from a trust.HTTPSGetter and counts
// them: the network path without a network.
type getterTransport struct {
	g    trust.HTTPSGetter
	hits atomic.Int32
}

func (t *getterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.hits.Add(1)
	h, b, err := t.g.Get(r.URL.String())
	if err != nil {
		return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(err.Error())), Request: r}, nil
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header(h),
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: r}, nil
}

func TestNetworkCollateral(t *testing.T) {
	s := newSigner(t)
	q := mustQuote(t, s, [64]byte{})
	parsed, err := ParseCollateral(mustCollateral(t, s, tdxtest.CollateralSpec{TCBLevels: []tdxtest.TCBLevel{
		{SGXComponents: s.SGXComponents, PCESVN: s.PCESVN, TDXComponents: s.TD.TEETCBSVN, Status: "OutOfDate"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	given := mustCollateral(t, s, tdxtest.CollateralSpec{})
	for _, tc := range []struct {
		name     string
		opts     keeps.VerifyOptions
		status   string
		note     string
		requests bool
	}{
		{"network allowed, no collateral given", keeps.VerifyOptions{Now: synthNow, AllowNetwork: true}, "OutOfDate", NoteCollateralFetched, true},
		{"collateral given wins over the network", keeps.VerifyOptions{Now: synthNow, AllowNetwork: true, Collateral: map[string][]byte{CollateralName: given}}, "UpToDate", NoteCollateralGiven, false},
		{"network not allowed", keeps.VerifyOptions{Now: synthNow}, "", NoteNoCollateral, false},
		{"other collateral names are not read", keeps.VerifyOptions{Now: synthNow, Collateral: map[string][]byte{"snp-vcek": given}}, "", NoteNoCollateral, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &getterTransport{g: bundleGetter{parsed}}
			v := &Verifier{InsecureTestRoots: s.Roots(), HTTPClient: &http.Client{Transport: tr}}
			c, err := v.Verify(bg, ev(q), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.TCBStatus != tc.status || c.Notes[0] != tc.note {
				t.Errorf("TCB %q, notes %q; want %q, %q", c.TCBStatus, c.Notes, tc.status, tc.note)
			}
			if got := tr.hits.Load() > 0; got != tc.requests {
				t.Errorf("%d requests to Intel PCS, want some: %v", tr.hits.Load(), tc.requests)
			}
		})
	}

	t.Run("canceled while fetching", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		v := &Verifier{InsecureTestRoots: s.Roots(), HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			cancel()
			return nil, r.Context().Err()
		})}}
		if _, err := v.Verify(ctx, ev(q), keeps.VerifyOptions{Now: synthNow, AllowNetwork: true}); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})

	t.Run("PCS fails", func(t *testing.T) {
		tr := &getterTransport{g: bundleGetter{&Collateral{FMSPC: "000000000000"}}}
		v := &Verifier{InsecureTestRoots: s.Roots(), HTTPClient: &http.Client{Transport: tr}}
		if _, err := v.Verify(bg, ev(q), keeps.VerifyOptions{Now: synthNow, AllowNetwork: true}); !errors.Is(err, ErrCollateral) {
			t.Errorf("err = %v, want ErrCollateral", err)
		}
	})
}

func TestPCSGetterLimits(t *testing.T) {
	big := bytes.Repeat([]byte{'x'}, maxPCSResponse+1)
	for _, tc := range []struct {
		name, url string
		body      []byte
		ok        bool
	}{
		{"ok", "https://api.trustedservices.intel.com/x", []byte("{}"), true},
		{"too large", "https://api.trustedservices.intel.com/x", big, false},
		{"not https", "http://api.trustedservices.intel.com/x", []byte("{}"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := pcsGetter{&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(tc.body)), Header: http.Header{"X": {"y"}}, Request: r}, nil
			})}}
			h, b, err := g.Get(tc.url)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (!bytes.Equal(b, tc.body) || h["X"][0] != "y") {
				t.Errorf("got %q %v", b, h)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestConcurrentVerify runs verifications in parallel on one Verifier
// (go-tdx-guest writes into its Options; each call must have its own).
func TestConcurrentVerify(t *testing.T) {
	s := newSigner(t)
	v := &Verifier{InsecureTestRoots: s.Roots()}
	col := mustCollateral(t, s, tdxtest.CollateralSpec{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		q := mustQuote(t, s, [64]byte{byte(i)})
		wg.Go(func() {
			c, err := v.Verify(bg, ev(q), withCollateral(synthNow, col))
			switch {
			case err != nil:
				errs <- err
			case c.ReportData[0] != byte(i) || c.TCBStatus != "UpToDate":
				errs <- errors.New("wrong claims")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestGoTDXGuestStatusMessages pins the messages VerifyQuote recognises as
// go-tdx-guest's failed TCB status checks, for the go-tdx-guest version in
// go.mod.
func TestGoTDXGuestStatusMessages(t *testing.T) {
	s := newSigner(t)
	q := mustQuote(t, s, [64]byte{})
	p, err := intel.ParseQuote(q)
	if err != nil {
		t.Fatal(err)
	}
	pq, err := toProto(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		spec   tdxtest.CollateralSpec
		prefix string
	}{
		{"TDX module OutOfDate", tdxtest.CollateralSpec{ModuleLevels: []tdxtest.Level{{ISVSVN: 1, Status: "OutOfDate"}}}, gtgTDXStatusPrefix},
		{"QE OutOfDate", tdxtest.CollateralSpec{QELevels: []tdxtest.Level{{ISVSVN: 1, Status: "OutOfDate"}}}, gtgQEStatusPrefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col, err := ParseCollateral(mustCollateral(t, s, tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(s.Root)
			err = runVerify(bg, pq, &verify.Options{
				GetCollateral: true, CheckRevocations: true, Getter: bundleGetter{col}, TrustedRoots: pool,
				Now: &verify.TimeSet{PckCertChain: synthNow, TcbInfo: synthNow, QeIdentity: synthNow, PckCrl: synthNow, RootCaCrl: synthNow},
			})
			if err == nil || !strings.HasPrefix(err.Error(), tc.prefix) {
				t.Errorf("go-tdx-guest: %v; want the prefix %q", err, tc.prefix)
			}
		})
	}
}
