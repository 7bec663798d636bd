package main

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/tdx/rtmr"
)

// memRegister emulates an RTMR in memory.
type memRegister struct{ v [rtmr.Size]byte }

func (m *memRegister) Read() ([rtmr.Size]byte, error) { return m.v, nil }
func (m *memRegister) Extend(d [rtmr.Size]byte) error { m.v = rtmr.Extend(m.v, d); return nil }

// checkEventLog replays a log keep run would write against the RTMR3 of a
// verified TDX quote, says which module the TD measured, and refuses a
// value the log does not reach or evidence without a verified RTMR3.
func TestCheckEventLog(t *testing.T) {
	d := sha512.Sum384([]byte("module"))
	module := "sha384:" + hex.EncodeToString(d[:])
	reg := &memRegister{}
	path := filepath.Join(t.TempDir(), "rtmr3.log")
	l := &rtmr.Log{Path: path, Register: reg}
	mod, _ := rtmr.NewEvent(rtmr.DomainKeep, rtmr.OpModule, module)
	cfg, _ := rtmr.NewEvent(rtmr.DomainKeep, rtmr.OpConfig, "none")
	if err := l.Measure(mod, cfg); err != nil {
		t.Fatal(err)
	}
	tdx := func(v [rtmr.Size]byte, verified bool) *keeps.Claims {
		return &keeps.Claims{TEE: "tdx", SignatureVerified: verified, Measurements: map[string][]byte{"rtmr3": v[:]}}
	}
	for _, tc := range []struct {
		name   string
		res    *keeps.Claims
		module string
		ok     bool
		measd  bool
		errSub string
	}{
		{"matches", tdx(reg.v, true), module, true, true, ""},
		{"other module", tdx(reg.v, true), "sha384:00", true, false, ""},
		{"foreign value", tdx(sha512.Sum384([]byte("x")), true), module, false, false, "does not replay"},
		{"unverified", tdx(reg.v, false), module, false, false, "did not verify"},
		{"no rtmr3", &keeps.Claims{TEE: "snp", SignatureVerified: true}, module, false, false, "no RTMR3"},
		{"certificate not verified", nil, module, false, false, "did not verify"},
	} {
		r, err := checkEventLog(path, tc.res, tc.module)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.OK != tc.ok || r.ModuleMeasured != tc.measd || !strings.Contains(r.Error, tc.errSub) {
			t.Errorf("%s: %+v", tc.name, r)
		}
		var out bytes.Buffer
		r.print(&out)
		if tc.ok && (!strings.Contains(out.String(), "  measured:    keep module "+module) || !strings.Contains(out.String(), "from boot")) {
			t.Errorf("%s: printed\n%s", tc.name, out.String())
		}
	}
	if _, err := checkEventLog(filepath.Join(t.TempDir(), "missing"), tdx(reg.v, true), module); err == nil {
		t.Fatal("a missing log was accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.log")
	os.WriteFile(bad, []byte("not json\n"), 0o644)
	if _, err := checkEventLog(bad, tdx(reg.v, true), module); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a bad log: %v", err)
	}
}
