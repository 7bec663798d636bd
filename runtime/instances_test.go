package runtime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestParseConfigInstances(t *testing.T) {
	connect := tomlLines(`[[files]]`, `kind = "connect"`, `prot = "tcp"`, `host = "a"`, `port = 80`)
	for _, tc := range []struct {
		name string
		src  string
		want int    // when err is ""
		err  string // the exact error, or "PREFIX...PART"
	}{
		{"unset", "", 1, ""},
		{"one", "instances = 1\n", 1, ""},
		{"four", "# c\ninstances = 4\n", 4, ""},
		{"the most", "instances = 256\n", 256, ""},
		{"one with connect", "instances = 1\n" + connect, 1, ""},
		{"zero", "# c\ninstances = 0\n", 0, "cfg.toml:2: instances = 0: want 1..256"},
		{"negative", "instances = -2\n", 0, "cfg.toml:1: instances = -2: want 1..256"},
		{"too many", "instances = 257\n", 0, "cfg.toml:1: instances = 257: want 1..256"},
		{"huge", "instances = 9223372036854775807\n", 0, "cfg.toml:1: instances = 9223372036854775807: want 1..256"},
		{"a string", "# c\ninstances = \"2\"\n", 0, "cfg.toml:2: ...instances"},
		{"a float", "instances = 2.0\n", 0, "cfg.toml:1: ...instances"},
		{"a table", "[instances]\nn = 2\n", 0, "cfg.toml:...instances"},
		{"with connect", "instances = 2\n" + connect, 0, "cfg.toml:1: instances = 2: files[0] is a connect socket, which one instance only can own; use instances = 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("cfg.toml", []byte(tc.src))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Instances != tc.want {
					t.Fatalf("Instances = %d, want %d", c.Instances, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; Instances = %d", c.Instances)
			}
			got := err.Error()
			if prefix, part, ok := strings.Cut(tc.err, "..."); ok {
				if !strings.HasPrefix(got, prefix) || !strings.Contains(got[len(prefix):], part) {
					t.Fatalf("error %q: want the prefix %q and then %q", got, prefix, part)
				}
				return
			}
			if got != tc.err {
				t.Fatalf("error\n got %q\nwant %q", got, tc.err)
			}
		})
	}
}

// RunConfig.Instances (keep run --instances) overrides the config, within
// the same bounds, and cannot give a connect socket to several instances.
func TestRunConfigInstances(t *testing.T) {
	four, _ := ParseConfig("cfg.toml", []byte("instances = 4\n"))
	conn, _ := ParseConfig("cfg.toml", []byte(tomlLines(`[[files]]`, `kind = "connect"`, `prot = "tcp"`, `host = "a"`, `port = 80`)))
	for _, tc := range []struct {
		name string
		rc   RunConfig
		want int
		err  string
	}{
		{"default", RunConfig{}, 1, ""},
		{"config", RunConfig{Config: four}, 4, ""},
		{"flag", RunConfig{Instances: 3}, 3, ""},
		{"flag over config", RunConfig{Config: four, Instances: 2}, 2, ""},
		{"flag 1 over config", RunConfig{Config: four, Instances: 1}, 1, ""},
		{"negative", RunConfig{Instances: -1}, 0, "instances = -1: want 1..256"},
		{"too many", RunConfig{Instances: 1000}, 0, "instances = 1000: want 1..256"},
		{"connect", RunConfig{Config: conn, Instances: 2}, 0, "instances = 2: files[0] is a connect socket, which one instance only can own; use instances = 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.rc.instances()
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || n != tc.want {
				t.Fatalf("instances() = %d, %v; want %d", n, err, tc.want)
			}
		})
	}
}

// watStdinOrTrap: an instance that reads bytes from stdin sleeps until it
// is stopped; one that reads EOF traps.
var watStdinOrTrap = watModule(`
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 16))
    (call $check (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (i32.eqz (i32.load (i32.const 8))) (then unreachable))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (i64.const 60000000000))
    (loop $l
      (call $check (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)))
      (br $l)))`)

func TestInstancesEnd(t *testing.T) {
	t.Run("trap names its instance and stops the others", func(t *testing.T) {
		// Only instance 0 gets stdin: it sleeps, and instance 1 traps.
		rec := &logRecorder{}
		e := newEngine(t, EngineConfig{Logger: slog.New(rec)})
		m := compile(t, e, "t.wasm", wat(t, watStdinOrTrap))
		_, err := m.Run(context.Background(), RunConfig{Instances: 2, Stdin: strings.NewReader("x")})
		var ie *InstanceError
		var trap *TrapError
		if !errors.As(err, &ie) || ie.Index != 1 || !errors.As(err, &trap) || trap.Reason != "unreachable" {
			t.Fatalf("Run: %v (%T), want instance 1's trap", err, err)
		}
		if err.Error() != "instance 1: trap: unreachable" {
			t.Fatalf("error %q", err)
		}
		if !rec.has("instance 1: trap: unreachable") {
			t.Fatalf("no log line for the trap: %q", rec.msgs)
		}
	})
	t.Run("one instance: errors unwrapped", func(t *testing.T) {
		m := compile(t, newEngine(t, EngineConfig{}), "t.wasm", wat(t, watTrap))
		_, err := m.Run(context.Background(), RunConfig{})
		var ie *InstanceError
		if errors.As(err, &ie) || err == nil || err.Error() != "trap: unreachable" {
			t.Fatalf("Run: %v", err)
		}
	})
	t.Run("non-zero exit is the run's", func(t *testing.T) {
		rec := &logRecorder{}
		m := compile(t, newEngine(t, EngineConfig{Logger: slog.New(rec)}), "t.wasm", wat(t, watExit(3)))
		code, err := m.Run(context.Background(), RunConfig{Instances: 3})
		if err != nil || code != 3 {
			t.Fatalf("Run: %d, %v; want 3", code, err)
		}
		if !rec.has("exited with code 3") {
			t.Fatalf("no log line for the exit: %q", rec.msgs)
		}
	})
	t.Run("all exit 0, each with its own stdio", func(t *testing.T) {
		var out bytes.Buffer
		code, _ := runWAT(t, watStdio, RunConfig{Instances: 3, Stdout: &out, Stderr: &out})
		if code != 0 || strings.Count(out.String(), "one\n") != 3 || strings.Count(out.String(), "two\n") != 3 {
			t.Fatalf("code %d, output %q: want each of 3 instances' lines", code, out.String())
		}
	})
	t.Run("only instance 0 reads stdin", func(t *testing.T) {
		code, out := runWAT(t, watEcho, RunConfig{Instances: 3, Stdin: strings.NewReader("hello")})
		if code != 0 || string(out) != "hello" {
			t.Fatalf("code %d, stdout %q: want stdin echoed once", code, out)
		}
	})
}
