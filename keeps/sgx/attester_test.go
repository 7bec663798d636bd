package sgx

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
	"github.com/keepwasm/keep/keeps/intel/inteltest"
)

// fakeGramine makes a directory shaped like Gramine's /dev/attestation:
// attestation_type, an empty user_report_data and a quote file holding
// quote (nil: no quote file). Files are static, so the quote is made
// beforehand for the report data a test will ask for: this tests the
// plumbing, not Gramine.
func fakeGramine(t *testing.T, attestationType string, quote []byte) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("attestation_type", []byte(attestationType))
	write("user_report_data", nil)
	if quote != nil {
		write("quote", quote)
	}
	return dir
}

func TestAvailable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dir   func(t *testing.T) string
		ok    bool
		parts string
	}{
		{"dcap", func(t *testing.T) string { return fakeGramine(t, "dcap", []byte("q")) }, true, ""},
		{"dcap with newline", func(t *testing.T) string { return fakeGramine(t, "dcap\n", []byte("q")) }, true, ""},
		{"none", func(t *testing.T) string { return fakeGramine(t, "none", []byte("q")) }, false, `attestation type is "none", want "dcap"`},
		{"epid", func(t *testing.T) string { return fakeGramine(t, "epid", []byte("q")) }, false, `"epid"`},
		{"no quote file", func(t *testing.T) string { return fakeGramine(t, "dcap", nil) }, false, "no quote interface"},
		{"not Gramine", func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") }, false, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := (&Attester{Dir: tc.dir(t)}).Available()
			if ok != tc.ok || !strings.Contains(why, tc.parts) || (ok && why != "") {
				t.Fatalf("Available() = %v, %q", ok, why)
			}
		})
	}
	// The package function looks at the real /dev/attestation: outside
	// Gramine it must say no, with a reason.
	if _, err := os.Stat(DefaultDir); errors.Is(err, os.ErrNotExist) {
		if ok, why := Available(); ok || !strings.Contains(why, DefaultDir) {
			t.Errorf("Available() = %v, %q", ok, why)
		}
	}
}

func TestAttest(t *testing.T) {
	p := newPKI(t)
	var rd keeps.ReportData
	copy(rd[:], "keep attester plumbing")
	quote := synthQuote(t, p, inteltest.DefaultEnclave(rd))
	tdx := readVector(t, "tdx/dcap-qvl-tdx_quote")

	t.Run("quote", func(t *testing.T) {
		dir := fakeGramine(t, "dcap", quote)
		a := &Attester{Dir: dir}
		if a.TEE() != keeps.TEESGX {
			t.Fatal(a.TEE())
		}
		ev, err := a.Attest(context.Background(), rd)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Tag != keeps.TagIntelQuote || !bytes.Equal(ev.Data, quote) || ev.Endorsements != nil {
			t.Fatalf("evidence tag %d, %d bytes", ev.Tag, len(ev.Data))
		}
		written, err := os.ReadFile(filepath.Join(dir, "user_report_data"))
		if err != nil || !bytes.Equal(written, rd[:]) {
			t.Fatalf("user_report_data holds %x (%v), want %x", written, err, rd)
		}
		// Round trip through the verifier.
		c, err := (&Verifier{InsecureTestRoots: []*x509.Certificate{p.Root}}).Verify(context.Background(), ev, keeps.VerifyOptions{Now: synthNow})
		if err != nil || c.ReportData != rd || !c.SignatureVerified {
			t.Fatalf("%v %+v", err, c)
		}
	})
	t.Run("padding dropped", func(t *testing.T) {
		padded := append(bytes.Clone(quote), make([]byte, 100)...)
		ev, err := (&Attester{Dir: fakeGramine(t, "dcap", padded)}).Attest(context.Background(), rd)
		if err != nil || !bytes.Equal(ev.Data, quote) {
			t.Fatalf("%v, %d bytes", err, len(ev.Data))
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		a := &Attester{Dir: fakeGramine(t, "dcap", quote)}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := a.Attest(context.Background(), rd)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})

	var other keeps.ReportData
	other[0] = 1
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
		ctx  context.Context
		rd   keeps.ReportData
		err  error
		text string
	}{
		{"other report data", func(t *testing.T) string { return fakeGramine(t, "dcap", quote) }, context.Background(), other, nil, "does not carry the report data"},
		{"TDX quote", func(t *testing.T) string { return fakeGramine(t, "dcap", tdx) }, context.Background(), rd, ErrNotSGX, ""},
		{"garbage quote", func(t *testing.T) string { return fakeGramine(t, "dcap", []byte("not a quote")) }, context.Background(), rd, intel.ErrTruncated, ""},
		{"huge quote", func(t *testing.T) string { return fakeGramine(t, "dcap", make([]byte, intel.MaxQuoteSize+1)) }, context.Background(), rd, nil, "more than"},
		{"no quote file", func(t *testing.T) string { return fakeGramine(t, "dcap", nil) }, context.Background(), rd, os.ErrNotExist, ""},
		{"no user_report_data", func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") }, context.Background(), rd, os.ErrNotExist, ""},
		{"cancelled", func(t *testing.T) string { return fakeGramine(t, "dcap", quote) }, cancelled, rd, context.Canceled, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := (&Attester{Dir: tc.dir(t)}).Attest(tc.ctx, tc.rd)
			if err == nil || ev != nil || (tc.err != nil && !errors.Is(err, tc.err)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("%v %v, want %v %q", ev, err, tc.err, tc.text)
			}
		})
	}
}

func TestAttesterDefaultDir(t *testing.T) {
	if d := (&Attester{}).dir(); d != "/dev/attestation" {
		t.Fatal(d)
	}
}
