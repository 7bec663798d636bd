package tests

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/netattest"
)

// opsKeep is `keep run` started in the background whose stderr lines a
// test reads one by one (text or JSON), to wait for states without sleeps.
type opsKeep struct {
	cmd    *exec.Cmd
	lines  chan string // every stderr line, in order; closed at the end
	all    *syncBuffer
	done   chan struct{}
	code   int
	health string // --health-addr's bound address
}

func startOpsKeep(t *testing.T, env []string, args ...string) *opsKeep {
	t.Helper()
	cmd := exec.Command(keepBin, append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.Discard
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	k := &opsKeep{cmd: cmd, lines: make(chan string, 1024), all: &syncBuffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		k.code = cmd.ProcessState.ExitCode()
		pw.Close()
		close(k.done)
	}()
	go func() {
		defer close(k.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(k.all, sc.Text())
			k.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-k.done
	})
	k.health = k.waitFor(t, `^health: listening on (\S+)$`)[1]
	return k
}

// msgOf returns a stderr line's message: the line without "keep: ", or a
// JSON record's msg.
func msgOf(line string) string {
	var rec struct{ Msg string }
	if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &rec) == nil {
		return rec.Msg
	}
	return strings.TrimPrefix(line, "keep: ")
}

// waitFor reads stderr lines until one's message matches re and returns
// the submatches.
func (k *opsKeep) waitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	hang := time.After(120 * time.Second) // hang guard, not synchronisation
	for {
		select {
		case line, ok := <-k.lines:
			if !ok {
				<-k.done
				t.Fatalf("keep exited %d before printing %q:\n%s", k.code, re, k.all.String())
			}
			if m := rx.FindStringSubmatch(msgOf(line)); m != nil {
				return m
			}
		case <-hang:
			t.Fatalf("keep did not print %q:\n%s", re, k.all.String())
		}
	}
}

func (k *opsKeep) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-k.done:
		return k.code
	case <-time.After(120 * time.Second): // hang guard
		t.Fatalf("keep did not exit:\n%s", k.all.String())
		return -1
	}
}

// get fetches a health endpoint and returns its status and body.
func (k *opsKeep) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + k.health + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// metric returns the value of one series (name and labels exactly as
// exposed) from /metrics.
func (k *opsKeep) metric(t *testing.T, series string) float64 {
	t.Helper()
	code, body := k.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s:\n%s", series, body)
	return 0
}

func buildTestGuest(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(buildDir, name+".wasm")
	guestMu.Lock()
	defer guestMu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if msg, err := goBuild(out, "./tests/testdata/guests/"+name, []string{"GOOS=wasip1", "GOARCH=wasm"}); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, msg)
	}
	return out
}

// SIGTERM drains: the listener closes at once (new connections are
// refused, /readyz says draining), a request in flight completes, and keep
// then stops the guest and exits 0 by itself, well before --drain-timeout.
func TestOpsSIGTERMDrains(t *testing.T) {
	t.Parallel()
	guest := buildTestGuest(t, "hold")
	cfg := writeFile(t, t.TempDir(), "Enarx.toml", listenConfig("tcp", ""))
	k := startOpsKeep(t, nil, "--health-addr", "127.0.0.1:0", "--drain-timeout", "10m", "--config", cfg, guest)
	addr := k.waitFor(t, `^fd 3 \(ingest\): listening on (\S+)$`)[1]

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("in-flight request: %q, %v", line, err)
	}
	if code, body := k.get(t, "/readyz"); code != 200 {
		t.Fatalf("/readyz while serving: %d %s", code, body)
	}

	k.cmd.Process.Signal(syscall.SIGTERM)
	k.waitFor(t, `^\S+\.wasm: SIGTERM: draining`) // names the module
	if code, body := k.get(t, "/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Fatalf("/readyz while draining: %d %q, want 503 draining", code, body)
	}
	if code, body := k.get(t, "/healthz"); code != 200 {
		t.Fatalf("/healthz while draining: %d %q, want 200", code, body)
	}
	if c2, err := net.Dial("tcp", addr); err == nil {
		c2.Close()
		t.Fatal("a new connection was accepted while draining")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("new connection while draining: %v, want connection refused", err)
	}

	// The request in flight completes.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "done x\n" {
		t.Fatalf("in-flight request after SIGTERM: %q, %v\n%s", line, err, k.all.String())
	}
	c.Close()
	if code := k.wait(t); code != 0 {
		t.Fatalf("exit %d after a clean drain, want 0\n%s", code, k.all.String())
	}
	if strings.Contains(k.all.String(), "still open") {
		t.Fatalf("keep waited for the drain timeout:\n%s", k.all.String())
	}
}

// A connection that never ends is cut at --drain-timeout: keep then stops
// the guest and exits 143 (stopped by SIGTERM), not 0.
func TestOpsDrainTimeout(t *testing.T) {
	t.Parallel()
	guest := buildTestGuest(t, "hold")
	cfg := writeFile(t, t.TempDir(), "Enarx.toml", listenConfig("tcp", ""))
	k := startOpsKeep(t, nil, "--health-addr", "127.0.0.1:0", "--drain-timeout", "1s", "--config", cfg, guest)
	addr := k.waitFor(t, `^fd 3 \(ingest\): listening on (\S+)$`)[1]
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("%q, %v", line, err)
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	k.waitFor(t, `still open after --drain-timeout 1s`)
	if code := k.wait(t); code != 143 {
		t.Fatalf("exit %d, want 143\n%s", code, k.all.String())
	}
}

// testCA writes a self-signed certificate for localhost/127.0.0.1 (PEM,
// for SSL_CERT_FILE) and returns it as a TLS server certificate.
func testCA(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ops test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, p
}

// /healthz and /readyz follow the keep's state, never its listeners: the
// keep is held while it opens its sockets (its TLS connect waits for a
// server the test releases), and is alive but not ready then; once a
// request reached the guest it is ready. /metrics counts the connections,
// handshakes and verified peers; with --log-format json every stderr line
// is a JSON record.
func TestOpsHealthReadyMetricsJSONLogs(t *testing.T) {
	t.Parallel()
	guest := buildGuest(t, "http")
	dir := t.TempDir()
	srvCert, caFile := testCA(t, dir)

	// The server the keep's connect fd dials: it accepts, then holds the
	// TLS handshake until released.
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	accepted, release := make(chan net.Conn, 1), make(chan struct{})
	go func() {
		c, err := up.Accept()
		if err != nil {
			return
		}
		accepted <- c
		<-release
		tls.Server(c, &tls.Config{Certificates: []tls.Certificate{srvCert}}).Handshake()
	}()

	clientDigest := sha512.Sum384([]byte("client module"))
	writeFile(t, dir, "clients.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [\"sha384:%x\"]\n", clientDigest))
	port := up.Addr().(*net.TCPAddr).Port
	cfg := writeFile(t, dir, "Enarx.toml", listenConfig("tls", "client_auth = \"attested\"\nclient_policy = \"clients.toml\"\n")+fmt.Sprintf(`
[[files]]
kind = "connect"
prot = "tls"
name = "upstream"
host = "localhost"
port = %d
`, port))
	k := startOpsKeep(t, []string{"SSL_CERT_FILE=" + caFile}, "--log-format", "json", "--log-level", "debug", "--health-addr", "127.0.0.1:0", "--config", cfg, guest)

	var held net.Conn
	select {
	case held = <-accepted:
		defer held.Close()
	case <-k.done:
		t.Fatalf("keep exited %d:\n%s", k.code, k.all.String())
	case <-time.After(120 * time.Second): // hang guard
		t.Fatalf("keep did not connect:\n%s", k.all.String())
	}
	if code, body := k.get(t, "/healthz"); code != 200 || body != "ok: starting\n" {
		t.Fatalf("/healthz while starting: %d %q", code, body)
	}
	if code, body := k.get(t, "/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Fatalf("/readyz while starting: %d %q, want 503", code, body)
	}
	if v := k.metric(t, `keep_connections_total{listener="ingest"}`); v != 0 {
		t.Fatalf("connections before any: %v", v)
	}
	close(release)
	addr := k.waitFor(t, `^fd 3 \(ingest\): listening on (\S+)$`)[1]

	// An attested client whose module the keep's client policy pins.
	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	issue := func(d [48]byte) *netattest.Identity {
		id, err := netattest.Issue(context.Background(), att, netattest.IssueOptions{ModuleDigest: d[:]})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	v := netattest.NewVerifier(&netattest.Policy{AllowSimulated: true}, netattest.Options{})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: v.ClientConfig(issue(clientDigest)), DisableKeepAlives: true}}
	resp, err := hc.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("request: %v\n%s", err, k.all.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "Hello from a keep!\n" {
		t.Fatalf("guest answered %d %q", resp.StatusCode, body)
	}
	// The guest answered: it runs, so the keep is ready.
	if code, body := k.get(t, "/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("/readyz while running: %d %q", code, body)
	}
	if code, body := k.get(t, "/healthz"); code != 200 || body != "ok: running\n" {
		t.Fatalf("/healthz while running: %d %q", code, body)
	}

	// A client whose module the policy does not pin is refused.
	other := sha512.Sum384([]byte("another module"))
	bad := &http.Client{Transport: &http.Transport{TLSClientConfig: v.ClientConfig(issue(other)), DisableKeepAlives: true}}
	if resp, err := bad.Get("https://" + addr + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("a client the policy refuses was served")
	}

	for series, want := range map[string]float64{
		`keep_connections_total{listener="ingest"}`:                       2,
		`keep_tls_handshakes_total{listener="ingest",result="ok"}`:        1,
		`keep_peer_verifications_total{cached="false",result="accepted"}`: 1,
		`keep_peer_verifications_total{cached="false",result="policy"}`:   1,
	} {
		if got := k.metric(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := k.metric(t, `keep_tls_handshake_duration_seconds_count{listener="ingest"}`); got < 1 {
		t.Errorf("handshake duration count = %v, want >= 1", got)
	}

	k.cmd.Process.Signal(syscall.SIGTERM)
	if code := k.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0 (drained)\n%s", code, k.all.String())
	}
	lines := strings.Split(strings.TrimSuffix(k.all.String(), "\n"), "\n")
	if len(lines) < 5 {
		t.Fatalf("only %d stderr lines:\n%s", len(lines), k.all.String())
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line is not JSON: %q", line)
		}
		for _, key := range []string{"time", "level", "msg"} {
			if _, ok := rec[key]; !ok {
				t.Fatalf("stderr line has no %q: %q", key, line)
			}
		}
	}
}

// --log-format json covers keep's errors too; a bad format is a usage error.
func TestOpsLogFormat(t *testing.T) {
	t.Parallel()
	r := keep(t, "", nil, "--log-format", "json", "run", "no-such.wasm")
	if r.code != 125 {
		t.Fatalf("exit %d, want 125\n%s", r.code, r.stderr)
	}
	var rec struct{ Time, Level, Msg string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stderr)), &rec); err != nil || rec.Level != "ERROR" || !strings.Contains(rec.Msg, "no-such.wasm") || rec.Time == "" {
		t.Fatalf("stderr %q: %+v, %v", r.stderr, rec, err)
	}
	r = keep(t, "", nil, "run", "--log-format", "xml", "no-such.wasm")
	if r.code != 2 || !strings.Contains(r.stderr, `keep: --log-format "xml": want text or json`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = keep(t, "", nil, "run", "--drain-timeout", "-1s", "no-such.wasm")
	if r.code != 2 || !strings.Contains(r.stderr, "--drain-timeout") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// keep verify --event-log replays a log only against a verified TDX
// quote's RTMR3: a sim certificate is refused (exit 1) with the reason; a
// missing or malformed log is bad input (exit 125).
func TestOpsVerifyEventLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mod := writeFile(t, dir, "m.wasm", "\x00asm\x01\x00\x00\x00")
	cert := filepath.Join(dir, "cert.pem")
	if r := keep(t, dir, nil, "attest-cert", "--module", mod, "--cert", cert, "--key", filepath.Join(dir, "key.pem")); r.code != 0 {
		t.Fatalf("attest-cert: %d %s", r.code, r.stderr)
	}
	log := writeFile(t, dir, "rtmr3.log", "")
	r := keep(t, dir, nil, "verify", "--allow-simulated", "--cert", cert, "--event-log", log)
	if r.code != 1 || !strings.Contains(r.stdout, "event log:") || !strings.Contains(r.stdout, "REFUSED") {
		t.Fatalf("sim certificate with an event log: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = keep(t, dir, nil, "verify", "--allow-simulated", "--cert", cert, "--event-log", filepath.Join(dir, "missing.log"))
	if r.code != 125 || !strings.HasPrefix(r.stderr, "keep: --event-log: ") || !strings.Contains(r.stderr, "missing.log") {
		t.Fatalf("missing log: exit %d %q", r.code, r.stderr)
	}
	bad := writeFile(t, dir, "bad.log", `{"domain":"keep","operation":"module","content":"x","digest":"sha384:00"}`+"\n")
	r = keep(t, dir, nil, "verify", "--allow-simulated", "--cert", cert, "--event-log", bad)
	if r.code != 125 || !strings.Contains(r.stderr, "bad.log: event log line 1") {
		t.Fatalf("bad log: exit %d %q", r.code, r.stderr)
	}
}
