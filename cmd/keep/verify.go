package main

import (
	"context"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/sim"
	"github.com/keepwasm/keep/netattest"
	"github.com/keepwasm/keep/runtime"
)

// exitRefused is keep verify's exit code when verification or the policy
// refused the certificate.
const exitRefused = 1

const verifyUsage = `Usage: keep verify [flags] (HOST:PORT | --cert FILE)

Checks a keep's RA-TLS certificate, from a TLS server or a PEM/DER file,
against a policy, and prints a report. Exits 0 only if the policy accepts
it; 1 if verification or the policy refused it; 125 on bad input.

Without --policy the default policy applies: hardware TEEs only, signature
verified, no debug, no simulated evidence; any module (reported).

Flags:
`

func (c *cli) verify(args []string) int {
	fs := c.flags("verify", verifyUsage)
	policyFile := fs.String("policy", "", "policy `FILE` (TOML; see docs/POLICY.md)")
	certFile := fs.String("cert", "", "verify the certificate in `FILE` (PEM or DER) instead of connecting")
	allowSim := fs.Bool("allow-simulated", false, "accept evidence from the sim backend (no TEE!)")
	allowDebug := fs.Bool("allow-debug", false, "accept TEEs in debug mode")
	legacy := fs.Bool("legacy", false, "accept legacy raw-quote extensions (Gramine, rats-tls, Intel SGX SDK)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	allowNet := fs.Bool("allow-network", false, "fetch missing collateral from Intel PCS / AMD KDS")
	nowFlag := fs.String("now", "", "verify as of this `TIME` (RFC 3339; default now), e.g. to check archived collateral")
	var collateral multiFlag
	fs.Var(&collateral, "collateral", "vendor collateral `NAME=FILE` (intel, snp-vcek, snp-ask-ark; repeatable)")
	timeout := fs.Duration("timeout", 10*time.Second, "connection timeout")
	eventLog := fs.String("event-log", "", "replay the RTMR3 event log `FILE` (from keep run's /eventlog) against the TDX quote")
	if err := c.parse(fs, args); err != nil {
		return c.exit(err)
	}
	if (*certFile == "") == (fs.NArg() == 0) || fs.NArg() > 1 {
		return c.exit(usageError{"verify: want HOST:PORT or --cert FILE (one of them)"})
	}
	policy := &netattest.Policy{}
	if *policyFile != "" {
		p, err := netattest.LoadPolicy(*policyFile)
		if err != nil {
			return c.exit(pathErr(err))
		}
		policy = p
	}
	policy.AllowSimulated = policy.AllowSimulated || *allowSim
	policy.AllowDebug = policy.AllowDebug || *allowDebug

	var cert *x509.Certificate
	var err error
	if *certFile != "" {
		cert, err = readCert(*certFile)
	} else {
		cert, err = fetchCert(fs.Arg(0), *timeout)
	}
	if err != nil {
		return c.exit(err)
	}
	opts := netattest.Options{Legacy: *legacy, AllowNetwork: *allowNet}
	if *nowFlag != "" {
		if opts.Now, err = time.Parse(time.RFC3339, *nowFlag); err != nil {
			return c.exit(usageError{fmt.Sprintf("--now %q: want RFC 3339, e.g. 2025-07-19T10:00:00Z", *nowFlag)})
		}
	}
	for _, kv := range collateral {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return c.exit(usageError{fmt.Sprintf("--collateral %q: want NAME=FILE", kv)})
		}
		if policy.Collateral == nil {
			policy.Collateral = map[string]string{}
		}
		policy.Collateral[k] = v
	}
	if opts, err = policy.Options(opts); err != nil {
		return c.exit(err)
	}
	res, verr := netattest.VerifyCertificate(context.Background(), cert, opts)
	verdict := policy.Evaluate(res)
	rep := newReport(cert, res, verr, verdict)
	if *eventLog != "" {
		if rep.EventLog, err = checkEventLog(*eventLog, res, rep.ModuleHash); err != nil {
			return c.exit(err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		rep.print(c.stdout)
		if rep.EventLog != nil {
			rep.EventLog.print(c.stdout)
		}
	}
	if !verdict.Accepted || (rep.EventLog != nil && !rep.EventLog.OK) {
		return exitRefused
	}
	return 0
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, pathErr(err)
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("%s: larger than 1 MiB", path)
	}
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block is %q, want CERTIFICATE", path, b.Type)
		}
		data = b.Bytes
	}
	cert, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return cert, nil
}

// fetchCert connects to addr and returns the server's certificate. The
// handshake accepts any certificate: verification happens afterwards.
func fetchCert(addr string, timeout time.Duration) (*x509.Certificate, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, usageError{fmt.Sprintf("verify: %q is not HOST:PORT", addr)}
	}
	d := &net.Dialer{Timeout: timeout}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) // verified below
	if err != nil {
		return nil, fmt.Errorf("%s: %v", addr, err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: server sent no certificate", addr)
	}
	return certs[0], nil
}

// report is keep verify's output.
type report struct {
	Fingerprint  string             `json:"fingerprint"`
	Subject      string             `json:"subject"`
	NotBefore    time.Time          `json:"not_before"`
	NotAfter     time.Time          `json:"not_after"`
	Format       string             `json:"format,omitempty"`
	Tag          uint64             `json:"tag,omitempty"`
	TEE          string             `json:"tee,omitempty"`
	Simulated    bool               `json:"simulated"`
	Debug        bool               `json:"debug"`
	SigVerified  bool               `json:"signature_verified"`
	ModuleHash   string             `json:"module_hash,omitempty"`
	ConfigHash   string             `json:"config_hash,omitempty"`
	Measurements map[string]string  `json:"measurements,omitempty"`
	SVNs         map[string]uint64  `json:"svns,omitempty"`
	TCBStatus    string             `json:"tcb_status,omitempty"`
	Advisories   []string           `json:"advisories,omitempty"`
	Notes        []string           `json:"notes,omitempty"`
	Checks       []netattest.Check  `json:"checks"`
	Error        string             `json:"error,omitempty"`
	Verdict      *netattest.Verdict `json:"policy"`
	EventLog     *eventLogReport    `json:"event_log,omitempty"` // --event-log (eventlog.go)
}

func newReport(cert *x509.Certificate, res *netattest.Result, verr error, v *netattest.Verdict) *report {
	r := &report{
		Fingerprint: "sha256:" + hex.EncodeToString(res.Fingerprint[:]),
		Subject:     cert.Subject.String(),
		NotBefore:   cert.NotBefore.UTC(),
		NotAfter:    cert.NotAfter.UTC(),
		Format:      res.Format,
		Tag:         res.Tag,
		Checks:      res.Checks,
		Verdict:     v,
	}
	if verr != nil {
		r.Error = verr.Error()
	}
	if res.Claims != nil {
		if h := res.Claims.ModuleHash; h != nil {
			r.ModuleHash = h.String()
		}
		if h := res.Claims.ConfigHash; h != nil {
			r.ConfigHash = h.String()
		}
	}
	if ec := res.Evidence; ec != nil {
		r.TEE, r.Simulated, r.Debug, r.SigVerified = string(ec.TEE), ec.Simulated, ec.Debug, ec.SignatureVerified
		r.TCBStatus, r.Notes, r.SVNs, r.Advisories = ec.TCBStatus, ec.Notes, ec.SVNs, ec.Advisories
		r.Measurements = map[string]string{}
		for k, m := range ec.Measurements {
			r.Measurements[k] = hex.EncodeToString(m)
		}
	}
	return r
}

func (r *report) print(w io.Writer) {
	p := func(k, format string, a ...any) { fmt.Fprintf(w, "%-14s %s\n", k+":", fmt.Sprintf(format, a...)) }
	p("certificate", "%s", r.Fingerprint)
	p("subject", "%s", r.Subject)
	p("validity", "%s to %s (not enforced)", r.NotBefore.Format(time.RFC3339), r.NotAfter.Format(time.RFC3339))
	if r.Format != "" {
		p("format", "%s, tag %d", r.Format, r.Tag)
	}
	if r.TEE != "" {
		tee := r.TEE
		if r.Simulated {
			tee += "  (SIMULATED: not a real TEE)"
		}
		p("TEE", "%s", tee)
		p("signature", "%s", map[bool]string{true: "verified to the vendor's root", false: "NOT verified"}[r.SigVerified])
		p("debug", "%v", r.Debug)
	}
	p("module hash", "%s", orNone(r.ModuleHash))
	p("config hash", "%s", orNone(r.ConfigHash))
	keys := make([]string, 0, len(r.Measurements))
	for k := range r.Measurements {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p(k, "%s", r.Measurements[k])
	}
	svns := make([]string, 0, len(r.SVNs))
	for k := range r.SVNs {
		svns = append(svns, k)
	}
	sort.Strings(svns)
	for _, k := range svns {
		p(k, "%d", r.SVNs[k])
	}
	if r.TEE != "" {
		p("TCB status", "%s", orDefault(r.TCBStatus, "not evaluated"))
		if len(r.Advisories) > 0 {
			p("advisories", "%s", strings.Join(r.Advisories, ", "))
		}
	}
	for _, n := range r.Notes {
		p("note", "%s", n)
	}
	fmt.Fprintln(w, "checks:")
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-20s %s\n", mark, c.Name, c.Detail)
	}
	if r.Error != "" {
		p("error", "%s", r.Error)
	}
	if r.Verdict.Accepted {
		p("policy", "ACCEPTED")
	} else {
		p("policy", "REFUSED: %s", strings.Join(r.Verdict.Reasons, "; "))
	}
	for _, n := range r.Verdict.NotPinned {
		p("not pinned", "%s", n)
	}
}

func orNone(s string) string { return orDefault(s, "(none)") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

const attestCertUsage = `Usage: keep attest-cert --module MODULE [flags]

Writes an RA-TLS certificate and its private key, issued on the sim backend
for MODULE (and CONFIG, if given), for testing verifiers. The certificate
says SIMULATED: verifiers refuse it unless simulated evidence is allowed.

Flags:
`

func (c *cli) attestCert(args []string) error {
	fs := c.flags("attest-cert", attestCertUsage)
	module := fs.String("module", "", "the Wasm `MODULE` whose digest the certificate binds (required)")
	config := fs.String("config", "", "the Enarx.toml whose digest the certificate binds")
	certOut := fs.String("cert", "keep-cert.pem", "write the certificate (PEM) to `FILE`")
	keyOut := fs.String("key", "keep-key.pem", "write the private key (PEM, PKCS#8) to `FILE`")
	curve := fs.String("curve", "p384", "key curve: p384 or p256")
	var dns multiFlag
	fs.Var(&dns, "dns", "add a DNS `NAME` to the certificate's SANs (repeatable)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *module == "" || fs.NArg() > 0 {
		return usageError{"attest-cert: want --module MODULE and no other arguments"}
	}
	opts := netattest.IssueOptions{DNSNames: dns}
	switch *curve {
	case "p384":
		opts.Curve = elliptic.P384()
	case "p256":
		opts.Curve = elliptic.P256()
	default:
		return usageError{fmt.Sprintf("--curve %q: want p384 or p256", *curve)}
	}
	wasm, err := runtime.ReadModule(*module)
	if err != nil {
		return pathErr(err)
	}
	d := runtime.DigestOf(wasm)
	opts.ModuleDigest = d[:]
	if *config != "" {
		data, err := os.ReadFile(*config)
		if err != nil {
			return pathErr(err)
		}
		if _, err := runtime.ParseConfig(*config, data); err != nil {
			return err
		}
		cd := sha512.Sum384(data)
		opts.ConfigDigest = cd[:]
	}
	att, err := sim.NewAttester()
	if err != nil {
		return err
	}
	id, err := netattest.Issue(context.Background(), att, opts)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return err
	}
	if err := writePEM(*keyOut, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	if err := writePEM(*certOut, "CERTIFICATE", id.Certificate.Raw, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "keep: wrote %s and %s (%s backend: SIMULATED, module %s)\n", *certOut, *keyOut, keeps.TEESim, d)
	return nil
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return pathErr(err)
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
