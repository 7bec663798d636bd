package netattest

import (
	"context"
	"crypto/sha512"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keepwasm/keep/keeps"
)

// A forged certificate: a genuine TDX quote, taken from somewhere else, put
// into a fresh certificate under an attacker's key with claims naming the
// attacker's module. Every signature in the quote verifies and its TCB is
// UpToDate under the real Intel collateral; only the report data binding
// fails (the quote's report data is not the hash of these claims).
const (
	forgedQuote      = "tdx/dcap-qvl-tdx_quote"
	forgedCollateral = "tdx/dcap-qvl-tdx_quote_collateral.json"
	forgedMRTD       = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
)

// forgedNow is inside the collateral's validity window (vectors README).
var forgedNow = time.Date(2025, 7, 19, 10, 0, 34, 0, time.UTC)

// replayAttester returns the same captured quote whatever it is asked to
// bind: what an attacker without a TEE can do.
type replayAttester struct{ quote []byte }

func (replayAttester) TEE() keeps.TEE { return keeps.TEETDX }
func (a replayAttester) Attest(context.Context, keeps.ReportData) (*keeps.Evidence, error) {
	return &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: a.quote}, nil
}

func sharedVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "vectors", name))
	if err != nil {
		t.Fatalf("test vectors (../shared beside the repo): %v", err)
	}
	return b
}

// forgedTDX returns the forged identity, the module digest its claims
// name, and a policy that pins that module, tee = tdx, the quote's MRTD and
// the Intel collateral: everything a careful user pins.
func forgedTDX(t testing.TB) (*Identity, *Policy, Options) {
	t.Helper()
	module := sha512.Sum384([]byte("the attacker's module"))
	id, err := Issue(context.Background(), replayAttester{sharedVector(t, forgedQuote)}, IssueOptions{ModuleDigest: module[:], Now: forgedNow})
	if err != nil {
		t.Fatal(err)
	}
	policy := &Policy{
		TEE:          []keeps.TEE{keeps.TEETDX},
		ModuleHashes: []string{"sha384:" + hexs(module[:])},
		TDX:          TDXPolicy{MRTD: []string{forgedMRTD}},
	}
	opts := Options{Now: forgedNow, Collateral: map[string][]byte{"intel": sharedVector(t, forgedCollateral)}}
	return id, policy, opts
}

// TestForgedCertificateRefused is the regression test of a forged
// certificate that the Go API once accepted: VerifyCertificate failed its
// report data binding but left the evidence's claims in the result, and
// Policy.Evaluate judged those claims as if they were verified.
func TestForgedCertificateRefused(t *testing.T) {
	id, policy, opts := forgedTDX(t)

	t.Run("VerifyCertificate then Evaluate", func(t *testing.T) {
		res, err := VerifyCertificate(context.Background(), id.Certificate, opts)
		if err == nil || !strings.Contains(err.Error(), "report data binding") {
			t.Fatalf("VerifyCertificate err = %v, want the report data binding to fail", err)
		}
		// The quote itself is genuine: its checks pass up to the binding.
		if len(res.Checks) == 0 || res.Checks[len(res.Checks)-1].Name != "report data binding" || res.Checks[len(res.Checks)-1].OK {
			t.Fatalf("checks %+v: want the last one, report data binding, failed", res.Checks)
		}
		if res.Verified() || res.Attested() != nil {
			t.Fatal("a result with a failed check says it is verified")
		}
		v := policy.Evaluate(res)
		if v.Accepted || !strings.Contains(strings.Join(v.Reasons, "; "), "report data binding") {
			t.Fatalf("verdict %+v: want refused, naming the failed check", v)
		}
		rep := NewReport(id.Certificate, res, v)
		if rep.Verified || rep.Accepted || len(rep.Reasons) == 0 {
			t.Fatalf("report verified=%v accepted=%v reasons=%q", rep.Verified, rep.Accepted, rep.Reasons)
		}
	})
	t.Run("a zero or hand-made Result", func(t *testing.T) {
		// A caller cannot build a Result that Evaluate accepts.
		res, _ := VerifyCertificate(context.Background(), id.Certificate, opts)
		forged := &Result{Format: res.Format, Tag: res.Tag, Claims: res.Claims, Evidence: res.Evidence, Fingerprint: res.Fingerprint}
		for _, c := range res.Checks {
			c.OK = true
			forged.Checks = append(forged.Checks, c)
		}
		for _, r := range []*Result{nil, {}, forged} {
			if v := policy.Evaluate(r); v.Accepted {
				t.Fatalf("Evaluate(%+v) accepted", r)
			}
		}
	})
	t.Run("Verifier", func(t *testing.T) {
		if p, err := NewVerifier(policy, opts).Verify(context.Background(), id.Certificate); err == nil {
			t.Fatalf("Verifier accepted the forged certificate: %+v", p)
		}
	})
	t.Run("ClientConfig against a live server", func(t *testing.T) {
		addr := startEchoServer(t, id)
		c, err := tls.Dial("tcp", addr, NewVerifier(policy, opts).ClientConfig(nil))
		if err == nil {
			c.Close()
			t.Fatal("handshake with a server presenting the forged certificate succeeded")
		}
		if !strings.Contains(err.Error(), "report data binding") {
			t.Errorf("handshake error %v, want the failed binding named", err)
		}
	})
	t.Run("ServerConfig with attested clients", func(t *testing.T) {
		server := simIdentity(t, []byte("server"))
		ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(server, NewVerifier(policy, opts)))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		errc := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			errc <- c.(*tls.Conn).Handshake()
		}()
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{id.TLSCertificate()}})
		if err == nil {
			c.Read(make([]byte, 1)) // TLS 1.3: the server's refusal arrives after the client's handshake
			c.Close()
		}
		if err := <-errc; err == nil {
			t.Fatal("server accepted a client presenting the forged certificate")
		}
	})
	// The same certificate with the binding intact would be accepted: the
	// refusal above is the binding's doing, not the policy's.
	t.Run("control: the policy accepts the quote's own values", func(t *testing.T) {
		res, _ := VerifyCertificate(context.Background(), id.Certificate, opts)
		if res.Evidence == nil || res.Evidence.TCBStatus != "UpToDate" || !res.Evidence.SignatureVerified {
			t.Fatalf("evidence %+v: want the genuine quote verified, UpToDate", res.Evidence)
		}
	})
}
