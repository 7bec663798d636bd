package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tomlLines joins lines with "\n", so that a test's line numbers can be read off
// its position in the list (the first line is line 1).
func tomlLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func TestParseConfigValid(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     string
		steward string
		args    []string
		env     map[string]string
		files   []File
	}{
		{
			name: "template",
			src:  ConfigTemplate,
			files: []File{
				{Kind: KindStdin, Name: "stdin", Line: 41},
				{Kind: KindStdout, Name: "stdout", Line: 45},
				{Kind: KindStderr, Name: "stderr", Line: 49},
			},
		},
		{name: "empty", src: ""},
		{name: "comments only", src: tomlLines("# nothing", "   # here")},
		{
			name: "args and env",
			src: tomlLines(
				`args = ["--argument1", "--argument2=foo", ""]`,
				`[env]`,
				`VAR1 = "var1"`,
				`VAR2 = ""`,
				`"with space" = "x=y"`,
			),
			args: []string{"--argument1", "--argument2=foo", ""},
			env:  map[string]string{"VAR1": "var1", "VAR2": "", "with space": "x=y"},
		},
		{
			name: "dotted env",
			src:  tomlLines(`env.A = "1"`, `env.B = "2"`),
			env:  map[string]string{"A": "1", "B": "2"},
		},
		{
			name: "names",
			src: tomlLines(
				`[[files]]`,
				`kind = "stdin"`,
				`name = "in"`,
				`[[files]]`,
				`kind = "null"`,
				`[[files]]`,
				`kind = "stderr"`,
				`name = "stdout"`, // a name may be another kind's default
			),
			files: []File{
				{Kind: KindStdin, Name: "in", Line: 1},
				{Kind: KindNull, Name: "null", Line: 4},
				{Kind: KindStderr, Name: "stdout", Line: 6},
			},
		},
		{
			name: "listen defaults and addresses",
			src: tomlLines(
				`[[files]]`,
				`kind = "listen"`,
				`prot = "tls"`,
				`name = "web"`,
				`port = 443`,
				`[[files]]`,
				`kind = "listen"`,
				`prot = "tcp"`,
				`name = "any"`,
				`port = 0`,
				`addr = "127.0.0.1"`,
				`[[files]]`,
				`kind = "listen"`,
				`prot = "tcp"`,
				`name = "v6"`,
				`port = 65535`,
				`addr = "::1"`,
			),
			files: []File{
				{Kind: KindListen, Name: "web", Prot: ProtTLS, Addr: "::", Port: 443, Line: 1},
				{Kind: KindListen, Name: "any", Prot: ProtTCP, Addr: "127.0.0.1", Port: 0, Line: 6},
				{Kind: KindListen, Name: "v6", Prot: ProtTCP, Addr: "::1", Port: 65535, Line: 12},
			},
		},
		{
			name: "connect defaults",
			src: tomlLines(
				`[[files]]`,
				`kind = "connect"`,
				`prot = "tcp"`,
				`host = "example.com"`,
				`[[files]]`,
				`kind = "connect"`,
				`prot = "tls"`,
				`host = "api.example.com"`,
				`[[files]]`,
				`kind = "connect"`,
				`prot = "tls"`,
				`host = "10.0.0.1"`,
				`port = 8443`,
				`name = "backend"`,
				`[[files]]`,
				`kind = "connect"`,
				`prot = "tcp"`,
				`host = "::1"`,
				`name = "v6"`,
				`port = 1`,
			),
			files: []File{
				{Kind: KindConnect, Name: "example.com", Prot: ProtTCP, Host: "example.com", Port: 80, Line: 1},
				{Kind: KindConnect, Name: "api.example.com", Prot: ProtTLS, Host: "api.example.com", Port: 443, Line: 5},
				{Kind: KindConnect, Name: "backend", Prot: ProtTLS, Host: "10.0.0.1", Port: 8443, Line: 9},
				{Kind: KindConnect, Name: "v6", Prot: ProtTCP, Host: "::1", Port: 1, Line: 15},
			},
		},
		{
			name: "read_ahead",
			src: tomlLines(
				`[[files]]`,
				`kind = "listen"`,
				`prot = "tls"`,
				`name = "web"`,
				`port = 443`,
				`read_ahead = 4096`,
				`[[files]]`,
				`kind = "connect"`,
				`prot = "tcp"`,
				`host = "db"`,
				`read_ahead = 16777216`,
			),
			files: []File{
				{Kind: KindListen, Name: "web", Prot: ProtTLS, Addr: "::", Port: 443, Line: 1, ReadAhead: 4096},
				{Kind: KindConnect, Name: "db", Prot: ProtTCP, Host: "db", Port: 80, Line: 7, ReadAhead: 16 << 20},
			},
		},
		{
			name: "inline array of tables",
			src:  tomlLines(`files = [{kind = "null"}, {kind = "stdout", name = "out"}]`),
			files: []File{
				{Kind: KindNull, Name: "null", Line: 1},
				{Kind: KindStdout, Name: "out", Line: 1},
			},
		},
		{
			name: "commented header",
			src: tomlLines(
				`#[[files]]`,
				`#kind = "listen"`,
				`[[files]] # the only one`,
				`kind = "stdout"`,
			),
			files: []File{{Kind: KindStdout, Name: "stdout", Line: 3}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("cfg.toml", []byte(tc.src))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if c.Path != "cfg.toml" {
				t.Errorf("Path = %q", c.Path)
			}
			if c.Steward != tc.steward {
				t.Errorf("Steward = %q, want %q", c.Steward, tc.steward)
			}
			if len(c.Args) != 0 || len(tc.args) != 0 {
				if !reflect.DeepEqual(c.Args, tc.args) {
					t.Errorf("Args = %q, want %q", c.Args, tc.args)
				}
			}
			if len(c.Env) != 0 || len(tc.env) != 0 {
				if !reflect.DeepEqual(c.Env, tc.env) {
					t.Errorf("Env = %q, want %q", c.Env, tc.env)
				}
			}
			if len(c.Files) != len(tc.files) {
				t.Fatalf("Files = %+v, want %+v", c.Files, tc.files)
			}
			for i := range c.Files {
				if c.Files[i] != tc.files[i] {
					t.Errorf("Files[%d] = %+v, want %+v", i, c.Files[i], tc.files[i])
				}
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	listen := func(extra ...string) string {
		return tomlLines(append([]string{`[[files]]`, `kind = "listen"`, `prot = "tcp"`}, extra...)...)
	}
	connect := func(extra ...string) string {
		return tomlLines(append([]string{`[[files]]`, `kind = "connect"`, `prot = "tcp"`}, extra...)...)
	}
	for _, tc := range []struct {
		name string
		src  string
		// want is the exact error text; or, if it contains "...", the
		// text before it must start the error and the text after it must
		// be in it. (Type errors come from BurntSushi/toml; their lines are
		// checked by TestParseConfigErrorLines.)
		want string
	}{
		{"unknown top-level key", tomlLines(`args = []`, `bogus = 1`), `cfg.toml:2: unknown key "bogus"`},
		{"unknown table", tomlLines(``, `[steward2]`, `x = 1`), `cfg.toml:2: unknown key "steward2"`},
		{"unknown key in 2nd files entry", tomlLines(
			`[[files]]`,
			`kind = "stdin"`,
			``,
			`[[files]]`,
			`kind = "stdout"`,
			`colour = "red"`,
		), `cfg.toml:6: unknown key "files.colour"`},
		{"args not an array", tomlLines(`# c`, `args = "x"`), `cfg.toml:...args`},
		{"args of numbers", tomlLines(`args = [1]`), `cfg.toml:...args`},
		{"port a string", connect(`host = "a"`, `port = "80"`), `cfg.toml:...port`},
		{"kind a number", tomlLines(`[[files]]`, `kind = 1`), `cfg.toml:...kind`},
		{"env value a number", tomlLines(`[env]`, `A = 1`), `cfg.toml:...env.A`},
		{"steward a number", tomlLines(`steward = 1`), `cfg.toml:...steward`},
		{"syntax: blank key", tomlLines(`args = []`, `steward = "https://a"`, `= 3`), `cfg.toml:3: ...`},
		{"syntax: newline in string", tomlLines(`args = []`, `steward = "https://a`), `cfg.toml:2: strings cannot contain newlines`},
		{"syntax: junk after value", tomlLines(`[[files]]`, `kind = "stdin" junk`, `[[files]]`), `cfg.toml:2: ...`},
		{"syntax: duplicate key", tomlLines(`args = []`, `args = []`), `cfg.toml:2: ...args`},

		{"kind missing", tomlLines(`[[files]]`, `name = "x"`), `cfg.toml:1: files[0]: missing key "kind"`},
		{"kind missing in 2nd entry", tomlLines(`[[files]]`, `kind = "stdin"`, `[[files]]`), `cfg.toml:3: files[1]: missing key "kind"`},
		{"kind unknown", tomlLines(`[[files]]`, `kind = "socket"`), `cfg.toml:1: files[0]: kind "socket" is not one of stdin, stdout, stderr, null, listen, connect`},
		{"kind wrong case", tomlLines(`[[files]]`, `kind = "Stdin"`), `cfg.toml:1: files[0]: kind "Stdin" is not one of stdin, stdout, stderr, null, listen, connect`},

		{"addr on connect", connect(`host = "a"`, `addr = "::"`), `cfg.toml:1: files[0]: key "addr" is not allowed for kind "connect"`},
		{"host on listen", listen(`name = "l"`, `port = 1`, `host = "a"`), `cfg.toml:1: files[0]: key "host" is not allowed for kind "listen"`},
		{"prot on stdin", tomlLines(`[[files]]`, `kind = "stdin"`, `prot = "tcp"`), `cfg.toml:1: files[0]: key "prot" is not allowed for kind "stdin"`},
		{"port on null", tomlLines(`[[files]]`, `kind = "null"`, `port = 1`), `cfg.toml:1: files[0]: key "port" is not allowed for kind "null"`},
		{"host on stdout", tomlLines(`[[files]]`, `kind = "stdout"`, `host = "a"`), `cfg.toml:1: files[0]: key "host" is not allowed for kind "stdout"`},

		{"listen without prot", tomlLines(`[[files]]`, `kind = "listen"`, `name = "l"`, `port = 1`), `cfg.toml:1: files[0]: listen needs "prot" ("tcp" or "tls")`},
		{"connect without prot", tomlLines(`[[files]]`, `kind = "connect"`, `host = "a"`), `cfg.toml:1: files[0]: connect needs "prot" ("tcp" or "tls")`},
		{"prot udp", tomlLines(`[[files]]`, `kind = "connect"`, `prot = "udp"`, `host = "a"`), `cfg.toml:1: files[0]: prot "udp" is not "tcp" or "tls"`},
		{"prot upper case", tomlLines(`[[files]]`, `kind = "listen"`, `prot = "TLS"`, `name = "l"`, `port = 1`), `cfg.toml:1: files[0]: prot "TLS" is not "tcp" or "tls"`},
		{"listen without port", listen(`name = "l"`), `cfg.toml:1: files[0]: listen needs "port"`},
		{"tls_min_version on tcp", listen(`name = "l"`, `port = 1`, `tls_min_version = "1.2"`), `cfg.toml:1: files[0]: "tls_min_version" needs prot = "tls"`},
		{"tls_min_version 1.1", tomlLines(`[[files]]`, `kind = "connect"`, `prot = "tls"`, `host = "h"`, `tls_min_version = "1.1"`), `cfg.toml:1: files[0]: tls_min_version "1.1" is not "1.2" or "1.3"`},
		{"nonblock on stdin", tomlLines(`[[files]]`, `kind = "stdin"`, `nonblock = true`), `cfg.toml:1: files[0]: key "nonblock" is not allowed for kind "stdin"`},
		{"nonblock not a bool", listen(`name = "l"`, `port = 1`, `nonblock = "yes"`), `cfg.toml:...nonblock`},
		{"read_ahead too small", listen(`name = "l"`, `port = 1`, `read_ahead = 4095`), `cfg.toml:1: files[0]: read_ahead 4095 is out of range 4096..16777216 (bytes)`},
		{"read_ahead too large", connect(`host = "a"`, `read_ahead = 16777217`), `cfg.toml:1: files[0]: read_ahead 16777217 is out of range 4096..16777216 (bytes)`},
		{"read_ahead negative", connect(`host = "a"`, `read_ahead = -1`), `cfg.toml:1: files[0]: read_ahead -1 is out of range 4096..16777216 (bytes)`},
		{"read_ahead a string", listen(`name = "l"`, `port = 1`, `read_ahead = "256KiB"`), `cfg.toml:...read_ahead`},
		{"read_ahead on stdin", tomlLines(`[[files]]`, `kind = "stdin"`, `read_ahead = 4096`), `cfg.toml:1: files[0]: key "read_ahead" is not allowed for kind "stdin"`},
		{"listen without name", listen(`port = 1`), `cfg.toml:1: files[0]: listen needs "name"`},
		{"connect without host", connect(`name = "c"`), `cfg.toml:1: files[0]: connect needs "host"`},
		{"connect empty host", connect(`host = ""`), `cfg.toml:1: files[0]: connect needs "host"`},
		{"connect bad host", connect(`host = "bad host!"`), `cfg.toml:1: files[0]: host "bad host!" is not a host name or IP address`},
		{"connect IPv6 host without name", connect(`host = "::1"`), `cfg.toml:1: files[0]: host "::1" contains ':', so "name" must be given`},

		{"listen port 70000", listen(`name = "l"`, `port = 70000`), `cfg.toml:1: files[0]: port 70000 is out of range 0..65535`},
		{"listen port 65536", listen(`name = "l"`, `port = 65536`), `cfg.toml:1: files[0]: port 65536 is out of range 0..65535`},
		{"listen port -1", listen(`name = "l"`, `port = -1`), `cfg.toml:1: files[0]: port -1 is out of range 0..65535`},
		{"connect port 0", connect(`host = "a"`, `port = 0`), `cfg.toml:1: files[0]: port 0 is out of range 1..65535`},
		{"connect port 70000", connect(`host = "a"`, `port = 70000`), `cfg.toml:1: files[0]: port 70000 is out of range 1..65535`},

		{"addr not an IP", listen(`name = "l"`, `port = 1`, `addr = "example.com"`), `cfg.toml:1: files[0]: addr "example.com" is not an IP address`},
		{"addr with port", listen(`name = "l"`, `port = 1`, `addr = "127.0.0.1:80"`), `cfg.toml:1: files[0]: addr "127.0.0.1:80" is not an IP address`},
		{"addr empty", listen(`name = "l"`, `port = 1`, `addr = ""`), `cfg.toml:1: files[0]: addr "" is not an IP address`},

		{"duplicate default names", tomlLines(`[[files]]`, `kind = "stdin"`, `[[files]]`, `kind = "stdin"`), `cfg.toml:3: files[1]: duplicate name "stdin" (also files[0])`},
		{"duplicate explicit names", tomlLines(
			`[[files]]`, `kind = "stdin"`, `name = "x"`,
			`[[files]]`, `kind = "stdout"`,
			`[[files]]`, `kind = "null"`, `name = "x"`,
		), `cfg.toml:6: files[2]: duplicate name "x" (also files[0])`},
		{"explicit name equals a default", tomlLines(`[[files]]`, `kind = "null"`, `name = "stdout"`, `[[files]]`, `kind = "stdout"`), `cfg.toml:4: files[1]: duplicate name "stdout" (also files[0])`},
		{"connect default name equals a listen name", tomlLines(
			`[[files]]`, `kind = "listen"`, `prot = "tcp"`, `name = "db"`, `port = 5432`,
			`[[files]]`, `kind = "connect"`, `prot = "tcp"`, `host = "db"`,
		), `cfg.toml:6: files[1]: duplicate name "db" (also files[0])`},
		{"name with ':'", tomlLines(`[[files]]`, `kind = "stdin"`, `name = "a:b"`), `cfg.toml:1: files[0]: name "a:b" must not contain ':'`},
		{"listen name with ':'", listen(`name = ":"`, `port = 1`), `cfg.toml:1: files[0]: name ":" must not contain ':'`},
		{"empty name", tomlLines(`[[files]]`, `kind = "stdout"`, `name = ""`), `cfg.toml:1: files[0]: name is empty`},

		{"env FD_COUNT", tomlLines(`args = []`, `[env]`, `A = "1"`, `FD_COUNT = "3"`), `cfg.toml:4: env: FD_COUNT is set by Keep from [[files]] and cannot be set here`},
		{"env FD_NAMES dotted", tomlLines(`env.FD_NAMES = "a"`), `cfg.toml:1: env: FD_NAMES is set by Keep from [[files]] and cannot be set here`},
		{"env empty name", tomlLines(`[env]`, `"" = "x"`), `cfg.toml:2: env: empty variable name`},
		{"env NUL in value", tomlLines(`[env]`, `A = "x\u0000"`), `cfg.toml:2: env: value of A contains a NUL byte`},
		{"args NUL", tomlLines(`args = ["ok", "a\u0000b"]`), `cfg.toml:1: args[1]: contains a NUL byte`},

		{"steward http", tomlLines(`args = []`, `steward = "http://attest.example"`), `cfg.toml:2: steward: "http://attest.example" is not an https URL`},
		{"steward no host", tomlLines(`steward = "https://"`), `cfg.toml:1: steward: "https://" is not an https URL`},
		{"steward not a URL", tomlLines(`steward = "attest.example"`), `cfg.toml:1: steward: "attest.example" is not an https URL`},
		{"steward empty", tomlLines(`steward = ""`), `cfg.toml:1: steward: "" is not an https URL`},

		{"too large", strings.Repeat("#", MaxConfigSize+1), `cfg.toml: larger than 1000000 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("cfg.toml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error; parsed %+v", c)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is a %T, want *ConfigError", err, err)
			}
			if c != nil {
				t.Errorf("config %+v returned with an error", c)
			}
			got := err.Error()
			if prefix, rest, ok := strings.Cut(tc.want, "..."); ok {
				if !strings.HasPrefix(got, prefix) || !strings.Contains(got[len(prefix):], rest) {
					t.Errorf("error %q: want the prefix %q and then %q", got, prefix, rest)
				}
				return
			}
			if got != tc.want {
				t.Errorf("error\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestParseConfigErrorLines covers errors whose line Keep should name in
// ConfigError's documented "FILE:LINE: MESSAGE" form.
func TestParseConfigErrorLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		line int
		key  string
	}{
		// A type error is a TOML decode error, not a toml.ParseError.
		{"args a string", tomlLines(`# c`, `args = "x"`), 2, "args"},
		// BurntSushi/toml reports the line of the *last* [[files]] entry
		// that has the key, not of the entry whose value is wrong.
		{"port a string in the 1st of 2 entries", tomlLines(
			`[[files]]`, `kind = "connect"`, `prot = "tcp"`, `host = "a"`, `port = "80"`,
			`[[files]]`, `kind = "connect"`, `prot = "tcp"`, `host = "b"`, `port = 81`,
		), 5, "port"},
		// The locator cannot find a quoted key that contains '='.
		{"env name with '='", tomlLines(`[env]`, `"A=B" = "x"`), 2, "A=B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("cfg.toml", []byte(tc.src))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *ConfigError", err, err)
			}
			prefix := fmt.Sprintf("cfg.toml:%d: ", tc.line)
			if ce.Line != tc.line || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q (Line %d): want Line %d, the prefix %q and a mention of %q", err, ce.Line, tc.line, prefix, tc.key)
			}
		})
	}
}

// TestParseConfigEnvWrongType: `env` must be a table. BurntSushi/toml
// v1.6.0 decodes a non-table into a map as nothing, without an error
// (decode.go unifyMap: `if tmap == nil { return nil }` is always true when
// the type assertion fails), so Keep must check the type itself.
func TestParseConfigEnvWrongType(t *testing.T) {
	for _, src := range []string{
		tomlLines(`env = "x"`),
		tomlLines(`env = 1`),
		tomlLines(`env = ["A=1"]`),
	} {
		c, err := ParseConfig("cfg.toml", []byte(src))
		if err == nil {
			t.Errorf("%q: no error (Env = %v); want an error at line 1 naming env", src, c.Env)
			continue
		}
		if !strings.Contains(err.Error(), "env") {
			t.Errorf("%q: error %q does not name env", src, err)
		}
	}
}

func TestParseConfigMaxSize(t *testing.T) {
	// Exactly MaxConfigSize bytes is allowed.
	src := []byte("[[files]]\nkind = \"stdin\"\n#")
	src = append(src, bytes.Repeat([]byte("x"), MaxConfigSize-len(src))...)
	c, err := ParseConfig("cfg.toml", src)
	if err != nil {
		t.Fatalf("config of exactly %d bytes: %v", len(src), err)
	}
	if len(c.Files) != 1 {
		t.Errorf("Files = %+v", c.Files)
	}

	// LoadConfig reads no more than the limit allows and reports the path.
	dir := t.TempDir()
	p := filepath.Join(dir, "Enarx.toml")
	if err := os.WriteFile(p, append(src, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(p)
	if err == nil || err.Error() != p+": larger than 1000000 bytes" {
		t.Errorf("LoadConfig of %d bytes: %v", len(src)+1, err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "Enarx.toml")
	if err := os.WriteFile(p, []byte(ConfigTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != p || len(c.Files) != 3 {
		t.Errorf("LoadConfig = %+v", c)
	}

	if err := os.WriteFile(p, []byte(tomlLines(`[[files]]`, `kind = "bad"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil || !strings.HasPrefix(err.Error(), p+":1: files[0]: kind \"bad\"") {
		t.Errorf("LoadConfig of a bad config: %v", err)
	}

	_, err = LoadConfig(filepath.Join(dir, "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadConfig of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestConfigErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		err  ConfigError
		want string
	}{
		{ConfigError{Path: "a/Enarx.toml", Line: 7, Msg: "bad"}, "a/Enarx.toml:7: bad"},
		{ConfigError{Path: "a/Enarx.toml", Msg: "bad"}, "a/Enarx.toml: bad"},
		{ConfigError{Line: 3, Msg: "bad"}, "Enarx.toml:3: bad"},
		{ConfigError{Msg: "bad"}, "Enarx.toml: bad"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestFDEnv(t *testing.T) {
	for _, tc := range []struct {
		name        string
		src         string
		count, list string
	}{
		{"template", ConfigTemplate, "3", "stdin:stdout:stderr"},
		{"no files", tomlLines(`args = ["a"]`), "0", ""},
		{"empty", "", "0", ""},
		{"one", tomlLines(`[[files]]`, `kind = "null"`), "1", "null"},
		{"enarx example", tomlLines(
			`[[files]]`, `kind = "stdin"`,
			`[[files]]`, `kind = "stdout"`,
			`[[files]]`, `kind = "stderr"`,
			`[[files]]`, `kind = "listen"`, `prot = "tcp"`, `name = "ingest"`, `port = 8443`,
			`[[files]]`, `kind = "connect"`, `prot = "tls"`, `host = "ping"`,
		), "5", "stdin:stdout:stderr:ingest:ping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("cfg.toml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			want := [][2]string{{"FD_COUNT", tc.count}, {"FD_NAMES", tc.list}}
			if got := c.FDEnv(); !reflect.DeepEqual(got, want) {
				t.Errorf("FDEnv() = %q, want %q", got, want)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	stdio := func(kinds ...string) string {
		var l []string
		for _, k := range kinds {
			l = append(l, `[[files]]`, `kind = "`+k+`"`, `name = "`+k+fmt.Sprint(len(l))+`"`)
		}
		return tomlLines(l...)
	}
	for _, tc := range []struct {
		name string
		src  string
		line int      // 0 for supported
		want []string // text the error must contain
	}{
		{"template", ConfigTemplate, 0, nil},
		{"empty", "", 0, nil},
		{"env and args", tomlLines(`args = ["a"]`, `[env]`, `A = "b"`), 0, nil},
		{"null null null", stdio("null", "null", "null"), 0, nil},
		{"stdin", stdio("stdin"), 0, nil},
		{"swapped outputs", stdio("null", "stderr", "stdout"), 0, nil},
		{"stdout twice", stdio("stdin", "stdout", "stdout"), 0, nil},
		{"listen at fd 1", tomlLines(`[[files]]`, `kind = "stdin"`, `[[files]]`, `kind = "listen"`, `prot = "tls"`, `name = "l"`, `port = 1`), 3,
			[]string{"cfg.toml:3: files[1]: ", "listen", "not supported"}},
		{"connect at fd 0", tomlLines(`[[files]]`, `kind = "connect"`, `prot = "tcp"`, `host = "a"`), 1,
			[]string{"cfg.toml:1: files[0]: ", "connect", "not supported"}},
		{"stdout at fd 0", stdio("stdout"), 1, []string{`cfg.toml:1: files[0]: kind "stdout" at fd 0 is not supported`}},
		{"stdin at fd 1", stdio("null", "stdin"), 4, []string{`cfg.toml:4: files[1]: kind "stdin" at fd 1 is not supported`}},
		{"stdin at fd 2", stdio("stdin", "stdout", "stdin"), 7, []string{`cfg.toml:7: files[2]: kind "stdin" at fd 2 is not supported`}},
		{"null at fd 3", stdio("stdin", "stdout", "stderr", "null"), 10, []string{`cfg.toml:10: files[3]: kind "null" at fd 3 is not supported`}},
		{"stderr at fd 3", stdio("stdin", "stdout", "stderr", "stderr"), 10, []string{`cfg.toml:10: files[3]: kind "stderr" at fd 3 is not supported`}},
		{"stdin at fd 4", stdio("stdin", "stdout", "stderr", "null", "stdin"), 10, []string{`cfg.toml:10: files[3]: kind "null" at fd 3`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("cfg.toml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Unsupported()
			if tc.line == 0 {
				if err != nil {
					t.Errorf("Unsupported() = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Unsupported() = %v (%T), want a *ConfigError", err, err)
			}
			if ce.Line != tc.line {
				t.Errorf("Unsupported() = %q: line %d, want %d", err, ce.Line, tc.line)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Unsupported() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestTemplateIsExample(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "Enarx.toml.example"))
	if err != nil {
		t.Fatal(err)
	}
	if string(example) != ConfigTemplate {
		t.Errorf("../Enarx.toml.example differs from runtime/config_template.toml (ConfigTemplate); copy one onto the other")
	}
	if ConfigTemplate == "" || !strings.HasSuffix(ConfigTemplate, "\n") {
		t.Errorf("ConfigTemplate is empty or lacks a final newline")
	}
}
