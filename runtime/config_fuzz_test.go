package runtime

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseConfig checks that ParseConfig never panics, fails only with a
// *ConfigError, and that every config it accepts satisfies Enarx's schema
// invariants.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		ConfigTemplate,
		"",
		"args = [\"a\", \"b\"]\nsteward = \"https://attest.profian.com\"\n[env]\nA = \"1\"\n",
		"[[files]]\nkind = \"listen\"\nprot = \"tls\"\nname = \"l\"\nport = 0\naddr = \"::1\"\n",
		"[[files]]\nkind = \"connect\"\nprot = \"tcp\"\nhost = \"example.com\"\n[[files]]\nkind = \"connect\"\nprot = \"tls\"\nhost = \"::1\"\nname = \"v6\"\nport = 65535\n",
		"files = [{kind = \"null\"}, {kind = \"stdout\", name = \"out\"}]\n",
		"[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdin\"\n",
		"[[files]]\nkind = \"stdin\"\nname = \"a:b\"\n",
		"[env]\nFD_COUNT = \"1\"\n",
		"[[files]]\nkind = \"connect\"\nprot = \"tcp\"\nhost = \"a\"\nport = \"80\"\n",
		"env = \"x\"\n",
		"[[files]]\nkind = \"null\"\nname = \"\\u0000\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.toml", data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is a %T, want *ConfigError", err, err)
			}
			if c != nil {
				t.Fatalf("config returned with error %v", err)
			}
			if ce.Line < 0 || ce.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("error %q: line %d is outside the input", err, ce.Line)
			}
			return
		}
		names := map[string]int{}
		for i, fl := range c.Files {
			switch fl.Kind {
			case KindStdin, KindStdout, KindStderr, KindNull:
				if fl.Prot != "" || fl.Addr != "" || fl.Host != "" || fl.Port != 0 {
					t.Fatalf("files[%d] %+v: stdio entry with socket fields", i, fl)
				}
			case KindListen:
				if fl.Prot != ProtTCP && fl.Prot != ProtTLS || fl.Addr == "" || fl.Host != "" {
					t.Fatalf("files[%d] %+v: bad listen entry", i, fl)
				}
			case KindConnect:
				if fl.Prot != ProtTCP && fl.Prot != ProtTLS || fl.Host == "" || fl.Addr != "" || fl.Port == 0 {
					t.Fatalf("files[%d] %+v: bad connect entry", i, fl)
				}
			default:
				t.Fatalf("files[%d]: invalid kind %q", i, fl.Kind)
			}
			if fl.Name == "" || strings.ContainsAny(fl.Name, ":\x00") {
				t.Fatalf("files[%d]: invalid name %q", i, fl.Name)
			}
			if j, dup := names[fl.Name]; dup {
				t.Fatalf("files[%d] and files[%d] are both named %q", j, i, fl.Name)
			}
			names[fl.Name] = i
		}
		for k, v := range c.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") || k == "FD_COUNT" || k == "FD_NAMES" {
				t.Fatalf("invalid env %q=%q", k, v)
			}
		}
		for _, a := range c.Args {
			if strings.Contains(a, "\x00") {
				t.Fatalf("arg %q contains NUL", a)
			}
		}
		if c.Steward != "" && !strings.HasPrefix(c.Steward, "https://") {
			t.Fatalf("steward %q is not https", c.Steward)
		}
		env := c.FDEnv()
		if len(env) != 2 || env[0][0] != "FD_COUNT" || env[1][0] != "FD_NAMES" {
			t.Fatalf("FDEnv() = %q", env)
		}
		if env[0][1] != strconv.Itoa(len(c.Files)) {
			t.Fatalf("FD_COUNT = %q with %d files", env[0][1], len(c.Files))
		}
		if len(c.Files) > 0 {
			if got := strings.Split(env[1][1], ":"); len(got) != len(c.Files) {
				t.Fatalf("FD_NAMES = %q has %d names for %d files", env[1][1], len(got), len(c.Files))
			}
		} else if env[1][1] != "" {
			t.Fatalf("FD_NAMES = %q with no files", env[1][1])
		}
		_ = c.Unsupported() // must not panic
	})
}
