package snp_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-configfs-tsm/configfs/configfsi"
	"github.com/google/go-configfs-tsm/configfs/faketsm"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/snp"
	"github.com/keepwasm/keep/netattest"
)

func reportData(s string) keeps.ReportData {
	var rd keeps.ReportData
	copy(rd[:], s)
	return rd
}

// TestAttestVerify runs the attester over each fake interface and checks
// the evidence with the verifier under the fake chain's roots, and that
// AMD's real roots refuse it.
func TestAttestVerify(t *testing.T) {
	tests := []struct {
		name string
		att  func(p *fakeSP) *snp.Attester
		sp   fakeSP
	}{
		{"quote provider v3", func(p *fakeSP) *snp.Attester { return &snp.Attester{QuoteProvider: p} }, fakeSP{version: 3}},
		{"quote provider v2", func(p *fakeSP) *snp.Attester { return &snp.Attester{QuoteProvider: p} }, fakeSP{version: 2, debug: true}},
		{"quote provider VLEK", func(p *fakeSP) *snp.Attester { return &snp.Attester{QuoteProvider: p} }, fakeSP{version: 3, vlek: true}},
		{"configfs-tsm v3", func(p *fakeSP) *snp.Attester { return &snp.Attester{TSM: fakeTSM(p, "sev_guest")} }, fakeSP{version: 3}},
		{"configfs-tsm VMPL 2", func(p *fakeSP) *snp.Attester {
			l := uint(2)
			return &snp.Attester{TSM: fakeTSM(p, "sev_guest"), VMPL: &l}
		}, fakeSP{version: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := tt.sp
			sp.tb = t
			a := tt.att(&sp)
			if ok, why := a.Available(); !ok {
				t.Fatalf("Available: %s", why)
			}
			if a.TEE() != keeps.TEESNP {
				t.Errorf("TEE = %q", a.TEE())
			}
			rd := reportData(tt.name)
			ev, err := a.Attest(context.Background(), rd)
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if ev.Tag != keeps.TagSEVSNPReport || len(ev.Data) != snp.ReportSize || len(ev.Endorsements) == 0 {
				t.Fatalf("evidence: tag %#x, %d bytes, %d bytes of endorsements", ev.Tag, len(ev.Data), len(ev.Endorsements))
			}
			v := &snp.Verifier{InsecureTestRoots: testRoots(t)}
			c, err := v.Verify(context.Background(), ev, keeps.VerifyOptions{})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !c.SignatureVerified || c.ReportData != rd || c.Debug != sp.debug ||
				!bytes.Equal(c.Measurements["measurement"], testMeasurement) || !bytes.Equal(c.Measurements["host_data"], testHostData) {
				t.Errorf("claims: verified %v, report data %q, debug %v, measurement %x", c.SignatureVerified, c.ReportData, c.Debug, c.Measurements["measurement"])
			}
			if !strings.Contains(strings.Join(c.Notes, "\n"), "INSECURE") {
				t.Errorf("no INSECURE note: %q", c.Notes)
			}
			if _, err := snp.NewVerifier().Verify(context.Background(), ev, keeps.VerifyOptions{}); !errors.Is(err, snp.ErrVerify) {
				t.Errorf("AMD roots accepted fake evidence: %v", err)
			}
		})
	}
}

func TestAttestErrors(t *testing.T) {
	tests := []struct {
		name string
		att  func(p *fakeSP) *snp.Attester
		sp   fakeSP
		want string
	}{
		{"configfs provider tdx_guest", func(p *fakeSP) *snp.Attester { return &snp.Attester{TSM: fakeTSM(p, "tdx_guest")} }, fakeSP{version: 3}, `provider is "tdx_guest"`},
		{"garbage host table", func(p *fakeSP) *snp.Attester { return &snp.Attester{QuoteProvider: p} }, fakeSP{version: 3, table: []byte("garbage")}, "certificate table"},
		{"report for other data", func(p *fakeSP) *snp.Attester { return &snp.Attester{QuoteProvider: p} },
			fakeSP{version: 3, mutate: func(r []byte) { r[0x50] ^= 1 }}, "does not carry the requested report data"},
		{"malformed report", func(p *fakeSP) *snp.Attester { return &snp.Attester{QuoteProvider: p} },
			fakeSP{version: 3, mutate: func(r []byte) { r[0] = 9 }}, "malformed report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := tt.sp
			sp.tb = t
			_, err := tt.att(&sp).Attest(context.Background(), reportData("x"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Attest: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sp := &fakeSP{tb: t, version: 3}
	if _, err := (&snp.Attester{QuoteProvider: sp}).Attest(ctx, reportData("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestNoHostTable: without a certificate table the evidence has no
// endorsements and needs the VCEK as collateral.
func TestNoHostTable(t *testing.T) {
	sp := &fakeSP{tb: t, version: 3, noTable: true}
	ev, err := (&snp.Attester{TSM: fakeTSM(sp, "sev_guest")}).Attest(context.Background(), reportData("no table"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Endorsements != nil {
		t.Fatalf("endorsements = %d bytes, want none", len(ev.Endorsements))
	}
	v := &snp.Verifier{InsecureTestRoots: testRoots(t)}
	if _, err := v.Verify(context.Background(), ev, keeps.VerifyOptions{}); !errors.Is(err, snp.ErrNoVCEK) ||
		err.Error() != "snp: no VCEK: the certificate carries none; give one or allow the network" {
		t.Errorf("without VCEK: %v", err)
	}
	c, err := v.Verify(context.Background(), ev, keeps.VerifyOptions{Collateral: map[string][]byte{snp.CollateralVCEK: signer(t).Vcek.Raw}})
	if err != nil || !c.SignatureVerified {
		t.Fatalf("with VCEK collateral: %v", err)
	}
}

// TestNetworkFetch: with AllowNetwork and no VCEK, the verifier asks the
// getter for the VCEK at its KDS URL.
func TestNetworkFetch(t *testing.T) {
	sp := &fakeSP{tb: t, version: 3, noTable: true}
	ev, err := (&snp.Attester{QuoteProvider: sp}).Attest(context.Background(), reportData("fetch"))
	if err != nil {
		t.Fatal(err)
	}
	g := &recordingGetter{body: signer(t).Vcek.Raw}
	v := &snp.Verifier{InsecureTestRoots: testRoots(t), Getter: g}
	c, err := v.Verify(context.Background(), ev, keeps.VerifyOptions{
		AllowNetwork: true,
		// The chain, so that only the VCEK is fetched.
		Collateral: map[string][]byte{snp.CollateralASKARK: pemChain(t)},
	})
	if err != nil || !c.SignatureVerified {
		t.Fatalf("Verify: %v", err)
	}
	if len(g.urls) != 1 || !strings.HasPrefix(g.urls[0], "https://kdsintf.amd.com/vcek/v1/Milan/") {
		t.Errorf("fetched %q", g.urls)
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "from AMD KDS") {
		t.Errorf("notes: %q", c.Notes)
	}
}

type recordingGetter struct {
	body []byte
	urls []string
}

func (g *recordingGetter) Get(url string) ([]byte, error) {
	g.urls = append(g.urls, url)
	return g.body, nil
}

func pemChain(t *testing.T) []byte {
	s := signer(t)
	var b bytes.Buffer
	for _, c := range [][]byte{s.Ask.Raw, s.Ark.Raw} {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c})
	}
	return b.Bytes()
}

// TestTCBMismatch: a report stating a TCB its VCEK was not issued for is
// refused even though its signature holds.
func TestTCBMismatch(t *testing.T) {
	sp := &fakeSP{tb: t, version: 3, mutate: func(r []byte) { r[0x180] = 9 }} // REPORTED_TCB bootloader SPL 9
	ev, err := (&snp.Attester{QuoteProvider: sp}).Attest(context.Background(), reportData("tcb"))
	if err != nil {
		t.Fatal(err)
	}
	v := &snp.Verifier{InsecureTestRoots: testRoots(t)}
	if _, err := v.Verify(context.Background(), ev, keeps.VerifyOptions{}); !errors.Is(err, snp.ErrTCBMismatch) {
		t.Errorf("Verify: %v, want ErrTCBMismatch", err)
	}
	sp = &fakeSP{tb: t, version: 3, mutate: func(r []byte) { r[0x1A0] = 1 }} // CHIP_ID not the VCEK's (zero) HWID
	if ev, err = (&snp.Attester{QuoteProvider: sp}).Attest(context.Background(), reportData("chip")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), ev, keeps.VerifyOptions{}); !errors.Is(err, snp.ErrTCBMismatch) {
		t.Errorf("Verify: %v, want ErrTCBMismatch", err)
	}
}

func TestAvailable(t *testing.T) {
	sp := &fakeSP{tb: t, version: 3}
	tests := []struct {
		name   string
		a      *snp.Attester
		ok     bool
		reason string
	}{
		{"fake sev_guest", &snp.Attester{TSM: fakeTSM(sp, "sev_guest")}, true, "sev_guest"},
		{"faketsm's own provider", &snp.Attester{TSM: &faketsm.Client{Subsystems: map[string]configfsi.Client{"report": faketsm.ReportV7(0)}}}, false, `"fake"`},
		{"no report subsystem", &snp.Attester{TSM: &faketsm.Client{}}, false, "configfs-tsm"},
		{"quote provider", &snp.Attester{QuoteProvider: sp}, true, "quote provider"},
	}
	for _, tt := range tests {
		ok, why := tt.a.Available()
		if ok != tt.ok || !strings.Contains(why, tt.reason) {
			t.Errorf("%s: Available() = %v, %q; want %v and %q", tt.name, ok, why, tt.ok, tt.reason)
		}
	}
	// The machine: whatever it has, a "no" comes with reasons for both
	// interfaces.
	if ok, why := snp.Available(); !ok && (!strings.Contains(why, "configfs-tsm") || !strings.Contains(why, "/dev/sev-guest")) {
		t.Errorf("Available() = false, %q", why)
	} else if !ok {
		if _, err := snp.NewAttester(); !errors.Is(err, snp.ErrUnavailable) {
			t.Errorf("NewAttester on a machine without SEV-SNP: %v", err)
		}
	}
}

// TestRATLS issues an RA-TLS certificate from fake hardware with
// netattest.Issue and verifies it with netattest.VerifyCertificate.
func TestRATLS(t *testing.T) {
	ctx := context.Background()
	module := sha512.Sum384([]byte("module"))
	sp := &fakeSP{tb: t, version: 3}
	id, err := netattest.Issue(ctx, &snp.Attester{TSM: fakeTSM(sp, "sev_guest")}, netattest.IssueOptions{ModuleDigest: module[:]})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if id.TEE != keeps.TEESNP {
		t.Errorf("TEE = %q", id.TEE)
	}
	var reg keeps.Registry
	reg.Register(&snp.Verifier{InsecureTestRoots: testRoots(t)})
	r, err := netattest.VerifyCertificate(ctx, id.Certificate, netattest.Options{Registry: &reg})
	if err != nil {
		t.Fatalf("VerifyCertificate: %v (checks %+v)", err, r.Checks)
	}
	if r.Tag != keeps.TagSEVSNPReport || r.Evidence == nil || !r.Evidence.SignatureVerified || r.Evidence.TEE != keeps.TEESNP {
		t.Fatalf("result: %+v", r)
	}

	tests := []struct {
		name   string
		policy netattest.Policy
		ok     bool
		reason string
	}{
		{"default", netattest.Policy{}, true, ""},
		{"measurement pinned", netattest.Policy{SNP: netattest.SNPPolicy{Measurement: []string{hex.EncodeToString(testMeasurement)}}}, true, ""},
		{"wrong measurement", netattest.Policy{SNP: netattest.SNPPolicy{Measurement: []string{strings.Repeat("00", 48)}}}, false, "measurement"},
		{"wrong host data", netattest.Policy{SNP: netattest.SNPPolicy{HostData: []string{strings.Repeat("00", 32)}}}, false, "host_data"},
		{"tdx only", netattest.Policy{TEE: []keeps.TEE{keeps.TEETDX}}, false, "tee list"},
	}
	for _, tt := range tests {
		v := tt.policy.Evaluate(r)
		if v.Accepted != tt.ok || (!tt.ok && !strings.Contains(strings.Join(v.Reasons, ";"), tt.reason)) {
			t.Errorf("%s: accepted %v, reasons %q", tt.name, v.Accepted, v.Reasons)
		}
	}

	// A debug guest is refused unless the policy allows debugging.
	dbg := &fakeSP{tb: t, version: 3, debug: true}
	id2, err := netattest.Issue(ctx, &snp.Attester{QuoteProvider: dbg}, netattest.IssueOptions{ModuleDigest: module[:]})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := netattest.VerifyCertificate(ctx, id2.Certificate, netattest.Options{Registry: &reg})
	if err != nil {
		t.Fatal(err)
	}
	if (&netattest.Policy{}).Evaluate(r2).Accepted || !(&netattest.Policy{AllowDebug: true}).Evaluate(r2).Accepted {
		t.Error("debug policy not applied")
	}

	// AMD's real roots refuse the fake chain.
	var real keeps.Registry
	real.Register(snp.NewVerifier())
	if _, err := netattest.VerifyCertificate(ctx, id.Certificate, netattest.Options{Registry: &real}); err == nil || !strings.Contains(err.Error(), "trusted roots") {
		t.Errorf("AMD roots: %v", err)
	}
}

// TestAttestOverSize: a host table beyond the limit is refused by the
// attester, before it could make an unverifiable certificate.
func TestAttestOverSize(t *testing.T) {
	tbl, err := snp.MarshalCertTable([]snp.CertTableEntry{{GUID: snp.GUIDVCEK, Data: make([]byte, 1000)}})
	if err != nil {
		t.Fatal(err)
	}
	big := append(tbl, make([]byte, snp.MaxEndorsementsSize)...)
	sp := &fakeSP{tb: t, version: 3, table: big}
	_, err = (&snp.Attester{QuoteProvider: sp}).Attest(context.Background(), reportData("big"))
	if !errors.Is(err, snp.ErrEndorsementsTooLarge) {
		t.Errorf("Attest: %v", err)
	}
}
