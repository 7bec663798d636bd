package main

import (
	"bytes"
	"crypto/sha512"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keepwasm/keep/runtime"
)

// keep run's RTMR3 step against a fake sysfs directory: without the
// register file (kernel before 6.16) it warns and goes on, writing no log;
// a file that does not extend like an RTMR (a plain file keeps what was
// written) is caught by the read-back and stops the run.
func TestMeasureRTMR3(t *testing.T) {
	dir := t.TempDir()
	old := rtmr3Path
	t.Cleanup(func() { rtmr3Path = old })
	rtmr3Path = filepath.Join(dir, "sys", "rtmr3:sha384")
	var stderr bytes.Buffer
	c := &cli{stderr: &stderr, log: slog.New(slog.DiscardHandler)}
	logPath := filepath.Join(dir, "run", "keep", "rtmr3.log")
	d := runtime.Digest(sha512.Sum384([]byte("module")))

	if err := c.measureRTMR3(logPath, d, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "keep: warning: RTMR3 not extended") || !strings.Contains(stderr.String(), "6.16") {
		t.Fatalf("stderr %q", stderr.String())
	}
	if _, err := os.Stat(logPath); !os.IsNotExist(err) {
		t.Fatalf("a log was written without a register: %v", err)
	}

	os.MkdirAll(filepath.Dir(rtmr3Path), 0o755)
	os.WriteFile(rtmr3Path, make([]byte, 48), 0o600)
	err := c.measureRTMR3(logPath, d, &runtime.Config{})
	if err == nil || !strings.Contains(err.Error(), "RTMR3: register is") {
		t.Fatalf("a register that does not extend: %v", err)
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), `"operation":"module","content":"`+d.String()+`"`) {
		t.Fatalf("log %s", b)
	}
}
