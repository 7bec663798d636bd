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
		{"args = \"x\"\n", 1, `key "args": want an array, found a string`},
		{"a = 1\n\n[t]\nport = \"80\"\n", 4, `key "t.port": want an integer, found a string`},
		{"a = 1\nb = = 2\n", 2, ""},
		{"a = \"x\"\n", 1, `key "a": want an integer, found a string`},
		{"a = 1\nb = 1.5\n", 2, `key "b": want an integer, found a number`},
		{"args = [1]\n", 1, `want a string, found an integer`},
		{"u = 70000\n", 1, `70000 is out of range (0 to 65535)`},
		{"f = \"yes\"\n", 1, `key "f": want true or false, found a string`},
		{"t = 1\n", 1, `key "t": want a table, found an integer`},
	} {
		var v struct {
			Args []string `toml:"args"`
			A    int      `toml:"a"`
			U    uint16   `toml:"u"`
			F    bool     `toml:"f"`
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
		for _, goWord := range []string{"destination", "slice", "int64", "float64", "uint16", "map["} {
			if contains(msg, goWord) {
				t.Errorf("%q: msg %q speaks of Go types (%q)", tc.src, msg, goWord)
			}
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
