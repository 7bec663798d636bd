package main

import (
	"context"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
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
against a policy, and prints a report. Exits 0 only if every check passed
and the policy accepts it; 1 if a check failed or the policy refused it;
125 on bad input (2 on a bad command line). --json prints the report as
described in docs/ATTESTATION-JSON.md ("verified": every check passed,
"accepted": verified and the policy agreed).

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
	over := netattest.Overrides{AllowSimulated: *allowSim, AllowDebug: *allowDebug, AllowNetwork: *allowNet, Legacy: *legacy}
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return c.exit(usageError{fmt.Sprintf("--now %q: want RFC 3339, e.g. 2025-07-19T10:00:00Z", *nowFlag)})
		}
		over.Now = t
	}
	var err error
	if over.Collateral, err = collateralFlags(collateral); err != nil {
		return c.exit(err)
	}
	v, err := netattest.LoadVerifier(*policyFile, over)
	if err != nil {
		return c.exit(pathErr(err))
	}

	var cert *x509.Certificate
	if *certFile != "" {
		cert, err = netattest.LoadCertificate(*certFile)
		err = pathErr(err)
	} else {
		cert, err = fetchCert(fs.Arg(0), *timeout)
	}
	if err != nil {
		return c.exit(err)
	}
	res, verdict := v.Check(context.Background(), cert)
	rep := &verifyOutput{Report: netattest.NewReport(cert, res, verdict)}
	if *eventLog != "" {
		// Only evidence that passed every check may vouch for an RTMR3.
		var ec *keeps.Claims
		if a := res.Attested(); a != nil {
			ec = a.Evidence()
		}
		if rep.EventLog, err = checkEventLog(*eventLog, ec, rep.ModuleHash); err != nil {
			return c.exit(err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return c.exit(err)
		}
	} else {
		printReport(c.stdout, rep.Report)
		if rep.EventLog != nil {
			rep.EventLog.print(c.stdout)
		}
	}
	// Exit 0 only when every check passed and the policy accepted: both
	// are in the report, derived from the checks and the verdict.
	if !rep.Verified || !rep.Accepted || (rep.EventLog != nil && !rep.EventLog.OK) {
		return exitRefused
	}
	return 0
}

// collateralFlags parses --collateral NAME=FILE flags; names are checked
// against netattest.CollateralNames.
func collateralFlags(flags []string) (map[string]string, error) {
	var m map[string]string
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, usageError{fmt.Sprintf("--collateral %q: want NAME=FILE", kv)}
		}
		if !slices.Contains(netattest.CollateralNames, k) {
			return nil, usageError{fmt.Sprintf("--collateral %q: unknown collateral name %q (want one of %s)", kv, k, strings.Join(netattest.CollateralNames, ", "))}
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	return m, nil
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
		return nil, fmt.Errorf("%s: %v", addr, explainTLS(err))
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: server sent no certificate", addr)
	}
	return certs[0], nil
}

// verifyOutput is keep verify's report: netattest.Report (the schema of
// docs/ATTESTATION-JSON.md, shared with keep proxy) and, with --event-log,
// the event log's replay.
type verifyOutput struct {
	*netattest.Report
	EventLog *eventLogReport `json:"event_log,omitempty"` // --event-log (eventlog.go)
}

// printReport prints keep verify's text report. Every verdict line comes
// from the report's Verified and Accepted.
func printReport(w io.Writer, r *netattest.Report) {
	p := func(k, format string, a ...any) { fmt.Fprintf(w, "%-14s %s\n", k+":", fmt.Sprintf(format, a...)) }
	p("certificate", "%s", r.Fingerprint)
	p("subject", "%s", r.Subject)
	if r.NotBefore != nil && r.NotAfter != nil {
		p("validity", "%s to %s (not enforced)", r.NotBefore.Format(time.RFC3339), r.NotAfter.Format(time.RFC3339))
	}
	if r.Format != "" {
		p("format", "%s, tag %d", r.Format, r.Tag)
	}
	if !r.Verified {
		fmt.Fprintln(w, "UNVERIFIED: a check failed, so nothing below is vouched for by a TEE")
	}
	if r.TEE != "" {
		tee := r.TEE
		if r.Simulated {
			tee += "  (SIMULATED: not a real TEE)"
		}
		p("TEE", "%s", tee)
		p("signature", "%s", map[bool]string{true: "verified to the vendor's root", false: "NOT verified"}[r.SignatureVerified])
		p("debug", "%v", r.Debug)
	}
	p("module hash", "%s", orNone(r.ModuleHash))
	p("config hash", "%s", orNone(r.ConfigHash))
	if r.OCIReference != "" {
		p("oci reference", "%s", r.OCIReference)
		p("oci manifest", "%s", r.OCIManifestDigest)
	}
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
	p("verified", "%s", map[bool]string{true: "yes, every check passed", false: "NO"}[r.Verified])
	if r.Verified && r.Accepted {
		p("policy", "ACCEPTED")
	} else {
		p("policy", "REFUSED: %s", strings.Join(r.Reasons, "; "))
	}
	for _, n := range r.NotPinned {
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
	force := fs.Bool("force", false, "overwrite the --cert and --key files if they exist")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *module == "" || fs.NArg() > 0 {
		return usageError{"attest-cert: want --module MODULE and no other arguments"}
	}
	if err := checkOverwrite(*force, *certOut, *keyOut); err != nil {
		return err
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
		data, err := netattest.ReadFileLimited(*config, runtime.MaxConfigSize)
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
	if err := writePEMFile(*keyOut, "PRIVATE KEY", keyDER, 0o600, *force); err != nil {
		return err
	}
	if err := writePEMFile(*certOut, "CERTIFICATE", id.Certificate.Raw, 0o644, *force); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "keep: wrote %s and %s (%s backend: SIMULATED, module %s)\n", *certOut, *keyOut, keeps.TEESim, d)
	return nil
}
