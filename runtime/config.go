package runtime

import (
	"crypto/sha512"
	"crypto/tls"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/keepwasm/keep/internal/tomlerr"
	"github.com/keepwasm/keep/wasi"
)

// MaxConfigSize is the largest Enarx.toml Keep reads, in bytes. It is the
// limit Enarx itself applies to a package's Enarx.toml.
const MaxConfigSize = 1_000_000

// ConfigTemplate is the commented Enarx.toml that `keep config init` writes.
// The repository's Enarx.toml.example holds the same text.
//
//go:embed config_template.toml
var ConfigTemplate string

// FileKind is the kind of one [[files]] entry of Enarx.toml.
type FileKind string

// The file kinds of Enarx's schema (enarx-config, `File` enum).
const (
	KindStdin   FileKind = "stdin"
	KindStdout  FileKind = "stdout"
	KindStderr  FileKind = "stderr"
	KindNull    FileKind = "null"
	KindListen  FileKind = "listen"
	KindConnect FileKind = "connect"
)

// Protocol is the `prot` of a listen or connect entry.
type Protocol string

// The protocols of Enarx's schema.
const (
	ProtTCP Protocol = "tcp"
	ProtTLS Protocol = "tls"
)

// Config is a parsed and validated Enarx.toml.
type Config struct {
	// Path is the file the config was read from ("" when parsed from bytes
	// without a name); errors name it.
	Path string
	// Steward is the URL of the attestation CA (an Enarx Steward or a
	// Keep CA) the keep gets its TLS certificate from; StewardOpts say how
	// the CA is checked (config_ca.go).
	Steward     string
	StewardOpts *StewardOptions
	// CA, if set, makes the keep the host of a CA guest (config_ca.go).
	CA *CAOptions
	// Args follow argv[0].
	Args []string
	// Env holds the config's environment variables.
	Env map[string]string
	// Files are the module's file descriptors: Files[i] is fd i.
	Files []File
	// Digest is the SHA-384 of the config's exact bytes: what a keep binds
	// into its certificate as "keep-config-hash".
	Digest [48]byte
	// Instances is how many instances of the module the keep runs, all
	// serving the same listeners (`instances`, a Keep extension; 1 when
	// unset). See docs/RATIONALE.md, "Instances".
	Instances int
	// Line numbers of top-level keys, for messages that point at them.
	stewardLine int
}

// MaxInstances bounds `instances` and --instances: each instance has its
// own linear memory (up to 4 GiB) and goroutines.
const MaxInstances = 256

// CheckInstances validates an instance count from a config or the
// command line; what names its source in the error.
func CheckInstances(what string, n int64) error {
	if n < 1 || n > MaxInstances {
		return fmt.Errorf("%s = %d: want 1..%d", what, n, MaxInstances)
	}
	return nil
}

// File is one [[files]] entry: the file descriptor at its position.
type File struct {
	Kind FileKind
	// Name labels the fd in FD_NAMES.
	Name string
	// Prot is set for listen and connect.
	Prot Protocol
	// Addr is the local address of a listen entry ("::" by default).
	Addr string
	// Host is the peer of a connect entry.
	Host string
	// Port is the TCP port of a listen or connect entry.
	Port uint16
	// Line is the line of the entry in the config file (0 if unknown).
	Line int

	// Keep's extensions for TLS sockets (not in Enarx's schema).

	// ClientAuth is how a TLS listener authenticates clients: "" (not at
	// all), "attested" (an RA-TLS certificate that passes ClientPolicy, or
	// the default policy) or "ca" (a certificate from the CAs in ClientCA).
	ClientAuth string
	// ClientPolicy is the policy file for attested clients.
	ClientPolicy string
	// ClientCA is a PEM file of CA certificates for "ca" client auth.
	ClientCA string
	// Policy is the policy file a TLS connect applies to the peer's RA-TLS
	// certificate; without one, the peer is checked with the web PKI.
	Policy string
	// MaxConnections bounds a listener's concurrent connections (0: the
	// default, 1024).
	MaxConnections int
	// HandshakeTimeout bounds a TLS listener's handshakes (0: 10s).
	HandshakeTimeout time.Duration
	// Nonblock, if set, is the mode a listen or connect fd starts in
	// (`nonblock = true|false`); unset, Keep chooses by the module (see
	// docs/RATIONALE.md, "Socket start mode").
	Nonblock *bool
	// TLSMinVersion is the oldest TLS version a TLS socket accepts, from
	// `tls_min_version`; 0 means the default, TLS 1.3 (minTLS).
	TLSMinVersion uint16
	// ReadAhead bounds how many bytes each connection of a listen or
	// connect entry reads ahead of the guest, from `read_ahead`; 0 means
	// the default, wasi.DefaultReadAhead.
	ReadAhead int
}

// rawFile mirrors a [[files]] table; pointers tell which keys were given.
type rawFile struct {
	Kind *string `toml:"kind"`
	Name *string `toml:"name"`
	Prot *string `toml:"prot"`
	Addr *string `toml:"addr"`
	Host *string `toml:"host"`
	Port *int64  `toml:"port"`

	ClientAuth       *string `toml:"client_auth"`
	ClientPolicy     *string `toml:"client_policy"`
	ClientCA         *string `toml:"client_ca"`
	Policy           *string `toml:"policy"`
	MaxConnections   *int64  `toml:"max_connections"`
	HandshakeTimeout *string `toml:"handshake_timeout"`
	Nonblock         *bool   `toml:"nonblock"`
	TLSMinVersion    *string `toml:"tls_min_version"`
	ReadAhead        *int64  `toml:"read_ahead"`
}

type rawConfig struct {
	Steward   *string           `toml:"steward"`
	Instances *int64            `toml:"instances"`
	Args      []string          `toml:"args"`
	Env       map[string]string `toml:"env"`
	Files     []toml.Primitive  `toml:"files"` // decoded one by one, to place errors

	rawCAKeys // Keep's CA extensions (config_ca.go)
}

// ConfigError is an error in an Enarx.toml. Its message has the form
// "FILE:LINE: MESSAGE" (or "FILE: MESSAGE" when no line is known).
type ConfigError struct {
	Path string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	p := e.Path
	if p == "" {
		p = "Enarx.toml"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", p, e.Msg)
}

// LoadConfig reads and validates the Enarx.toml at path.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and validates Enarx.toml bytes; path is used in errors.
func ParseConfig(path string, data []byte) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, &ConfigError{Path: path, Msg: fmt.Sprintf("larger than %d bytes", MaxConfigSize)}
	}
	src := string(data)
	var raw rawConfig
	md, err := toml.Decode(src, &raw)
	if err != nil {
		line, msg := tomlerr.Split(err)
		return nil, &ConfigError{Path: path, Line: line, Msg: msg}
	}
	loc := newLocator(src)
	if t := md.Type("env"); t != "" && t != "Hash" && raw.Env == nil {
		// BurntSushi/toml leaves a non-table env undecoded without an error.
		return nil, &ConfigError{Path: path, Line: loc.key(toml.Key{"env"}), Msg: fmt.Sprintf("key \"env\": want a table of strings, found %s", strings.ToLower(t))}
	}
	rawFiles := make([]rawFile, len(raw.Files))
	for i, prim := range raw.Files {
		if err := md.PrimitiveDecode(prim, &rawFiles[i]); err != nil {
			_, msg := tomlerr.Split(err)
			key := ""
			if k := tomlerr.Key(err); k != "" {
				key = k[strings.LastIndexByte(k, '.')+1:]
			}
			return nil, &ConfigError{Path: path, Line: loc.keyIn("files", i, key), Msg: fmt.Sprintf("files[%d]: %s", i, msg)}
		}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, &ConfigError{Path: path, Line: loc.key(k), Msg: fmt.Sprintf("unknown key %q", k.String())}
	}
	c := &Config{Path: path, Args: raw.Args, Env: raw.Env, Digest: sha512.Sum384(data), Instances: 1}
	cerr := func(line int, format string, a ...any) error {
		return &ConfigError{Path: path, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	if raw.Instances != nil {
		if err := CheckInstances("instances", *raw.Instances); err != nil {
			return nil, cerr(loc.key(toml.Key{"instances"}), "%v", err)
		}
		c.Instances = int(*raw.Instances)
	}
	if raw.Steward != nil {
		c.stewardLine = loc.key(toml.Key{"steward"})
		u, err := url.Parse(*raw.Steward)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, cerr(c.stewardLine, "steward: %q is not an https URL", *raw.Steward)
		}
		c.Steward = *raw.Steward
	}
	if err := c.parseCAKeys(raw.rawCAKeys, loc); err != nil {
		return nil, err
	}
	for i, a := range c.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, cerr(loc.key(toml.Key{"args"}), "args[%d]: contains a NUL byte", i)
		}
	}
	for _, k := range sortedKeys(c.Env) {
		line := loc.key(toml.Key{"env", k})
		switch {
		case k == "":
			return nil, cerr(line, "env: empty variable name")
		case strings.ContainsAny(k, "=\x00"):
			return nil, cerr(line, "env: variable name %q contains '=' or NUL", k)
		case k == "FD_COUNT" || k == "FD_NAMES":
			return nil, cerr(line, "env: %s is set by Keep from [[files]] and cannot be set here", k)
		case strings.IndexByte(c.Env[k], 0) >= 0:
			return nil, cerr(line, "env: value of %s contains a NUL byte", k)
		}
	}
	names := map[string]int{}
	for i, rf := range rawFiles {
		line := loc.table("files", i)
		f, err := validateFile(rf, i, line)
		if err != nil {
			return nil, &ConfigError{Path: path, Line: line, Msg: err.Error()}
		}
		if prev, dup := names[f.Name]; dup {
			return nil, cerr(line, "files[%d]: duplicate name %q (also files[%d])", i, f.Name, prev)
		}
		names[f.Name] = i
		c.Files = append(c.Files, f)
	}
	if c.Instances > 1 {
		for i, f := range c.Files {
			if f.Kind == KindConnect {
				return nil, cerr(loc.key(toml.Key{"instances"}), "instances = %d: files[%d] is a connect socket, which one instance only can own; use instances = 1", c.Instances, i)
			}
		}
	}
	if err := c.checkSteward(); err != nil {
		return nil, err
	}
	return c, nil
}

func validateFile(rf rawFile, i, line int) (File, error) {
	fail := func(format string, a ...any) (File, error) {
		return File{}, fmt.Errorf("files[%d]: "+format, append([]any{i}, a...)...)
	}
	if rf.Kind == nil {
		return fail("missing key \"kind\"")
	}
	f := File{Kind: FileKind(*rf.Kind), Line: line}
	// Keys each kind accepts, as in Enarx's deny_unknown_fields structs.
	var allowed []string
	switch f.Kind {
	case KindStdin, KindStdout, KindStderr, KindNull:
		allowed = []string{"name"}
	case KindListen:
		allowed = []string{"name", "prot", "addr", "port", "client_auth", "client_policy", "client_ca", "max_connections", "handshake_timeout", "nonblock", "tls_min_version", "read_ahead"}
	case KindConnect:
		allowed = []string{"name", "prot", "host", "port", "policy", "nonblock", "tls_min_version", "read_ahead"}
	default:
		return fail("kind %q is not one of stdin, stdout, stderr, null, listen, connect", *rf.Kind)
	}
	given := map[string]bool{"name": rf.Name != nil, "prot": rf.Prot != nil, "addr": rf.Addr != nil, "host": rf.Host != nil, "port": rf.Port != nil,
		"client_auth": rf.ClientAuth != nil, "client_policy": rf.ClientPolicy != nil, "client_ca": rf.ClientCA != nil,
		"policy": rf.Policy != nil, "max_connections": rf.MaxConnections != nil, "handshake_timeout": rf.HandshakeTimeout != nil,
		"nonblock": rf.Nonblock != nil, "tls_min_version": rf.TLSMinVersion != nil, "read_ahead": rf.ReadAhead != nil}
	for _, k := range []string{"name", "prot", "addr", "host", "port", "client_auth", "client_policy", "client_ca", "policy", "max_connections", "handshake_timeout", "nonblock", "tls_min_version", "read_ahead"} {
		if given[k] && !contains(allowed, k) {
			return fail("key %q is not allowed for kind %q", k, f.Kind)
		}
	}
	if rf.Name != nil {
		f.Name = *rf.Name
		if f.Name == "" {
			return fail("name is empty")
		}
		if strings.ContainsAny(f.Name, ":\x00") {
			return fail("name %q must not contain ':'", f.Name)
		}
	}
	switch f.Kind {
	case KindStdin, KindStdout, KindStderr, KindNull:
		if f.Name == "" {
			f.Name = string(f.Kind)
		}
		return f, nil
	}
	if rf.Prot == nil {
		return fail("%s needs \"prot\" (\"tcp\" or \"tls\")", f.Kind)
	}
	f.Prot = Protocol(*rf.Prot)
	if f.Prot != ProtTCP && f.Prot != ProtTLS {
		return fail("prot %q is not \"tcp\" or \"tls\"", *rf.Prot)
	}
	if rf.Port != nil {
		p := *rf.Port
		min := int64(1)
		if f.Kind == KindListen {
			min = 0 // port 0: the kernel picks a free port
		}
		if p < min || p > 65535 {
			return fail("port %d is out of range %d..65535", p, min)
		}
		f.Port = uint16(p)
	}
	tlsOnly := func(key string, set bool) error {
		if set && f.Prot != ProtTLS {
			return fmt.Errorf("files[%d]: %q needs prot = \"tls\"", i, key)
		}
		return nil
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"client_auth", rf.ClientAuth != nil}, {"client_policy", rf.ClientPolicy != nil}, {"client_ca", rf.ClientCA != nil}, {"policy", rf.Policy != nil}, {"handshake_timeout", rf.HandshakeTimeout != nil}, {"tls_min_version", rf.TLSMinVersion != nil}} {
		if err := tlsOnly(k.key, k.set); err != nil {
			return File{}, err
		}
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	f.ClientAuth, f.ClientPolicy, f.ClientCA, f.Policy = str(rf.ClientAuth), str(rf.ClientPolicy), str(rf.ClientCA), str(rf.Policy)
	switch f.ClientAuth {
	case "", "none":
		f.ClientAuth = ""
		if f.ClientPolicy != "" || f.ClientCA != "" {
			return fail("client_policy and client_ca need client_auth")
		}
	case "attested":
		if f.ClientCA != "" {
			return fail("client_ca goes with client_auth = \"ca\", not \"attested\"")
		}
	case "ca":
		if f.ClientCA == "" {
			return fail("client_auth = \"ca\" needs client_ca (a PEM file of CA certificates)")
		}
		if f.ClientPolicy != "" {
			return fail("client_policy goes with client_auth = \"attested\", not \"ca\"")
		}
	default:
		return fail("client_auth %q is not \"none\", \"attested\" or \"ca\"", f.ClientAuth)
	}
	if rf.MaxConnections != nil {
		if m := *rf.MaxConnections; m < 1 || m > 1_000_000 {
			return fail("max_connections %d is out of range 1..1000000", m)
		}
		f.MaxConnections = int(*rf.MaxConnections)
	}
	if rf.ReadAhead != nil {
		if r := *rf.ReadAhead; r < wasi.MinReadAhead || r > wasi.MaxReadAhead {
			return fail("read_ahead %d is out of range %d..%d (bytes)", r, wasi.MinReadAhead, wasi.MaxReadAhead)
		}
		f.ReadAhead = int(*rf.ReadAhead)
	}
	f.Nonblock = rf.Nonblock
	if rf.TLSMinVersion != nil {
		switch *rf.TLSMinVersion {
		case "1.2":
			f.TLSMinVersion = tls.VersionTLS12
		case "1.3":
			f.TLSMinVersion = tls.VersionTLS13
		default:
			return fail("tls_min_version %q is not \"1.2\" or \"1.3\"", *rf.TLSMinVersion)
		}
	}
	if rf.HandshakeTimeout != nil {
		d, err := time.ParseDuration(*rf.HandshakeTimeout)
		if err != nil || d <= 0 {
			return fail("handshake_timeout %q is not a positive duration such as \"10s\"", *rf.HandshakeTimeout)
		}
		f.HandshakeTimeout = d
	}
	if f.Kind == KindListen {
		if f.Name == "" {
			return fail("listen needs \"name\"")
		}
		if rf.Port == nil {
			return fail("listen needs \"port\"")
		}
		f.Addr = "::"
		if rf.Addr != nil {
			f.Addr = *rf.Addr
			if f.Addr != "localhost" && net.ParseIP(f.Addr) == nil {
				return fail("addr %q is not an IP address", f.Addr)
			}
		}
		return f, nil
	}
	// connect
	if rf.Host == nil || *rf.Host == "" {
		return fail("connect needs \"host\"")
	}
	f.Host = *rf.Host
	if net.ParseIP(f.Host) == nil && !validHostname(f.Host) {
		return fail("host %q is not a host name or IP address", f.Host)
	}
	if rf.Port == nil {
		f.Port = 80
		if f.Prot == ProtTLS {
			f.Port = 443
		}
	}
	if f.Name == "" {
		f.Name = f.Host
		if strings.Contains(f.Name, ":") { // an IPv6 literal
			return fail("host %q contains ':', so \"name\" must be given", f.Host)
		}
	}
	return f, nil
}

// hostnameRE is compiled on first use: at package init it cost every keep
// start 0.35 ms (466 allocations), config or not.
var hostnameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)
})

func validHostname(h string) bool { return len(h) <= 253 && hostnameRE().MatchString(h) }

// Unsupported returns an error for the parts of a valid config that this
// version of Keep cannot run, or nil.
func (c *Config) Unsupported() error {
	for i, f := range c.Files {
		switch {
		case (f.Kind == KindListen || f.Kind == KindConnect) && i < 3:
			return &ConfigError{Path: c.Path, Line: f.Line, Msg: fmt.Sprintf("files[%d]: a %s socket at fd %d is not supported (sockets go at fd 3 and up)", i, f.Kind, i)}
		case f.Kind == KindListen || f.Kind == KindConnect:
		case i == 0 && f.Kind != KindStdin && f.Kind != KindNull:
			return &ConfigError{Path: c.Path, Line: f.Line, Msg: fmt.Sprintf("files[0]: kind %q at fd 0 is not supported yet (fd 0 must be stdin or null)", f.Kind)}
		case (i == 1 || i == 2) && f.Kind == KindStdin:
			return &ConfigError{Path: c.Path, Line: f.Line, Msg: fmt.Sprintf("files[%d]: kind \"stdin\" at fd %d is not supported yet", i, i)}
		case i > 2:
			return &ConfigError{Path: c.Path, Line: f.Line, Msg: fmt.Sprintf("files[%d]: kind %q at fd %d is not supported yet (stdio kinds only at fds 0-2)", i, f.Kind, i)}
		}
	}
	return nil
}

// FDEnv returns FD_COUNT and FD_NAMES as Enarx sets them: the number of
// [[files]] entries, and their names joined with ':'.
func (c *Config) FDEnv() [][2]string {
	names := make([]string, len(c.Files))
	for i, f := range c.Files {
		names[i] = f.Name
	}
	return [][2]string{{"FD_COUNT", strconv.Itoa(len(c.Files))}, {"FD_NAMES", strings.Join(names, ":")}}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// minTLS returns the oldest TLS version f's socket accepts.
func (f File) minTLS() uint16 {
	if f.TLSMinVersion == 0 {
		return tls.VersionTLS13
	}
	return f.TLSMinVersion
}
