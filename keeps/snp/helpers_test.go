package snp_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/faketsm"
	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"
)

// The real report and certificates live in shared/vectors beside the
// repository (read-only, see its README.md).
var vectorsDir = filepath.Join("..", "..", "..", "shared", "vectors")

func vector(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		tb.Fatalf("test vector %s (want shared/vectors beside the repository): %v", name, err)
	}
	return b
}

// Facts about snp/go-sev-guest-attestation.bin (vectors README).
var (
	realNow         = time.Date(2022, 9, 24, 1, 0, 0, 0, time.UTC)
	realMeasurement = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"
	realTCB         = uint64(0x4405000000000002)
)

// Milan's CPUID(1).EAX family/model/stepping, as v3 reports carry it
// (go-sev-guest kds.ProductLineCpuid).
const milanFMS = 0x00a00f10

// testSigner is go-sev-guest's fake AMD key chain (ARK, ASK, VCEK, ASVK,
// VLEK). It is built once: go-sev-guest builds it with a shared
// math/rand source.
var testSigner = sync.OnceValues(func() (*sevtest.AmdSigner, error) {
	return sevtest.DefaultTestOnlyCertChain("Milan-B1", time.Now().Add(-24*time.Hour))
})

func signer(tb testing.TB) *sevtest.AmdSigner {
	tb.Helper()
	s, err := testSigner()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// testRoots are the fake chain's roots, for Verifier.InsecureTestRoots.
func testRoots(tb testing.TB) map[string][]*trust.AMDRootCerts {
	s := signer(tb)
	r := trust.AMDRootCertsProduct("Milan")
	r.ProductCerts = &trust.ProductCerts{Ark: s.Ark, Ask: s.Ask, Asvk: s.Asvk}
	return map[string][]*trust.AMDRootCerts{"Milan": {r}}
}

var testMeasurement = bytes.Repeat([]byte{0x4d}, 48)
var testHostData = bytes.Repeat([]byte{0x48}, 32)

// fakeSP plays the AMD secure processor: it signs a fresh report for the
// requested report data at call time with the fake VCEK (or VLEK), and
// hands out the fake chain's certificate table. go-sev-guest's
// TcQuoteProvider cannot do this: it answers only report data registered
// in advance, and RA-TLS report data hashes a key made at issue time.
type fakeSP struct {
	tb      testing.TB
	version uint32 // 2 or 3
	debug   bool
	vlek    bool
	mutate  func(report []byte) // applied before signing
	table   []byte              // nil: the signer's full table
	noTable bool
}

// report returns a signed report binding rd.
func (p *fakeSP) report(rd [64]byte) []byte {
	p.tb.Helper()
	opts := &sevtest.TestReportOptions{ReportData: rd[:], Version: p.version}
	if p.version >= 3 {
		opts.FMS = milanFMS
	}
	if p.vlek {
		opts.SignerInfo = abi.SignerInfo{SigningKey: abi.VlekReportSigner}
	}
	raw := sevtest.CreateRawReport(opts)
	rep := bytes.Clone(raw[:abi.ReportSize])
	binary.LittleEndian.PutUint64(rep[0x08:0x10], abi.SnpPolicyToBytes(abi.SnpPolicy{SMT: true, Debug: p.debug}))
	copy(rep[0x90:0xC0], testMeasurement)
	copy(rep[0xC0:0xE0], testHostData)
	if p.mutate != nil {
		p.mutate(rep)
	}
	s := signer(p.tb)
	key := s.Keys.Vcek
	if p.vlek {
		key = s.Keys.Vlek
	}
	d := sha512.Sum384(abi.SignedComponent(rep))
	r, ss, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		p.tb.Fatal(err)
	}
	if err := abi.SetSignature(r, ss, rep); err != nil {
		p.tb.Fatal(err)
	}
	return rep
}

func (p *fakeSP) certTable() []byte {
	p.tb.Helper()
	if p.noTable {
		return nil
	}
	if p.table != nil {
		return p.table
	}
	t, err := signer(p.tb).CertTableBytes()
	if err != nil {
		p.tb.Fatal(err)
	}
	return t
}

// IsSupported, GetRawQuote and Product make fakeSP a go-sev-guest
// client.QuoteProvider.
func (p *fakeSP) IsSupported() bool { return true }

func (p *fakeSP) GetRawQuote(rd [64]byte) ([]uint8, error) {
	return append(p.report(rd), p.certTable()...), nil
}

func (p *fakeSP) Product() *spb.SevProduct { return abi.DefaultSevProduct() }

// fakeTSM returns a go-configfs-tsm faketsm client whose report subsystem
// answers as Linux's sev_guest provider: outblob is a report signed for
// the written inblob, auxblob the certificate table. faketsm's own
// subsystems (ReportV7, Report611) only render a text outblob with provider
// "fake", so the attribute reader is replaced; entry handling, generations
// and inblob checks stay faketsm's.
func fakeTSM(p *fakeSP, provider string) configfsi.Client {
	sub := faketsm.ReportV7(0)
	sub.ReadAttr = func(e *faketsm.ReportEntry, attr string) ([]byte, error) {
		switch attr {
		case "provider":
			return []byte(provider + "\n"), nil
		case "auxblob":
			return p.certTable(), nil
		case "outblob":
			in := e.InAttrs["inblob"].Value
			if len(in) == 0 || len(in) > 64 {
				return nil, syscall.EINVAL
			}
			var rd [64]byte
			copy(rd[:], in)
			return p.report(rd), nil
		case "privlevel_floor":
			return []byte("0\n"), nil
		}
		return nil, os.ErrNotExist
	}
	return &faketsm.Client{Subsystems: map[string]configfsi.Client{"report": sub}}
}

// errorsIs reports whether err wraps any of targets.
func errorsIs(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
