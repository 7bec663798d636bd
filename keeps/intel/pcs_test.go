package intel

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
)

// fakePCS serves a dcap-qvl bundle the way Intel PCS API v4 serves its
// parts, and records the requests.
type fakePCS struct {
	t        *testing.T
	bundle   map[string]string
	mu       sync.Mutex
	requests []string
	// fail makes the given path answer with this status.
	fail       map[string]int
	dropHeader string
	huge       bool
}

func (f *fakePCS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.mu.Unlock()
	if code := f.fail[r.URL.Path]; code != 0 {
		http.Error(w, "no", code)
		return
	}
	b := f.bundle
	header := func(k, chain string) {
		if k != f.dropHeader {
			w.Header().Set(k, url.PathEscape(chain))
		}
	}
	der := func(k string) []byte {
		d, err := hex.DecodeString(b[k])
		if err != nil {
			f.t.Error(err) // not Fatal: this runs on the server's goroutine
		}
		return d
	}
	switch r.URL.Path {
	case "/sgx/certification/v4/tcb", "/tdx/certification/v4/tcb":
		header("TCB-Info-Issuer-Chain", b["tcb_info_issuer_chain"])
		body := `{"tcbInfo":` + b["tcb_info"] + `,"signature":"` + b["tcb_info_signature"] + `"}`
		if f.huge {
			body += strings.Repeat(" ", maxPCSResponse)
		}
		w.Write([]byte(body))
	case "/sgx/certification/v4/qe/identity", "/tdx/certification/v4/qe/identity":
		header("SGX-Enclave-Identity-Issuer-Chain", b["qe_identity_issuer_chain"])
		w.Write([]byte(`{"enclaveIdentity":` + b["qe_identity"] + `,"signature":"` + b["qe_identity_signature"] + `"}`))
	case "/sgx/certification/v4/pckcrl":
		header("SGX-PCK-CRL-Issuer-Chain", b["pck_crl_issuer_chain"])
		w.Write(der("pck_crl"))
	case "/IntelSGXRootCA.der":
		w.Write(der("root_ca_crl"))
	default:
		http.NotFound(w, r)
	}
}

func newFakePCS(t *testing.T, bundleFile string) (*fakePCS, *PCSClient) {
	var b map[string]string
	if err := json.Unmarshal(readVector(t, bundleFile), &b); err != nil {
		t.Fatal(err)
	}
	f := &fakePCS{t: t, bundle: b, fail: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &PCSClient{BaseURL: srv.URL, RootCRLURL: srv.URL + "/IntelSGXRootCA.der", HTTPClient: srv.Client()}
}

func TestPCSFetch(t *testing.T) {
	for _, tc := range []struct {
		quote, bundle string
		now           time.Time
		status        TCBStatus
		wantPaths     []string
	}{
		{"sgx/dcap-qvl-sgx_quote", "sgx/dcap-qvl-sgx_quote_collateral.json", time.Unix(1752919277, 0), TCBConfigurationAndSWHardeningNeeded,
			[]string{"/sgx/certification/v4/tcb?fmspc=00A067110000", "/sgx/certification/v4/qe/identity", "/sgx/certification/v4/pckcrl?ca=processor&encoding=der", "/IntelSGXRootCA.der"}},
		{"tdx/dcap-qvl-tdx_quote", "tdx/dcap-qvl-tdx_quote_collateral.json", time.Unix(1752919234, 0), TCBUpToDate,
			[]string{"/tdx/certification/v4/tcb?fmspc=B0C06F000000", "/tdx/certification/v4/qe/identity", "/sgx/certification/v4/pckcrl?ca=platform&encoding=der", "/IntelSGXRootCA.der"}},
	} {
		t.Run(tc.quote, func(t *testing.T) {
			f, pcs := newFakePCS(t, tc.bundle)
			q := parse(t, readQuoteFile(t, tc.quote))
			v, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: tc.now, AllowNetwork: true, PCS: pcs})
			if err != nil {
				t.Fatal(err)
			}
			if v.TCB.Status != tc.status {
				t.Errorf("status %s", v.TCB.Status)
			}
			if strings.Join(f.requests, " ") != strings.Join(tc.wantPaths, " ") {
				t.Errorf("requests %q, want %q", f.requests, tc.wantPaths)
			}
		})
	}
}

func TestPCSFetchErrors(t *testing.T) {
	q := parse(t, readQuoteFile(t, "sgx/dcap-qvl-sgx_quote"))
	now := time.Unix(1752919277, 0)
	for _, tc := range []struct {
		name  string
		setup func(f *fakePCS)
		want  string
	}{
		{"tcb 404", func(f *fakePCS) { f.fail["/sgx/certification/v4/tcb"] = 404 }, "404"},
		{"root CRL 500", func(f *fakePCS) { f.fail["/IntelSGXRootCA.der"] = 500 }, "500"},
		{"no issuer chain", func(f *fakePCS) { f.dropHeader = "SGX-Enclave-Identity-Issuer-Chain" }, "no SGX-Enclave-Identity-Issuer-Chain header"},
		{"huge response", func(f *fakePCS) { f.huge = true }, "larger than"},
		{"bad tcb body", func(f *fakePCS) { f.bundle["tcb_info"] = `"x"` }, "tcbInfo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, pcs := newFakePCS(t, "sgx/dcap-qvl-sgx_quote_collateral.json")
			tc.setup(f)
			_, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: now, AllowNetwork: true, PCS: pcs})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want an error about %q", err, tc.want)
			}
		})
	}
	// Fetched collateral is checked like supplied collateral.
	f, pcs := newFakePCS(t, "sgx/dcap-qvl-sgx_quote_collateral.json")
	f.bundle["tcb_info_signature"] = strings.Repeat("11", 64)
	if _, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: now, AllowNetwork: true, PCS: pcs}); !errors.Is(err, ErrCollateral) {
		t.Errorf("bad signature from PCS: %v", err)
	}
	// Cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pcs.FetchCollateral(ctx, keeps.TEESGX, [6]byte{}, PCKCAProcessor); !errors.Is(err, ErrNetwork) {
		t.Errorf("cancelled: %v", err)
	}
	// Without AllowNetwork nothing is fetched.
	f.requests = nil
	v, err := VerifyQuote(context.Background(), q, VerifyQuoteOptions{Now: now, PCS: pcs})
	if err != nil || len(f.requests) != 0 || v.TCB != nil {
		t.Errorf("%v %q", err, f.requests)
	}
}
