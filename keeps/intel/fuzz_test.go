package intel

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"sort"
	"testing"

	"github.com/keepwasm/keep/keeps"
)

// TestMain caps the fuzzer's input minimization at 250 ms unless
// -test.fuzzminimizetime was given. Go's minimizer tries removing every
// subset of an input's bytes, which is quadratic: on the 5 KB seed quotes
// the default 60 s limit is spent on each newly interesting input, and a
// plain "go test -fuzz FuzzParseQuote" then stalls at 0 execs/s.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.fuzzminimizetime" })
	if !given {
		if err := flag.Set("test.fuzzminimizetime", "250ms"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

var parseErrors = []error{ErrTooLarge, ErrTruncated, ErrUnsupportedVersion, ErrUnsupportedKeyType, ErrUnsupportedTEEType, ErrBadBody, ErrBadSignatureData}

// FuzzParseQuote checks that ParseQuote never panics, fails only with one
// of its errors, and that what it accepts is consistent. Seeded with every
// real quote in shared/vectors.
func FuzzParseQuote(f *testing.F) {
	quotes := allRealQuotes(f)
	names := make([]string, 0, len(quotes))
	for n := range quotes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f.Add(quotes[n])
	}
	f.Add([]byte{})
	f.Add([]byte{5, 0, 2, 0, 0x81, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := ParseQuote(data)
		if err != nil {
			if q != nil {
				t.Fatal("quote and error")
			}
			known := false
			for _, e := range parseErrors {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if !bytes.Equal(q.Raw, data) || len(data) > MaxQuoteSize {
			t.Fatal("Raw differs from the input")
		}
		if len(q.RawSigned)+4+len(q.RawSignatureData)+len(q.Trailing) != len(data) {
			t.Fatal("parts do not add up")
		}
		if !bytes.HasSuffix(q.RawSigned, q.RawBody) || len(q.RawBody) != q.BodyType.Size() {
			t.Fatal("body")
		}
		if (q.SGX == nil) == (q.TD == nil) {
			t.Fatal("want exactly one body")
		}
		cd := q.Signature.Certification
		if (cd.Type == CertDataPCKChain) != (len(cd.PCKChain) > 0) {
			t.Fatal("PCK chain")
		}
		_, _ = cd.Certificates()
		c, err := NewVerifier().Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: data}, keeps.VerifyOptions{})
		if err != nil || c == nil || c.SignatureVerified || c.TEE != q.TEE() || c.ReportData != q.ReportData() {
			t.Fatalf("Verify: %v %+v", err, c)
		}
	})
}
