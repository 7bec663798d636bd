package intel

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/keepwasm/keep/keeps"
)

func TestVerifierTags(t *testing.T) {
	var r keeps.Registry
	r.Register(NewVerifier())
	v, err := r.Lookup(keeps.TagIntelQuote)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(*Verifier); !ok {
		t.Fatalf("registered %T", v)
	}
	if tags := NewVerifier().Tags(); len(tags) != 1 || tags[0] != 60000 {
		t.Errorf("Tags %v", tags)
	}
}

func TestVerifyRealQuotes(t *testing.T) {
	v := NewVerifier()
	for _, w := range rawQuoteWants {
		t.Run(filepath.Base(w.file), func(t *testing.T) {
			data := readQuoteFile(t, w.file)
			c, err := v.Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: data}, keeps.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if c == nil || c.SignatureVerified || c.Simulated || c.TCBStatus != "" {
				t.Fatalf("claims %+v", c)
			}
			if len(c.Notes) == 0 || c.Notes[0] != NoteNotVerified {
				t.Errorf("notes %q", c.Notes)
			}
			if (len(c.Notes) == 2) != (w.trailing > 0) {
				t.Errorf("notes %q with %d trailing bytes", c.Notes, w.trailing)
			}
			if c.Debug != w.debug {
				t.Errorf("Debug %v", c.Debug)
			}
			if c.SVNs[SVNQE] != uint64(w.qeSVN) {
				t.Errorf("qe_svn %d, want %d", c.SVNs[SVNQE], w.qeSVN)
			}
			switch w.tee {
			case TEETypeSGX:
				s := w.sgx
				if c.TEE != keeps.TEESGX || !bytes.Equal(c.ReportData[:], s.reportData) {
					t.Errorf("TEE %s report data %x", c.TEE, c.ReportData)
				}
				wantM := map[string]string{"mrenclave": s.mrenclave, "mrsigner": s.mrsigner}
				checkMeasurements(t, c, wantM)
				wantS := map[string]uint64{"isv_prod_id": 0, "isv_svn": 0, "config_svn": 0, "qe_svn": uint64(w.qeSVN), "pce_svn": uint64(w.pceSVN)}
				checkSVNs(t, c, wantS)
			case TEETypeTDX:
				d := w.td
				if c.TEE != keeps.TEETDX || !bytes.Equal(c.ReportData[:], d.reportData) {
					t.Errorf("TEE %s report data %x", c.TEE, c.ReportData)
				}
				z := hex.EncodeToString(zero48)
				wantM := map[string]string{"mrtd": d.mrtd, "mrconfigid": d.mrconfigid, "mrowner": z, "mrownerconfig": z}
				if d.mrconfigid == "" {
					wantM["mrconfigid"] = z
				}
				for i, r := range d.rtmr {
					if r == "" {
						r = z
					}
					wantM[fmt.Sprintf("rtmr%d", i)] = r
				}
				checkMeasurements(t, c, wantM)
				checkSVNs(t, c, map[string]uint64{"qe_svn": uint64(w.qeSVN)})
			}
		})
	}
}

func checkMeasurements(t *testing.T, c *keeps.Claims, want map[string]string) {
	t.Helper()
	if len(c.Measurements) != len(want) {
		t.Errorf("measurements %v, want keys of %v", c.Measurements, want)
	}
	for k, w := range want {
		if got := hex.EncodeToString(c.Measurements[k]); got != w {
			t.Errorf("%s = %s, want %s", k, got, w)
		}
	}
}

func checkSVNs(t *testing.T, c *keeps.Claims, want map[string]uint64) {
	t.Helper()
	if len(c.SVNs) != len(want) {
		t.Errorf("SVNs %v, want %v", c.SVNs, want)
	}
	for k, w := range want {
		if got, ok := c.SVNs[k]; !ok || got != w {
			t.Errorf("%s = %d (%v), want %d", k, got, ok, w)
		}
	}
}

func TestVerifyRATLSQuotesDebug(t *testing.T) {
	v := NewVerifier()
	for _, cw := range certWants {
		cert := readCert(t, cw.file)
		for i, cq := range certQuotes(t, cert) {
			c, err := v.Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: cq.quote, Endorsements: []byte{1}}, keeps.VerifyOptions{})
			if err != nil {
				t.Fatalf("%s #%d: %v", cw.file, i, err)
			}
			w := cw.quotes[i]
			if c.Debug != (w.sgx.flags&0x02 != 0) || hex.EncodeToString(c.Measurements["mrenclave"]) != w.sgx.mrenclave ||
				hex.EncodeToString(c.Measurements["mrsigner"]) != w.sgx.mrsigner || c.SVNs["pce_svn"] != uint64(w.pceSVN) {
				t.Errorf("%s #%d: claims %+v", cw.file, i, c)
			}
			if len(c.Notes) != 2 || c.Notes[0] != NoteNotVerified {
				t.Errorf("%s #%d: notes %q", cw.file, i, c.Notes)
			}
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	v := NewVerifier()
	ctx := context.Background()
	good := readQuoteFile(t, sgxFileV3)

	if _, err := v.Verify(ctx, nil, keeps.VerifyOptions{}); err == nil {
		t.Error("nil evidence accepted")
	}
	if c, err := v.Verify(ctx, &keeps.Evidence{Tag: keeps.TagSEVSNPReport, Data: good}, keeps.VerifyOptions{}); !errors.Is(err, keeps.ErrUnknownTag) || c != nil {
		t.Errorf("wrong tag: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := v.Verify(canceled, &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: good}, keeps.VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"version", append([]byte{9, 0}, good[2:]...), ErrUnsupportedVersion},
		{"key type", append([]byte{3, 0, 3, 0}, good[4:]...), ErrUnsupportedKeyType},
		{"too large", make([]byte, MaxQuoteSize+1), ErrTooLarge},
	} {
		claims, err := v.Verify(ctx, &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: c.data}, keeps.VerifyOptions{})
		if !errors.Is(err, c.want) || claims != nil {
			t.Errorf("%s: claims %v, error %v, want %v", c.name, claims, err, c.want)
		}
	}
}

func TestClaimsAreCopies(t *testing.T) {
	q, err := ParseQuote(readQuoteFile(t, tdxFileV4))
	if err != nil {
		t.Fatal(err)
	}
	c := ClaimsFromQuote(q)
	c.Measurements["mrtd"][0] ^= 0xff
	c.Measurements["rtmr0"][0] ^= 0xff
	if c2 := ClaimsFromQuote(q); c2.Measurements["mrtd"][0] == c.Measurements["mrtd"][0] || c2.Measurements["rtmr0"][0] == c.Measurements["rtmr0"][0] {
		t.Error("claims share memory with the quote")
	}
}
