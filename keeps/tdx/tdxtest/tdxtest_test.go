package tdxtest

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// TestPCKExtensions checks the PCK certificate with go-tdx-guest's own
// parser: the six extensions and the SGX extension's values.
func TestPCKExtensions(t *testing.T) {
	s, err := NewSigner(Options{FMSPC: [6]byte{0xb0, 0xc0, 0x6f}, PCEID: [2]byte{0, 1}, PCESVN: 11, SGXComponents: &[16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := pcs.PckCertificateExtensions(s.PCK)
	if err != nil {
		t.Fatal(err)
	}
	if ext.FMSPC != "b0c06f000000" || ext.PCEID != "0001" || ext.TCB.PCESvn != 11 || len(ext.PPID) != 32 {
		t.Errorf("extensions %+v", ext)
	}
	if got := hex.EncodeToString(ext.TCB.CPUSvnComponents); got != "0102030405060708090a0b0c0d0e0f10" {
		t.Errorf("SGX TCB components %s", got)
	}
	for _, c := range []struct{ cert, cn string }{
		{s.Root.Subject.CommonName, CNRoot}, {s.PlatformCA.Subject.CommonName, CNPlatformCA},
		{s.PCK.Subject.CommonName, CNPCK}, {s.TCBSigning.Subject.CommonName, CNTCBSigning},
	} {
		if c.cert != c.cn {
			t.Errorf("CN %q, want %q", c.cert, c.cn)
		}
	}
}

// TestQuoteLayout checks quotes with go-tdx-guest's parser.
func TestQuoteLayout(t *testing.T) {
	s, err := NewSigner(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd := [64]byte{1, 2, 3, 63: 0xff}
	for _, v := range []uint16{4, 5} {
		s.Version = v
		q, err := s.Quote(rd)
		if err != nil {
			t.Fatal(err)
		}
		pq, err := abi.QuoteToProto(q)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		var gotRD, mrtd []byte
		switch p := pq.(type) {
		case *pb.QuoteV4:
			gotRD, mrtd = p.GetTdQuoteBody().GetReportData(), p.GetTdQuoteBody().GetMrTd()
		case *pb.QuoteV5:
			b := p.GetTdQuoteBodyDescriptor().GetTdQuoteBodyV5()
			gotRD, mrtd = b.GetReportData(), b.GetMrTd()
			if p.GetTdQuoteBodyDescriptor().GetTdQuoteBodyType() != 3 {
				t.Errorf("v5 body type %d", p.GetTdQuoteBodyDescriptor().GetTdQuoteBodyType())
			}
		}
		if string(gotRD) != string(rd[:]) || string(mrtd) != string(s.TD.MRTD[:]) {
			t.Errorf("v%d: report data %x, MRTD %x", v, gotRD, mrtd)
		}
	}
	s.Version = 3
	if _, err := s.Quote(rd); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("version 3: %v", err)
	}
}
