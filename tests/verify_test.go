package tests

import (
	"context"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/netattest"
)

// replayAttester returns one captured quote whatever it is asked to bind:
// all an attacker without a TEE can do.
type replayAttester struct{ quote []byte }

func (replayAttester) TEE() keeps.TEE { return keeps.TEETDX }
func (a replayAttester) Attest(context.Context, keeps.ReportData) (*keeps.Evidence, error) {
	return &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: a.quote}, nil
}

// The forged certificate's parts: a genuine TDX quote with its Intel
// collateral and a time inside the collateral's window (shared/vectors).
const (
	forgedNow  = "2025-07-19T10:00:34Z"
	forgedMRTD = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
)

// forgedSetup writes, in dir, a forged certificate (the genuine quote
// under a fresh key, with claims naming the attacker's module) and a
// policy pinning that module, tee = tdx, the quote's MRTD and the Intel
// collateral. It returns the identity and the policy's path.
func forgedSetup(t *testing.T, dir string) (*netattest.Identity, string) {
	t.Helper()
	quote, err := os.ReadFile(filepath.Join(sharedDir, "vectors", "tdx", "dcap-qvl-tdx_quote"))
	if err != nil {
		t.Fatalf("test vectors (../shared beside the repo): %v", err)
	}
	module := sha512.Sum384([]byte("the attacker's module"))
	id, err := netattest.Issue(context.Background(), replayAttester{quote}, netattest.IssueOptions{ModuleDigest: module[:]})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "forged.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.Certificate.Raw})))
	policy := writeFile(t, dir, "policy.toml", fmt.Sprintf(`tee = ["tdx"]
module_hashes = ["sha384:%s"]
[tdx]
mrtd = [%q]
[collateral]
intel = %q
`, hex.EncodeToString(module[:]), forgedMRTD, filepath.Join(sharedDir, "vectors", "tdx", "dcap-qvl-tdx_quote_collateral.json")))
	return id, policy
}

// verifyJSON is the part of the attestation JSON these tests read.
type verifyJSON struct {
	Verified          bool              `json:"verified"`
	Accepted          bool              `json:"accepted"`
	Reasons           []string          `json:"reasons"`
	NotPinned         []string          `json:"not_pinned"`
	Checks            []netattest.Check `json:"checks"`
	TEE               string            `json:"tee"`
	SignatureVerified bool              `json:"signature_verified"`
	TCBStatus         string            `json:"tcb_status"`
	ModuleHash        string            `json:"module_hash"`
	Measurements      map[string]string `json:"measurements"`
}

// TestVerifyForgedCertificate is the regression test of keep verify
// accepting a forged certificate: a genuine TDX quote (signatures and TCB
// all good) in a certificate under an attacker's key. The report data
// binding fails, and keep verify must refuse, whatever the policy pins,
// for --cert, --json and a live TLS server.
func TestVerifyForgedCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id, policy := forgedSetup(t, dir)
	cert := filepath.Join(dir, "forged.pem")

	// A TLS server presenting the forged certificate.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{id.TLSCertificate()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); io.Copy(io.Discard, c); c.Close() }()
		}
	}()

	for _, target := range [][]string{{"--cert", cert}, {ln.Addr().String()}} {
		t.Run("text "+target[0], func(t *testing.T) {
			r := keep(t, "", nil, append([]string{"verify", "--policy", policy, "--now", forgedNow}, target...)...)
			if r.code != 1 || strings.Contains(r.stdout, "ACCEPTED") || !regexp.MustCompile(`(?m)^policy: +REFUSED: .*report data binding`).MatchString(r.stdout) ||
				!strings.Contains(r.stdout, "FAIL report data binding") || !regexp.MustCompile(`(?m)^verified: +NO$`).MatchString(r.stdout) {
				t.Fatalf("keep verify of a forged certificate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
		// The quote's RTMR3 is all zeros, which an empty event log
		// "replays" to: the log must not be replayed against evidence that
		// failed a check.
		t.Run("event log "+target[0], func(t *testing.T) {
			empty := writeFile(t, t.TempDir(), "rtmr3.log", "")
			r := keep(t, "", nil, append([]string{"verify", "--json", "--policy", policy, "--now", forgedNow, "--event-log", empty}, target...)...)
			var got struct {
				Accepted bool `json:"accepted"`
				EventLog *struct {
					OK    bool   `json:"ok"`
					Error string `json:"error"`
				} `json:"event_log"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 1 || got.Accepted || got.EventLog == nil || got.EventLog.OK || got.EventLog.Error == "" {
				t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
			}
		})
		t.Run("json "+target[0], func(t *testing.T) {
			r := keep(t, "", nil, append([]string{"verify", "--json", "--policy", policy, "--now", forgedNow}, target...)...)
			var got verifyJSON
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 1 {
				t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
			}
			if got.Verified || got.Accepted {
				t.Fatalf("verified %v, accepted %v; want both false:\n%s", got.Verified, got.Accepted, r.stdout)
			}
			last := got.Checks[len(got.Checks)-1]
			if last.Name != "report data binding" || last.OK || !strings.Contains(strings.Join(got.Reasons, "; "), "report data binding") {
				t.Fatalf("checks %+v, reasons %q: want the failed binding named", got.Checks, got.Reasons)
			}
			// Everything but the binding would pass: a genuine,
			// UpToDate quote whose MRTD the policy pins.
			if got.TEE != "tdx" || !got.SignatureVerified || got.TCBStatus != "UpToDate" || got.Measurements["mrtd"] != forgedMRTD {
				t.Fatalf("evidence: %+v", got)
			}
		})
	}
}

// keep verify --cert reads at most 1 MiB + 1 byte of the file: /dev/zero
// and an oversized file are refused with a clear error, not read until
// memory runs out.
func TestVerifyCertSizeLimit(t *testing.T) {
	t.Parallel()
	big := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(big, make([]byte, netattest.MaxCertificateFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"/dev/zero", big} {
		// A hang guard, not synchronisation: the old keep read /dev/zero
		// until it was killed.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := exec.CommandContext(ctx, keepBin, "verify", "--cert", file).CombinedOutput()
		cancel()
		want := fmt.Sprintf("keep: %s: larger than the %d-byte limit\n", file, netattest.MaxCertificateFileSize)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 || string(out) != want {
			t.Errorf("keep verify --cert %s: %v, output %q; want %q", file, err, out, want)
		}
	}
}

// Collateral names are checked wherever policies are loaded, and a
// missing collateral file is an error, never a silently skipped TCB check.
func TestPolicyCollateralErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert := writeFile(t, dir, "c.pem", "") // never read: the policy fails first
	coll := writeFile(t, dir, "coll.json", "{}")
	misspelt := writeFile(t, dir, "misspelt.toml", "[collateral]\nIntel = \"coll.json\"\n")
	missing := writeFile(t, dir, "missing.toml", "[collateral]\nintel = \"nowhere.json\"\n")
	allowed := "want one of intel, snp-vcek, snp-ask-ark"
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"--collateral misspelt", []string{"verify", "--collateral", "intell=" + coll, "--cert", cert}, 2,
			[]string{`--collateral "intell=` + coll + `": unknown collateral name "intell"`, allowed}},
		{"policy [collateral] misspelt", []string{"verify", "--policy", misspelt, "--cert", cert}, 125,
			[]string{misspelt + `: collateral: unknown collateral name "Intel"`, allowed}},
		{"policy collateral file missing", []string{"verify", "--policy", missing, "--cert", cert}, 125,
			[]string{missing + ": collateral intel: ", "nowhere.json: no such file or directory"}},
		{"proxy --collateral misspelt", []string{"proxy", "--policy", missing, "--collateral", "snp=" + coll, "127.0.0.1:0", "127.0.0.1:1"}, 2,
			[]string{`unknown collateral name "snp"`, allowed}},
		{"proxy policy collateral file missing", []string{"proxy", "--policy", missing, "127.0.0.1:0", "127.0.0.1:1"}, 125,
			[]string{"collateral intel: ", "nowhere.json: no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := keep(t, "", nil, tc.args...)
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if r.code != tc.code || len(lines) != 1 || !strings.HasPrefix(lines[0], "keep: ") {
				t.Fatalf("exit %d, want %d and one keep: line; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
		})
	}
}

// Enarx.toml's client_policy and a connect's policy load their policy's
// collateral when the keep starts: a missing collateral file or a
// misspelt name stops keep run with the file named, before the guest runs.
func TestRunPolicyCollateral(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	guest := buildGuest(t, "http")
	writeFile(t, dir, "missing.toml", "allow_simulated = true\n[collateral]\nintel = \"nowhere.json\"\n")
	writeFile(t, dir, "misspelt.toml", "allow_simulated = true\n[collateral]\nsnp_vcek = \"vcek.pem\"\n")
	for _, tc := range []struct {
		name, files, want string
	}{
		{"client_policy, missing file", `
[[files]]
kind = "listen"
prot = "tls"
name = "ingest"
addr = "127.0.0.1"
port = 0
client_auth = "attested"
client_policy = "missing.toml"
`, "nowhere.json: no such file or directory"},
		{"client_policy, misspelt name", `
[[files]]
kind = "listen"
prot = "tls"
name = "ingest"
addr = "127.0.0.1"
port = 0
client_auth = "attested"
client_policy = "misspelt.toml"
`, `unknown collateral name "snp_vcek"`},
		{"connect policy, missing file", `
[[files]]
kind = "connect"
prot = "tls"
name = "peer"
host = "127.0.0.1"
port = 9
policy = "missing.toml"
`, "nowhere.json: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeFile(t, dir, "Enarx.toml", stdio+tc.files)
			// A hang guard, not synchronisation: a keep that ignores the
			// collateral would serve forever.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, keepBin, "run", "--config", cfg, guest).CombinedOutput()
			if ctx.Err() != nil || err == nil || !strings.Contains(string(out), tc.want) || !strings.HasPrefix(string(out), "keep: ") {
				t.Fatalf("keep run: %v (hang guard: %v), output:\n%s\nwant an error containing %q", err, ctx.Err(), out, tc.want)
			}
		})
	}
}
