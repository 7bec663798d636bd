package tests

import (
	"bufio"
	"context"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/netattest"
)

// runningKeep is a keep started in the background.
type runningKeep struct {
	cmd    *exec.Cmd
	addrs  map[string]string // listener name → address
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`^keep: fd (\d+) \(([^)]*)\): listening on (\S+)$`)

// startKeep starts `keep run args...` and waits until it reports as many
// listeners as want (read from its stderr, so no sleeps or polling).
func startKeep(t *testing.T, want int, args ...string) *runningKeep {
	t.Helper()
	cmd := exec.Command(keepBin, append([]string{"run"}, args...)...)
	pr, pw := io.Pipe()
	k := &runningKeep{cmd: cmd, addrs: map[string]string{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = pw
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		k.code = cmd.ProcessState.ExitCode()
		pw.Close()
		close(k.done)
	}()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(k.stderr, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				k.addrs[m[2]] = m[3]
				if n++; n == want {
					close(ready)
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-k.done
	})
	select {
	case <-ready:
	case <-k.done:
		t.Fatalf("keep exited %d before listening:\n%s", k.code, k.stderr.String())
	case <-time.After(60 * time.Second): // hang guard, not synchronisation
		t.Fatalf("keep did not listen:\n%s", k.stderr.String())
	}
	return k
}

// wait waits for the keep to exit and returns its exit code.
func (k *runningKeep) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-k.done:
		return k.code
	case <-time.After(60 * time.Second): // hang guard
		t.Fatalf("keep did not exit:\n%s", k.stderr.String())
		return -1
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func digestOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384(b)
	return "sha384:" + hex.EncodeToString(d[:])
}

const stdio = `
[[files]]
kind = "stdin"
[[files]]
kind = "stdout"
[[files]]
kind = "stderr"
`

func listenConfig(prot, extra string) string {
	return stdio + fmt.Sprintf(`
[[files]]
kind = "listen"
prot = %q
name = "ingest"
addr = "127.0.0.1"
port = 0
%s`, prot, extra)
}

var otherHash = "sha384:" + strings.Repeat("00", 48)

// The http guest behind a TLS listener: keep verify accepts the keep with
// a policy pinning the module, an HTTPS request through the netattest
// client reaches the guest, and a policy pinning another module fails.
func TestSocketsHTTPOverRATLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "http")
	cfg := writeFile(t, dir, "Enarx.toml", listenConfig("tls", ""))
	k := startKeep(t, 1, "--config", cfg, guest)
	addr := k.addrs["ingest"]

	good := writeFile(t, dir, "good.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", digestOf(t, guest)))
	bad := writeFile(t, dir, "bad.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", otherHash))
	if r := keep(t, "", nil, "verify", "--policy", good, addr); r.code != 0 || !strings.Contains(r.stdout, "ACCEPTED") {
		t.Fatalf("keep verify with the module pinned: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := keep(t, "", nil, "verify", "--policy", bad, addr); r.code != 1 || !strings.Contains(r.stdout, "module hash") {
		t.Fatalf("keep verify with another module pinned: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Without allow_simulated, sim evidence is refused, with the reason.
	if r := keep(t, "", nil, "verify", addr); r.code != 1 || !strings.Contains(r.stdout, "simulated") {
		t.Fatalf("keep verify with the default policy: exit %d\n%s", r.code, r.stdout)
	}

	policy, err := netattest.LoadPolicy(good)
	if err != nil {
		t.Fatal(err)
	}
	v := netattest.NewVerifier(policy, netattest.Options{})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: v.ClientConfig(nil)}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "Hello from a keep!\n" {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body)
	}
	resp, err = client.Post("https://"+addr+"/echo", "application/json", strings.NewReader(`{"x":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"echo":{"x":[1,2]}`) {
		t.Fatalf("POST /echo = %q", body)
	}

	badPolicy, _ := netattest.LoadPolicy(bad)
	strict := &http.Client{Transport: &http.Transport{TLSClientConfig: netattest.NewVerifier(badPolicy, netattest.Options{}).ClientConfig(nil)}}
	if _, err := strict.Get("https://" + addr + "/"); err == nil || !strings.Contains(err.Error(), "module hash") {
		t.Fatalf("GET with another module pinned: err = %v", err)
	}
}

// Many concurrent connections to the Go echo guest over TCP, each echoed
// back intact.
func TestSocketsEchoTCP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "echo")
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tcp", "")), guest)
	echoMany(t, k.addrs["ingest"], nil, 50)
}

// echoMany opens n connections at once (TLS if tc is set) and checks that
// each gets its own message back.
func echoMany(t *testing.T, addr string, tc *tls.Config, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var c net.Conn
			var err error
			if tc != nil {
				c, err = tls.Dial("tcp", addr, tc)
			} else {
				c, err = net.Dial("tcp", addr)
			}
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second)) // hang guard
			msg := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i*100))
			if _, err := io.WriteString(c, msg); err != nil {
				errs <- err
				return
			}
			buf := make([]byte, len(msg))
			if _, err := io.ReadFull(c, buf); err != nil {
				errs <- fmt.Errorf("conn %d: %v", i, err)
				return
			}
			if string(buf) != msg {
				errs <- fmt.Errorf("conn %d: got %q", i, buf[:20])
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A C guest (wasi-libc, clang-14 --target=wasm32-wasi) accepts and echoes.
func TestSocketsCEcho(t *testing.T) {
	t.Parallel()
	clang, err := exec.LookPath("clang-14")
	if err != nil {
		t.Fatal("this test needs clang-14 with wasi-libc (Debian: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32; .ci/run installs them)")
	}
	dir := t.TempDir()
	wasm := filepath.Join(dir, "echo_c.wasm")
	if out, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", wasm, filepath.Join(repoRoot, "tests", "testdata", "c", "echo.c")).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tcp", "")), wasm)
	for i := 0; i < 3; i++ { // one at a time: the guest serves sequentially
		echoMany(t, k.addrs["ingest"], nil, 1)
	}
}

// Keep-to-keep: keep A (ping) connects with prot = "tls" to keep B (echo)
// and gets through only when B's module hash matches A's policy; B
// requires attested clients, so a client without an RA-TLS certificate is
// refused.
func TestKeepToKeep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	echo, ping := buildGuest(t, "echo"), buildGuest(t, "ping")
	writeFile(t, dir, "clients.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", digestOf(t, ping)))
	bCfg := writeFile(t, dir, "b.toml", listenConfig("tls", "client_auth = \"attested\"\nclient_policy = \"clients.toml\"\n"))
	b := startKeep(t, 1, "--config", bCfg, echo)
	addr := b.addrs["ingest"]
	_, port, _ := strings.Cut(addr, ":")

	connect := func(name, hash string) string {
		writeFile(t, dir, name+"-policy.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", hash))
		return writeFile(t, dir, name+".toml", stdio+fmt.Sprintf(`
[[files]]
kind = "connect"
prot = "tls"
host = "127.0.0.1"
name = "b"
port = %s
policy = "%s-policy.toml"
`, port, name))
	}
	r := keep(t, "", nil, "run", "--config", connect("a", digestOf(t, echo)), ping, "hello", "keep")
	if r.code != 0 || r.stdout != "reply: hello\nreply: keep\n" {
		t.Fatalf("ping through an attested connection: exit %d\nstdout %q\nstderr %s", r.code, r.stdout, r.stderr)
	}
	r = keep(t, "", nil, "run", "--config", connect("a2", otherHash), ping)
	if r.code != 125 || !strings.Contains(r.stderr, "module hash") {
		t.Fatalf("ping with B's module not in the policy: exit %d, stderr %s", r.code, r.stderr)
	}
	// A TLS client without a certificate: B refuses the handshake.
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) // hang guard
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a client without an attested certificate was served")
	}
}

// A keep whose guest waits in accept (poll_oneoff) stops on --timeout and
// on SIGTERM/SIGINT with the documented exit codes. SIGTERM drains a keep
// with listeners (ops_test.go); with no connection open that ends at once,
// with exit 0; --drain-timeout 0 turns draining off.
func TestSocketsStop(t *testing.T) {
	t.Parallel()
	guest := buildGuest(t, "http")
	dir := t.TempDir()
	cfg := writeFile(t, dir, "Enarx.toml", listenConfig("tcp", ""))
	k := startKeep(t, 1, "--timeout", "3s", "--config", cfg, guest)
	if code := k.wait(t); code != 124 {
		t.Fatalf("--timeout: exit %d, want 124\n%s", code, k.stderr.String())
	}
	for _, sig := range []struct {
		s     syscall.Signal
		drain string
		code  int
	}{{syscall.SIGTERM, "0", 143}, {syscall.SIGINT, "25s", 130}, {syscall.SIGTERM, "25s", 0}} {
		k := startKeep(t, 1, "--drain-timeout", sig.drain, "--config", cfg, guest)
		k.cmd.Process.Signal(sig.s)
		if code := k.wait(t); code != sig.code {
			t.Fatalf("%v: exit %d, want %d\n%s", sig.s, code, sig.code, k.stderr.String())
		}
		if strings.Contains(k.stderr.String(), "did not stop") {
			t.Fatalf("%v: the guest did not stop by itself:\n%s", sig.s, k.stderr.String())
		}
	}
}

// Keep's socket fds and wazero's file fds never collide: a guest accepts
// many connections while creating many files, keeps them all open, and
// uses every one of them at the end.
func TestSocketsManyFilesAndConns(t *testing.T) {
	t.Parallel()
	const n = 60
	guest := filepath.Join(buildDir, "fdstress.wasm")
	guestMu.Lock()
	out, err := goBuild(guest, "./tests/testdata/guests/fdstress", []string{"GOOS=wasip1", "GOARCH=wasm"})
	guestMu.Unlock()
	if err != nil {
		t.Fatalf("building fdstress: %v\n%s", err, out)
	}
	dir, data := t.TempDir(), t.TempDir()
	cfg := writeFile(t, dir, "Enarx.toml", listenConfig("tcp", ""))
	k := startKeep(t, 1, "--config", cfg, "--dir", data+":/data", guest, fmt.Sprint(n))
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", k.addrs["ingest"])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, fmt.Sprintf("conn %d file-fd ", i)) {
			t.Fatalf("conn %d: %q, %v\n%s", i, line, err, k.stderr.String())
		}
		conns = append(conns, &bufConn{c, r})
	}
	for i, c := range conns {
		line, err := c.(*bufConn).r.ReadString('\n')
		if err != nil || line != fmt.Sprintf("bye %d\n", i) {
			t.Fatalf("conn %d at the end: %q, %v", i, line, err)
		}
	}
	if code := k.wait(t); code != 0 {
		t.Fatalf("guest exit %d\n%s", code, k.stderr.String())
	}
	for i := 0; i < n; i++ {
		b, err := os.ReadFile(filepath.Join(data, fmt.Sprintf("f%d", i)))
		if err != nil || string(b) != fmt.Sprintf("hello %d", i) {
			t.Fatalf("file f%d: %q, %v", i, b, err)
		}
	}
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

// With client_auth = "attested", the guest learns the verified client's
// identity through keep.peer_identity; without client auth it learns that
// there is none.
func TestSocketsPeerIdentity(t *testing.T) {
	t.Parallel()
	guest := filepath.Join(buildDir, "whoami.wasm")
	guestMu.Lock()
	out, err := goBuild(guest, "./tests/testdata/guests/whoami", []string{"GOOS=wasip1", "GOARCH=wasm"})
	guestMu.Unlock()
	if err != nil {
		t.Fatalf("building whoami: %v\n%s", err, out)
	}
	dir := t.TempDir()
	writeFile(t, dir, "clients.toml", "allow_simulated = true\n")
	attested := startKeep(t, 1, "--config", writeFile(t, dir, "a.toml", listenConfig("tls", "client_auth = \"attested\"\nclient_policy = \"clients.toml\"\n")), guest)
	open := startKeep(t, 1, "--config", writeFile(t, dir, "b.toml", listenConfig("tls", "")), guest)

	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384([]byte("client module"))
	client, err := netattest.Issue(context.Background(), att, netattest.IssueOptions{ModuleDigest: d[:]})
	if err != nil {
		t.Fatal(err)
	}
	v := netattest.NewVerifier(&netattest.Policy{AllowSimulated: true}, netattest.Options{})
	ask := func(addr string) string {
		c, err := tls.Dial("tcp", addr, v.ClientConfig(client))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	got := ask(attested.addrs["ingest"])
	want := "sha384:" + hex.EncodeToString(d[:])
	if !strings.Contains(got, `"auth":"attested"`) || !strings.Contains(got, `"module_hash":"`+want+`"`) || !strings.Contains(got, `"simulated":true`) {
		t.Fatalf("peer identity = %s", got)
	}
	if got := ask(open.addrs["ingest"]); got != "errno 44" {
		t.Fatalf("peer identity without client auth = %q, want errno 44 (NOENT)", got)
	}
}

// stuckClient connects to addr and writes what gen yields, forever, without
// reading a byte back. It returns once it has written at least min bytes
// (the keep's guest must then be holding unread replies for it).
func stuckClient(t *testing.T, addr string, min int, gen func(i int) []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	enough := make(chan struct{})
	go func() {
		written := 0
		for i := 0; ; i++ {
			n, err := c.Write(gen(i))
			if err != nil {
				return
			}
			if written < min && written+n >= min {
				close(enough)
			}
			written += n
		}
	}()
	select {
	case <-enough:
	case <-time.After(60 * time.Second): // hang guard
		t.Fatalf("the stuck client could not even write %d bytes", min)
	}
}

// One client that sends megabytes to the echo guest and never reads the
// echo does not stall the others: they are served while it is stuck.
func TestSocketsStuckClientEcho(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "echo")
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tcp", "")), guest)
	chunk := []byte(strings.Repeat("stuck ", 10000))
	stuckClient(t, k.addrs["ingest"], 1<<20, func(int) []byte { return chunk })
	for i := 0; i < 20; i++ {
		echoMany(t, k.addrs["ingest"], nil, 5)
	}
}

// Pipelined POSTs to the http guest from a client that never reads the
// responses do not stall other clients.
func TestSocketsStuckClientHTTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "http")
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tcp", "")), guest)
	addr := k.addrs["ingest"]
	body := fmt.Sprintf(`{"pad":%q}`, strings.Repeat("p", 4000))
	req := []byte(fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	stuckClient(t, addr, 1<<20, func(int) []byte { return req })
	client := &http.Client{Timeout: 30 * time.Second} // hang guard
	for i := 0; i < 50; i++ {
		resp, err := client.Post("http://"+addr+"/echo", "application/json", strings.NewReader(`{"i":1}`))
		if err != nil {
			t.Fatalf("request %d while a client is stuck: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"echo":{"i":1}`) {
			t.Fatalf("request %d: %q", i, b)
		}
	}
}

// A C guest's send() and sock_send with flags 0, each called right after a
// host call that leaves a 64-bit value in the argument slot flags reuses:
// Keep reads the flags as an i32 (it answered ENOTSUP).
func TestSocketsCSendFlags(t *testing.T) {
	t.Parallel()
	clang, err := exec.LookPath("clang-14")
	if err != nil {
		t.Fatal("this test needs clang-14 with wasi-libc (Debian: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32; .ci/run installs them)")
	}
	dir := t.TempDir()
	wasm := filepath.Join(dir, "sendflags.wasm")
	if out, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", wasm, filepath.Join(repoRoot, "tests", "testdata", "c", "sendflags.c")).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tcp", "")), wasm)
	c, err := net.Dial("tcp", k.addrs["ingest"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second)) // hang guard
	io.WriteString(c, "ping\n")
	b, err := io.ReadAll(c)
	if err != nil || string(b) != strings.Repeat("ping\n", 100) {
		t.Fatalf("got %d bytes (%v), want 100 replies\n%s", len(b), err, k.stderr.String())
	}
	if code := k.wait(t); code != 0 {
		t.Fatalf("guest exit %d\n%s", code, k.stderr.String())
	}
}

// buildC compiles tests/testdata/c/NAME.c for wasm32-wasi with clang-14.
func buildC(t *testing.T, name string) string {
	t.Helper()
	clang, err := exec.LookPath("clang-14")
	if err != nil {
		t.Fatal("this test needs clang-14 with wasi-libc (Debian: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32; .ci/run installs them)")
	}
	wasm := filepath.Join(t.TempDir(), name+".wasm")
	if out, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", wasm, filepath.Join(repoRoot, "tests", "testdata", "c", name+".c")).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	return wasm
}

// echoOnce writes msg on c and reads it back.
func echoOnce(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(60 * time.Second)) // hang guard
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, buf, err)
	}
}

// A C guest written for Enarx, with blocking accept/read/write and no
// fcntl: its listener starts blocking, as in Enarx (not EAGAIN at once).
// It serves two concurrent clients one after the other: the second waits
// in the accept queue and is served once the first closes. With
// nonblock = true in the config the same guest gets EAGAIN from accept;
// and a guest blocked in accept stops on --timeout.
func TestSocketsCBlockingStartMode(t *testing.T) {
	t.Parallel()
	wasm := buildC(t, "echo_blocking")
	dir := t.TempDir()
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tcp", "")), wasm)
	addr := k.addrs["ingest"]
	c1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c1, "first client")
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "second ")
	echoOnce(t, c1, "first again")
	c1.Close()
	// The second client's first bytes waited in the queue; now it is served.
	c2.SetDeadline(time.Now().Add(60 * time.Second)) // hang guard
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "second " {
		t.Fatalf("second client: %q, %v", buf, err)
	}
	echoOnce(t, c2, "client")

	nb := startKeep(t, 1, "--config", writeFile(t, dir, "nb.toml", listenConfig("tcp", "nonblock = true\n")), wasm)
	if code := nb.wait(t); code != 1 || !strings.Contains(nb.stderr.String(), "accept: Resource temporarily unavailable") {
		t.Fatalf("with nonblock = true: exit %d, want 1 with EAGAIN from accept\n%s", code, nb.stderr.String())
	}

	stop := startKeep(t, 1, "--timeout", "2s", "--config", writeFile(t, dir, "stop.toml", listenConfig("tcp", "")), wasm)
	if code := stop.wait(t); code != 124 {
		t.Fatalf("--timeout with the guest blocked in accept: exit %d, want 124\n%s", code, stop.stderr.String())
	}
}

// TLS listeners accept TLS 1.3 only by default; tls_min_version = "1.2"
// lets TLS 1.2 clients in.
func TestSocketsTLSMinVersion(t *testing.T) {
	t.Parallel()
	guest := buildGuest(t, "echo")
	dir := t.TempDir()
	strict := startKeep(t, 1, "--config", writeFile(t, dir, "a.toml", listenConfig("tls", "")), guest)
	old := startKeep(t, 1, "--config", writeFile(t, dir, "b.toml", listenConfig("tls", "tls_min_version = \"1.2\"\n")), guest)
	tls12 := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}
	if c, err := tls.Dial("tcp", strict.addrs["ingest"], tls12); err == nil {
		c.Close()
		t.Fatal("a TLS 1.2 client was accepted by default")
	} else if !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("a TLS 1.2 client by default: %v, want a protocol version alert", err)
	}
	c, err := tls.Dial("tcp", old.addrs["ingest"], tls12)
	if err != nil {
		t.Fatalf("a TLS 1.2 client with tls_min_version = \"1.2\": %v", err)
	}
	echoOnce(t, c, "over TLS 1.2")
	c.Close()
	echoMany(t, strict.addrs["ingest"], &tls.Config{InsecureSkipVerify: true}, 3) // TLS 1.3
}
