package runtime

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfigCAKeys(t *testing.T) {
	hash := "sha384:" + strings.Repeat("ab", 48)
	tlsListen := "\n[[files]]\nkind = \"stdin\"\n[[files]]\nkind = \"stdout\"\n[[files]]\nkind = \"stderr\"\n[[files]]\nkind = \"listen\"\nprot = \"tls\"\nname = \"l\"\nport = 1\n"
	for _, tc := range []struct {
		name string
		src  string
		err  string // "" for valid
		want func(*Config) bool
	}{
		{"steward defaults", tomlLines(`steward = "https://ca:8443"`) + tlsListen, "", func(c *Config) bool {
			return c.Steward == "https://ca:8443" && c.StewardOpts != nil && c.StewardOpts.Timeout == DefaultStewardTimeout && c.StewardOpts.CA == "" && c.StewardOpts.Policy == ""
		}},
		{"steward with pinned root", tomlLines(`steward = "https://ca:8443"`, `steward_ca = "root.pem"`, `steward_names = ["app.example", "10.0.0.1"]`, `steward_timeout = "5s"`) + tlsListen, "", func(c *Config) bool {
			o := c.StewardOpts
			return o.CA == "root.pem" && len(o.Names) == 2 && o.Timeout == 5*time.Second
		}},
		{"steward with policy", tomlLines(`steward = "https://ca:8443"`, `steward_policy = "ca.toml"`) + tlsListen, "", func(c *Config) bool { return c.StewardOpts.Policy == "ca.toml" }},
		{"ca", tomlLines(`[ca]`, `policy = "p.toml"`, `policy_hash = "`+hash+`"`), "", func(c *Config) bool {
			return c.CA != nil && c.CA.Policy == "p.toml" && c.CA.PolicyHash[0] == 0xab && c.StewardOpts == nil
		}},
		{"no steward, no options", "", "", func(c *Config) bool { return c.StewardOpts == nil && c.CA == nil }},
		{"steward without a tls socket", tomlLines(`args = []`, `steward = "https://ca"`), `cfg.toml:2: steward: the config has no tls listen or connect`, nil},
		{"steward_ca without steward", tomlLines(`args = []`, `steward_ca = "root.pem"`), `cfg.toml:2: steward_ca: needs steward`, nil},
		{"steward_timeout without steward", tomlLines(`steward_timeout = "1s"`), `cfg.toml:1: steward_timeout: needs steward`, nil},
		{"both ways", tomlLines(`steward = "https://ca"`, `steward_ca = "a"`, `steward_policy = "b"`), `cfg.toml:3: steward_policy and steward_ca: give one way`, nil},
		{"empty steward_ca", tomlLines(`steward = "https://ca"`, `steward_ca = ""`), `cfg.toml:2: steward_ca: empty file name`, nil},
		{"bad name", tomlLines(`steward = "https://ca"`, `steward_names = ["a b"]`), `cfg.toml:2: steward_names: "a b" is not a host name`, nil},
		{"bad timeout", tomlLines(`steward = "https://ca"`, `steward_timeout = "soon"`), `cfg.toml:2: steward_timeout: "soon" is not a duration`, nil},
		{"negative timeout", tomlLines(`steward = "https://ca"`, `steward_timeout = "-1s"`), `steward_timeout: "-1s"`, nil},
		{"steward_names not strings", tomlLines(`steward = "https://ca"`, `steward_names = [1]`), `cfg.toml:2:`, nil},
		{"ca without policy", tomlLines(`[ca]`, `policy_hash = "`+hash+`"`), `cfg.toml:1: ca: needs policy`, nil},
		{"ca without hash", tomlLines(`[ca]`, `policy = "p.toml"`), `cfg.toml:1: ca: needs policy_hash`, nil},
		{"ca bad hash", tomlLines(`[ca]`, `policy = "p.toml"`, `policy_hash = "sha256:00"`), `cfg.toml:3: ca.policy_hash: "sha256:00" is not sha384`, nil},
		{"ca unknown key", tomlLines(`[ca]`, `policy = "p.toml"`, `policy_hash = "`+hash+`"`, `key = "k"`), `cfg.toml:4: unknown key "ca.key"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("cfg.toml", []byte(tc.src))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Errorf("config: %+v, steward %+v, ca %+v", c, c.StewardOpts, c.CA)
			}
			if err := c.Unsupported(); err != nil {
				t.Errorf("Unsupported: %v", err)
			}
		})
	}
}
