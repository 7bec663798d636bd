package runtime

import (
	"context"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keepwasm/keep/ca"
	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/netattest"
	keepwasi "github.com/keepwasm/keep/wasi"
)

// verifyCSRModule calls keep.verify_csr on the CSR at 1024 (csrLen bytes
// given to the call), with out at outPtr (outLen bytes), and writes the
// 4-byte result.len, then on success the verdict, to stdout; it exits
// with the errno.
func verifyCSRModule(csr []byte, csrLen, outPtr, outLen uint32) string {
	var data strings.Builder
	for _, b := range csr {
		fmt.Fprintf(&data, `\%02x`, b)
	}
	return fmt.Sprintf(`(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "keep" "verify_csr" (func $verify (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "%s")
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (if (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable)))
  (func (export "_start") (local $errno i32)
    (local.set $errno (call $verify (i32.const 1024) (i32.const %d) (i32.const %d) (i32.const %d) (i32.const 16)))
    (call $write (i32.const 1) (i32.const 16) (i32.const 4))
    (if (i32.eqz (local.get $errno)) (then (call $write (i32.const 1) (i32.const %d) (i32.load (i32.const 16)))))
    (call $exit (local.get $errno))))`, data.String(), csrLen, outPtr, outLen, outPtr)
}

// TestVerifyCSRHostFunction: keep.verify_csr answers a CA guest with the
// keep's verdict under the [ca] policy, and with errnos for misuse.
func TestVerifyCSRHostFunction(t *testing.T) {
	dir := t.TempDir()
	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	digest := sha512.Sum384([]byte("module"))
	csr, _, _, err := netattest.NewCertificateRequest(context.Background(), att, netattest.IssueOptions{ModuleDigest: digest[:]})
	if err != nil {
		t.Fatal(err)
	}
	policy := []byte("allow_simulated = true\n")
	if err := os.WriteFile(filepath.Join(dir, "p.toml"), policy, 0o644); err != nil {
		t.Fatal(err)
	}
	ph := sha512.Sum384(policy)
	stdio := "[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"stderr\"\n"
	caCfg, err := ParseConfig(filepath.Join(dir, "Enarx.toml"), []byte(stdio+"[ca]\npolicy = \"p.toml\"\npolicy_hash = \"sha384:"+hex.EncodeToString(ph[:])+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ParseConfig(filepath.Join(dir, "Enarx.toml"), []byte(stdio))
	if err != nil {
		t.Fatal(err)
	}
	n := uint32(len(csr))
	for _, tc := range []struct {
		name          string
		cfg           *Config
		csrLen        uint32
		outPtr        uint32
		outLen        uint32
		errno         uint32
		verdictStatus int
	}{
		{"accepted", caCfg, n, 8192, 4096, 0, 200},
		{"not a CA keep", plain, n, 8192, 4096, 52, 0},
		{"buffer too small", caCfg, n, 8192, 8, 28, 0},
		{"csr too large", caCfg, keepwasi.MaxCSRSize + 1, 8192, 4096, 28, 0},
		{"csr outside memory", caCfg, 65536, 8192, 4096, 21, 0},
		{"out outside memory", caCfg, n, 65530, 4096, 21, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runWAT(t, verifyCSRModule(csr, tc.csrLen, tc.outPtr, tc.outLen), RunConfig{Config: tc.cfg})
			if code != tc.errno {
				t.Fatalf("errno %d, want %d", code, tc.errno)
			}
			if len(out) < 4 {
				t.Fatalf("stdout %q", out)
			}
			resLen := binary.LittleEndian.Uint32(out[:4])
			if tc.name == "buffer too small" && (resLen <= 8 || resLen > ca.MaxVerdictSize) {
				t.Errorf("result.len %d: want the size needed", resLen)
			}
			if tc.verdictStatus == 0 {
				return
			}
			v, err := ca.ParseVerdict(out[4:])
			if err != nil {
				t.Fatal(err)
			}
			r, _ := ca.ParseRequest(csr)
			if v.Status != tc.verdictStatus || v.TEE != "sim" || !v.Simulated || v.ModuleHash != "sha384:"+hex.EncodeToString(digest[:]) || v.SPKISHA256 != ca.SPKIHash(r.CSR.RawSubjectPublicKeyInfo) {
				t.Errorf("verdict %+v", v)
			}
		})
	}

	// A policy file that is not the one the config pins stops the keep.
	if err := os.WriteFile(filepath.Join(dir, "p.toml"), []byte("allow_simulated = true\nallow_debug = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := compile(t, newEngine(t, EngineConfig{}), "test.wasm", wat(t, verifyCSRModule(csr, n, 8192, 4096)))
	if _, err := m.Run(context.Background(), RunConfig{Config: caCfg}); err == nil || !strings.Contains(err.Error(), "but ca.policy_hash pins") {
		t.Fatalf("Run with a changed policy: %v", err)
	}
}
