package sgx

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/intel"
)

// TestMain caps the fuzzer's input minimization at 250 ms unless
// -test.fuzzminimizetime was given: minimizing a 5 KB quote is quadratic,
// and with the default 60 s a "go test -fuzz" run stalls at 0 execs/s (as
// in keeps/intel).
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

// FuzzVerify checks that Verify never panics, and that whatever it
// accepts is a verified SGX quote. Seeded with real SGX quotes.
func FuzzVerify(f *testing.F) {
	f.Add(readVector(f, "sgx/dcap-qvl-sgx_quote"))
	for _, w := range raTLSWants {
		for _, cq := range certQuotes(f, w.file) {
			f.Add(cq.quote)
		}
	}
	v := NewVerifier()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := v.Verify(context.Background(), &keeps.Evidence{Tag: keeps.TagIntelQuote, Data: data}, keeps.VerifyOptions{Now: quotesNow})
		if err != nil {
			if c != nil {
				t.Fatal("claims and error")
			}
			return
		}
		if !c.SignatureVerified || c.TEE != keeps.TEESGX {
			t.Fatalf("accepted %+v", c)
		}
		q, err := intel.ParseQuote(data)
		if err != nil || CheckAttributes(q.SGX.Attributes) != nil {
			t.Fatalf("accepted a quote that does not parse or has refused attributes: %v", err)
		}
	})
}
