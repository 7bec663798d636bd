package tests

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A C++ guest written for Enarx (libc++ for wasm32-wasi, blocking
// accept/recv/send on the listener Enarx hands over at fd 3) serves one
// client after another without any Keep-specific code: the second
// client's line waits in the queue while the first is served, then is
// answered.
func TestSocketsCppBlocking(t *testing.T) {
	t.Parallel()
	clang, err := exec.LookPath("clang++-14")
	if err != nil {
		t.Fatal("this test needs clang++-14 with libc++ for wasm32-wasi (Debian: clang-14 lld-14 wasi-libc libc++-14-dev-wasm32 libc++abi-14-dev-wasm32 libclang-rt-14-dev-wasm32; .ci/run installs them)")
	}
	wasm := filepath.Join(t.TempDir(), "line_server.wasm")
	src := filepath.Join(repoRoot, "tests", "testdata", "cpp", "line_server.cpp")
	if out, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-fno-exceptions", "-o", wasm, src).CombinedOutput(); err != nil {
		t.Fatalf("clang++-14: %v\n%s", err, out)
	}
	dir := t.TempDir()
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tcp", "")), wasm)
	addr := k.addrs["ingest"]

	ask := func(c net.Conn, r *bufio.Reader, line, want string) {
		t.Helper()
		c.SetDeadline(time.Now().Add(60 * time.Second)) // hang guard
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != want+"\n" {
			t.Fatalf("answer to %q: %q, %v; want %q", line, got, err, want)
		}
	}
	c1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r1 := bufio.NewReader(c1)
	ask(c1, r1, "hello", "5 olleh")
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Write([]byte("keep\n")); err != nil {
		t.Fatal(err)
	}
	ask(c1, r1, "enarx workload", "14 daolkrow xrane")
	c1.Close()
	// The guest goes back to accept and takes the second client, whose
	// line has waited.
	c2.SetDeadline(time.Now().Add(60 * time.Second)) // hang guard
	r2 := bufio.NewReader(c2)
	if got, err := r2.ReadString('\n'); err != nil || got != "4 peek\n" {
		t.Fatalf("second client: %q, %v; want %q", got, err, "4 peek\n")
	}
	ask(c2, r2, "", "0 ")
}
