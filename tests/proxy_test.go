package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runningProxy is a `keep proxy` started in the background.
type runningProxy struct {
	addr   string
	stderr *syncBuffer
}

var proxyListeningRE = regexp.MustCompile(`^keep: proxy listening on ([^\s,]+), forwarding to `)

// startProxy starts `keep proxy args...` and waits until it reports its
// listening address on stderr.
func startProxy(t *testing.T, args ...string) *runningProxy {
	t.Helper()
	cmd := exec.Command(keepBin, append([]string{"proxy"}, args...)...)
	pr, pw := io.Pipe()
	p := &runningProxy{stderr: &syncBuffer{}}
	cmd.Stderr, cmd.Stdout = pw, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		pw.Close()
		close(done)
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.stderr, line)
			if m := proxyListeningRE.FindStringSubmatch(line); m != nil {
				ready <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	select {
	case p.addr = <-ready:
	case <-done:
		t.Fatalf("keep proxy exited before listening:\n%s", p.stderr.String())
	case <-time.After(60 * time.Second): // hang guard, not synchronisation
		t.Fatalf("keep proxy did not listen:\n%s", p.stderr.String())
	}
	return p
}

var proxyClient = &http.Client{Timeout: 60 * time.Second}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := proxyClient.Get(url)
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

// proxyAttestation is the JSON of /.well-known/keep-attestation.
type proxyAttestation struct {
	Verified     bool              `json:"verified"`
	Accepted     bool              `json:"accepted"`
	TEE          string            `json:"tee"`
	Simulated    bool              `json:"simulated"`
	Debug        bool              `json:"debug"`
	ModuleHash   string            `json:"module_hash"`
	ConfigHash   string            `json:"config_hash"`
	Measurements map[string]string `json:"measurements"`
	TCBStatus    string            `json:"tcb_status"`
	Reasons      []string          `json:"reasons"`
	NotPinned    []string          `json:"not_pinned"`
	Fingerprint  string            `json:"fingerprint"`
	Checks       []json.RawMessage `json:"checks"`
	VerifiedAt   string            `json:"verified_at"`
}

func getAttestation(t *testing.T, p *runningProxy) *proxyAttestation {
	t.Helper()
	code, body := httpGet(t, "http://"+p.addr+"/.well-known/keep-attestation")
	var a proxyAttestation
	if err := json.Unmarshal([]byte(body), &a); err != nil || code != 200 {
		t.Fatalf("GET /.well-known/keep-attestation = %d %s (%v)\nproxy stderr:\n%s", code, body, err, p.stderr.String())
	}
	if _, err := time.Parse(time.RFC3339, a.VerifiedAt); err != nil {
		t.Fatalf("verified_at %q: %v", a.VerifiedAt, err)
	}
	return &a
}

// The http guest behind a TLS listener, through keep proxy: a policy
// pinning the module gets the guest's page and an attestation saying so; a
// policy pinning another module, or one without allow_simulated, gets a
// 502 stating why.
func TestProxyHTTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "http")
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tls", "")), guest)
	keepAddr := k.addrs["ingest"]
	hash := digestOf(t, guest)

	good := writeFile(t, dir, "good.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", hash))
	p := startProxy(t, "--policy", good, "127.0.0.1:0", keepAddr)
	if code, body := httpGet(t, "http://"+p.addr+"/"); code != 200 || body != "Hello from a keep!\n" {
		t.Fatalf("GET / through the proxy = %d %q\n%s", code, body, p.stderr.String())
	}
	resp, err := proxyClient.Post("http://"+p.addr+"/echo", "application/json", strings.NewReader(`{"x":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"echo":{"x":[1,2]}`) {
		t.Fatalf("POST /echo through the proxy = %q", body)
	}
	a := getAttestation(t, p)
	if !a.Verified || !a.Accepted || !a.Simulated || a.TEE != "sim" || a.ModuleHash != hash ||
		!strings.HasPrefix(a.Fingerprint, "sha256:") || len(a.Checks) == 0 || len(a.Reasons) != 0 {
		t.Fatalf("attestation = %+v", a)
	}
	if !strings.Contains(p.stderr.String(), "policy accepts simulated evidence") {
		t.Errorf("no warning about simulated evidence:\n%s", p.stderr.String())
	}

	// Another module pinned (allow_simulated from the flag this time).
	other := writeFile(t, dir, "other.toml", fmt.Sprintf("module_hashes = [%q]\n", otherHash))
	bad := startProxy(t, "--policy", other, "--allow-simulated", "127.0.0.1:0", keepAddr)
	code, page := httpGet(t, "http://"+bad.addr+"/")
	if code != http.StatusBadGateway || !strings.Contains(page, "module hash "+hash+" is not in the policy") || strings.Contains(page, "Hello") {
		t.Fatalf("GET / with another module pinned = %d %q", code, page)
	}
	a = getAttestation(t, bad)
	if !a.Verified || a.Accepted || a.ModuleHash != hash || !strings.Contains(strings.Join(a.Reasons, ";"), "module hash") {
		t.Fatalf("attestation with another module pinned = %+v", a)
	}

	// The module pinned but no allow_simulated: sim evidence is refused.
	plain := writeFile(t, dir, "plain.toml", fmt.Sprintf("module_hashes = [%q]\n", hash))
	strict := startProxy(t, "--policy", plain, "127.0.0.1:0", keepAddr)
	if code, page := httpGet(t, "http://"+strict.addr+"/"); code != http.StatusBadGateway || !strings.Contains(page, "simulated") {
		t.Fatalf("GET / without allow_simulated = %d %q", code, page)
	}
	if a := getAttestation(t, strict); a.Accepted || !a.Simulated {
		t.Fatalf("attestation without allow_simulated = %+v", a)
	}
}

// --tcp: the echo guest behind a TLS listener, as plain TCP.
func TestProxyTCP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "echo")
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tls", "")), guest)
	policy := writeFile(t, dir, "policy.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", digestOf(t, guest)))
	p := startProxy(t, "--tcp", "--policy", policy, "127.0.0.1:0", k.addrs["ingest"])
	echoMany(t, p.addr, nil, 20)

	// Half-close: the client's end of stream reaches the guest, whose
	// io.Copy then returns and closes; the client reads to EOF.
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second)) // hang guard
	io.WriteString(c, "half-closed")
	c.(*net.TCPConn).CloseWrite()
	if b, err := io.ReadAll(c); err != nil || string(b) != "half-closed" {
		t.Fatalf("half-close: %q, %v", b, err)
	}

	// Another module pinned: the connection is closed, nothing echoed.
	bad := writeFile(t, dir, "bad.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", otherHash))
	q := startProxy(t, "--tcp", "--policy", bad, "127.0.0.1:0", k.addrs["ingest"])
	c2, err := net.Dial("tcp", q.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(60 * time.Second))
	io.WriteString(c2, "secret")
	if b, _ := io.ReadAll(c2); len(b) != 0 {
		t.Fatalf("refused keep echoed %q", b)
	}
}

// forwarder relays TCP to a target the test can switch, so that one proxy
// sees a keep "restart" with a new certificate at the same address.
type forwarder struct {
	ln     net.Listener
	target atomic.Value // string
}

func startForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln}
	f.target.Store(target)
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
				u, err := net.Dial("tcp", f.target.Load().(string))
				if err != nil {
					return
				}
				defer u.Close()
				go func() { io.Copy(u, c); u.Close() }()
				io.Copy(c, u)
			}()
		}
	}()
	return f
}

// A keep restarted with a new certificate is verified afresh: the
// attestation's fingerprint changes, and requests keep working.
func TestProxyKeepRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "http")
	cfg := writeFile(t, dir, "Enarx.toml", listenConfig("tls", ""))
	k1 := startKeep(t, 1, "--config", cfg, guest)
	f := startForwarder(t, k1.addrs["ingest"])
	policy := writeFile(t, dir, "policy.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", digestOf(t, guest)))
	p := startProxy(t, "--policy", policy, "127.0.0.1:0", f.ln.Addr().String())
	if code, body := httpGet(t, "http://"+p.addr+"/"); code != 200 || body != "Hello from a keep!\n" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	a1 := getAttestation(t, p)

	k2 := startKeep(t, 1, "--config", cfg, guest)
	f.target.Store(k2.addrs["ingest"])
	k1.cmd.Process.Kill()
	k1.wait(t)
	a2 := getAttestation(t, p)
	if !a2.Accepted || a2.Fingerprint == a1.Fingerprint || !strings.HasPrefix(a2.Fingerprint, "sha256:") {
		t.Fatalf("after the restart: fingerprint %s (was %s), %+v", a2.Fingerprint, a1.Fingerprint, a2)
	}
	if code, body := httpGet(t, "http://"+p.addr+"/"); code != 200 || body != "Hello from a keep!\n" {
		t.Fatalf("GET / after the restart = %d %q\n%s", code, body, p.stderr.String())
	}
	// A second proxy pointed at the new keep directly sees its certificate.
	q := startProxy(t, "--policy", policy, "127.0.0.1:0", k2.addrs["ingest"])
	if a := getAttestation(t, q); a.Fingerprint != a2.Fingerprint {
		t.Fatalf("fingerprints differ: %s vs %s", a.Fingerprint, a2.Fingerprint)
	}
}

func TestProxyUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policy := writeFile(t, dir, "policy.toml", "allow_simulated = true\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"127.0.0.1:0", "127.0.0.1:1"}, "--policy FILE is required"},
		{[]string{"--policy", policy, "0.0.0.0:0", "127.0.0.1:1"}, "not a loopback address"},
		{[]string{"--policy", policy, ":0", "127.0.0.1:1"}, "--public"},
		{[]string{"--policy", policy, "127.0.0.1:0"}, "want LISTEN_ADDR and KEEP_ADDR"},
		{[]string{"--policy", policy, "127.0.0.1:0", "nope"}, "not HOST:PORT"},
	} {
		r := keep(t, "", nil, append([]string{"proxy"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("keep proxy %q: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if r := keep(t, "", nil, "proxy", "--policy", dir+"/missing.toml", "127.0.0.1:0", "127.0.0.1:1"); r.code != 125 || !strings.Contains(r.stderr, "missing.toml") {
		t.Errorf("missing policy: exit %d, %q", r.code, r.stderr)
	}
}

// keep proxy answers only requests for its own address (DNS rebinding
// guard): another Host gets 421 with the reason; its own names reach the
// forwarding step (here a 502: nothing listens at the keep's address).
func TestProxyHostHeader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policy := writeFile(t, dir, "policy.toml", "allow_simulated = true\n")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	keepAddr := closed.Addr().String()
	closed.Close()
	p := startProxy(t, "--policy", policy, "--allow-host", "keep.test", "127.0.0.1:0", keepAddr)
	_, port, _ := net.SplitHostPort(p.addr)
	for _, tc := range []struct {
		host string
		code int
	}{
		{"attacker.example:" + port, http.StatusMisdirectedRequest},
		{"localhost:" + port + "0", http.StatusMisdirectedRequest},
		{"localhost:" + port, http.StatusBadGateway},
		{"127.0.0.1:" + port, http.StatusBadGateway},
		{"[::1]:" + port, http.StatusBadGateway},
		{"keep.test:" + port, http.StatusBadGateway},
	} {
		req, _ := http.NewRequest("GET", "http://"+p.addr+"/", nil)
		req.Host = tc.host
		resp, err := proxyClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || (tc.code == 421 && !strings.Contains(string(body), "DNS rebinding")) {
			t.Errorf("Host %q: %d %s; want %d", tc.host, resp.StatusCode, body, tc.code)
		}
	}
}
