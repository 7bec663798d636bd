package tomlerr

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		src      string
		line     int
		contains string
	}{
		{"args = \"x\"\n", 1, `key "args": incompatible types`},
		{"a = 1\n\n[t]\nport = \"80\"\n", 4, `key "t.port": incompatible types`},
		{"a = 1\nb = = 2\n", 2, ""},
	} {
		var v struct {
			Args []string `toml:"args"`
			A    int      `toml:"a"`
			B    int      `toml:"b"`
			T    struct {
				Port int `toml:"port"`
			} `toml:"t"`
		}
		_, err := toml.Decode(tc.src, &v)
		if err == nil {
			t.Fatalf("%q: no error", tc.src)
		}
		line, msg := Split(err)
		if line != tc.line {
			t.Errorf("%q: line %d, want %d (msg %q)", tc.src, line, tc.line, msg)
		}
		if tc.contains != "" && !contains(msg, tc.contains) {
			t.Errorf("%q: msg %q does not contain %q", tc.src, msg, tc.contains)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
