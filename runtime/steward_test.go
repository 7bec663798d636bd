package runtime

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepwasm/keep/ca"
	"github.com/keepwasm/keep/caverify"
	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/netattest"
)

// fakeClock drives the steward client's waits: each wait is a call the
// test receives and ends by advancing the clock.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock() *fakeClock {
	// Whole seconds: certificates carry no fractions of a second.
	return &fakeClock{t: time.Now().Truncate(time.Second), waits: make(chan fakeWait)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	w := fakeWait{d: d, fire: make(chan time.Time, 1)}
	c.waits <- w
	return w.fire
}

// next receives the client's next wait (a hang guard, not a timing).
func (c *fakeClock) next(t *testing.T) fakeWait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(30 * time.Second):
		t.Fatal("the steward client did not wait")
		return fakeWait{}
	}
}

// elapse advances the clock by the wait's duration and ends it.
func (c *fakeClock) elapse(w fakeWait) {
	c.mu.Lock()
	c.t = c.t.Add(w.d)
	now := c.t
	c.mu.Unlock()
	w.fire <- now
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// stewardFixture is a CA over real HTTPS (leaf lifetime 1h, on the fake
// clock) and a keep's steward client that trusts it through steward_ca.
type stewardFixture struct {
	hs     *httptest.Server
	client *stewardClient
	clock  *fakeClock
	logs   *lockedBuffer
}

func newStewardFixture(t *testing.T, policy *netattest.Policy, timeout time.Duration) *stewardFixture {
	t.Helper()
	clock := newFakeClock()
	auth, err := ca.NewAuthority("test CA", 0, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	auth.LeafTTL = time.Hour
	hs := httptest.NewTLSServer(&ca.Server{Authority: auth, Check: (&caverify.Checker{Policy: policy}).Func(), Now: clock.Now})
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	roots := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), auth.RootPEM()...)
	if err := os.WriteFile(filepath.Join(dir, "roots.pem"), roots, 0o644); err != nil {
		t.Fatal(err)
	}
	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cfg := &Config{Path: filepath.Join(dir, "Enarx.toml"), Steward: hs.URL, StewardOpts: &StewardOptions{CA: "roots.pem", Names: []string{"127.0.0.1"}, Timeout: timeout}}
	var digest Digest
	copy(digest[:], bytes.Repeat([]byte{7}, 48))
	sc, err := socketPlan{cfg: cfg, attester: att, digest: digest, log: slog.New(slog.NewTextHandler(logs, nil))}.newStewardClient()
	if err != nil {
		t.Fatal(err)
	}
	sc.now, sc.after = clock.Now, clock.After
	return &stewardFixture{hs: hs, client: sc, clock: clock, logs: logs}
}

var simPolicy = &netattest.Policy{AllowSimulated: true}

// TestStewardRenewal: the certificate is renewed at two thirds of its
// lifetime while a connection made with the old one carries on; with the
// CA down, the old certificate is served with a warning until it expires.
func TestStewardRenewal(t *testing.T) {
	f := newStewardFixture(t, simPolicy, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.client.start(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	first := f.client.cur.Load()
	if got := first.Leaf.URIs; len(got) != 1 || got[0].String() != "urn:keep:module:sha384:"+strings.Repeat("07", 48) {
		t.Errorf("leaf URIs = %v", got)
	}

	// A TLS server presenting the current certificate, and a connection
	// to it made before the renewal.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: f.client.getCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	echo := func(c *tls.Conn) {
		t.Helper()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
			t.Fatalf("echo: %q %v", b, err)
		}
	}
	old := dial()
	defer old.Close()
	echo(old)

	go f.client.renew(ctx)
	w := f.clock.next(t)
	if w.d != 40*time.Minute {
		t.Fatalf("renewal scheduled after %v, want 40m (2/3 of 1h)", w.d)
	}
	f.clock.elapse(w)
	w = f.clock.next(t) // the renewal is done when the next wait begins
	second := f.client.cur.Load()
	if second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 || bytes.Equal(second.Leaf.RawSubjectPublicKeyInfo, first.Leaf.RawSubjectPublicKeyInfo) {
		t.Fatal("renewal did not bring a new certificate with a new key")
	}
	echo(old) // the connection made with the old certificate carries on
	fresh := dial()
	if got := fresh.ConnectionState().PeerCertificates[0]; !got.Equal(second.Leaf) {
		t.Error("a new connection does not get the renewed certificate")
	}
	fresh.Close()

	// The CA goes down: the renewal fails, the current certificate stays.
	f.hs.Close()
	f.clock.elapse(w)
	w = f.clock.next(t)
	if f.client.cur.Load() != second {
		t.Fatal("the certificate changed while the CA was down")
	}
	if !strings.Contains(f.logs.String(), "serving the current certificate until it expires") {
		t.Errorf("no warning logged:\n%s", f.logs.String())
	}
	if w.d != 30*time.Second {
		t.Errorf("retry after %v, want 30s", w.d)
	}
	// Past its expiry, failures are logged as errors.
	w.d = time.Hour
	f.clock.elapse(w)
	f.clock.next(t)
	if !strings.Contains(f.logs.String(), "the current certificate has expired") {
		t.Errorf("no expiry error logged:\n%s", f.logs.String())
	}
}

// TestStewardStartUnreachable: with the CA unreachable, start retries
// with growing waits until the timeout and then fails; it never falls
// back to another certificate.
func TestStewardStartUnreachable(t *testing.T) {
	f := newStewardFixture(t, simPolicy, 5*time.Second)
	f.hs.Close()
	errc := make(chan error, 1)
	go func() { errc <- f.client.start(context.Background(), 5*time.Second) }()
	var waits []time.Duration
	for {
		select {
		case err := <-errc:
			if err == nil || !strings.Contains(err.Error(), "no certificate after") {
				t.Fatalf("start = %v, want a no-certificate error", err)
			}
			if f.client.cur.Load() != nil {
				t.Fatal("a certificate is set after a failed start")
			}
			want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 1250 * time.Millisecond}
			if len(waits) != len(want) {
				t.Fatalf("waits %v, want %v", waits, want)
			}
			for i := range want {
				if waits[i] != want[i] {
					t.Fatalf("waits %v, want %v", waits, want)
				}
			}
			return
		case w := <-f.clock.waits:
			waits = append(waits, w.d)
			f.clock.elapse(w)
		case <-time.After(30 * time.Second): // hang guard
			t.Fatal("start did not end")
		}
	}
}

// TestStewardRefusal: a refusal ends start at once, with the CA's reason.
func TestStewardRefusal(t *testing.T) {
	f := newStewardFixture(t, &netattest.Policy{AllowSimulated: true, ModuleHashes: []string{"sha384:" + strings.Repeat("00", 48)}}, time.Minute)
	err := f.client.start(context.Background(), time.Minute)
	var ref *StewardRefusal
	if !errors.As(err, &ref) || ref.Status != 403 || !strings.Contains(ref.Reason, "is not in the policy") {
		t.Fatalf("start = %v, want a 403 refusal naming the module", err)
	}
}

// TestStewardChainChecks: the client refuses answers that do not certify
// its own key or do not chain to the configured roots.
func TestStewardChainChecks(t *testing.T) {
	f := newStewardFixture(t, simPolicy, time.Minute)
	other, err := ca.NewAuthority("other CA", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A leaf for this key from a CA the keep does not trust.
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: ca.OIDEvidence, Value: []byte{1}}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ca.ParseRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(req, &ca.Verdict{Status: 200, SPKISHA256: ca.SPKIHash(req.CSR.RawSubjectPublicKeyInfo)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, err string
		chain     [][]byte
	}{
		{"only a root", "not for this keep's key", [][]byte{other.Root.Raw}},
		{"untrusted CA", "does not verify", [][]byte{other.Root.Raw, foreign.Raw}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := ca.EncodeChain(tc.chain...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.client.checkChain(der, key); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
	if _, err := f.client.checkChain([]byte("x"), key); err == nil || !strings.Contains(err.Error(), "not a DER SEQUENCE") {
		t.Fatalf("garbage: %v", err)
	}
}
