package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// caCacheKey writes the shared cache's key once.
var caCacheKey = sync.OnceValues(func() (string, error) {
	key := filepath.Join(buildDir, "ca-cache.key")
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return key, os.WriteFile(key, b, 0o600)
})

// caCacheFlags share one compilation cache among the CA keeps of these
// tests: the CA guest is compiled once, not once per test.
func caCacheFlags(t *testing.T) []string {
	t.Helper()
	key, err := caCacheKey()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"--cache-dir", filepath.Join(buildDir, "ca-cache"), "--cache-key", key}
}

// caKeep starts the CA guest in a keep (sim backend) whose policy pins
// the modules in pinned, and returns its address and the policy that
// pins the CA keep itself (its module and Enarx.toml).
func caKeep(t *testing.T, dir string, pinned ...string) (addr, trustPolicy string) {
	t.Helper()
	return caKeepTTL(t, dir, "1h", pinned...)
}

// caKeepTTL is caKeep with the CA's leaf lifetime.
func caKeepTTL(t *testing.T, dir, ttl string, pinned ...string) (addr, trustPolicy string) {
	t.Helper()
	guest := buildGuest(t, "ca")
	var hashes []string
	for _, p := range pinned {
		hashes = append(hashes, fmt.Sprintf("%q", p))
	}
	policy := writeFile(t, dir, "ca-policy.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%s]\n", strings.Join(hashes, ", ")))
	cfg := writeFile(t, dir, "ca.toml", listenConfig("tls", "")+fmt.Sprintf(`
[env]
CA_LEAF_TTL = %q
CA_NAMES = "localhost,127.0.0.1"

[ca]
policy = "ca-policy.toml"
policy_hash = %q
`, ttl, digestOf(t, policy)))
	k := startKeep(t, 1, append(caCacheFlags(t), "--config", cfg, guest)...)
	trustPolicy = writeFile(t, dir, "ca-trust.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\nconfig_hashes = [%q]\n", digestOf(t, guest), digestOf(t, cfg)))
	return k.addrs["ingest"], trustPolicy
}

func workloadConfig(caAddr, trustPolicy string) string {
	return fmt.Sprintf("steward = %q\nsteward_policy = %q\nsteward_names = [\"localhost\", \"127.0.0.1\"]\nsteward_timeout = \"20s\"\n", "https://"+caAddr, trustPolicy) + listenConfig("tls", "")
}

// TestCAEndToEnd: a CA keep verified once with keep ca trust; a workload
// keep with steward = gets a leaf from it; curl and openssl, knowing only
// the root, accept the workload; the leaf names the module digest.
func TestCAEndToEnd(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s (Debian: apt-get install %s; .ci/run installs it)", tool, tool)
		}
	}
	dir := t.TempDir()
	http := buildGuest(t, "http")
	caAddr, trust := caKeep(t, dir, digestOf(t, http))

	// keep ca trust refuses a CA keep its policy does not pin.
	wrong := writeFile(t, dir, "wrong.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", otherHash))
	bad := filepath.Join(dir, "bad-root.pem")
	if r := keep(t, "", nil, "ca", "trust", caAddr, "--policy", wrong, "--out", bad); r.code == 0 || !strings.Contains(r.stderr, "module hash") {
		t.Fatalf("keep ca trust with another module pinned: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("a refused CA's root was written: %v", err)
	}
	root := filepath.Join(dir, "root.pem")
	if r := keep(t, "", nil, "ca", "trust", caAddr, "--policy", trust, "--out", root); r.code != 0 || !strings.Contains(r.stderr, "verified") {
		t.Fatalf("keep ca trust: exit %d\n%s", r.code, r.stderr)
	}

	cfg := writeFile(t, dir, "Enarx.toml", workloadConfig(caAddr, trust))
	w := startKeep(t, 1, "--config", cfg, http)
	_, port, _ := strings.Cut(w.addrs["ingest"], ":")

	for _, host := range []string{"localhost", "127.0.0.1"} {
		out, err := exec.Command("curl", "-sS", "--fail", "--cacert", root, "https://"+host+":"+port+"/").CombinedOutput()
		if err != nil || string(out) != "Hello from a keep!\n" {
			t.Fatalf("curl --cacert root.pem https://%s:%s/: %v\n%s", host, port, err, out)
		}
	}
	cmd := exec.Command("openssl", "s_client", "-connect", "127.0.0.1:"+port, "-CAfile", root, "-verify_return_error", "-verify_ip", "127.0.0.1")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
		t.Fatalf("openssl s_client -CAfile root.pem -verify_return_error: %v\n%s", err, out)
	}
	// RA-TLS clients still check the evidence the leaf carries.
	good := writeFile(t, dir, "workload.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", digestOf(t, http)))
	if r := keep(t, "", nil, "verify", "--policy", good, "127.0.0.1:"+port); r.code != 0 || !strings.Contains(r.stdout, "ACCEPTED") {
		t.Fatalf("keep verify of the workload's CA-issued certificate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Without the root, curl refuses the workload (it is not self-trusted).
	if out, err := exec.Command("curl", "-sS", "https://127.0.0.1:"+port+"/").CombinedOutput(); err == nil {
		t.Fatalf("curl without --cacert accepted the workload:\n%s", out)
	}

	pemData, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatal("root.pem holds no certificate")
	}
	conn, err := tls.Dial("tcp", "127.0.0.1:"+port, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	want := "urn:keep:module:" + digestOf(t, http)
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
		t.Errorf("leaf URI SANs %v, want %s", leaf.URIs, want)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 2*60*60*1e9 {
		t.Errorf("leaf lifetime %v, want the CA's 1h (plus backdating)", d)
	}
}

// TestCARefusesUnpinnedModule: a workload whose module the CA's policy
// does not pin is refused with 403 and the reason, and does not start.
func TestCARefusesUnpinnedModule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caAddr, trust := caKeep(t, dir, digestOf(t, buildGuest(t, "http")))
	echo := buildGuest(t, "echo")
	cfg := writeFile(t, dir, "Enarx.toml", workloadConfig(caAddr, trust))
	r := keep(t, "", nil, "run", "--config", cfg, echo)
	if r.code == 0 || !strings.Contains(r.stderr, "403 Forbidden") || !strings.Contains(r.stderr, "is not in the policy") {
		t.Fatalf("keep run with an unpinned module: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "listening on") {
		t.Fatalf("the refused keep listened:\n%s", r.stderr)
	}
}

// TestCAUnreachable: a keep whose CA cannot be reached retries until
// steward_timeout and fails clearly; it never serves a self-signed
// certificate instead.
func TestCAUnreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	writeFile(t, dir, "p.toml", "allow_simulated = true\n")
	cfg := writeFile(t, dir, "Enarx.toml", fmt.Sprintf("steward = %q\nsteward_policy = \"p.toml\"\nsteward_timeout = \"1s\"\n", "https://"+addr)+listenConfig("tls", ""))
	r := keep(t, "", nil, "run", "--config", cfg, buildGuest(t, "echo"))
	if r.code != 125 || !strings.Contains(r.stderr, "no certificate after") || strings.Contains(r.stderr, "listening on") {
		t.Fatalf("keep run with an unreachable CA: exit %d\n%s", r.code, r.stderr)
	}
}

// TestCATrustUsage: bad command lines and unreachable CAs are one-line
// errors with the right exit code, and nothing is written.
func TestCATrustUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "p.toml", "allow_simulated = true\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ca"}, 2, "keep: ca: want a subcommand: trust"},
		{[]string{"ca", "frob"}, 2, `keep: ca: unknown subcommand "frob"`},
		{[]string{"ca", "trust", "127.0.0.1:1"}, 2, "keep: ca trust: --policy FILE is required"},
		{[]string{"ca", "trust", "--policy", "p.toml"}, 2, "keep: ca trust: want exactly one HOST:PORT"},
		{[]string{"ca", "trust", "--policy", "p.toml", "a:1", "b:2"}, 2, "keep: ca trust: want exactly one HOST:PORT"},
		{[]string{"ca", "trust", "--policy", "p.toml", "no-port"}, 2, `keep: ca trust: "no-port" is not HOST:PORT`},
		{[]string{"ca", "trust", "--policy", "missing.toml", "127.0.0.1:1"}, 125, "keep: missing.toml: "},
		{[]string{"ca", "trust", "--frob", "127.0.0.1:1"}, 2, "keep: ca trust: unknown flag --frob"},
		{[]string{"ca", "trust", closed, "--policy", "p.toml", "--out", "root.pem"}, 125, "keep: ca trust " + closed + ": "},
	} {
		r := keep(t, dir, nil, tc.args...)
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		if r.code != tc.code || !strings.HasPrefix(lines[0], tc.want) {
			t.Errorf("keep %q: exit %d, stderr %q; want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "root.pem")); !os.IsNotExist(err) {
		t.Errorf("root.pem written after a failure: %v", err)
	}
}

// TestCAGuestNeedsCAKeep: the CA guest in a keep without [ca] stops at
// once and says why, rather than answering every request with an error.
func TestCAGuestNeedsCAKeep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "ca.toml", listenConfig("tls", ""))
	r := keep(t, "", nil, append([]string{"run"}, append(caCacheFlags(t), "--config", cfg, buildGuest(t, "ca"))...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "ca: this keep offers no keep.verify_csr") {
		t.Fatalf("CA guest without [ca]: exit %d\n%s", r.code, r.stderr)
	}
}

// watchedKeep is a keep whose stderr lines the test can wait for.
type watchedKeep struct {
	*runningKeep
	lines chan string
}

// startWatchedKeep starts `keep run args...` and waits for its first
// listener; every stderr line is also sent to lines.
func startWatchedKeep(t *testing.T, args ...string) *watchedKeep {
	t.Helper()
	cmd := exec.Command(keepBin, append([]string{"run"}, args...)...)
	pr, pw := io.Pipe()
	k := &watchedKeep{runningKeep: &runningKeep{cmd: cmd, addrs: map[string]string{}, stderr: &syncBuffer{}, done: make(chan struct{})}, lines: make(chan string, 1024)}
	cmd.Stderr, cmd.Stdout = pw, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		k.code = cmd.ProcessState.ExitCode()
		pw.Close()
		close(k.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-k.done
	})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(k.stderr, sc.Text())
			select {
			case k.lines <- sc.Text():
			default:
			}
		}
		close(k.lines)
	}()
	k.waitLine(t, "listening on")
	return k
}

// waitLine waits for a stderr line containing s and returns it.
func (k *watchedKeep) waitLine(t *testing.T, s string) string {
	t.Helper()
	guard := time.After(120 * time.Second) // hang guard, not synchronisation
	for {
		select {
		case l, ok := <-k.lines:
			if !ok {
				t.Fatalf("keep exited before %q:\n%s", s, k.stderr.String())
			}
			if m := listeningRE.FindStringSubmatch(l); m != nil {
				k.addrs[m[2]] = m[3]
			}
			if strings.Contains(l, s) {
				return l
			}
		case <-guard:
			t.Fatalf("no %q from the keep:\n%s", s, k.stderr.String())
		}
	}
}

// TestCARenewal: with a 30 s leaf, a workload keep renews at two thirds
// of the lifetime with a new key; a connection opened before the renewal
// carries on, and a new one gets the new certificate.
func TestCARenewal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	http := buildGuest(t, "http")
	caAddr, trust := caKeepTTL(t, dir, "30s", digestOf(t, http))
	root := filepath.Join(dir, "root.pem")
	if r := keep(t, "", nil, "ca", "trust", caAddr, "--policy", trust, "--out", root); r.code != 0 {
		t.Fatalf("keep ca trust: exit %d\n%s", r.code, r.stderr)
	}
	pemData, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	cfg := writeFile(t, dir, "Enarx.toml", workloadConfig(caAddr, trust))
	w := startWatchedKeep(t, "--log-level", "info", "--config", cfg, http)
	addr := w.addrs["ingest"]

	get := func(c *tls.Conn) {
		t.Helper()
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "Hello from a keep!\n" {
			t.Fatalf("GET / = %q", body)
		}
	}
	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	get(old)
	first := old.ConnectionState().PeerCertificates[0]

	w.waitLine(t, "certificate renewed by the steward")
	fresh, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	get(fresh)
	second := fresh.ConnectionState().PeerCertificates[0]
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || bytes.Equal(second.RawSubjectPublicKeyInfo, first.RawSubjectPublicKeyInfo) {
		t.Fatal("after the renewal, a new connection still gets the first certificate")
	}
	get(old) // the connection from before the renewal still works
}
