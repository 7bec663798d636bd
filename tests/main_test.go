package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// keepBin is the keep binary built for this test run; buildDir holds it and
// the guests built by buildGuest.
var keepBin, buildDir string

// repoRoot is the repository's top directory.
var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}()

// sharedDir is ../shared beside the repository (read-only test data).
var sharedDir = filepath.Join(repoRoot, "..", "shared")

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keep-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	// keep caches compiled code by default under the user's cache dir, with
	// its key in the user's config dir: the tests' keeps use fresh ones.
	for _, v := range []string{"XDG_CACHE_HOME", "XDG_CONFIG_HOME"} {
		os.Setenv(v, filepath.Join(dir, v))
	}
	os.Unsetenv("KEEP_CACHE_DIR")
	os.Unsetenv("KEEP_CACHE_KEY")
	keepBin = filepath.Join(dir, "keep")
	if out, err := goBuild(keepBin, "./cmd/keep", nil); err != nil {
		fmt.Fprintf(os.Stderr, "building keep: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func goBuild(out, pkg string, env []string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

var guestMu sync.Mutex

// buildGuest builds the Go guest in guests/<name> for GOOS=wasip1 and
// returns the path of its .wasm.
func buildGuest(t testing.TB, name string) string {
	t.Helper()
	guestMu.Lock()
	defer guestMu.Unlock()
	out := filepath.Join(buildDir, name+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if msg, err := goBuild(out, "./guests/"+name, []string{"GOOS=wasip1", "GOARCH=wasm"}); err != nil {
		t.Fatalf("building guest %s: %v\n%s", name, err, msg)
	}
	return out
}

// result is what one keep invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// keep runs the keep binary with args in dir ("" = current directory) and
// stdin, and returns its exit code and output.
func keep(t testing.TB, dir string, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(keepBin, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("keep %q: %v", args, err)
	}
	return result{code: code, stdout: o.String(), stderr: e.String()}
}
