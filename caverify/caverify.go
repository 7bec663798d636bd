package caverify

import (
	"context"
	"net/http"
	"strings"

	"github.com/keepwasm/keep/ca"
	"github.com/keepwasm/keep/netattest"
)

// Checker verifies requests against one policy. It is safe for concurrent
// use.
type Checker struct {
	// Policy is the CA's policy; nil means the default policy.
	Policy *netattest.Policy
	// Options are the verification options (registry, collateral, time);
	// they must already hold the policy's collateral, as the Options of a
	// netattest.NewVerifier do.
	Options netattest.Options
}

// malformedChecks are the verification steps whose failure means the
// request's bytes are wrong (400) rather than its evidence untrue (401).
var malformedChecks = map[string]bool{"evidence extension": true, "claims": true}

// Check verifies a DER request and applies the policy. It never fails:
// every refusal is a verdict with a status and a reason.
func (c *Checker) Check(ctx context.Context, der []byte) *ca.Verdict {
	req, err := ca.ParseRequest(der)
	if err != nil {
		return &ca.Verdict{Status: http.StatusBadRequest, Reason: err.Error()}
	}
	v := &ca.Verdict{SPKISHA256: ca.SPKIHash(req.CSR.RawSubjectPublicKeyInfo)}
	res, err := netattest.VerifyCertificateRequest(ctx, req.CSR, c.Options)
	if err != nil {
		v.Status, v.Reason = http.StatusUnauthorized, "evidence: "+err.Error()
		if n := len(res.Checks); n > 0 && malformedChecks[res.Checks[n-1].Name] {
			v.Status = http.StatusBadRequest
		}
		return v
	}
	a := res.Attested() // non-nil: verification passed
	if a == nil {
		v.Status, v.Reason = http.StatusUnauthorized, "evidence: not verified"
		return v
	}
	ec := a.Evidence()
	v.TEE, v.Simulated, v.Debug = string(ec.TEE), ec.Simulated, ec.Debug
	if h := a.ModuleHash(); h != nil {
		v.ModuleHash = h.String()
	}
	if h := a.ConfigHash(); h != nil {
		v.ConfigHash = h.String()
	}
	policy := c.Policy
	if policy == nil {
		policy = &netattest.Policy{}
	}
	verdict := policy.EvaluateAttested(a)
	if !verdict.Accepted {
		v.Status, v.Reason = http.StatusForbidden, "policy: "+strings.Join(verdict.Reasons, "; ")
		return v
	}
	v.Status = http.StatusOK
	return v
}

// Func returns c.Check as a ca.Checker, for an in-process ca.Server.
func (c *Checker) Func() ca.Checker {
	return func(ctx context.Context, der []byte) (*ca.Verdict, error) { return c.Check(ctx, der), nil }
}
