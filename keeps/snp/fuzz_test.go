package snp_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-sev-guest/abi"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/snp"
)

// FuzzParseEvidence feeds arbitrary reports and certificate tables to the
// parsers and the verifier: no panic, certificate tables round-trip, and
// nothing but the real report's signed bytes verifies under its VCEK.
func FuzzParseEvidence(f *testing.F) {
	real := vector(f, "snp/go-sev-guest-attestation.bin")
	vcek := vector(f, "snp/go-sev-guest-vcek.testcer")
	vcekTable, err := snp.MarshalCertTable([]snp.CertTableEntry{{GUID: snp.GUIDVCEK, Data: vcek}})
	if err != nil {
		f.Fatal(err)
	}
	fakeTable, err := signer(f).CertTableBytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real, []byte(nil))
	f.Add(real, vcekTable)
	f.Add(real, fakeTable)
	f.Add(real[:0x2A0], make([]byte, 24))
	f.Add([]byte("garbage"), []byte("garbage"))
	v := snp.NewVerifier()
	opts := keeps.VerifyOptions{Now: realNow, Collateral: map[string][]byte{snp.CollateralVCEK: vcek}}
	f.Fuzz(func(t *testing.T, data, endorsements []byte) {
		if r, err := snp.ParseReport(data); err == nil {
			c := snp.ClaimsFromReport(r, "Milan")
			if !bytes.Equal(c.ReportData[:], data[0x50:0x90]) || c.SignatureVerified {
				t.Fatalf("claims disagree with the report: %+v", c)
			}
		}
		if entries, err := snp.ParseCertTable(endorsements); err == nil {
			again, err := snp.MarshalCertTable(entries)
			if err != nil {
				t.Fatalf("re-encoding a parsed table: %v", err)
			}
			back, err := snp.ParseCertTable(again)
			if err != nil || len(back) != len(entries) {
				t.Fatalf("round trip: %d entries, %v; want %d", len(back), err, len(entries))
			}
			for i := range back {
				if back[i].GUID != entries[i].GUID || !bytes.Equal(back[i].Data, entries[i].Data) {
					t.Fatalf("round trip changed entry %d", i)
				}
			}
			var ct abi.CertTable
			if err := ct.Unmarshal(again); err != nil {
				t.Fatalf("go-sev-guest refuses our encoding: %v", err)
			}
		}
		c, err := v.Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagSEVSNPReport, Data: data, Endorsements: endorsements}, opts)
		if err == nil {
			if !c.SignatureVerified || !bytes.Equal(data[:0x2A0], real[:0x2A0]) {
				t.Fatalf("verified something other than the real report: %x", data)
			}
		}
	})
}
