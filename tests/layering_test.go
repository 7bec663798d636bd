package tests

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// module is the import path of Keep's Go module.
const module = "github.com/keepwasm/keep"

// layering lists, for each group of packages (a path prefix inside the
// module), the Keep packages it must never depend on, directly or through
// another package. Imports run one way, top to bottom: cmd/keep → runtime
// → wasi and netattest → keeps; each package's doc.go states its part.
var layering = []struct {
	pkg       string   // a package, and every package under it
	forbidden []string // prefixes, each also covering the packages under it
	allowed   []string // exceptions inside forbidden, as exact paths
}{
	{pkg: "keeps", forbidden: []string{"netattest", "runtime", "wasi", "cmd"}},
	{pkg: "netattest", forbidden: []string{"runtime", "wasi", "cmd"}},
	{pkg: "wasi", forbidden: []string{"runtime", "netattest", "keeps", "cmd"}},
	{pkg: "runtime", forbidden: []string{"cmd"}},
	// ca builds for wasip1 (guests/ca): the standard library only.
	{pkg: "ca", forbidden: []string{"netattest", "keeps", "runtime", "wasi", "caverify", "cmd"}},
	{pkg: "caverify", forbidden: []string{"runtime", "wasi", "cmd"}},
	{pkg: "internal", forbidden: []string{"runtime", "wasi", "netattest", "keeps", "cmd"}},
	// metrics is imported by everyone, so imports no Keep package; its
	// Prometheus side and the health endpoints belong to the CLI.
	{pkg: "metrics", forbidden: []string{"runtime", "wasi", "netattest", "keeps", "cmd", "health", "internal"}},
	{pkg: "metrics/prom", forbidden: []string{"runtime", "wasi", "netattest", "keeps", "cmd", "health"}},
	{pkg: "health", forbidden: []string{"runtime", "wasi", "netattest", "keeps", "cmd", "metrics"}},
	{pkg: "keeps/tdx/rtmr", forbidden: []string{"keeps/", "netattest", "runtime", "wasi", "cmd"}},
	// Each backend stands alone; only keeps/intel is shared by the two
	// Intel backends, and keeps/backends is the one place that lists them.
	{pkg: "keeps/sim", forbidden: []string{"keeps/"}},
	{pkg: "keeps/snp", forbidden: []string{"keeps/"}},
	{pkg: "keeps/sgx", forbidden: []string{"keeps/"}, allowed: []string{"keeps/intel"}},
	{pkg: "keeps/tdx", forbidden: []string{"keeps/"}, allowed: []string{"keeps/intel"}},
	{pkg: "keeps/intel", forbidden: []string{"keeps/"}},
}

// TestLayering checks the import graph with `go list -deps`: no package
// depends on one above it, test-only helpers (…test packages) are never
// linked into production code, and the CLI is imported by nothing.
func TestLayering(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...")
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	deps := map[string][]string{} // package (relative) → Keep deps (relative)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkg, ok := rel(fields[0])
		if !ok {
			continue
		}
		deps[pkg] = nil
		for _, d := range fields[1:] {
			if r, ok := rel(d); ok {
				deps[pkg] = append(deps[pkg], r)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cmd/keep", "runtime", "wasi", "netattest", "keeps", "keeps/sim"} {
		if _, ok := deps[want]; !ok {
			t.Fatalf("go list did not report package %s; output:\n%s", want, out)
		}
	}
	for pkg, ds := range deps {
		test := strings.HasPrefix(pkg, "tests") || strings.HasPrefix(pkg, "bench") || strings.HasPrefix(pkg, "guests")
		for _, d := range ds {
			if d == "cmd/keep" || strings.HasPrefix(d, "cmd/") {
				t.Errorf("%s depends on %s: nothing may import the CLI", pkg, d)
			}
			if !test && isTestHelper(d) && !isTestHelper(pkg) {
				t.Errorf("%s depends on the test helper %s: test helpers must not reach production code", pkg, d)
			}
			for _, l := range layering {
				if pkg != l.pkg && !strings.HasPrefix(pkg, l.pkg+"/") {
					continue
				}
				if isTestHelper(pkg) {
					continue // test helpers may use what they fake
				}
				if forbiddenDep(d, l.forbidden, l.allowed) {
					t.Errorf("%s depends on %s, which is above it (rule for %s)", pkg, d, l.pkg)
				}
			}
		}
	}
}

// rel returns a Keep import path relative to the module, and false for
// packages outside it.
func rel(path string) (string, bool) {
	if path == module {
		return "", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// isTestHelper reports whether path is a test-helper package, named as the
// standard library names them: the package it fakes plus "test"
// (keeps/intel/inteltest, keeps/tdx/tdxtest).
func isTestHelper(path string) bool {
	elems := strings.Split(path, "/")
	n := len(elems)
	return n >= 2 && elems[n-1] == elems[n-2]+"test"
}

func forbiddenDep(dep string, forbidden, allowed []string) bool {
	for _, a := range allowed {
		if dep == a {
			return false
		}
	}
	for _, f := range forbidden {
		if strings.HasSuffix(f, "/") {
			if strings.HasPrefix(dep, f) {
				return true
			}
			continue
		}
		if dep == f || strings.HasPrefix(dep, f+"/") {
			return true
		}
	}
	return false
}
