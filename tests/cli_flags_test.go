package tests

import (
	"crypto/sha256"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// compileGuard bounds a keep run that may compile a large Go guest first:
// on a loaded machine that alone can take longer than hangGuard. It is a
// hang guard, not a timing assertion.
const compileGuard = 10 * hangGuard

// keepEnv is keepGuarded with extra environment variables (NAME=VALUE) and
// compileGuard as its hang guard.
func keepEnv(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	return runKeep(t, dir, nil, env, compileGuard, args...)
}

// hasLine tells whether out has the line want.
func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == want {
			return true
		}
	}
	return false
}

// TestCLIFlagPositions: flags may come before or after positional
// arguments, except after keep run's MODULE, where they are the module's;
// "--" ends keep's flags; keep MODULE means keep run MODULE.
func TestCLIFlagPositions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCLIFiles(t, dir, []cliFile{{"hello.wasm", helloWasmBytes(t)}})
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		lines   []string // stdout has these lines
		noLines []string // and not these
		stderr  string   // stderr starts with this ("" = stderr empty)
	}{
		{name: "run-flag-before-module", args: []string{"run", "--env", "A=1", "hello.wasm", "Bob"},
			lines: []string{"env: A=1", `args: ["hello.wasm" "Bob"]`}},
		{name: "run-flag-after-module-is-the-modules", args: []string{"run", "hello.wasm", "--env", "A=1"},
			lines: []string{`args: ["hello.wasm" "--env" "A=1"]`}, noLines: []string{"env: A=1"}},
		{name: "double-dash-ends-keeps-flags", args: []string{"run", "--env", "A=1", "--", "hello.wasm", "--help"},
			lines: []string{"env: A=1", `args: ["hello.wasm" "--help"]`}},
		{name: "implicit-run", args: []string{"hello.wasm", "Bob"},
			lines: []string{"Hello, Bob, from a keep!", `args: ["hello.wasm" "Bob"]`}},
		{name: "implicit-run-with-flags", args: []string{"--env", "A=2", "hello.wasm", "--env", "B=3"},
			lines: []string{"env: A=2", `args: ["hello.wasm" "--env" "B=3"]`}, noLines: []string{"env: B=3"}},
		{name: "implicit-run-path", args: []string{"./hello.wasm"}, lines: []string{"Hello, world, from a keep!"}},
		{name: "digest-flag-after-arg", args: []string{"digest", "hello.wasm", "--log-level", "error"}},
		{name: "log-level-before-command", args: []string{"--log-level", "error", "digest", "hello.wasm"}},
		{name: "single-dash-flag", args: []string{"run", "-env", "A=4", "hello.wasm"}, lines: []string{"env: A=4"}},
		{name: "equals-form", args: []string{"run", "--env=A=5", "hello.wasm"}, lines: []string{"env: A=5"}},
		{name: "unknown-flag", args: []string{"run", "--bogus", "hello.wasm"}, code: 2,
			stderr: "keep: run: unknown flag --bogus"},
		{name: "unknown-flag-after-arg", args: []string{"digest", "hello.wasm", "--bogus"}, code: 2,
			stderr: "keep: digest: unknown flag --bogus"},
		{name: "flag-without-value", args: []string{"digest", "hello.wasm", "--log-level"}, code: 2,
			stderr: "keep: --log-level needs a value"},
		{name: "unknown-command", args: []string{"bogus"}, code: 2, stderr: `keep: unknown command "bogus"`},
		{name: "dash-dash-version", args: []string{"--version"}, lines: []string{"wazero v1.12.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := keepGuarded(t, dir, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("keep %q: exit code %d, want %d (stderr %q)", tc.args, r.code, tc.code, r.stderr)
			}
			if tc.stderr == "" && r.stderr != "" {
				t.Errorf("stderr = %q, want empty", r.stderr)
			}
			if tc.stderr != "" {
				checkOneLine(t, r, tc.stderr)
			}
			for _, l := range tc.lines {
				if !hasLine(r.stdout, l) {
					t.Errorf("stdout = %q, want a line %q", r.stdout, l)
				}
			}
			for _, l := range tc.noLines {
				if hasLine(r.stdout, l) {
					t.Errorf("stdout = %q, want no line %q", r.stdout, l)
				}
			}
			checkNoCrash(t, r)
		})
	}
}

// TestCLIConfigInitFlagAfterFile: keep config init FILE --force.
func TestCLIConfigInitFlagAfterFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if r := keepGuarded(t, dir, nil, "config", "init", "c.toml"); r.code != 0 {
		t.Fatalf("first init: %d %q", r.code, r.stderr)
	}
	if r := keepGuarded(t, dir, nil, "config", "init", "c.toml"); r.code == 0 {
		t.Fatalf("second init without --force overwrote c.toml")
	}
	if r := keepGuarded(t, dir, nil, "config", "init", "c.toml", "--force"); r.code != 0 {
		t.Fatalf("init c.toml --force: %d %q", r.code, r.stderr)
	}
}

// TestCLIDir: --dir takes HOST, HOST:GUEST, HOST:GUEST:ro and wasmtime's
// HOST::GUEST, and refuses anything else with one line naming the flag.
func TestCLIDir(t *testing.T) {
	t.Parallel()
	cat := buildTestGuest(t, "cat")
	for _, tc := range []struct {
		name  string
		dir   string
		read  string // file the guest prints
		write string // file the guest tries to create
		lines []string
	}{
		{name: "wazero-host-guest", dir: "data:/d", read: "/d/a.txt", write: "/d/new", lines: []string{"hello from a.txt", "wrote /d/new"}},
		{name: "wazero-read-only", dir: "data:/d:ro", read: "/d/a.txt", write: "/d/new", lines: []string{"hello from a.txt", "cannot write /d/new"}},
		{name: "wasmtime-host-guest", dir: "data::/w", read: "/w/a.txt", write: "/w/new", lines: []string{"hello from a.txt", "wrote /w/new"}},
		// HOST alone: seen at the same path (absolute here: a Go guest
		// resolves relative paths from "/").
		{name: "host-only", dir: "@/data", read: "@/data/a.txt", lines: []string{"hello from a.txt"}},
		{name: "host-read-only", dir: "@/data:ro", read: "@/data/a.txt", write: "@/data/new", lines: []string{"hello from a.txt", "cannot write @/data/new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			at := func(s string) string { return strings.ReplaceAll(s, "@", dir) }
			tc.dir, tc.read, tc.write = at(tc.dir), at(tc.read), at(tc.write)
			for i := range tc.lines {
				tc.lines[i] = at(tc.lines[i])
			}
			if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeCLIFiles(t, dir, []cliFile{{"data/a.txt", []byte("hello from a.txt\n")}})
			args := []string{"run", "--dir", tc.dir, cat, tc.read}
			if tc.write != "" {
				args = []string{"run", "--dir", tc.dir, "--env", "CAT_WRITE=" + tc.write, cat, tc.read}
			}
			r := keepEnv(t, dir, nil, args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("--dir %s: exit %d, stdout %q, stderr %q", tc.dir, r.code, r.stdout, r.stderr)
			}
			for _, l := range tc.lines {
				if !hasLine(r.stdout, l) {
					t.Errorf("--dir %s: stdout %q, want a line %q", tc.dir, r.stdout, l)
				}
			}
			_, err := os.Stat(filepath.Join(dir, "data", "new"))
			if wrote := hasLine(r.stdout, "wrote "+tc.write); wrote != (err == nil) {
				t.Errorf("--dir %s: guest says wrote=%v, host file exists=%v", tc.dir, wrote, err == nil)
			}
		})
	}
	for _, bad := range []string{"data:/d:rw", "data:", ":/d", "data::", "::/d", "data:/d:ro:x", "data::/d:ro", "", "data:/d:"} {
		t.Run("bad/"+bad, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			r := keepGuarded(t, dir, nil, "run", "--dir", bad, cat)
			if r.code != 2 {
				t.Errorf("--dir %q: exit code %d, want 2 (stdout %q)", bad, r.code, r.stdout)
			}
			checkOneLine(t, r, "keep: --dir ")
			if !strings.Contains(r.stderr, "HOST::GUEST") {
				t.Errorf("stderr %q does not say which forms are accepted", r.stderr)
			}
		})
	}
}

// TestCLIEnv: --env NAME passes NAME on from keep's environment,
// --env-inherit passes all of it; --env and the config's env take
// precedence, and Keep's own FD_COUNT/FD_NAMES are never replaced.
func TestCLIEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCLIFiles(t, dir, []cliFile{{"hello.wasm", helloWasmBytes(t)}, {"c.toml", []byte(
		"[env]\nKEEP_T_CONF = \"config\"\n\n[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"stderr\"\n")}})
	host := []string{"KEEP_T_A=host-a", "KEEP_T_B=host-b", "KEEP_T_CONF=host-conf", "FD_COUNT=99"}
	for _, tc := range []struct {
		name    string
		args    []string
		lines   []string
		noLines []string
	}{
		{name: "name-only", args: []string{"run", "--env", "KEEP_T_A", "hello.wasm"},
			lines: []string{"env: KEEP_T_A=host-a"}, noLines: []string{"env: KEEP_T_B=host-b"}},
		{name: "nothing-by-default", args: []string{"run", "hello.wasm"},
			noLines: []string{"env: KEEP_T_A=host-a", "env: KEEP_T_B=host-b"}},
		{name: "inherit", args: []string{"run", "--env-inherit", "hello.wasm"},
			lines: []string{"env: KEEP_T_A=host-a", "env: KEEP_T_B=host-b"}},
		{name: "inherit-then-explicit", args: []string{"run", "--env-inherit", "--env", "KEEP_T_B=cli", "hello.wasm"},
			lines: []string{"env: KEEP_T_A=host-a", "env: KEEP_T_B=cli"}, noLines: []string{"env: KEEP_T_B=host-b"}},
		{name: "inherit-with-config", args: []string{"run", "--env-inherit", "--config", "c.toml", "hello.wasm"},
			lines:   []string{"env: KEEP_T_A=host-a", "env: KEEP_T_CONF=config", "env: FD_COUNT=3"},
			noLines: []string{"env: KEEP_T_CONF=host-conf", "env: FD_COUNT=99"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := keepEnv(t, dir, host, tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("keep %q: exit %d, stderr %q", tc.args, r.code, r.stderr)
			}
			for _, l := range tc.lines {
				if !hasLine(r.stdout, l) {
					t.Errorf("stdout %q, want a line %q", r.stdout, l)
				}
			}
			for _, l := range tc.noLines {
				if hasLine(r.stdout, l) {
					t.Errorf("stdout %q, want no line %q", r.stdout, l)
				}
			}
		})
	}
	r := keepEnv(t, dir, nil, "run", "--env", "KEEP_T_NOT_SET", "hello.wasm")
	if r.code != 2 {
		t.Errorf("--env of an unset name: exit %d, want 2", r.code)
	}
	checkOneLine(t, r, `keep: --env "KEEP_T_NOT_SET": `)
}

// TestCLIHelpTwoDashes: every command's help shows its flags as --name.
func TestCLIHelpTwoDashes(t *testing.T) {
	t.Parallel()
	singleDash := regexp.MustCompile(`(?m)^\s+-[a-z]`)
	for _, cmd := range [][]string{{"run"}, {"digest"}, {"config", "init"}, {"verify"}, {"proxy"}, {"attest-cert"}, {"platform", "info"}, {"version"}} {
		t.Run(strings.Join(cmd, "-"), func(t *testing.T) {
			t.Parallel()
			r := keepGuarded(t, "", nil, append(cmd, "--help")...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "  --log-level") {
				t.Errorf("help does not show --log-level:\n%s", r.stdout)
			}
			if m := singleDash.FindString(r.stdout); m != "" {
				t.Errorf("help shows a flag with one dash (%q):\n%s", m, r.stdout)
			}
		})
	}
}

// TestCLIErrorsNameTheCause: errors name the flag, file or peer that caused
// them, in the user's words.
func TestCLIErrorsNameTheCause(t *testing.T) {
	t.Parallel()
	// A plain HTTP server: not TLS.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(plain.Close) // after the parallel subtests
	_, port, _ := net.SplitHostPort(plain.Listener.Addr().String())
	mem10 := filepath.Join(compileWAT(t, "memory10"), "memory10.wasm")
	hello := helloWasmBytes(t)
	for _, tc := range []struct {
		name   string
		files  []cliFile
		args   []string
		code   int
		prefix string
		want   []string
		not    []string
	}{
		{name: "timeout-without-unit", files: []cliFile{{"hello.wasm", hello}}, args: []string{"run", "--timeout", "5", "hello.wasm"},
			code: 2, prefix: `keep: --timeout "5": `, want: []string{"add a unit", "5s"}},
		{name: "timeout-garbage", files: []cliFile{{"hello.wasm", hello}}, args: []string{"run", "--timeout", "soon", "hello.wasm"},
			code: 2, prefix: `keep: --timeout "soon": `, want: []string{"30s"}},
		{name: "verify-timeout-without-unit", args: []string{"verify", "--timeout", "5", "127.0.0.1:1"},
			code: 2, prefix: `keep: --timeout "5": `, want: []string{"add a unit"}},
		{name: "max-memory-too-small", args: []string{"run", "--max-memory", "2", mem10},
			code: 125, prefix: "keep: " + mem10 + ": ", want: []string{"--max-memory 2"}},
		{name: "toml-array-type", files: []cliFile{{"hello.wasm", hello}, {"c.toml", []byte("args = \"x\"\n")}},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125, prefix: "keep: c.toml:1: ",
			want: []string{"args", "want an array, found a string"}, not: []string{"slice", "destination"}},
		{name: "toml-integer-type", files: []cliFile{{"hello.wasm", hello}, {"c.toml", []byte(
			"[[files]]\nkind = \"listen\"\nprot = \"tcp\"\nname = \"l\"\nport = \"80\"\n")}},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125, prefix: "keep: c.toml:5: ",
			want: []string{"port", "want an integer, found a string"}, not: []string{"destination"}},
		{name: "verify-plain-peer", args: []string{"verify", "--allow-simulated", plain.Listener.Addr().String()},
			code: 125, prefix: "keep: ", want: []string{"does not speak TLS"}},
		{name: "run-tls-connect-to-plain-peer", files: []cliFile{{"hello.wasm", hello}, {"c.toml", []byte(
			"[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"stderr\"\n" +
				"[[files]]\nkind = \"connect\"\nprot = \"tls\"\nname = \"up\"\nhost = \"127.0.0.1\"\nport = " + port + "\n")}},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125, prefix: "keep: c.toml:", want: []string{"does not speak TLS", "prot = \"tcp\""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeCLIFiles(t, dir, tc.files)
			r := keepGuarded(t, dir, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			checkOneLine(t, r, tc.prefix)
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q, want it to mention %q", r.stderr, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(r.stderr, n) {
					t.Errorf("stderr %q speaks of %q", r.stderr, n)
				}
			}
			checkNoCrash(t, r)
		})
	}
}

// TestCLIConfigHints: a config that gives the module no stdout or stderr
// gets a warning; an Enarx.toml that --config does not name gets a hint.
func TestCLIConfigHints(t *testing.T) {
	t.Parallel()
	hello := helloWasmBytes(t)
	const stdio = "[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"stderr\"\n"
	for _, tc := range []struct {
		name   string
		files  []cliFile
		args   []string
		stderr string // exactly, "" for none
	}{
		{name: "no-output-files", files: []cliFile{{"c.toml", []byte("args = [\"x\"]\n")}},
			args:   []string{"run", "--config", "c.toml", "hello.wasm"},
			stderr: "keep: warning: c.toml has no stdout or stderr in [[files]]: the module's output goes nowhere\n"},
		{name: "stderr-only", files: []cliFile{{"c.toml", []byte("[[files]]\nkind = \"null\"\nname = \"in\"\n[[files]]\nkind = \"null\"\nname = \"out\"\n[[files]]\nkind = \"stderr\"\n")}},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}},
		{name: "enarx-toml-not-named", files: []cliFile{{"Enarx.toml", []byte(stdio)}},
			args:   []string{"run", "hello.wasm"},
			stderr: "keep: hint: ./Enarx.toml is not used unless named: add --config Enarx.toml\n"},
		{name: "enarx-toml-named", files: []cliFile{{"Enarx.toml", []byte(stdio)}},
			args: []string{"run", "--config", "./Enarx.toml", "hello.wasm"}},
		{name: "other-config-named", files: []cliFile{{"Enarx.toml", []byte(stdio)}, {"c.toml", []byte(stdio)}},
			args:   []string{"run", "--config", "c.toml", "hello.wasm"},
			stderr: "keep: hint: ./Enarx.toml is not used unless named: add --config Enarx.toml\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeCLIFiles(t, dir, append(tc.files, cliFile{"hello.wasm", hello}))
			r := keepGuarded(t, dir, nil, tc.args...)
			if r.code != 0 {
				t.Errorf("exit %d (stderr %q)", r.code, r.stderr)
			}
			if r.stderr != tc.stderr {
				t.Errorf("stderr = %q, want %q", r.stderr, tc.stderr)
			}
		})
	}
}

// TestCLICacheByDefault: keep run caches compiled code without being asked,
// under $XDG_CACHE_HOME/keep with its key created 0600 in
// $XDG_CONFIG_HOME/keep; the second run of the ~10 MB cryptle guest is a
// cache hit (keep's debug log says so), and --no-cache uses no cache.
func TestCLICacheByDefault(t *testing.T) {
	t.Parallel()
	wasm := buildGuest(t, "cryptle")
	home := t.TempDir()
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "XDG_CONFIG_HOME=" + filepath.Join(home, "config")}
	cacheLines := func(stderr string) []string {
		var out []string
		for _, l := range strings.Split(stderr, "\n") {
			if i := strings.Index(l, `msg="compilation cache `); i >= 0 {
				out = append(out, strings.SplitN(l[i+len(`msg="`):], `"`, 2)[0])
			}
		}
		return out
	}
	// Without a config the guest finds no listener at fd 3 and exits 1:
	// what matters here is the compilation before it.
	first := keepEnv(t, "", env, "run", "--log-level", "debug", wasm)
	if got := cacheLines(first.stderr); len(got) != 1 || got[0] != "compilation cache miss" {
		t.Fatalf("first run: cache log %q, want one miss\n%s", got, first.stderr)
	}
	entries, _ := filepath.Glob(filepath.Join(home, "cache", "keep", "*", "*.entry"))
	if len(entries) != 1 {
		t.Fatalf("cache entries after the first run: %q, want one", entries)
	}
	st, err := os.Stat(filepath.Join(home, "config", "keep", "cache.key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != 32 {
		t.Errorf("cache key: mode %v, %d bytes; want 0600, 32", st.Mode().Perm(), st.Size())
	}
	second := keepEnv(t, "", env, "run", "--log-level", "debug", wasm)
	if got := cacheLines(second.stderr); len(got) != 1 || got[0] != "compilation cache hit" {
		t.Fatalf("second run: cache log %q, want one hit\n%s", got, second.stderr)
	}

	other := t.TempDir()
	noCacheEnv := []string{"XDG_CACHE_HOME=" + filepath.Join(other, "cache"), "XDG_CONFIG_HOME=" + filepath.Join(other, "config")}
	r := keepEnv(t, "", noCacheEnv, "run", "--no-cache", "--log-level", "debug", buildGuest(t, "hello"))
	if r.code != 0 || len(cacheLines(r.stderr)) != 0 {
		t.Errorf("--no-cache: exit %d, cache log %q", r.code, cacheLines(r.stderr))
	}
	for _, d := range []string{"cache", "config"} {
		if _, err := os.Stat(filepath.Join(other, d)); err == nil {
			t.Errorf("--no-cache created %s", d)
		}
	}
}

// TestCLIAttestCertForce: keep attest-cert refuses to overwrite either file
// without --force (writing neither), and with --force writes a key that is
// 0600 even where the old file was not.
func TestCLIAttestCertForce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCLIFiles(t, dir, []cliFile{{"hello.wasm", helloWasmBytes(t)}})
	if r := keepGuarded(t, dir, nil, "attest-cert", "--module", "hello.wasm"); r.code != 0 {
		t.Fatalf("first attest-cert: exit %d, stderr %q", r.code, r.stderr)
	}
	sum := func(name string) [32]byte { return sha256.Sum256(mustRead(t, filepath.Join(dir, name))) }
	cert, key := sum("keep-cert.pem"), sum("keep-key.pem")
	r := keepGuarded(t, dir, nil, "attest-cert", "--module", "hello.wasm")
	if r.code == 0 {
		t.Fatal("attest-cert overwrote its files without --force")
	}
	checkOneLine(t, r, "keep: keep-cert.pem: already exists (use --force")
	if sum("keep-cert.pem") != cert || sum("keep-key.pem") != key {
		t.Fatal("a refused attest-cert changed the files")
	}
	// Only the key exists: refused before the certificate is written.
	os.Remove(filepath.Join(dir, "keep-cert.pem"))
	r = keepGuarded(t, dir, nil, "attest-cert", "--module", "hello.wasm")
	checkOneLine(t, r, "keep: keep-key.pem: already exists (use --force")
	if _, err := os.Stat(filepath.Join(dir, "keep-cert.pem")); err == nil {
		t.Error("a refused attest-cert wrote the certificate")
	}
	if err := os.Chmod(filepath.Join(dir, "keep-key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := keepGuarded(t, dir, nil, "attest-cert", "--module", "hello.wasm", "--force"); r.code != 0 {
		t.Fatalf("attest-cert --force: exit %d, stderr %q", r.code, r.stderr)
	}
	if sum("keep-key.pem") == key {
		t.Error("--force did not write a new key")
	}
	if st, err := os.Stat(filepath.Join(dir, "keep-key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key after --force: %v, %v; want mode 0600", st.Mode().Perm(), err)
	}
}

// TestCLIVersionFromClone: keep built with go install ./cmd/keep in a
// clone (no -ldflags) shows the module version Go stamps from the
// repository, not "devel".
func TestCLIVersionFromClone(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "keep")
	if out, err := exec.Command("git", "clone", "-q", repoRoot, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	bin := t.TempDir()
	cmd := exec.Command("go", "install", "./cmd/keep")
	cmd.Dir = clone
	// GOFLAGS as a user has it by default (this machine's may turn VCS
	// stamping off).
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-buildvcs=auto")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/keep: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "keep"), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	if !regexp.MustCompile(`^keep v\d+\.\d+\.\d+(-\S+)?$`).MatchString(first) {
		t.Errorf("keep version: first line %q, want keep vX.Y.Z[-...] from the build info", first)
	}
}
