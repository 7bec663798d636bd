package runtime

import (
	"context"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/keepwasm/keep/caverify"
	"github.com/keepwasm/keep/netattest"
	keepwasi "github.com/keepwasm/keep/wasi"
)

// caContext loads the CA policy named by [ca] and returns a context in
// which the guest's keep.verify_csr verifies requests under it. The
// policy file must have the SHA-384 the config pins.
func (c *Config) caContext(ctx context.Context, log *slog.Logger) (context.Context, error) {
	path := socketPlan{cfg: c}.path(c.CA.Policy)
	cerr := func(format string, a ...any) error {
		return &ConfigError{Path: c.Path, Line: c.CA.line, Msg: fmt.Sprintf(format, a...)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, cerr("ca.policy: %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, netattest.MaxPolicySize+1))
	f.Close()
	if err != nil {
		return nil, cerr("ca.policy: %v", err)
	}
	if got := sha512.Sum384(data); got != c.CA.PolicyHash {
		return nil, cerr("ca.policy: %s has SHA-384 %x, but ca.policy_hash pins %x", path, got, c.CA.PolicyHash)
	}
	policy, err := netattest.ParsePolicy(path, data)
	if err != nil {
		return nil, cerr("ca.policy: %v", err)
	}
	// The policy comes from the exact bytes whose hash was checked; its
	// collateral files are read by NewVerifier, which refuses everything
	// if one cannot be read: that is found out here, at start.
	v := netattest.NewVerifier(policy, netattest.Options{})
	if res, _ := v.Check(ctx, nil); res.Failed() != nil && res.Failed().Name == "policy" {
		return nil, cerr("ca.policy: %s", res.Failed().Detail)
	}
	chk := &caverify.Checker{Policy: v.Policy, Options: v.Options}
	log.Info("CA verifier ready", "policy", path)
	return keepwasi.WithCSRChecker(ctx, func(ctx context.Context, der []byte) []byte {
		v := chk.Check(ctx, der)
		log.Info("keep.verify_csr", "status", v.Status, "reason", v.Reason, "module", v.ModuleHash, "tee", v.TEE)
		b, _ := json.Marshal(v)
		return b
	}), nil
}
