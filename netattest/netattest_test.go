package netattest

import (
	"bytes"
	"context"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/keepwasm/keep/keeps/sim"
)

func simIdentity(t testing.TB, module []byte) *Identity {
	t.Helper()
	att, err := sim.NewAttester()
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384(module)
	id, err := Issue(context.Background(), att, IssueOptions{ModuleDigest: d[:], DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSimIssueVerify(t *testing.T) {
	id := simIdentity(t, []byte("module"))
	res, err := VerifyCertificate(context.Background(), id.Certificate, Options{})
	if err != nil {
		t.Fatalf("verify: %v (checks %+v)", err, res.Checks)
	}
	if !res.Evidence.Simulated || res.Tag != sim.Tag {
		t.Fatalf("evidence = %+v, tag %d", res.Evidence, res.Tag)
	}
	want := sha512.Sum384([]byte("module"))
	if !bytes.Equal(res.Claims.ModuleHash.Hash, want[:]) {
		t.Fatalf("module hash %x, want %x", res.Claims.ModuleHash.Hash, want)
	}

	// The default policy refuses sim evidence, and says why.
	v := (&Policy{}).Evaluate(res)
	if v.Accepted || !strings.Contains(strings.Join(v.Reasons, ";"), "simulated") {
		t.Fatalf("default policy verdict = %+v, want a refusal naming simulated evidence", v)
	}
	// allow_simulated accepts it, and reports the module as not pinned.
	v = (&Policy{AllowSimulated: true}).Evaluate(res)
	if !v.Accepted || !strings.Contains(strings.Join(v.NotPinned, ";"), "no module hash pinned: any module accepted") {
		t.Fatalf("allow_simulated verdict = %+v", v)
	}
	// Pinning the module hash: the right one passes, another refuses.
	mod := "sha384:" + strings.Repeat("ab", 48)
	if v := (&Policy{AllowSimulated: true, ModuleHashes: []string{mod}}).Evaluate(res); v.Accepted {
		t.Fatalf("policy with another module hash accepted: %+v", v)
	}
	if v := (&Policy{AllowSimulated: true, ModuleHashes: []string{res.Claims.ModuleHash.String()}}).Evaluate(res); !v.Accepted {
		t.Fatalf("policy pinning the module refused it: %+v", v)
	}
}

// Flipping any single byte of the evidence extension value, of the claims
// or of the public key makes verification fail.
func TestSimByteFlips(t *testing.T) {
	id := simIdentity(t, []byte("module"))
	der := id.Certificate.Raw
	var ext []byte
	for _, e := range id.Certificate.Extensions {
		if e.Id.Equal(OIDEvidence) {
			ext = e.Value
		}
	}
	te, err := ParseEvidenceExtension(ext)
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string][]byte{
		"evidence extension": ext,
		"claims":             te.Claims,
		"public key":         id.Certificate.RawSubjectPublicKeyInfo,
	}
	for name, region := range regions {
		off := bytes.Index(der, region)
		if off < 0 {
			t.Fatalf("%s not found in the certificate", name)
		}
		for i := range region {
			mut := bytes.Clone(der)
			mut[off+i] ^= 0x01
			cert, err := x509.ParseCertificate(mut)
			if err != nil {
				continue // unparsable is a failure too
			}
			if _, err := VerifyCertificate(context.Background(), cert, Options{}); err == nil {
				t.Fatalf("%s byte %d flipped: verification passed", name, i)
			}
		}
	}
}

// startEchoServer serves TLS with id's certificate on a loopback port,
// echoing what each connection sends, until the test ends; it returns the
// address.
func startEchoServer(t *testing.T, id *Identity) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(id, nil))
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
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestTLSClientServer(t *testing.T) {
	addr := startEchoServer(t, simIdentity(t, []byte("the module")))
	want := sha512.Sum384([]byte("the module"))

	v := NewVerifier(&Policy{AllowSimulated: true, ModuleHashes: []string{"sha384:" + hexs(want[:])}}, Options{})
	conn, err := tls.Dial("tcp", addr, v.ClientConfig(nil))
	if err != nil {
		t.Fatalf("dial with the right module hash: %v", err)
	}
	p, ok := v.Peer(conn.ConnectionState())
	if !ok || !bytes.Equal(p.ModuleHash().Hash, want[:]) {
		t.Fatalf("peer = %+v, %v", p, ok)
	}
	conn.Close()

	other := NewVerifier(&Policy{AllowSimulated: true, ModuleHashes: []string{"sha384:" + strings.Repeat("00", 48)}}, Options{})
	_, err = tls.Dial("tcp", addr, other.ClientConfig(nil))
	if err == nil || !strings.Contains(err.Error(), "module hash") {
		t.Fatalf("dial with another module hash: err = %v, want a module hash refusal", err)
	}
}

func hexs(b []byte) string { return hex.EncodeToString(b) }
