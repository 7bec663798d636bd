package proxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/netattest"
)

func simIdentity(t testing.TB, module string) *netattest.Identity {
	t.Helper()
	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384([]byte(module))
	id, err := netattest.Issue(context.Background(), att, netattest.IssueOptions{ModuleDigest: d[:]})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func digest(module string) string {
	d := sha512.Sum384([]byte(module))
	return "sha384:" + hex.EncodeToString(d[:])
}

func fingerprint(id *netattest.Identity) string {
	fp := sha256.Sum256(id.Certificate.Raw)
	return "sha256:" + hex.EncodeToString(fp[:])
}

// fakeKeep is an HTTPS server presenting a sim RA-TLS certificate that
// the test can switch, as a restarted keep would.
type fakeKeep struct {
	srv  *httptest.Server
	cfg  *tls.Config
	id   atomic.Pointer[netattest.Identity]
	hits atomic.Int64
}

// restart gives the keep a new identity and, as a new keep process has,
// new session ticket keys: sessions of the old one cannot be resumed.
func (k *fakeKeep) restart(t *testing.T, id *netattest.Identity) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	k.cfg.SetSessionTicketKeys([][32]byte{key})
	k.id.Store(id)
}

func startFakeKeep(t *testing.T, module string) *fakeKeep {
	t.Helper()
	k := &fakeKeep{}
	k.id.Store(simIdentity(t, module))
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.hits.Add(1)
		io.WriteString(w, "Hello from a keep! "+r.Method+" "+r.URL.Path)
	}))
	k.cfg = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c := k.id.Load().TLSCertificate()
			return &c, nil
		},
	}
	k.srv.Listener = tls.NewListener(k.srv.Listener, k.cfg)
	k.srv.Start()
	t.Cleanup(k.srv.Close)
	return k
}

func (k *fakeKeep) addr() string { return k.srv.Listener.Addr().String() }

func newProxy(t *testing.T, addr string, policy *netattest.Policy) (*Proxy, *httptest.Server) {
	t.Helper()
	p := &Proxy{KeepAddr: addr, Verifier: netattest.NewVerifier(policy, netattest.Options{})}
	front := httptest.NewServer(p.Handler())
	t.Cleanup(func() {
		front.Close()
		p.Close()
	})
	return p, front
}

func get(t *testing.T, url string, accept string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func attestation(t *testing.T, front string) *Attestation {
	t.Helper()
	code, body := get(t, front+WellKnownPath, "")
	if code != 200 {
		t.Fatalf("GET %s = %d %s", WellKnownPath, code, body)
	}
	var a Attestation
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return &a
}

func TestProxyForwardsToAcceptedKeep(t *testing.T) {
	k := startFakeKeep(t, "good")
	p, front := newProxy(t, k.addr(), &netattest.Policy{AllowSimulated: true, ModuleHashes: []string{digest("good")}})

	if code, body := get(t, front.URL+"/hello", ""); code != 200 || body != "Hello from a keep! GET /hello" {
		t.Fatalf("GET /hello = %d %q", code, body)
	}
	a := attestation(t, front.URL)
	if !a.Verified || !a.Accepted || a.TEE != "sim" || !a.Simulated || a.Debug ||
		a.ModuleHash != digest("good") || a.Fingerprint != fingerprint(k.id.Load()) ||
		len(a.Checks) == 0 || len(a.Reasons) != 0 || a.Measurements["sim"] == "" || a.Keep != k.addr() {
		t.Fatalf("attestation = %+v", a)
	}
	if a.VerifiedAt == nil || time.Since(*a.VerifiedAt) > time.Minute {
		t.Fatalf("verified_at = %v", a.VerifiedAt)
	}
	// The raw JSON has the documented keys, with arrays never null.
	_, raw := get(t, front.URL+WellKnownPath, "")
	for _, key := range []string{`"verified": true`, `"accepted": true`, `"tee": "sim"`, `"simulated": true`, `"debug": false`,
		`"module_hash": "sha384:`, `"config_hash": ""`, `"measurements": {`, `"tcb_status": ""`, `"reasons": []`,
		`"not_pinned": [`, `"fingerprint": "sha256:`, `"checks": [`, `"verified_at": "`} {
		if !strings.Contains(raw, key) {
			t.Errorf("attestation JSON lacks %s:\n%s", key, raw)
		}
	}
	// The verification was done once, for all these connections.
	if n := p.verifications.Load(); n != 1 {
		t.Fatalf("%d verifications, want 1", n)
	}
}

func TestProxyRefusesKeep(t *testing.T) {
	k := startFakeKeep(t, "other")
	for _, tc := range []struct {
		name   string
		policy *netattest.Policy
		want   string
	}{
		{"module", &netattest.Policy{AllowSimulated: true, ModuleHashes: []string{digest("good")}}, "module hash " + digest("other") + " is not in the policy"},
		{"simulated", &netattest.Policy{ModuleHashes: []string{digest("other")}}, "simulated evidence"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, front := newProxy(t, k.addr(), tc.policy)
			code, body := get(t, front.URL+"/", "")
			if code != http.StatusBadGateway || !strings.Contains(body, tc.want) || !strings.Contains(body, "nothing was forwarded") {
				t.Fatalf("GET / = %d %q", code, body)
			}
			code, body = get(t, front.URL+"/x", "application/json")
			var eb errorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || code != http.StatusBadGateway || !eb.Refused ||
				!strings.Contains(strings.Join(eb.Reasons, ";"), tc.want) || eb.Attestation == nil || eb.Attestation.Accepted {
				t.Fatalf("GET /x (JSON) = %d %s (%v)", code, body, err)
			}
			a := attestation(t, front.URL)
			if !a.Verified || a.Accepted || !strings.Contains(a.Reason(), tc.want) || a.ModuleHash != digest("other") {
				t.Fatalf("attestation = %+v", a)
			}
			if n := k.hits.Load(); n != 0 {
				t.Fatalf("the refused keep got %d requests", n)
			}
		})
	}
}

// A keep that presents a new certificate (a restart) is verified afresh:
// a new fingerprint, and a refusal as soon as the new one is not accepted,
// even with connections to the old one idle in the pool.
func TestProxyCertificateChange(t *testing.T) {
	k := startFakeKeep(t, "good")
	p, front := newProxy(t, k.addr(), &netattest.Policy{AllowSimulated: true, ModuleHashes: []string{digest("good")}})
	if code, _ := get(t, front.URL+"/", ""); code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	a1 := attestation(t, front.URL)

	k.restart(t, simIdentity(t, "good"))
	a2 := attestation(t, front.URL)
	if !a2.Accepted || a2.Fingerprint == a1.Fingerprint || a2.Fingerprint != fingerprint(k.id.Load()) {
		t.Fatalf("after a new certificate: %+v (was %s)", a2, a1.Fingerprint)
	}
	if n := p.verifications.Load(); n != 2 {
		t.Fatalf("%d verifications, want 2", n)
	}

	k.restart(t, simIdentity(t, "evil"))
	before := k.hits.Load()
	a3 := attestation(t, front.URL)
	if a3.Accepted || !strings.Contains(a3.Reason(), "module hash") {
		t.Fatalf("after a refused certificate: %+v", a3)
	}
	if code, body := get(t, front.URL+"/", ""); code != http.StatusBadGateway || !strings.Contains(body, "module hash") {
		t.Fatalf("GET / after a refused certificate = %d %q", code, body)
	}
	if k.hits.Load() != before {
		t.Fatal("a request reached the keep after its certificate was refused")
	}
}

func TestProxyUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, front := newProxy(t, addr, &netattest.Policy{AllowSimulated: true})
	if code, body := get(t, front.URL+"/", ""); code != http.StatusBadGateway || !strings.Contains(body, "cannot reach the keep") {
		t.Fatalf("GET / = %d %q", code, body)
	}
	a := attestation(t, front.URL)
	if a.Verified || a.Accepted || a.Fingerprint != "" || !strings.Contains(a.Reason(), "cannot reach") {
		t.Fatalf("attestation = %+v", a)
	}
}

// A plain TLS server (no evidence) fails verification, and says so.
func TestProxyNoEvidence(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("request forwarded") }))
	defer srv.Close()
	_, front := newProxy(t, srv.Listener.Addr().String(), &netattest.Policy{AllowSimulated: true})
	code, body := get(t, front.URL+"/", "")
	if code != http.StatusBadGateway || !strings.Contains(body, "failed attestation") || !strings.Contains(body, "evidence extension") {
		t.Fatalf("GET / = %d %q", code, body)
	}
	if a := attestation(t, front.URL); a.Verified || a.Accepted || a.Fingerprint == "" {
		t.Fatalf("attestation = %+v", a)
	}
}

// startEchoKeep is a TLS echo server with a sim RA-TLS certificate; it
// half-closes when the client does, and counts the bytes it received.
func startEchoKeep(t *testing.T, module string) (string, *atomic.Int64) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", netattest.ServerConfig(simIdentity(t, module), nil))
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard
				n, _ := io.Copy(c, c)
				got.Add(n)
				c.(*tls.Conn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String(), &got
}

func serveTCP(t *testing.T, keepAddr string, policy *netattest.Policy, opts Options) (*Proxy, string) {
	t.Helper()
	p := &Proxy{KeepAddr: keepAddr, Verifier: netattest.NewVerifier(policy, netattest.Options{}), Options: opts}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.ServeTCP(ln) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("ServeTCP = %v, want ErrClosed", err)
		}
	})
	return p, ln.Addr().String()
}

// echo sends msg, half-closes, and reads until end of stream.
func echo(t *testing.T, addr, msg string) string {
	t.Helper()
	b, err := echoErr(t, addr, msg)
	if err != nil {
		t.Error(err)
	}
	return b
}

func echoErr(t *testing.T, addr, msg string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard
	io.WriteString(c, msg)
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestProxyTCP(t *testing.T) {
	keepAddr, _ := startEchoKeep(t, "echo")
	p, addr := serveTCP(t, keepAddr, &netattest.Policy{AllowSimulated: true, ModuleHashes: []string{digest("echo")}}, Options{MaxConns: 4})
	var wg sync.WaitGroup
	for i := range 20 { // more than MaxConns: the rest wait their turn
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := strings.Repeat(string(rune('a'+i)), 1000*i)
			if got := echo(t, addr, msg); got != msg {
				t.Errorf("conn %d: got %d bytes, want %d", i, len(got), len(msg))
			}
		}()
	}
	wg.Wait()
	if n := p.verifications.Load(); n != 1 {
		t.Fatalf("%d verifications, want 1", n)
	}
}

func TestProxyTCPRefused(t *testing.T) {
	keepAddr, got := startEchoKeep(t, "other")
	_, addr := serveTCP(t, keepAddr, &netattest.Policy{AllowSimulated: true, ModuleHashes: []string{digest("echo")}}, Options{})
	// The proxy closes at once: EOF, or a reset since "secret" was unread.
	if b, err := echoErr(t, addr, "secret"); b != "" {
		t.Fatalf("refused keep echoed %q (%v)", b, err)
	}
	if n := got.Load(); n != 0 {
		t.Fatalf("the refused keep received %d bytes", n)
	}
}

// Close ends Serve and the bridges in progress.
func TestProxyClose(t *testing.T) {
	keepAddr, _ := startEchoKeep(t, "echo")
	p := &Proxy{KeepAddr: keepAddr, Verifier: netattest.NewVerifier(&netattest.Policy{AllowSimulated: true}, netattest.Options{})}
	tcpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	httpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	errs := make(chan error, 2)
	go func() { errs <- p.ServeTCP(tcpLn) }()
	go func() { errs <- p.Serve(httpLn) }()
	c, err := net.Dial("tcp", tcpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "x")
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil { // the bridge is up
		t.Fatal(err)
	}
	p.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("Serve = %v, want ErrClosed", err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(b); err == nil {
		t.Fatal("bridge still open after Close")
	}
}

func TestAttestationMethod(t *testing.T) {
	_, front := newProxy(t, "127.0.0.1:1", nil)
	resp, err := http.Post(front.URL+WellKnownPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST = %d", resp.StatusCode)
	}
}

// TestProxyResumesSessions: a later dial to the same keep resumes the TLS
// session of an earlier one, and the resumed connection is still checked
// against the policy (VerifyConnection runs, the attestation is the
// keep's); a keep the policy refuses is refused on every dial.
func TestProxyResumesSessions(t *testing.T) {
	keepAddr, _ := startEchoKeep(t, "echo")
	p := &Proxy{KeepAddr: keepAddr, Verifier: netattest.NewVerifier(&netattest.Policy{AllowSimulated: true, ModuleHashes: []string{digest("echo")}}, netattest.Options{})}
	defer p.Close()
	for i := range 3 {
		c, a, err := p.Dial(context.Background())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if !a.Accepted || a.ModuleHash != digest("echo") {
			t.Errorf("dial %d: attestation accepted %v, module %s", i, a.Accepted, a.ModuleHash)
		}
		if resumed := c.ConnectionState().DidResume; resumed != (i > 0) {
			t.Errorf("dial %d: resumed %v, want %v", i, resumed, i > 0)
		}
		// A round trip: the client reads the session ticket the keep
		// sends after the handshake.
		c.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard
		io.WriteString(c, "ping")
		if b := make([]byte, 4); func() bool { _, err := io.ReadFull(c, b); return err != nil || string(b) != "ping" }() {
			t.Fatalf("dial %d: no echo", i)
		}
		c.Close()
	}

	otherAddr, _ := startEchoKeep(t, "other")
	q := &Proxy{KeepAddr: otherAddr, Verifier: netattest.NewVerifier(&netattest.Policy{AllowSimulated: true, ModuleHashes: []string{digest("echo")}}, netattest.Options{})}
	defer q.Close()
	for i := range 2 {
		if _, _, err := q.Dial(context.Background()); err == nil {
			t.Fatalf("dial %d: a keep the policy refuses was accepted", i)
		}
	}
}

// Requests whose Host is not the proxy get 421 and never reach the keep
// (a guard against DNS rebinding); the proxy's own names are served.
func TestHostGuard(t *testing.T) {
	k := startFakeKeep(t, "good")
	p := &Proxy{KeepAddr: k.addr(), Verifier: netattest.NewVerifier(&netattest.Policy{AllowSimulated: true}, netattest.Options{}),
		Options: Options{Hosts: []string{"keep.example"}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	t.Cleanup(func() { p.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:" + port, true},
		{"localhost:" + port, true},
		{"LOCALHOST.:" + port, true},
		{"[::1]:" + port, true},
		{"keep.example:" + port, true},
		{"evil.example:" + port, false}, // a rebound name
		{"127.0.0.1", port == "80"},     // no port means 80
		{"localhost:1" + port, false},   // another port
		{"127.0.0.2:" + port, false},    // another address
		{"keep.example.evil.example:" + port, false},
	} {
		for _, path := range []string{"/hello", WellKnownPath} {
			before := k.hits.Load()
			req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+path, nil)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.ok {
				if resp.StatusCode != 200 {
					t.Errorf("Host %q %s: %d %s", tc.host, path, resp.StatusCode, body)
				}
				continue
			}
			if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(string(body), "DNS rebinding") ||
				!strings.Contains(string(body), "localhost:"+port) || k.hits.Load() != before {
				t.Errorf("Host %q %s: %d %s (keep hits %d -> %d); want 421 with the reason and nothing forwarded",
					tc.host, path, resp.StatusCode, body, before, k.hits.Load())
			}
		}
	}
	// HTTP/1.0 without a Host header at all.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /hello HTTP/1.0\r\n\r\n")
	if b, _ := io.ReadAll(c); !strings.HasPrefix(string(b), "HTTP/1.0 421 ") {
		t.Errorf("HTTP/1.0 without Host: %q", b)
	}
}

// replayAttester returns one captured quote whatever it is asked to bind.
type replayAttester struct{ quote []byte }

func (replayAttester) TEE() keeps.TEE { return keeps.TEETDX }
func (a replayAttester) Attest(context.Context, keeps.ReportData) (*keeps.Evidence, error) {
	return &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: a.quote}, nil
}

// A keep presenting a forged certificate (a genuine TDX quote under another
// key) gets nothing forwarded, and the attestation says verified and
// accepted false with the failed binding, even under a policy pinning the
// quote's own values and giving its collateral.
func TestForgedKeepRefused(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "vectors", "tdx", name))
		if err != nil {
			t.Fatalf("test vectors (../shared beside the repo): %v", err)
		}
		return b
	}
	d := sha512.Sum384([]byte("forged"))
	id, err := netattest.Issue(context.Background(), replayAttester{read("dcap-qvl-tdx_quote")}, netattest.IssueOptions{ModuleDigest: d[:]})
	if err != nil {
		t.Fatal(err)
	}
	k := startFakeKeep(t, "unused")
	k.restart(t, id)
	policy := &netattest.Policy{TEE: []keeps.TEE{keeps.TEETDX}, ModuleHashes: []string{digest("forged")},
		TDX: netattest.TDXPolicy{MRTD: []string{"91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"}}}
	opts := netattest.Options{Now: time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC), Collateral: map[string][]byte{"intel": read("dcap-qvl-tdx_quote_collateral.json")}}
	p := &Proxy{KeepAddr: k.addr(), Verifier: netattest.NewVerifier(policy, opts)}
	front := httptest.NewServer(p.Handler())
	t.Cleanup(func() { front.Close(); p.Close() })

	if code, body := get(t, front.URL+"/hello", ""); code != http.StatusBadGateway || k.hits.Load() != 0 {
		t.Fatalf("GET /hello = %d %s, keep hits %d; want 502 and nothing forwarded", code, body, k.hits.Load())
	}
	a := attestation(t, front.URL)
	if a.Verified || a.Accepted || !strings.Contains(a.Reason(), "report data binding") || a.TCBStatus != "UpToDate" {
		t.Fatalf("attestation verified=%v accepted=%v reasons=%q tcb=%q", a.Verified, a.Accepted, a.Reasons, a.TCBStatus)
	}
}
