package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		stopAtFirst bool
		pos         []string
		env         string
		verbose     bool
		timeout     time.Duration
		err         string
	}{
		{name: "flags before", args: []string{"--env", "A=1", "x"}, pos: []string{"x"}, env: "A=1"},
		{name: "flags after", args: []string{"x", "--env", "A=1", "y"}, pos: []string{"x", "y"}, env: "A=1"},
		{name: "equals and one dash", args: []string{"-env=A=1", "x", "-v"}, pos: []string{"x"}, env: "A=1", verbose: true},
		{name: "bool=false", args: []string{"--v=false", "x"}, pos: []string{"x"}},
		{name: "double dash", args: []string{"--env", "A=1", "--", "--v", "x"}, pos: []string{"--v", "x"}, env: "A=1"},
		{name: "stop at first", args: []string{"--v", "m.wasm", "--env", "A=1"}, stopAtFirst: true, pos: []string{"m.wasm", "--env", "A=1"}, verbose: true},
		{name: "stop at first after double dash", args: []string{"--", "m.wasm", "--v"}, stopAtFirst: true, pos: []string{"m.wasm", "--v"}},
		{name: "lone dash is positional", args: []string{"-", "--v"}, pos: []string{"-"}, verbose: true},
		{name: "value that looks like a flag", args: []string{"--env", "--v", "x"}, pos: []string{"x"}, env: "--v"},
		{name: "duration", args: []string{"--timeout", "1m", "x"}, pos: []string{"x"}, timeout: time.Minute},
		{name: "unknown", args: []string{"x", "--nope"}, err: "t: unknown flag --nope"},
		{name: "missing value", args: []string{"--env"}, err: "--env needs a value"},
		{name: "duration without unit", args: []string{"--timeout", "5"}, err: `--timeout "5": add a unit, e.g. 5s`},
		{name: "bad duration", args: []string{"--timeout", "soon"}, err: `--timeout "soon": want a duration`},
		{name: "bad bool", args: []string{"--v=maybe"}, err: "--v=maybe: want true or false"},
		{name: "bad int", args: []string{"--n", "x"}, err: `--n "x": want a number`},
		{name: "triple dash", args: []string{"---v"}, err: "bad flag syntax"},
		{name: "help", args: []string{"x", "--help"}, err: flag.ErrHelp.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			env := fs.String("env", "", "")
			v := fs.Bool("v", false, "")
			timeout := fs.Duration("timeout", 0, "")
			fs.Int("n", 0, "")
			pos, err := parseArgs(fs, tc.args, tc.stopAtFirst)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(pos, "|") != strings.Join(tc.pos, "|") || *env != tc.env || *v != tc.verbose || *timeout != tc.timeout {
				t.Fatalf("pos %q env %q v %v timeout %v; want %q %q %v %v", pos, *env, *v, *timeout, tc.pos, tc.env, tc.verbose, tc.timeout)
			}
		})
	}
}

func TestParseDir(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "data")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in          string
		host, guest string
		ro          bool
		err         string
	}{
		{in: d, host: d, guest: d},
		{in: d + ":ro", host: d, guest: d, ro: true},
		{in: d + ":/g", host: d, guest: "/g"},
		{in: d + ":/g:ro", host: d, guest: "/g", ro: true},
		{in: d + "::/g", host: d, guest: "/g"},
		{in: d + ":/g:rw", err: "want HOST, HOST:GUEST, HOST:GUEST:ro or HOST::GUEST"},
		{in: d + ":", err: "want HOST"},
		{in: ":/g", err: "want HOST"},
		{in: d + "::", err: "want HOST"},
		{in: "::/g", err: "want HOST"},
		{in: d + "::/g:ro", err: "want HOST"},
		{in: d + ":/g:ro:x", err: "want HOST"},
		{in: "", err: "want HOST"},
		{in: filepath.Join(dir, "nope") + ":/g", err: "no such file"},
		{in: file + ":/g", err: "not a directory"},
	} {
		m, err := parseDir(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "--dir ") {
				t.Errorf("parseDir(%q) = %+v, %v; want an error with %q", tc.in, m, err, tc.err)
			}
			continue
		}
		if err != nil || m.Host != tc.host || m.Guest != tc.guest || m.ReadOnly != tc.ro {
			t.Errorf("parseDir(%q) = %+v, %v; want %s %s ro=%v", tc.in, m, err, tc.host, tc.guest, tc.ro)
		}
	}
}

func TestParseEnv(t *testing.T) {
	t.Setenv("KEEP_ARGS_TEST", "from-host")
	got, err := parseEnv([]string{"A=1", "B=", "C=x=y", "KEEP_ARGS_TEST"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"A", "1"}, {"B", ""}, {"C", "x=y"}, {"KEEP_ARGS_TEST", "from-host"}}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	for _, bad := range []string{"=x", "", "KEEP_ARGS_TEST_UNSET"} {
		_, err := parseEnv([]string{bad})
		var ue usageError
		if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "--env ") {
			t.Errorf("parseEnv(%q) = %v, want a usage error naming --env", bad, err)
		}
	}
}

func TestInheritedEnv(t *testing.T) {
	environ := []string{"A=1", "FD_COUNT=9", "B=2", "junk"}
	if got := inheritedEnv(environ, nil); len(got) != 3 {
		t.Errorf("without a config: %q, want A, FD_COUNT, B", got)
	}
}
