package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestMakeCryptle runs `make cryptle CRYPTLE_PORT=... PROXY_PORT=...` on a
// terminal (script(1) gives it one), as a player would: the keep and the
// proxy listen on those ports with a config generated for them, the game
// is served through the proxy, the second player's command names the
// right ports, and Ctrl-C (typed on the terminal) ends it all with exit 0
// and no make error. The keep binary and the guest are this test run's,
// placed where make finds them up to date.
func TestMakeCryptle(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"make", "script", "sha384sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	build := t.TempDir()
	wasm := buildGuest(t, "cryptle")
	for src, dst := range map[string]string{keepBin: "keep", wasm: "cryptle.wasm"} {
		b := mustRead(t, src)
		if err := os.WriteFile(filepath.Join(build, dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Written now, they are newer than every source: make does not
	// rebuild them.
	keepPort, proxyPort := freePort(t), freePort(t)
	for proxyPort == keepPort {
		proxyPort = freePort(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*hangGuard)
	defer cancel()
	makeCmd := fmt.Sprintf("make -s --no-print-directory cryptle BUILD=%s CRYPTLE_PORT=%d PROXY_PORT=%d", build, keepPort, proxyPort)
	cmd := exec.CommandContext(ctx, "script", "-qefc", makeCmd, "/dev/null")
	cmd.Dir = repoRoot
	cmd.WaitDelay = 10 * time.Second
	tty, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var seen strings.Builder
	r := bufio.NewReader(out)
	for !strings.Contains(seen.String(), "Ctrl-C stops") {
		line, err := r.ReadString('\n')
		seen.WriteString(line)
		if err != nil {
			t.Fatalf("make cryptle ended before it was ready: %v\n%s", err, seen.String())
		}
	}
	text := strings.ReplaceAll(seen.String(), "\r", "")
	if !strings.Contains(text, fmt.Sprintf("open http://127.0.0.1:%d/", proxyPort)) {
		t.Errorf("make cryptle does not say to open the proxy on port %d:\n%s", proxyPort, text)
	}
	m := regexp.MustCompile(`proxy --policy (\S+) 127\.0\.0\.1:(\d+) 127\.0\.0\.1:(\d+)\n`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no second-player command in:\n%s", text)
	}
	second, _ := strconv.Atoi(m[2])
	if m[3] != strconv.Itoa(keepPort) || second == keepPort || second == proxyPort ||
		m[1] != filepath.Join(build, fmt.Sprintf("cryptle-policy-%d.toml", keepPort)) {
		t.Errorf("second-player command %q: want the policy for port %d, the keep on %d and another free port", m[0], keepPort, keepPort)
	}
	cfg := string(mustRead(t, filepath.Join(build, fmt.Sprintf("cryptle-enarx-%d.toml", keepPort))))
	if !strings.Contains(cfg, fmt.Sprintf("\nport = %d\n", keepPort)) {
		t.Errorf("generated config does not listen on %d:\n%s", keepPort, cfg)
	}

	// The game, through the proxy.
	resp, err := (&http.Client{Timeout: hangGuard}).Get(fmt.Sprintf("http://127.0.0.1:%d/", proxyPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Cryptle") {
		t.Fatalf("the page through the proxy: %d %q", resp.StatusCode, body)
	}

	// Ctrl-C on the terminal.
	if _, err := tty.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("make cryptle did not end on Ctrl-C\n%s%s", text, rest)
	}
	tail := strings.ReplaceAll(string(rest), "\r", "")
	if code := cmd.ProcessState.ExitCode(); code != 0 || err != nil {
		t.Errorf("make cryptle after Ctrl-C: exit %d (%v), want 0\n%s", code, err, tail)
	}
	if strings.Contains(tail, "make: ***") || strings.Contains(tail, "Error") || !strings.Contains(tail, "cryptle: stopped") {
		t.Errorf("make cryptle after Ctrl-C printed:\n%s\nwant \"cryptle: stopped\" and no make error", tail)
	}
	// Both are gone: the ports are free again.
	for _, p := range []int{keepPort, proxyPort} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("port %d still in use after Ctrl-C: %v", p, err)
			continue
		}
		ln.Close()
	}
}
