package netattest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// LoadVerifier honours a policy file's [collateral] (relative to the
// policy file) and allow_network, lets overrides replace a file by name,
// and refuses unknown names and unreadable files, naming them.
func TestLoadVerifierCollateral(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("intel.json", "intel bytes")
	other := write("other.json", "other bytes")
	policy := write("p.toml", "allow_network = true\n[collateral]\nintel = \"intel.json\"\n")

	v, err := LoadVerifier(policy, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Options.Collateral["intel"]) != "intel bytes" || !v.Options.AllowNetwork {
		t.Fatalf("options %+v: want the policy's collateral read and allow_network on", v.Options)
	}
	v, err = LoadVerifier(policy, Overrides{Collateral: map[string]string{"intel": other}, AllowSimulated: true, Legacy: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Options.Collateral["intel"]) != "other bytes" || !v.Policy.AllowSimulated || !v.Options.Legacy {
		t.Fatalf("overrides not applied: %+v %+v", v.Options, v.Policy)
	}
	// A hand-built policy given to NewVerifier is held to the same rule.
	nv := NewVerifier(&Policy{Collateral: map[string]string{"snp-vcek": other}}, Options{})
	if string(nv.Options.Collateral["snp-vcek"]) != "other bytes" {
		t.Fatalf("NewVerifier did not read the policy's collateral: %+v", nv.Options)
	}

	big := write("big.json", strings.Repeat("x", MaxCollateralSize+1))
	for _, tc := range []struct {
		name   string
		policy string
		o      Overrides
		want   string
	}{
		{"misspelt in the file", write("m.toml", "[collateral]\nIntel = \"intel.json\"\n"), Overrides{}, `unknown collateral name "Intel" (want one of intel, snp-vcek, snp-ask-ark)`},
		{"misspelt override", "", Overrides{Collateral: map[string]string{"intell": other}}, `unknown collateral name "intell"`},
		{"missing file", write("x.toml", "[collateral]\nintel = \"nowhere.json\"\n"), Overrides{}, "collateral intel: " + filepath.Join(dir, "nowhere.json") + ": no such file or directory"},
		{"oversized file", "", Overrides{Collateral: map[string]string{"intel": big}}, "larger than the 1048576-byte limit"},
		{"empty file name", write("e.toml", "[collateral]\nintel = \"\"\n"), Overrides{}, "collateral: intel: empty file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadVerifier(tc.policy, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// NewVerifier cannot return the error: its Verifier refuses everything.
	bad := NewVerifier(&Policy{AllowSimulated: true, Collateral: map[string]string{"intel": filepath.Join(dir, "nowhere.json")}}, Options{})
	id := simIdentity(t, []byte("m"))
	if _, err := bad.Verify(context.Background(), id.Certificate); err == nil || !strings.Contains(err.Error(), "nowhere.json") {
		t.Fatalf("Verify with unreadable collateral: %v", err)
	}
	if res, v := bad.Check(context.Background(), id.Certificate); v.Accepted || res.Verified() {
		t.Fatalf("Check with unreadable collateral accepted: %+v", v)
	}
	// ...whereas the same policy without it accepts the sim certificate.
	if _, err := NewVerifier(&Policy{AllowSimulated: true}, Options{Now: time.Now()}).Verify(context.Background(), id.Certificate); err != nil {
		t.Fatal(err)
	}
}

// NewReport derives verified and accepted from the checks and the verdict.
func TestReportFromChecks(t *testing.T) {
	id := simIdentity(t, []byte("m"))
	res, err := VerifyCertificate(context.Background(), id.Certificate, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lax, strict := &Policy{AllowSimulated: true}, &Policy{}
	for _, tc := range []struct {
		name               string
		res                *Result
		v                  *Verdict
		verified, accepted bool
		reason             string
	}{
		{"accepted", res, lax.Evaluate(res), true, true, ""},
		{"refused by the policy", res, strict.Evaluate(res), true, false, "simulated"},
		{"no verdict", res, nil, true, false, "no policy"},
		{"a verdict for another result", &Result{Checks: res.Checks, Evidence: res.Evidence}, lax.Evaluate(res), false, false, "not made by VerifyCertificate"},
		{"a failed check", &Result{Checks: append(append([]Check{}, res.Checks...), Check{Name: "extra", Detail: "bad"}), attested: res.attested}, lax.Evaluate(res), false, false, "extra: bad"},
		{"nothing", nil, nil, false, false, "not verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReport(id.Certificate, tc.res, tc.v)
			if r.Verified != tc.verified || r.Accepted != tc.accepted || (tc.reason != "" && !strings.Contains(strings.Join(r.Reasons, "; "), tc.reason)) {
				t.Fatalf("report verified=%v accepted=%v reasons=%q; want %v %v %q", r.Verified, r.Accepted, r.Reasons, tc.verified, tc.accepted, tc.reason)
			}
			if r.Reasons == nil || r.NotPinned == nil || r.Checks == nil || r.Measurements == nil {
				t.Fatal("nil list or map in the report (JSON null)")
			}
		})
	}
}

// docs/ATTESTATION-JSON.md documents exactly the fields of Report.
func TestReportDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "ATTESTATION-JSON.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.SplitN(line, "|", 3)[1]
		for _, f := range strings.Split(cell, ",") {
			documented[strings.Trim(strings.TrimSpace(f), "`")] = true
		}
	}
	fields := map[string]bool{}
	rt := reflect.TypeOf(Report{})
	for i := 0; i < rt.NumField(); i++ {
		name := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
		fields[name] = true
		if !documented[name] {
			t.Errorf("Report field %q is not in docs/ATTESTATION-JSON.md", name)
		}
	}
	for name := range documented {
		if !fields[name] {
			t.Errorf("docs/ATTESTATION-JSON.md documents %q, which Report does not have", name)
		}
	}
}
