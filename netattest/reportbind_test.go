package netattest

import (
	"context"
	"testing"
)

// A report says accepted only for the verdict the policy reached on that
// very result: a hand-made Verdict, or one reached on another certificate,
// does not turn a refused certificate into an accepted report, and a
// result is not reported under another certificate.
func TestReportBindsVerdictAndCertificate(t *testing.T) {
	ctx := context.Background()
	policy := &Policy{AllowSimulated: true}
	a, b := simIdentity(t, []byte("module a")), simIdentity(t, []byte("module b"))
	resA, err := VerifyCertificate(ctx, a.Certificate, Options{})
	if err != nil {
		t.Fatal(err)
	}
	resB, err := VerifyCertificate(ctx, b.Certificate, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The default policy refuses A (simulated); a permissive one accepts B.
	refusedA := (&Policy{}).Evaluate(resA)
	acceptedB := policy.Evaluate(resB)
	if refusedA.Accepted || !acceptedB.Accepted {
		t.Fatalf("setup: A accepted=%v B accepted=%v", refusedA.Accepted, acceptedB.Accepted)
	}
	for _, c := range []struct {
		name string
		rep  *Report
	}{
		{"hand-made verdict", NewReport(a.Certificate, resA, &Verdict{Accepted: true})},
		{"another certificate's verdict", NewReport(a.Certificate, resA, acceptedB)},
		{"another certificate's result", NewReport(a.Certificate, resB, acceptedB)},
	} {
		if c.rep.Accepted {
			t.Errorf("%s: report accepted (reasons %q)", c.name, c.rep.Reasons)
		}
	}
	if rep := NewReport(b.Certificate, resB, acceptedB); !rep.Verified || !rep.Accepted {
		t.Fatalf("the genuine report: verified=%v accepted=%v %q", rep.Verified, rep.Accepted, rep.Reasons)
	}
}
