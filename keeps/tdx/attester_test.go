package tdx

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/faketsm"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// fakeTSM returns go-configfs-tsm's fake configfs-tsm as it is: provider
// "fake", outblob a text rendering of the inblob (not a quote).
func fakeTSM() configfsi.Client {
	return &faketsm.Client{Subsystems: map[string]configfsi.Client{"report": faketsm.Report611(0)}}
}

// fakeTSMAsTDX is faketsm with provider "tdx_guest" but its own outblob.
func fakeTSMAsTDX() configfsi.Client {
	rep := faketsm.Report611(0)
	read := rep.ReadAttr
	rep.ReadAttr = func(e *faketsm.ReportEntry, attr string) ([]byte, error) {
		if attr == "provider" {
			return []byte("tdx_guest\n"), nil
		}
		return read(e, attr)
	}
	return &faketsm.Client{Subsystems: map[string]configfsi.Client{"report": rep}}
}

// stubProvider is a QuoteProvider with canned answers.
type stubProvider struct {
	supported error
	quote     func(rd [64]byte) ([]byte, error)
	calls     int
	mu        sync.Mutex
}

func (p *stubProvider) IsSupported() error { return p.supported }

func (p *stubProvider) GetRawQuote(rd [64]byte) ([]byte, error) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	return p.quote(rd)
}

func TestAttester(t *testing.T) {
	s := newSigner(t)
	rd := keeps.ReportData{0: 0x11, 31: 0x22, 32: 0x33, 63: 0x44}
	other := newSigner(t)
	sgxQuote := readQuote(t, "sgx/dcap-qvl-sgx_quote")
	for _, tc := range []struct {
		name         string
		tsm          configfsi.Client
		provider     *stubProvider
		wantProvider bool   // the provider, not configfs-tsm, made the quote
		wantErr      string // substring; "" for success
	}{
		{name: "configfs-tsm tdx_guest", tsm: s.ConfigfsClient(nil)},
		{name: "configfs-tsm preferred over the provider", tsm: s.ConfigfsClient(nil),
			provider: &stubProvider{quote: func([64]byte) ([]byte, error) { return nil, errors.New("must not be called") }}},
		{name: "configfs-tsm of another TEE: fall back to the provider", tsm: fakeTSM(),
			provider: &stubProvider{quote: s.Quote}, wantProvider: true},
		{name: "configfs-tsm of another TEE, provider unsupported", tsm: fakeTSM(),
			provider: &stubProvider{supported: errors.New("no device"), quote: s.Quote}, wantErr: `report provider is not tdx_guest (it is "fake"); no device`},
		{name: "configfs-tsm outblob is not a quote", tsm: fakeTSMAsTDX(), wantErr: "quote from configfs-tsm"},
		{name: "provider pads the quote", tsm: fakeTSM(), wantProvider: true,
			provider: &stubProvider{quote: func(rd [64]byte) ([]byte, error) {
				q, err := s.Quote(rd)
				return append(q, make([]byte, 3000)...), err
			}}},
		{name: "provider fails", tsm: fakeTSM(), wantErr: "quote provider: boom",
			provider: &stubProvider{quote: func([64]byte) ([]byte, error) { return nil, errors.New("boom") }}},
		{name: "quote for other report data", tsm: fakeTSM(), wantErr: "does not carry the report data",
			provider: &stubProvider{quote: func([64]byte) ([]byte, error) { return other.Quote([64]byte{9}) }}},
		{name: "SGX quote", tsm: fakeTSM(), wantErr: ErrNotTDX.Error(),
			provider: &stubProvider{quote: func([64]byte) ([]byte, error) { return sgxQuote, nil }}},
		{name: "oversized quote", tsm: fakeTSM(), wantErr: "more than",
			provider: &stubProvider{quote: func([64]byte) ([]byte, error) { return make([]byte, intel.MaxQuoteSize+1), nil }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Attester{TSM: tc.tsm}
			if tc.provider != nil {
				a.QuoteProvider = tc.provider
			}
			e, err := a.Attest(bg, rd)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.provider != nil && (tc.provider.calls > 0) != tc.wantProvider {
				t.Errorf("provider called %d times, want it used: %v", tc.provider.calls, tc.wantProvider)
			}
			if e.Tag != keeps.TagIntelQuote || e.Endorsements != nil {
				t.Errorf("evidence tag %d, endorsements %v", e.Tag, e.Endorsements)
			}
			q, err := intel.ParseQuote(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Trailing) != 0 {
				t.Errorf("%d bytes after the signature data kept in the evidence", len(q.Trailing))
			}
			c, err := (&Verifier{InsecureTestRoots: s.Roots()}).Verify(bg, e, keeps.VerifyOptions{Now: synthNow})
			if err != nil {
				t.Fatal(err)
			}
			if c.ReportData != rd || !c.SignatureVerified {
				t.Errorf("claims report data %x, verified %v", c.ReportData, c.SignatureVerified)
			}
		})
	}
}

// TestAttesterInBlob checks the plumbing into configfs-tsm: the report
// data is what is written to the entry's inblob.
func TestAttesterInBlob(t *testing.T) {
	s := newSigner(t)
	inblobs := make(chan []byte, 1)
	a := &Attester{TSM: s.ConfigfsClient(inblobs)}
	rd := keeps.ReportData{1, 2, 3, 63: 4}
	if _, err := a.Attest(bg, rd); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-inblobs:
		if !bytes.Equal(got, rd[:]) {
			t.Errorf("inblob %x, want %x", got, rd)
		}
	default:
		t.Fatal("no inblob was written")
	}
}

func TestAttesterConcurrent(t *testing.T) {
	s := newSigner(t)
	a := &Attester{TSM: s.ConfigfsClient(nil)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			rd := keeps.ReportData{byte(i)}
			e, err := a.Attest(bg, rd)
			if err != nil {
				errs <- err
				return
			}
			if q, err := intel.ParseQuote(e.Data); err != nil || q.ReportData() != rd {
				errs <- errors.New("wrong quote")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAttesterCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	p := &stubProvider{quote: newSigner(t).Quote}
	if _, err := (&Attester{TSM: fakeTSM(), QuoteProvider: p}).Attest(ctx, keeps.ReportData{}); !errors.Is(err, context.Canceled) || p.calls != 0 {
		t.Errorf("err = %v after %d calls, want context.Canceled before any", err, p.calls)
	}
	if got := (&Attester{}).TEE(); got != keeps.TEETDX {
		t.Errorf("TEE() = %q", got)
	}
}

func TestAvailable(t *testing.T) {
	s := newSigner(t)
	for _, tc := range []struct {
		name     string
		tsm      configfsi.Client
		provider QuoteProvider
		ok       bool
		why      []string
	}{
		{name: "configfs-tsm tdx_guest", tsm: s.ConfigfsClient(nil), ok: true},
		{name: "configfs-tsm of another TEE, provider supported", tsm: fakeTSM(), provider: &stubProvider{}, ok: true},
		{name: "configfs-tsm of another TEE, provider unsupported", tsm: fakeTSM(), provider: &stubProvider{supported: errors.New("no device here")},
			why: []string{`report provider is "fake", not "tdx_guest"`, "no device here"}},
		{name: "configfs-tsm broken, provider unsupported", tsm: &faketsm.Client{}, provider: &stubProvider{supported: errors.New("no device here")},
			why: []string{"configfs-tsm: ", "unsupported subsystem", "no device here"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := (&Attester{TSM: tc.tsm, QuoteProvider: tc.provider}).Available()
			if ok != tc.ok {
				t.Fatalf("Available() = %v, %q; want %v", ok, why, tc.ok)
			}
			if ok && why != "" {
				t.Errorf("reason %q given although available", why)
			}
			for _, w := range tc.why {
				if !strings.Contains(why, w) {
					t.Errorf("reason %q does not say %q", why, w)
				}
			}
		})
	}
}

// TestAvailableHere runs the real probes. This machine is expected to be
// no TD; on one, Available must say yes.
func TestAvailableHere(t *testing.T) {
	ok, why := Available()
	_, devErr := os.Stat(DefaultDevicePath)
	_, tsmErr := os.Stat(configfsi.TsmPrefix + "/report")
	if devErr != nil && tsmErr != nil {
		if ok || !strings.Contains(why, "configfs-tsm: ") || !strings.Contains(why, DefaultDevicePath) {
			t.Errorf("Available() = %v, %q on a machine without either interface", ok, why)
		}
		if _, err := (&Attester{}).Attest(bg, keeps.ReportData{}); err == nil || !strings.Contains(err.Error(), "no TDX quote interface") {
			t.Errorf("Attest without an interface: %v", err)
		}
		return
	}
	t.Logf("Available() = %v, %q", ok, why)
}
