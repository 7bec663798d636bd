package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file runs every WASI preview1 test of WebAssembly/wasi-testsuite
// (shared/wasi-testsuite, see its PROVENANCE.md) through the keep binary,
// applying the rules of the suite's official Python runner:
//
//   - one `keep run` process per test, with the spec's env (and nothing
//     else), its args after the module, and its root folder preopened as
//     the guest's "/";
//   - stdin is a pipe that is never written to;
//   - the exit code must be exactly the spec's;
//   - stdout and stderr must start with the spec's payloads (the runner
//     reads only len(payload) characters of each);
//   - every *.cleanup file or folder under root is deleted before and
//     after the test.
//
// Tests listed in testdata/wasi-testsuite-known-failures.txt may fail.

const (
	wasiVersion      = "wasm32-wasip1"
	knownFailuresTxt = "testdata/wasi-testsuite-known-failures.txt"
	// wasiTestTimeout guards against a hung guest. It is not a limit the
	// suite sets (the official runner allows 5 s; see slowWASITest).
	wasiTestTimeout = 60 * time.Second
	slowWASITest    = 5 * time.Second
)

// wasiSpec is a test's NAME.json in the legacy format. Absent keys keep
// the defaults of the official runner.
type wasiSpec struct {
	Args     []string          `json:"args"`
	Env      map[string]string `json:"env"`
	Root     *string           `json:"root"`
	ExitCode int               `json:"exit_code"`
	Stdout   string            `json:"stdout"`
	Stderr   string            `json:"stderr"`
}

// wasiTest is one test of the suite.
type wasiTest struct {
	lang, name string // "c", "pwrite-with-append"
	suiteDir   string // the folder holding manifest.json and NAME.wasm
}

func (w wasiTest) id() string { return w.lang + "/" + w.name }

func TestWASITestsuite(t *testing.T) {
	root := filepath.Join(sharedDir, "wasi-testsuite", "tests")
	tests := findWASITests(t, root)
	known := readKnownFailures(t, knownFailuresTxt)

	exists := map[string]bool{}
	for _, wt := range tests {
		exists[wt.id()] = true
	}
	for _, id := range wasiSortedKeys(known) {
		if !exists[id] {
			t.Errorf("%s lists %s, which is not a test of %s (remove or fix the line)", knownFailuresTxt, id, root)
		}
	}

	var (
		mu                       sync.Mutex
		passed, knownFail, unexp int
		perLang                  = map[string][2]int{} // passed, run
	)
	t.Run("wasip1", func(t *testing.T) {
		for _, wt := range tests {
			t.Run(wt.id(), func(t *testing.T) {
				t.Parallel()
				reason, isKnown := known[wt.id()]
				failure := runWASITest(t, wt)
				mu.Lock()
				defer mu.Unlock()
				c := perLang[wt.lang]
				c[1]++
				switch {
				case failure == "" && isKnown:
					passed++
					c[0]++
					t.Errorf("%s passes now: remove its line from %s (listed reason: %s)", wt.id(), knownFailuresTxt, reason)
				case failure == "":
					passed++
					c[0]++
				case isKnown:
					knownFail++
					t.Logf("known failure (%s)\n%s", reason, failure)
				default:
					unexp++
					t.Errorf("%s failed (not in %s):\n%s", wt.id(), knownFailuresTxt, failure)
				}
				perLang[wt.lang] = c
			})
		}
	})

	mu.Lock()
	defer mu.Unlock()
	n := passed + knownFail + unexp
	summary := fmt.Sprintf("wasi-testsuite: %d passed, %d known failures, of %d", passed, knownFail, n)
	if unexp > 0 {
		summary += fmt.Sprintf(" (%d unexpected failures)", unexp)
	}
	t.Log(summary)
	var langs []string
	for _, lang := range wasiSortedKeys(perLang) {
		c := perLang[lang]
		langs = append(langs, fmt.Sprintf("%s %d/%d", lang, c[0], c[1]))
	}
	t.Logf("wasi-testsuite by language: %s", strings.Join(langs, ", "))
}

// findWASITests lists the tests of every tests/<lang>/testsuite/wasm32-wasip1
// folder under root, in a stable order.
func findWASITests(t *testing.T, root string) []wasiTest {
	t.Helper()
	langs, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("wasi-testsuite not found (want shared/wasi-testsuite beside the repository): %v", err)
	}
	var tests []wasiTest
	for _, l := range langs {
		dir := filepath.Join(root, l.Name(), "testsuite", wasiVersion)
		if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
			continue
		}
		wasms, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(wasms)
		for _, w := range wasms {
			tests = append(tests, wasiTest{
				lang:     l.Name(),
				name:     strings.TrimSuffix(filepath.Base(w), ".wasm"),
				suiteDir: dir,
			})
		}
	}
	if len(tests) == 0 {
		t.Fatalf("no %s tests under %s", wasiVersion, root)
	}
	return tests
}

// readKnownFailures parses the known-failures list: "<lang>/<name> <reason>"
// per line, # comments and blank lines ignored.
func readKnownFailures(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		id := strings.Fields(text)[0]
		reason := strings.TrimSpace(text[len(id):])
		switch {
		case !strings.Contains(id, "/"):
			t.Errorf("%s:%d: %q: want <lang>/<test-name>", path, line, id)
		case reason == "":
			t.Errorf("%s:%d: %s: no reason given", path, line, id)
		case known[id] != "":
			t.Errorf("%s:%d: %s is listed twice", path, line, id)
		default:
			known[id] = reason
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return known
}

// runWASITest runs one test through keep and returns "" if it passed, or
// what went wrong (with the guest's output) if not. Problems of the harness
// itself end the test with t.Fatal.
func runWASITest(t *testing.T, wt wasiTest) string {
	spec := readWASISpec(t, filepath.Join(wt.suiteDir, wt.name+".json"))

	// shared/ is read-only and the tests write into their root, so each
	// test gets a private copy of the suite folder (without the other
	// tests' modules), which also lets tests run in parallel.
	dir := t.TempDir()
	if err := wasiCopyTree(wt.suiteDir, dir, func(rel string) bool {
		return filepath.Dir(rel) == "." && strings.HasSuffix(rel, ".wasm") && rel != wt.name+".wasm"
	}); err != nil {
		t.Fatalf("copying %s: %v", wt.suiteDir, err)
	}

	args := []string{"run"}
	for _, k := range wasiSortedKeys(spec.Env) {
		args = append(args, "--env", k+"="+spec.Env[k])
	}
	var rootDir string
	if spec.Root != nil {
		rootDir = filepath.Join(dir, *spec.Root)
		if strings.Contains(rootDir, ":") {
			t.Fatalf("root %s contains ':', which --dir cannot express", rootDir)
		}
		args = append(args, "--dir", rootDir+":/")
	}
	// keep stops parsing flags at MODULE: the spec's args follow it as is.
	args = append(args, filepath.Join(dir, wt.name+".wasm"))
	args = append(args, spec.Args...)

	if rootDir != "" {
		wasiRemoveCleanup(t, rootDir)
		defer wasiRemoveCleanup(t, rootDir)
	}

	ctx, cancel := context.WithTimeout(context.Background(), wasiTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, keepBin, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	// As the official runner: stdin is a pipe nobody writes to. With a
	// non-*os.File reader, exec makes a pipe and closes its write end once
	// the (empty) reader is drained.
	cmd.Stdin = bytes.NewReader(nil)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)

	output := func() string {
		return fmt.Sprintf("command: %s\n--- stdout ---\n%s\n--- stderr ---\n%s",
			wasiShellQuote(append([]string{"keep"}, args...)), stdout.String(), stderr.String())
	}
	if ctx.Err() != nil {
		return fmt.Sprintf("no exit after %v (hang guard; the official runner allows 5s)\n%s", wasiTestTimeout, output())
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running keep: %v", err)
	}
	if took > slowWASITest {
		t.Logf("took %v, more than the official runner's %v timeout", took.Round(time.Millisecond), slowWASITest)
	}

	var problems []string
	if code != spec.ExitCode {
		problems = append(problems, fmt.Sprintf("exit code %d, want %d", code, spec.ExitCode))
	}
	if !strings.HasPrefix(stdout.String(), spec.Stdout) {
		problems = append(problems, fmt.Sprintf("stdout does not start with %q", spec.Stdout))
	}
	if !strings.HasPrefix(stderr.String(), spec.Stderr) {
		problems = append(problems, fmt.Sprintf("stderr does not start with %q", spec.Stderr))
	}
	if len(problems) == 0 {
		return ""
	}
	return strings.Join(problems, "; ") + "\n" + output()
}

// readWASISpec reads a test's JSON spec; a missing file means all defaults.
// Keys the legacy format does not have (such as "operations") are refused
// rather than ignored, so a newer suite cannot pass by accident.
func readWASISpec(t *testing.T, path string) wasiSpec {
	t.Helper()
	var spec wasiSpec
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return spec
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		t.Fatalf("%s: %v (this runner knows only the legacy keys args, env, root, exit_code, stdout, stderr)", path, err)
	}
	return spec
}

// wasiRemoveCleanup deletes every file or folder named *.cleanup under dir, as
// the official runner does around each test.
func wasiRemoveCleanup(t *testing.T, dir string) {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasSuffix(d.Name(), ".cleanup") {
			found = append(found, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("looking for *.cleanup under %s: %v", dir, err)
	}
	for _, p := range found {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
}

// wasiCopyTree copies the tree at src to dst (which may exist), keeping
// symlinks as symlinks and making everything writable by its owner. skip
// is given each path relative to src and leaves out those it returns true
// for.
func wasiCopyTree(src, dst string, skip func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel != "." && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.IsDir():
			return os.MkdirAll(to, info.Mode().Perm()|0o700)
		case d.Type().IsRegular():
			return wasiCopyFile(p, to, info.Mode().Perm()|0o600)
		}
		return fmt.Errorf("%s: unsupported file type %v", p, d.Type())
	})
}

func wasiCopyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func wasiSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// wasiShellQuote renders argv for a failure message, quoting where needed.
func wasiShellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n\"'\\$`;&|<>()*?[]{}!#~") {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
