package ca

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
)

// Verdict is a verifier's decision about one request's evidence, as the
// host function keep.verify_csr returns it (JSON).
type Verdict struct {
	// Status is the HTTP status the CA answers: 200 accepted, 400
	// malformed request or evidence, 401 evidence that does not verify
	// (bad signature, bound to another key, expired collateral), 403
	// verified evidence the policy refuses.
	Status int `json:"status"`
	// Reason says why a request was refused.
	Reason string `json:"reason,omitempty"`
	// SPKISHA256 is the hex SHA-256 of the request's SubjectPublicKeyInfo
	// the verdict is about.
	SPKISHA256 string `json:"spki_sha256"`
	// TEE, Simulated and Debug describe the verified evidence.
	TEE       string `json:"tee,omitempty"`
	Simulated bool   `json:"simulated,omitempty"`
	Debug     bool   `json:"debug,omitempty"`
	// ModuleHash and ConfigHash are the verified claims ("sha384:<hex>"),
	// empty for evidence without them (Enarx's).
	ModuleHash string `json:"module_hash,omitempty"`
	ConfigHash string `json:"config_hash,omitempty"`
}

// Accepted reports whether the verdict accepts the request.
func (v *Verdict) Accepted() bool { return v.Status == http.StatusOK }

// Err returns nil for an accepted verdict, else an error with the status
// and reason.
func (v *Verdict) Err() error {
	if v.Accepted() {
		return nil
	}
	return fmt.Errorf("%d %s: %s", v.Status, http.StatusText(v.Status), v.Reason)
}

// MaxVerdictSize bounds a verdict's JSON.
const MaxVerdictSize = 16 << 10

// ParseVerdict decodes a verdict's JSON strictly.
func ParseVerdict(b []byte) (*Verdict, error) {
	if len(b) > MaxVerdictSize {
		return nil, fmt.Errorf("verdict: %d bytes exceeds the %d-byte limit", len(b), MaxVerdictSize)
	}
	var v Verdict
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("verdict: %v", err)
	}
	switch v.Status {
	case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
	default:
		return nil, fmt.Errorf("verdict: status %d is not 200, 400, 401 or 403", v.Status)
	}
	return &v, nil
}

// Checker verifies a DER request's evidence and applies the CA's policy.
type Checker func(ctx context.Context, der []byte) (*Verdict, error)

// SPKIHash returns the hex SHA-256 of a SubjectPublicKeyInfo, as
// Verdict.SPKISHA256 holds it.
func SPKIHash(spki []byte) string {
	h := sha256.Sum256(spki)
	return hex.EncodeToString(h[:])
}
