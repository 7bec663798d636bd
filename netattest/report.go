package netattest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"time"
)

// Report is the JSON a person or a program reads about one certificate's
// verification: `keep verify --json` prints it and keep proxy serves it at
// /.well-known/keep-attestation. docs/ATTESTATION-JSON.md documents every
// field. Build it with NewReport: Verified and Accepted are derived from
// the checks and the verdict there, never set by hand.
type Report struct {
	// Verified is true when every check passed (the checks list has no
	// failure and Result.Attested is non-nil).
	Verified bool `json:"verified"`
	// Accepted is true when Verified and the policy accepted the
	// certificate: the only value that means "trust this keep".
	Accepted bool `json:"accepted"`
	// Reasons say why the certificate was not accepted: the failed check,
	// or the policy's objections. Empty when accepted.
	Reasons []string `json:"reasons"`
	// NotPinned lists what the policy left open.
	NotPinned []string `json:"not_pinned"`
	// Checks lists each verification step, in order, the failed one last.
	Checks []Check `json:"checks"`

	// The certificate.
	Fingerprint string     `json:"fingerprint"` // "sha256:<hex>" of the DER; "" without a certificate
	Subject     string     `json:"subject,omitempty"`
	NotBefore   *time.Time `json:"not_before,omitempty"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	Format      string     `json:"format,omitempty"`
	Tag         uint64     `json:"tag,omitempty"`

	// Claims: what the certificate says it runs.
	ModuleHash string `json:"module_hash"`
	ConfigHash string `json:"config_hash"`
	// The keep-oci-* claims, when the keep fetched its module from an OCI
	// registry: the reference and the manifest digest it resolved to.
	OCIReference      string `json:"oci_reference,omitempty"`
	OCIManifestDigest string `json:"oci_manifest_digest,omitempty"`

	// Evidence: what the TEE's signed evidence says. When Verified is
	// false these are shown as found, and prove nothing.
	TEE               string            `json:"tee"`
	Simulated         bool              `json:"simulated"`
	Debug             bool              `json:"debug"`
	SignatureVerified bool              `json:"signature_verified"`
	Measurements      map[string]string `json:"measurements"`
	SVNs              map[string]uint64 `json:"svns,omitempty"`
	TCBStatus         string            `json:"tcb_status"`
	Advisories        []string          `json:"advisories,omitempty"`
	Notes             []string          `json:"notes,omitempty"`

	// Set by keep proxy only.
	Keep       string     `json:"keep,omitempty"`        // the keep's address
	VerifiedAt *time.Time `json:"verified_at,omitempty"` // when it was verified (or found unreachable), whole seconds UTC
}

// NewReport builds the report of cert's verification result res and the
// policy's verdict v (from Policy.Evaluate(res)). cert may be nil (no
// certificate was received); res and v may be nil (nothing was verified):
// the report is then neither verified nor accepted.
func NewReport(cert *x509.Certificate, res *Result, v *Verdict) *Report {
	r := &Report{
		Reasons:      []string{},
		NotPinned:    []string{},
		Checks:       []Check{},
		Measurements: map[string]string{},
	}
	if cert != nil {
		nb, na := cert.NotBefore.UTC(), cert.NotAfter.UTC()
		r.Subject, r.NotBefore, r.NotAfter = cert.Subject.String(), &nb, &na
	}
	if res != nil {
		r.Checks = append(r.Checks, res.Checks...)
		r.Format, r.Tag = res.Format, res.Tag
		if cert != nil || res.Fingerprint != ([32]byte{}) {
			r.Fingerprint = "sha256:" + hex.EncodeToString(res.Fingerprint[:])
		}
		if cl := res.Claims; cl != nil {
			if cl.ModuleHash != nil {
				r.ModuleHash = cl.ModuleHash.String()
			}
			if cl.ConfigHash != nil {
				r.ConfigHash = cl.ConfigHash.String()
			}
			if o := cl.OCI; o != nil {
				r.OCIReference, r.OCIManifestDigest = o.Reference, o.ManifestDigest.String()
			}
		}
		if ec := res.Evidence; ec != nil {
			r.TEE, r.Simulated, r.Debug, r.SignatureVerified = string(ec.TEE), ec.Simulated, ec.Debug, ec.SignatureVerified
			r.TCBStatus, r.SVNs = ec.TCBStatus, ec.SVNs
			r.Advisories, r.Notes = append([]string(nil), ec.Advisories...), append([]string(nil), ec.Notes...)
			for k, m := range ec.Measurements {
				r.Measurements[k] = hex.EncodeToString(m)
			}
		}
	}
	// verified comes from the checks list (and the Attested that only a
	// fully passed verification has); accepted needs it too.
	r.Verified = res.Failed() == nil && res.Attested() != nil
	mismatch := cert != nil && res != nil && sha256.Sum256(cert.Raw) != res.Fingerprint
	if mismatch {
		r.Verified = false
	}
	if !r.Verified {
		if f := res.Failed(); f != nil {
			r.Reasons = append(r.Reasons, "certificate verification failed: "+f.Name+": "+f.Detail)
		} else if mismatch && res.Attested() != nil {
			r.Reasons = append(r.Reasons, "certificate verification failed: the result is not this certificate's")
		} else {
			r.Reasons = append(r.Reasons, "certificate verification failed: the result was not made by VerifyCertificate")
		}
	}
	if v != nil {
		r.NotPinned = append(r.NotPinned, v.NotPinned...)
		if r.Verified {
			r.Reasons = append(r.Reasons, v.Reasons...)
			// Only the verdict reached on this result's Attested
			// counts: not a hand-made one, nor one on another
			// certificate.
			r.Accepted = v.Accepted && len(v.Reasons) == 0 && v.of != nil && v.of == res.Attested()
			if v.Accepted && !r.Accepted {
				r.Reasons = append(r.Reasons, "the verdict was not reached on this certificate's verification")
			}
		}
	}
	if r.Verified && v == nil {
		r.Reasons = append(r.Reasons, "no policy was applied")
	}
	return r
}

// Unreachable returns the report of a keep whose certificate could not be
// obtained: neither verified nor accepted, with the reason.
func Unreachable(reason string) *Report {
	r := NewReport(nil, nil, nil)
	r.Reasons = []string{reason}
	return r
}
