package snp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-sev-guest/abi"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/snp"
)

// realEvidence is the real Milan report, with its VCEK as collateral.
func realEvidence(tb testing.TB) (*keeps.Evidence, keeps.VerifyOptions) {
	ev := &keeps.Evidence{Tag: keeps.TagSEVSNPReport, Data: vector(tb, "snp/go-sev-guest-attestation.bin")}
	opts := keeps.VerifyOptions{
		Now:        realNow,
		Collateral: map[string][]byte{snp.CollateralVCEK: vector(tb, "snp/go-sev-guest-vcek.testcer")},
	}
	return ev, opts
}

func TestRealReport(t *testing.T) {
	ev, opts := realEvidence(t)
	c, err := snp.NewVerifier().Verify(context.Background(), ev, opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !c.SignatureVerified || c.TEE != keeps.TEESNP || c.Simulated {
		t.Errorf("claims: SignatureVerified=%v TEE=%q Simulated=%v", c.SignatureVerified, c.TEE, c.Simulated)
	}
	if !c.Debug {
		t.Error("Debug = false, want true (policy 0xb0000 allows debugging)")
	}
	var wantRD keeps.ReportData
	copy(wantRD[:], []byte{1, 2, 3, 4, 5})
	if c.ReportData != wantRD {
		t.Errorf("ReportData = %x, want 0102030405 and zeros", c.ReportData)
	}
	if got := hex.EncodeToString(c.Measurements["measurement"]); got != realMeasurement {
		t.Errorf("measurement = %s, want %s", got, realMeasurement)
	}
	if got := c.Measurements["host_data"]; len(got) != 32 || !bytes.Equal(got, make([]byte, 32)) {
		t.Errorf("host_data = %x, want 32 zero bytes", got)
	}
	for _, k := range []string{"current_tcb", "reported_tcb", "committed_tcb", "launch_tcb"} {
		if c.SVNs[k] != realTCB {
			t.Errorf("%s = %#x, want %#x", k, c.SVNs[k], realTCB)
		}
	}
	if c.SVNs["guest_svn"] != 0 || c.SVNs["vmpl"] != 0 || c.SVNs["report_version"] != 2 || c.SVNs["policy"] != 0xb0000 {
		t.Errorf("SVNs = %v", c.SVNs)
	}
	if c.TCBStatus != "" {
		t.Errorf("TCBStatus = %q, want empty", c.TCBStatus)
	}
	notes := strings.Join(c.Notes, "\n")
	for _, want := range []string{"bootloader 2, TEE 0, SNP 5, microcode 68", "firmware 1.49 build 3", "VCEK of a Milan (Milan-B0)",
		`collateral "snp-vcek"`, snp.NoteTCBNotEvaluated, snp.NoteRevocationNotChecked} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "INSECURE") {
		t.Errorf("notes claim test roots:\n%s", notes)
	}
}

func TestRealReportOptions(t *testing.T) {
	pemVCEK := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vector(t, "snp/go-sev-guest-vcek.testcer")})
	tests := []struct {
		name    string
		edit    func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions)
		wantErr error  // nil: passes
		errText string // substring of the error
	}{
		{"PEM VCEK", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			o.Collateral[snp.CollateralVCEK] = pemVCEK
		}, nil, ""},
		{"with ASK/ARK collateral", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			o.Collateral[snp.CollateralASKARK] = vector(t, "snp/go-sev-guest-ask_ark_milan.pem")
		}, nil, ""},
		{"VCEK in the evidence's table", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			tbl, err := snp.MarshalCertTable([]snp.CertTableEntry{{GUID: snp.GUIDVCEK, Data: o.Collateral[snp.CollateralVCEK]}})
			if err != nil {
				t.Fatal(err)
			}
			ev.Endorsements = tbl
			o.Collateral = nil
		}, nil, ""},
		{"explicit Milan-B0", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) { v.V2Product = "Milan-B0" }, nil, ""},
		{"wrong stepping Milan-B1", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) { v.V2Product = "Milan-B1" }, snp.ErrVerify, "stepping"},
		{"wrong product Genoa", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) { v.V2Product = "Genoa" }, snp.ErrVerify, "GENOA"},
		{"unknown product", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) { v.V2Product = "Naples" }, nil, "V2Product"},
		{"before the VCEK", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) { o.Now = realNow.AddDate(0, 0, -1) }, snp.ErrVerify, "VCEK"},
		{"after the VCEK", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) { o.Now = realNow.AddDate(8, 0, 0) }, snp.ErrVerify, "VCEK"},
		{"test roots only", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) { v.InsecureTestRoots = testRoots(t) }, snp.ErrVerify, "trusted roots"},
		{"no VCEK, no network", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) { o.Collateral = nil }, snp.ErrNoVCEK, "give one or allow the network"},
		{"ASK/ARK but no VCEK", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			o.Collateral = map[string][]byte{snp.CollateralASKARK: vector(t, "snp/go-sev-guest-ask_ark_milan.pem")}
		}, snp.ErrNoVCEK, ""},
		{"VCEK is garbage", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			o.Collateral[snp.CollateralVCEK] = []byte("not a certificate")
		}, snp.ErrCollateral, "snp-vcek"},
		{"VCEK is an ASK", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			blk, _ := pem.Decode(vector(t, "snp/go-sev-guest-ask_ark_milan.pem"))
			o.Collateral[snp.CollateralVCEK] = blk.Bytes
		}, snp.ErrVerify, ""},
		{"ASK/ARK garbage", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			o.Collateral[snp.CollateralASKARK] = []byte("-----BEGIN CERTIFICATE-----\n")
		}, snp.ErrCollateral, "snp-ask-ark"},
		{"oversize collateral", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			o.Collateral[snp.CollateralVCEK] = make([]byte, snp.MaxCollateralSize+1)
		}, snp.ErrCollateral, "limit"},
		{"Genoa chain cannot sign it", func(v *snp.Verifier, ev *keeps.Evidence, o *keeps.VerifyOptions) {
			// A Milan VCEK presented as a v3 Genoa report: re-labelled,
			// the signature no longer holds either.
			ev.Data = bytes.Clone(ev.Data)
			binary.LittleEndian.PutUint32(ev.Data[0:4], 3)
			ev.Data[0x188], ev.Data[0x189], ev.Data[0x18A] = 0x19, 0x11, 0x1
		}, snp.ErrVerify, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, opts := realEvidence(t)
			v := snp.NewVerifier()
			tt.edit(v, ev, &opts)
			c, err := v.Verify(context.Background(), ev, opts)
			if tt.wantErr == nil && tt.errText == "" {
				if err != nil || !c.SignatureVerified {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Verify passed, want an error")
			}
			if c != nil {
				t.Error("claims returned with an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q lacks %q", err, tt.errText)
			}
		})
	}
}

// TestRealReportTampered flips every byte of the signed part of the real
// report, and every byte of the signature: none may verify.
func TestRealReportTampered(t *testing.T) {
	ev, opts := realEvidence(t)
	v := snp.NewVerifier()
	stride := 1
	if testing.Short() {
		stride = 7
	}
	sigFailures := 0
	for i := 0; i < snp.ReportSize; i += stride {
		bad := &keeps.Evidence{Tag: ev.Tag, Data: bytes.Clone(ev.Data)}
		bad.Data[i] ^= 0x01
		_, err := v.Verify(context.Background(), bad, opts)
		if err == nil {
			t.Errorf("byte 0x%x flipped: Verify passed", i)
			continue
		}
		if !errorsIs(err, snp.ErrReport, snp.ErrVerify, snp.ErrTCBMismatch) {
			t.Errorf("byte 0x%x flipped: unexpected error %v", i, err)
		}
		if errors.Is(err, snp.ErrVerify) {
			sigFailures++
		}
	}
	// Most flips parse and are caught by the signature check, not by the
	// format checks.
	if sigFailures < snp.ReportSize/stride/2 {
		t.Errorf("only %d flips failed the signature check", sigFailures)
	}
}

func TestBadInput(t *testing.T) {
	real := vector(t, "snp/go-sev-guest-attestation.bin")
	with := func(edit func(b []byte)) []byte { b := bytes.Clone(real); edit(b); return b }
	vcekTable := func(entries ...snp.CertTableEntry) []byte {
		b, err := snp.MarshalCertTable(entries)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	entry := func(guid []byte, off, n uint32) []byte {
		e := make([]byte, 24)
		copy(e, guid)
		binary.LittleEndian.PutUint32(e[16:], off)
		binary.LittleEndian.PutUint32(e[20:], n)
		return e
	}
	guid := bytes.Repeat([]byte{0xab}, 16)
	tests := []struct {
		name         string
		tag          uint64
		data, endors []byte
		want         error
	}{
		{"empty", 0, nil, nil, snp.ErrReportSize},
		{"truncated", 0, real[:snp.ReportSize-1], nil, snp.ErrReportSize},
		{"header only", 0, real[:0x50], nil, snp.ErrReportSize},
		{"one byte too many", 0, append(bytes.Clone(real), 0), nil, snp.ErrReportSize},
		{"report and table concatenated", 0, append(bytes.Clone(real), vcekTable(snp.CertTableEntry{GUID: snp.GUIDVCEK, Data: []byte{1}})...), nil, snp.ErrReportSize},
		{"version 1", 0, with(func(b []byte) { b[0] = 1 }), nil, snp.ErrReport},
		{"version 6", 0, with(func(b []byte) { b[0] = 6 }), nil, snp.ErrReport},
		{"policy reserved bit clear", 0, with(func(b []byte) { b[0x0a] &^= 0x02 }), nil, snp.ErrReport},
		{"signature algorithm 2", 0, with(func(b []byte) { b[0x34] = 2 }), nil, snp.ErrReport},
		{"no signing key", 0, with(func(b []byte) { b[0x48] = 7 << 2 }), nil, snp.ErrReport},
		{"reserved byte set", 0, with(func(b []byte) { b[0x4c] = 1 }), nil, snp.ErrReport},
		{"wrong tag", keeps.TagIntelQuote, real, nil, keeps.ErrUnknownTag},
		{"oversize endorsements", 0, real, make([]byte, snp.MaxEndorsementsSize+1), snp.ErrEndorsementsTooLarge},
		{"garbage table", 0, real, []byte("garbage, not a certificate table"), snp.ErrCertTable},
		{"table without terminator", 0, real, entry(guid, 48, 1), snp.ErrCertTable},
		{"entry past the end", 0, real, append(append(entry(guid, 48, 100), make([]byte, 24)...), 1, 2), snp.ErrCertTable},
		{"entry overflowing uint32", 0, real, append(append(entry(guid, 0xfffffff0, 0x20), make([]byte, 24)...), 1, 2), snp.ErrCertTable},
		{"entry inside the header", 0, real, append(append(entry(guid, 8, 4), make([]byte, 24)...), 1, 2), snp.ErrCertTable},
		{"repeated GUID", 0, real, append(append(append(entry(guid, 72, 1), entry(guid, 72, 1)...), make([]byte, 24)...), 1), snp.ErrCertTable},
		{"too many entries", 0, real, append(bytes.Repeat(entry(guid, 0, 0), snp.MaxCertTableEntries+1), make([]byte, 24)...), snp.ErrCertTable},
		{"table's VCEK is garbage", 0, real, vcekTable(snp.CertTableEntry{GUID: snp.GUIDVCEK, Data: []byte("junk")}), snp.ErrVerify},
	}
	v := snp.NewVerifier()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := tt.tag
			if tag == 0 {
				tag = keeps.TagSEVSNPReport
			}
			opts := keeps.VerifyOptions{Now: realNow, Collateral: map[string][]byte{snp.CollateralVCEK: vector(t, "snp/go-sev-guest-vcek.testcer")}}
			c, err := v.Verify(context.Background(), &keeps.Evidence{Tag: tag, Data: tt.data, Endorsements: tt.endors}, opts)
			if !errors.Is(err, tt.want) || c != nil {
				t.Errorf("Verify = %v, %v; want error %v", c, err, tt.want)
			}
		})
	}
	if _, err := v.Verify(context.Background(), nil, keeps.VerifyOptions{}); err == nil {
		t.Error("nil evidence verified")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev, opts := realEvidence(t)
	if _, err := v.Verify(ctx, ev, opts); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestCertTableRoundTrip(t *testing.T) {
	tbl, err := signer(t).CertTableBytes()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := snp.ParseCertTable(tbl)
	if err != nil {
		t.Fatalf("go-sev-guest's table: %v", err)
	}
	got := map[string]int{}
	for _, e := range entries {
		got[e.GUID] = len(e.Data)
	}
	for _, g := range []string{snp.GUIDVCEK, snp.GUIDVLEK, snp.GUIDASK, snp.GUIDARK, abi.AsvkGUID} {
		if got[g] == 0 {
			t.Errorf("entry %s missing: %v", g, got)
		}
	}
	again, err := snp.MarshalCertTable(entries)
	if err != nil {
		t.Fatal(err)
	}
	// go-sev-guest reads our encoding back.
	var ct abi.CertTable
	if err := ct.Unmarshal(again); err != nil {
		t.Fatal(err)
	}
	vcek, err := ct.GetByGUIDString(snp.GUIDVCEK)
	if err != nil || !bytes.Equal(vcek, signer(t).Vcek.Raw) {
		t.Errorf("VCEK after round trip: %v", err)
	}
	for _, tt := range []struct {
		name string
		in   []byte
		n    int
	}{{"empty", nil, 0}, {"terminator only", make([]byte, 24), 0}, {"terminator and padding", make([]byte, 4096), 0}} {
		e, err := snp.ParseCertTable(tt.in)
		if err != nil || len(e) != tt.n {
			t.Errorf("%s: %d entries, %v", tt.name, len(e), err)
		}
	}
	if _, err := snp.MarshalCertTable([]snp.CertTableEntry{{GUID: "not-a-guid", Data: []byte{1}}}); !errors.Is(err, snp.ErrCertTable) {
		t.Errorf("bad GUID: %v", err)
	}
}

func TestDecomposeTCB(t *testing.T) {
	tests := []struct {
		line string
		tcb  uint64
		want snp.TCB
	}{
		{"Milan", realTCB, snp.TCB{Bootloader: 2, TEE: 0, SNP: 5, Microcode: 68}},
		{"Genoa", 0x1615000000000304, snp.TCB{Bootloader: 4, TEE: 3, SNP: 0x15, Microcode: 0x16}},
		{"Turin", 0x4800000004030201, snp.TCB{FMC: 1, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 0x48}},
	}
	for _, tt := range tests {
		if got := snp.DecomposeTCB(tt.tcb, tt.line); got != tt.want {
			t.Errorf("%s %#x: %+v, want %+v", tt.line, tt.tcb, got, tt.want)
		}
	}
}
