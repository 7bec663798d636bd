package tests

import (
	"encoding/json"
	"strings"
	"testing"
)

// keep platform info lists every backend with a reason; on a machine
// without TEE hardware only sim is available, and --require-tee and
// --backend for missing hardware are refused with the reason.
func TestPlatformAndBackendSelection(t *testing.T) {
	t.Parallel()
	r := keep(t, "", nil, "platform", "info", "--json")
	if r.code != 0 {
		t.Fatalf("platform info: exit %d: %s", r.code, r.stderr)
	}
	var st []struct {
		Name      string
		Hardware  bool
		Available bool
		Reason    string
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	hw := false
	for _, s := range st {
		names[s.Name] = true
		if s.Reason == "" {
			t.Errorf("%s: no reason given", s.Name)
		}
		if s.Name == "sim" && (!s.Available || s.Hardware) {
			t.Errorf("sim: %+v", s)
		}
		hw = hw || (s.Hardware && s.Available)
	}
	for _, n := range []string{"tdx", "snp", "sgx", "sim"} {
		if !names[n] {
			t.Errorf("platform info does not list %s", n)
		}
	}
	if hw {
		t.Skip("this machine has TEE hardware; the refusals below need a machine without")
	}
	hello := buildGuest(t, "hello")
	if r := keep(t, "", nil, "run", "--require-tee", hello); r.code != 125 || !strings.Contains(r.stderr, "no TEE on this machine") {
		t.Fatalf("--require-tee: exit %d, %s", r.code, r.stderr)
	}
	for _, b := range []string{"tdx", "snp", "sgx"} {
		if r := keep(t, "", nil, "run", "--backend", b, hello); r.code != 125 || !strings.Contains(r.stderr, "backend "+b+" is not available") {
			t.Fatalf("--backend %s: exit %d, %s", b, r.code, r.stderr)
		}
	}
	if r := keep(t, "", nil, "run", "--backend", "nope", hello); r.code != 125 || !strings.Contains(r.stderr, `unknown backend "nope"`) {
		t.Fatalf("--backend nope: exit %d, %s", r.code, r.stderr)
	}
	// auto with a TLS listener falls back to sim with a warning line.
	dir := t.TempDir()
	cfg := writeFile(t, dir, "Enarx.toml", listenConfig("tls", ""))
	k := startKeep(t, 1, "--config", cfg, buildGuest(t, "echo"))
	if !strings.Contains(k.stderr.String(), "running on the sim backend") {
		t.Fatalf("no fallback warning:\n%s", k.stderr.String())
	}
}
