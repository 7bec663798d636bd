package tests

import (
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cliFile is a file a CLI test case writes into its temporary directory.
type cliFile struct {
	name string
	data []byte
}

// writeCLIFiles writes files into dir.
func writeCLIFiles(t testing.TB, dir string, files []cliFile) {
	t.Helper()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// helloWasmBytes returns the bytes of the hello guest.
func helloWasmBytes(t testing.TB) []byte {
	t.Helper()
	return mustRead(t, buildGuest(t, "hello"))
}

// wasmHeader is the magic and version of a WebAssembly binary module.
var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// TestCLIBadInput checks that bad modules, bad flags and bad configs give
// exactly one line on stderr, "keep: " then a message naming the input,
// and the right exit code (125 bad input, 2 usage).
func TestCLIBadInput(t *testing.T) {
	t.Parallel()
	hello := helloWasmBytes(t)
	helloFile := cliFile{"hello.wasm", hello}
	toml := func(name, src string) cliFile { return cliFile{name, []byte(src)} }
	for _, tc := range []struct {
		name   string
		files  []cliFile
		args   []string
		code   int
		prefix string   // stderr starts with "keep: " + prefix
		want   []string // and contains these
	}{
		// Modules.
		{name: "missing-module", args: []string{"run", "nope.wasm"}, code: 125,
			prefix: "nope.wasm: ", want: []string{"no such file"}},
		{name: "module-is-dir", files: []cliFile{}, args: []string{"run", "."}, code: 125,
			prefix: ".: ", want: []string{"directory"}},
		{name: "not-wasm", files: []cliFile{{"notes.txt", []byte("just some text\n")}},
			args: []string{"run", "notes.txt"}, code: 125, prefix: "notes.txt: ", want: []string{"not a WebAssembly module"}},
		{name: "empty-file", files: []cliFile{{"empty.wasm", nil}},
			args: []string{"run", "empty.wasm"}, code: 125, prefix: "empty.wasm: ", want: []string{"not a WebAssembly module"}},
		{name: "truncated-magic", files: []cliFile{{"t.wasm", hello[:4]}},
			args: []string{"run", "t.wasm"}, code: 125, prefix: "t.wasm: ", want: []string{"truncated"}},
		{name: "truncated-100", files: []cliFile{{"t.wasm", hello[:100]}},
			args: []string{"run", "t.wasm"}, code: 125, prefix: "t.wasm: invalid module: "},
		{name: "truncated-half", files: []cliFile{{"t.wasm", hello[:len(hello)/2]}},
			args: []string{"run", "t.wasm"}, code: 125, prefix: "t.wasm: invalid module: "},
		{name: "bad-section-id", files: []cliFile{{"bad.wasm", append(append([]byte(nil), wasmHeader...), 0x7f, 0x01, 0x00)}},
			args: []string{"run", "bad.wasm"}, code: 125, prefix: "bad.wasm: invalid module: "},
		{name: "bad-section-length", files: []cliFile{{"bad.wasm", append(append([]byte(nil), wasmHeader...), 0x01, 0x7f, 0x00)}},
			args: []string{"run", "bad.wasm"}, code: 125, prefix: "bad.wasm: invalid module: ", want: []string{"length"}},
		{name: "digest-missing-module", args: []string{"digest", "nope.wasm"}, code: 125,
			prefix: "nope.wasm: ", want: []string{"no such file"}},
		{name: "digest-not-wasm", files: []cliFile{{"notes.txt", []byte("text\n")}},
			args: []string{"digest", "notes.txt"}, code: 125, prefix: "notes.txt: ", want: []string{"not a WebAssembly module"}},

		// Enarx.toml.
		{name: "config-missing", files: []cliFile{helloFile},
			args: []string{"run", "--config", "nope.toml", "hello.wasm"}, code: 125,
			prefix: "nope.toml: ", want: []string{"no such file"}},
		{name: "config-not-toml", files: []cliFile{helloFile, toml("c.toml", "this is not toml\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125, prefix: "c.toml:1: "},
		{name: "config-json", files: []cliFile{helloFile, toml("c.toml", "# a\n# b\n{\"args\": [\"x\"]}\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125, prefix: "c.toml:3: "},
		{name: "config-unknown-key", files: []cliFile{helloFile, toml("c.toml", "args = [\"a\"]\nfoo = 1\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:2: ", want: []string{`"foo"`, "unknown key"}},
		{name: "config-unknown-key-in-files", files: []cliFile{helloFile, toml("c.toml",
			"[[files]]\nkind = \"stdin\"\n\n[[files]]\nkind = \"stdout\"\nbogus = 1\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:6: ", want: []string{"bogus", "unknown key"}},
		{name: "config-args-wrong-type", files: []cliFile{helloFile, toml("c.toml", "# args\nargs = \"x\"\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:2: ", want: []string{"args"}},
		{name: "config-port-wrong-type", files: []cliFile{helloFile, toml("c.toml",
			"[[files]]\nkind = \"listen\"\nprot = \"tcp\"\nname = \"l\"\nport = \"80\"\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:5: ", want: []string{"port"}},
		{name: "config-listen-without-port", files: []cliFile{helloFile, toml("c.toml",
			"[[files]]\nkind = \"stdin\"\n\n[[files]]\nkind = \"listen\"\nprot = \"tcp\"\nname = \"l\"\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:4: ", want: []string{"files[1]", "port"}},
		{name: "config-duplicate-name", files: []cliFile{helloFile, toml("c.toml",
			"[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\nname = \"x\"\n[[files]]\nkind = \"stderr\"\nname = \"x\"\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:6: ", want: []string{"files[2]", "duplicate", `"x"`}},
		{name: "config-unknown-kind", files: []cliFile{helloFile, toml("c.toml",
			"[[files]]\nkind = \"stdin\"\n\n[[files]]\nkind = \"socket\"\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:4: ", want: []string{"files[1]", `"socket"`}},
		{name: "config-name-with-colon", files: []cliFile{helloFile, toml("c.toml",
			"# fds\n[[files]]\nkind = \"stdin\"\nname = \"a:b\"\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:2: ", want: []string{"files[0]", `"a:b"`, "':'"}},
		{name: "config-steward", files: []cliFile{helloFile, toml("c.toml",
			"args = []\nsteward = \"https://x\"\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:2: ", want: []string{"steward", "no tls listen or connect"}},
		{name: "config-listen-socket-at-fd-1", files: []cliFile{helloFile, toml("c.toml",
			"[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"listen\"\nprot = \"tcp\"\nname = \"l\"\nport = 8080\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125,
			prefix: "c.toml:3: ", want: []string{"files[1]", "fd 1", "not supported"}},

		// Flags.
		{name: "env-without-equals", files: []cliFile{helloFile},
			args: []string{"run", "--env", "FOO", "hello.wasm"}, code: 2, prefix: "--env \"FOO\": "},
		{name: "env-empty-name", files: []cliFile{helloFile},
			args: []string{"run", "--env", "=x", "hello.wasm"}, code: 2, prefix: "--env \"=x\": "},
		{name: "dir-missing", files: []cliFile{helloFile},
			args: []string{"run", "--dir", "no-such-dir", "hello.wasm"}, code: 125,
			prefix: "--dir \"no-such-dir\": ", want: []string{"no such file"}},
		{name: "dir-is-file", files: []cliFile{helloFile},
			args: []string{"run", "--dir", "hello.wasm", "hello.wasm"}, code: 125,
			prefix: "--dir \"hello.wasm\": ", want: []string{"not a directory"}},
		{name: "max-memory-negative", files: []cliFile{helloFile},
			args: []string{"run", "--max-memory", "-5", "hello.wasm"}, code: 2,
			prefix: "--max-memory \"-5\": ", want: []string{"negative"}},
		{name: "max-memory-negative-size", files: []cliFile{helloFile},
			args: []string{"run", "--max-memory", "-1MiB", "hello.wasm"}, code: 2,
			prefix: "--max-memory \"-1MiB\": ", want: []string{"negative"}},
		{name: "max-memory-zero", files: []cliFile{helloFile},
			args: []string{"run", "--max-memory", "0", "hello.wasm"}, code: 2, prefix: "--max-memory \"0\": "},
		{name: "max-memory-not-pages", files: []cliFile{helloFile},
			args: []string{"run", "--max-memory", "100KiB", "hello.wasm"}, code: 2, prefix: "--max-memory \"100KiB\": "},
		{name: "timeout-negative", files: []cliFile{helloFile},
			args: []string{"run", "--timeout", "-1s", "hello.wasm"}, code: 2, prefix: "--timeout -1s: "},
		{name: "instances-zero", files: []cliFile{helloFile},
			args: []string{"run", "--instances", "0", "hello.wasm"}, code: 2, prefix: "--instances = 0: want 1..256"},
		{name: "instances-negative", files: []cliFile{helloFile},
			args: []string{"run", "--instances=-3", "hello.wasm"}, code: 2, prefix: "--instances = -3: want 1..256"},
		{name: "instances-too-many", files: []cliFile{helloFile},
			args: []string{"run", "--instances", "257", "hello.wasm"}, code: 2, prefix: "--instances = 257: want 1..256"},
		{name: "instances-not-a-number", files: []cliFile{helloFile},
			args: []string{"run", "--instances", "two", "hello.wasm"}, code: 2, want: []string{`"two"`, "instances"}},
		{name: "config-instances-zero", files: []cliFile{helloFile, toml("c.toml", "# n\ninstances = 0\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125, prefix: "c.toml:2: instances = 0: want 1..256"},
		{name: "config-instances-string", files: []cliFile{helloFile, toml("c.toml", "instances = \"2\"\n")},
			args: []string{"run", "--config", "c.toml", "hello.wasm"}, code: 125, prefix: "c.toml:1: ", want: []string{"instances"}},
		{name: "instances-with-connect", files: []cliFile{helloFile, toml("c.toml",
			"[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"stderr\"\n[[files]]\nkind = \"connect\"\nprot = \"tcp\"\nhost = \"127.0.0.1\"\nport = 9\n")},
			args: []string{"run", "--instances", "2", "--config", "c.toml", "hello.wasm"}, code: 125,
			want: []string{"instances = 2", "files[3] is a connect socket"}},
		{name: "unknown-command", args: []string{"frob"}, code: 2, want: []string{`"frob"`}},
		{name: "unknown-config-subcommand", args: []string{"config", "frob"}, code: 2, want: []string{`"frob"`}},
		{name: "run-without-module", args: []string{"run"}, code: 2, prefix: "run: ", want: []string{"MODULE"}},
		{name: "digest-without-module", args: []string{"digest"}, code: 2, prefix: "digest: ", want: []string{"MODULE"}},
		{name: "log-level-bad", files: []cliFile{helloFile},
			args: []string{"run", "--log-level", "loud", "hello.wasm"}, code: 2, want: []string{`"loud"`}},
		// An unknown flag or a bad flag value is a usage error: one line on
		// stderr and nothing on stdout (stdout may be a pipe to another
		// program).
		{name: "run-unknown-flag", files: []cliFile{helloFile},
			args: []string{"run", "--bogus", "hello.wasm"}, code: 2, want: []string{"bogus"}},
		{name: "run-bad-timeout", files: []cliFile{helloFile},
			args: []string{"run", "--timeout", "soon", "hello.wasm"}, code: 2, want: []string{`"soon"`, "timeout"}},
		{name: "digest-unknown-flag", files: []cliFile{helloFile},
			args: []string{"digest", "--bogus", "hello.wasm"}, code: 2, want: []string{"bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeCLIFiles(t, dir, tc.files)
			r := keepGuarded(t, dir, nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("keep %q: exit code %d, want %d (stderr %q)", tc.args, r.code, tc.code, r.stderr)
			}
			checkOneLine(t, r, "keep: "+tc.prefix)
			for _, s := range tc.want {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr = %q, want it to contain %q", r.stderr, s)
				}
			}
			if r.stdout != "" {
				t.Errorf("keep %q: stdout = %q, want empty", tc.args, r.stdout)
			}
			checkNoCrash(t, r)
		})
	}
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		usage string // stdout starts with it
	}{
		{[]string{"--help"}, "Usage: keep "},
		{[]string{"-h"}, "Usage: keep "},
		{[]string{"help"}, "Usage: keep "},
		{[]string{"run", "--help"}, "Usage: keep run "},
		{[]string{"help", "run"}, "Usage: keep run "},
		{[]string{"digest", "--help"}, "Usage: keep digest "},
		{[]string{"config", "init", "--help"}, "Usage: keep config init "},
		{[]string{"version", "--help"}, "Usage: keep version"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			t.Parallel()
			r := keepGuarded(t, t.TempDir(), nil, tc.args...)
			if r.code != 0 {
				t.Errorf("keep %q: exit code %d, want 0 (stderr %q)", tc.args, r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, tc.usage) {
				t.Errorf("keep %q: stdout = %q, want usage starting %q", tc.args, r.stdout, tc.usage)
			}
			if r.stderr != "" {
				t.Errorf("keep %q: stderr = %q, want empty", tc.args, r.stderr)
			}
		})
	}
}

func TestCLIDigest(t *testing.T) {
	t.Parallel()
	wasm := buildGuest(t, "hello")
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum384(b)
	want := "sha384:" + hex.EncodeToString(sum[:]) + "\n"
	r := keepGuarded(t, "", nil, "digest", wasm)
	if r.code != 0 {
		t.Errorf("exit code %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	if r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if len(want) != len("sha384:")+96+1 {
		t.Fatalf("bad test: want %q is not 96 hex digits", want)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want empty", r.stderr)
	}
}

func TestCLIVersion(t *testing.T) {
	t.Parallel()
	r := keepGuarded(t, "", nil, "version")
	if r.code != 0 {
		t.Errorf("exit code %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "wazero v1.12.0") {
		t.Errorf("stdout = %q, want it to contain %q", r.stdout, "wazero v1.12.0")
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want empty", r.stderr)
	}
}

func TestCLIConfigInit(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile(filepath.Join(repoRoot, "Enarx.toml.example"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "Enarx.toml")
	check := func(step string) {
		t.Helper()
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if string(got) != string(example) {
			t.Errorf("%s: Enarx.toml differs from Enarx.toml.example", step)
		}
	}

	r := keepGuarded(t, dir, nil, "config", "init")
	if r.code != 0 || r.stderr != "keep: wrote Enarx.toml\n" || r.stdout != "" {
		t.Errorf("keep config init: code %d, stdout %q, stderr %q; want 0, \"\", \"keep: wrote Enarx.toml\\n\"", r.code, r.stdout, r.stderr)
	}
	check("config init")

	if err := os.WriteFile(file, []byte("args = [\"mine\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = keepGuarded(t, dir, nil, "config", "init")
	if r.code != 125 {
		t.Errorf("second keep config init: exit code %d, want 125", r.code)
	}
	checkOneLine(t, r, "keep: Enarx.toml: ")
	if !strings.Contains(r.stderr, "already exists") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("stderr = %q, want it to say the file exists and suggest --force", r.stderr)
	}
	if got, _ := os.ReadFile(file); string(got) != "args = [\"mine\"]\n" {
		t.Errorf("config init without --force changed the existing file to %q", got)
	}

	r = keepGuarded(t, dir, nil, "config", "init", "--force")
	if r.code != 0 {
		t.Errorf("keep config init --force: exit code %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	check("config init --force")

	r = keepGuarded(t, dir, nil, "config", "init", "-")
	if r.code != 0 || r.stdout != string(example) || r.stderr != "" {
		t.Errorf("keep config init -: code %d, stderr %q, stdout equal to the example: %v", r.code, r.stderr, r.stdout == string(example))
	}

	// The template runs: fds 0-2 are stdin, stdout and stderr.
	hello := buildGuest(t, "hello")
	r = keepGuarded(t, dir, nil, "run", "--config", "Enarx.toml", hello)
	if r.code != 0 {
		t.Errorf("keep run --config Enarx.toml: exit code %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	for _, want := range []string{"Hello, world, from a keep!\n", "env: FD_COUNT=3\n", "env: FD_NAMES=stdin:stdout:stderr\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout = %q, want it to contain %q", r.stdout, want)
		}
	}
}

func TestCLIConfigRun(t *testing.T) {
	t.Parallel()
	hello := buildGuest(t, "hello")
	const stdio = "[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"stderr\"\n"
	for _, tc := range []struct {
		name   string
		config string
		args   []string // after the module
		cli    []string // keep run flags
		stdout []string // stdout contains these lines
		exact  *string  // stdout is exactly this
		stderr string   // stderr is exactly this
	}{
		{
			name:   "args-and-env",
			config: "args = [\"one\", \"two words\"]\n\n[env]\nA = \"1\"\nB = \"b c\"\n\n" + stdio,
			args:   []string{"three"},
			stdout: []string{
				"Hello, one, from a keep!",
				`args: ["hello.wasm" "one" "two words" "three"]`,
				"env: A=1", "env: B=b c", "env: FD_COUNT=3", "env: FD_NAMES=stdin:stdout:stderr",
			},
		},
		{
			name:   "cli-env-overrides-config",
			config: "[env]\nA = \"config\"\n\n" + stdio,
			cli:    []string{"--env", "A=cli"},
			stdout: []string{"env: A=cli"},
		},
		{
			name:   "named-fds",
			config: "[[files]]\nkind = \"stdin\"\nname = \"in\"\n[[files]]\nkind = \"stdout\"\nname = \"out\"\n[[files]]\nkind = \"stderr\"\n",
			stdout: []string{"env: FD_COUNT=3", "env: FD_NAMES=in:out:stderr"},
		},
		{
			name:   "stdout-to-null",
			config: "[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"null\"\n[[files]]\nkind = \"stderr\"\n",
			exact:  new(""),
		},
		{
			name:   "no-files",
			config: "args = [\"x\"]\n",
			exact:  new(""),
			stderr: "keep: warning: Enarx.toml has no stdout or stderr in [[files]]: the module's output goes nowhere\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeCLIFiles(t, dir, []cliFile{{"Enarx.toml", []byte(tc.config)}, {"hello.wasm", mustRead(t, hello)}})
			args := append(append(append([]string{"run", "--config", "Enarx.toml"}, tc.cli...), "hello.wasm"), tc.args...)
			r := keepGuarded(t, dir, nil, args...)
			if r.code != 0 {
				t.Errorf("keep %q: exit code %d, want 0 (stderr %q)", args, r.code, r.stderr)
			}
			if r.stderr != tc.stderr {
				t.Errorf("stderr = %q, want %q", r.stderr, tc.stderr)
			}
			if tc.exact != nil && r.stdout != *tc.exact {
				t.Errorf("stdout = %q, want %q", r.stdout, *tc.exact)
			}
			lines := strings.Split(r.stdout, "\n")
			for _, want := range tc.stdout {
				found := false
				for _, l := range lines {
					found = found || l == want
				}
				if !found {
					t.Errorf("stdout = %q, want a line %q", r.stdout, want)
				}
			}
		})
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
