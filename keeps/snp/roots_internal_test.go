package snp

import (
	"strings"
	"testing"
)

// TestAMDRoots: every embedded product line has its ARK, ASK and ASVK,
// the intermediates signed by the ARK.
func TestAMDRoots(t *testing.T) {
	roots, err := amdRoots()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Milan", "Genoa", "Turin"} {
		rs := roots[line]
		if len(rs) != 1 || rs[0].ProductCerts == nil {
			t.Fatalf("%s: %d roots", line, len(rs))
		}
		pc := rs[0].ProductCerts
		if pc.Ark.Subject.CommonName != "ARK-"+line || pc.Ask.Subject.CommonName != "SEV-"+line ||
			!strings.HasPrefix(pc.Asvk.Subject.CommonName, "SEV-VLEK-"+line) {
			t.Errorf("%s: ARK %q, ASK %q, ASVK %q", line, pc.Ark.Subject.CommonName, pc.Ask.Subject.CommonName, pc.Asvk.Subject.CommonName)
		}
		for _, ica := range []struct {
			name string
			err  error
		}{{"ASK", pc.Ask.CheckSignatureFrom(pc.Ark)}, {"ASVK", pc.Asvk.CheckSignatureFrom(pc.Ark)}} {
			if ica.err != nil {
				t.Errorf("%s %s: %v", line, ica.name, ica.err)
			}
		}
	}
}
