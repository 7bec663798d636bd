package tests

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exampleFile returns examples/<rel> with each old string replaced by its
// new one, failing the test if one is missing (the test would no longer
// exercise the file as the README shows it).
func exampleFile(t *testing.T, rel string, oldNew ...string) string {
	t.Helper()
	s := string(mustRead(t, filepath.Join(repoRoot, "examples", rel)))
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("examples/%s no longer contains %q", rel, oldNew[i])
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	return s
}

// buildExample builds the Go recipe examples/<name> for GOOS=wasip1 as the
// README says.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".wasm")
	if msg, err := goBuild(out, "./examples/"+name, []string{"GOOS=wasip1", "GOARCH=wasm"}); err != nil {
		t.Fatalf("building examples/%s: %v\n%s", name, err, msg)
	}
	return out
}

// TestExampleGoRecipes runs the README's two Go recipes as written, only
// the ports changed: the HTTPS server in one keep, and the attested client
// in another keep, which reaches it only when its policy pins the server's
// module.
func TestExampleGoRecipes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	server := buildExample(t, "https-server")
	cfg := writeFile(t, dir, "server.toml", exampleFile(t, "https-server/Enarx.toml", "port = 8443", "port = 0"))
	k := startKeep(t, 1, "--config", cfg, server)
	addr := k.addrs["ingest"]

	// A plain HTTPS client (not checking the RA-TLS certificate here).
	hc := &http.Client{Timeout: hangGuard, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get("https://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from a keep: GET /x\n" {
		t.Fatalf("GET /x = %d %q", resp.StatusCode, body)
	}

	_, port, _ := net.SplitHostPort(addr)
	client := buildExample(t, "attested-client")
	clientCfg := exampleFile(t, "attested-client/Enarx.toml", "port = 8443", "port = "+port)
	for _, tc := range []struct {
		name, hash string
		code       int
		stdout     string
		stderr     string
	}{
		{"pinned", digestOf(t, server), 0, "200 OK: hello from a keep: GET /from-a-keep\n", ""},
		{"other-module", otherHash, 125, "", "not in the policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cdir := t.TempDir()
			writeFile(t, cdir, "policy.toml", exampleFile(t, "attested-client/policy.toml", "@SERVER_MODULE_HASH@", tc.hash))
			writeFile(t, cdir, "Enarx.toml", clientCfg)
			r := keepGuarded(t, cdir, nil, "run", "--config", "Enarx.toml", client)
			if r.code != tc.code || r.stdout != tc.stdout || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("client keep: exit %d, stdout %q, stderr %q; want %d, %q, stderr with %q",
					r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

// TestExampleCEcho builds the README's C recipe with its exact clang-14
// command and serves a client with it.
func TestExampleCEcho(t *testing.T) {
	t.Parallel()
	clang, err := exec.LookPath("clang-14")
	if err != nil {
		t.Fatal("this test needs clang-14 with wasi-libc (Debian: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32; .ci/run installs them)")
	}
	dir := t.TempDir()
	// The README's command: clang-14 --target=wasm32-wasi -O2 -o echo.wasm examples/c-echo/echo.c
	cmd := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", filepath.Join(dir, "echo.wasm"), "examples/c-echo/echo.c")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang-14: %v\n%s", err, out)
	}
	cfg := writeFile(t, dir, "Enarx.toml", exampleFile(t, "c-echo/Enarx.toml", "port = 9000", "port = 0"))
	k := startKeep(t, 1, "--config", cfg, filepath.Join(dir, "echo.wasm"))
	for i := 0; i < 2; i++ { // one client after another
		c, err := net.DialTimeout("tcp", k.addrs["echo"], hangGuard)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(hangGuard)) // hang guard
		msg := fmt.Sprintf("hello %d\n", i)
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo: %q, %v; want %q", got, err, msg)
		}
		c.Close()
	}
}

// TestExamplesParse: every Enarx.toml under examples/ is a valid config.
func TestExamplesParse(t *testing.T) {
	t.Parallel()
	ms, _ := filepath.Glob(filepath.Join(repoRoot, "examples", "*", "Enarx.toml"))
	if len(ms) < 3 {
		t.Fatalf("found %d example configs, want the three recipes'", len(ms))
	}
	hello := buildGuest(t, "hello")
	for _, m := range ms {
		// keep attest-cert parses the config fully without opening sockets.
		dir := t.TempDir()
		r := keepGuarded(t, dir, nil, "attest-cert", "--module", hello, "--config", m)
		if r.code != 0 {
			t.Errorf("%s: %d %q", m, r.code, r.stderr)
		}
		os.RemoveAll(dir)
	}
}
