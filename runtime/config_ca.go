package runtime

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Keep's extensions of Enarx.toml for the attestation CA (docs/CA.md),
// kept apart from Enarx's own keys.

// DefaultStewardTimeout is how long a keep keeps asking an unreachable
// CA for its first certificate before it gives up.
const DefaultStewardTimeout = 60 * time.Second

// StewardOptions say how a keep with `steward` reaches its CA.
type StewardOptions struct {
	// CA is a PEM file of root certificates the CA's TLS certificate must
	// chain to (`steward_ca`).
	CA string
	// Policy is an RA-TLS policy the CA keep's certificate must pass
	// (`steward_policy`). Without CA and Policy, the web PKI (the
	// system's roots) checks the CA.
	Policy string
	// Names are the DNS names and IP addresses requested for the leaf
	// (`steward_names`; default localhost, 127.0.0.1, ::1).
	Names []string
	// Timeout bounds the retries for the first certificate at start
	// (`steward_timeout`; default DefaultStewardTimeout).
	Timeout time.Duration
}

// CAOptions make a keep the host of an attestation CA guest: the guest
// may ask keep.verify_csr, which verifies requests under Policy.
type CAOptions struct {
	// Policy is the CA's policy file (`[ca] policy`).
	Policy string
	// PolicyHash is the SHA-384 the policy file must have (`[ca]
	// policy_hash`, "sha384:<hex>"): the config, whose hash the CA keep's
	// RA-TLS certificate carries, pins the policy this way.
	PolicyHash [48]byte
	line       int
}

// rawCAKeys are the raw keys of this file's extensions.
type rawCAKeys struct {
	StewardCA      *string  `toml:"steward_ca"`
	StewardPolicy  *string  `toml:"steward_policy"`
	StewardNames   []string `toml:"steward_names"`
	StewardTimeout *string  `toml:"steward_timeout"`
	CA             *struct {
		Policy     *string `toml:"policy"`
		PolicyHash *string `toml:"policy_hash"`
	} `toml:"ca"`
}

// parseCAKeys validates the extensions into c.
func (c *Config) parseCAKeys(raw rawCAKeys, loc *locator) error {
	cerr := func(key toml.Key, format string, a ...any) error {
		return &ConfigError{Path: c.Path, Line: loc.key(key), Msg: fmt.Sprintf(format, a...)}
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"steward_ca", raw.StewardCA != nil}, {"steward_policy", raw.StewardPolicy != nil}, {"steward_names", raw.StewardNames != nil}, {"steward_timeout", raw.StewardTimeout != nil}} {
		if k.set && c.Steward == "" {
			return cerr(toml.Key{k.key}, "%s: needs steward = \"https://HOST:PORT\"", k.key)
		}
	}
	so := StewardOptions{Timeout: DefaultStewardTimeout}
	if raw.StewardCA != nil {
		if *raw.StewardCA == "" {
			return cerr(toml.Key{"steward_ca"}, "steward_ca: empty file name")
		}
		so.CA = *raw.StewardCA
	}
	if raw.StewardPolicy != nil {
		if *raw.StewardPolicy == "" {
			return cerr(toml.Key{"steward_policy"}, "steward_policy: empty file name")
		}
		if so.CA != "" {
			return cerr(toml.Key{"steward_policy"}, "steward_policy and steward_ca: give one way to check the CA, not both")
		}
		so.Policy = *raw.StewardPolicy
	}
	if raw.StewardNames != nil {
		if len(raw.StewardNames) > 16 {
			return cerr(toml.Key{"steward_names"}, "steward_names: %d names, at most 16", len(raw.StewardNames))
		}
		for _, n := range raw.StewardNames {
			if net.ParseIP(n) == nil && !validHostname(n) {
				return cerr(toml.Key{"steward_names"}, "steward_names: %q is not a host name or IP address", n)
			}
		}
		so.Names = raw.StewardNames
	}
	if raw.StewardTimeout != nil {
		d, err := time.ParseDuration(*raw.StewardTimeout)
		if err != nil || d <= 0 || d > 24*time.Hour {
			return cerr(toml.Key{"steward_timeout"}, "steward_timeout: %q is not a duration between 0 and 24h, such as \"60s\"", *raw.StewardTimeout)
		}
		so.Timeout = d
	}
	if c.Steward != "" {
		c.StewardOpts = &so
	}
	if raw.CA != nil {
		switch {
		case raw.CA.Policy == nil || *raw.CA.Policy == "":
			return cerr(toml.Key{"ca"}, "ca: needs policy = \"FILE\" (the CA's policy)")
		case raw.CA.PolicyHash == nil:
			return cerr(toml.Key{"ca"}, "ca: needs policy_hash = \"sha384:<hex>\" (the SHA-384 of the policy file, so that the config's hash pins the policy)")
		}
		h, ok := strings.CutPrefix(*raw.CA.PolicyHash, "sha384:")
		b, err := hex.DecodeString(h)
		if !ok || err != nil || len(b) != 48 {
			return cerr(toml.Key{"ca", "policy_hash"}, "ca.policy_hash: %q is not sha384:<96 hex digits>", *raw.CA.PolicyHash)
		}
		c.CA = &CAOptions{Policy: *raw.CA.Policy, line: loc.key(toml.Key{"ca", "policy"})}
		copy(c.CA.PolicyHash[:], b)
	}
	return nil
}

// checkSteward refuses a steward that nothing would use: the certificate
// is presented only on tls sockets.
func (c *Config) checkSteward() error {
	if c.Steward != "" && !c.hasTLS() {
		return &ConfigError{Path: c.Path, Line: c.stewardLine, Msg: "steward: the config has no tls listen or connect to present the CA's certificate on (remove the key, or add a socket with prot = \"tls\")"}
	}
	return nil
}
