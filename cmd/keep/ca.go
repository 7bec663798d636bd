package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/keepwasm/keep/netattest"
)

const caUsage = `Usage: keep ca trust --policy FILE [--out FILE] [flags] HOST:PORT

Verifies the attestation CA keep at HOST:PORT once, then writes its root
certificate (PEM) for ordinary TLS clients (curl --cacert, openssl
-CAfile, a browser's trust store). The CA keep's RA-TLS certificate must
pass the policy (pin the CA's module and Enarx.toml: the config pins the
CA's own policy); only then is the root fetched, over that verified
connection. See docs/CA.md.

Flags:
`

// maxRootPEM bounds the root certificate the CA answers.
const maxRootPEM = 64 << 10

func (c *cli) ca(args []string) int {
	if len(args) == 0 || (args[0] != "trust" && args[0] != "-h" && args[0] != "--help" && args[0] != "help") {
		what := "want a subcommand: trust"
		if len(args) > 0 {
			what = fmt.Sprintf("unknown subcommand %q (want trust)", args[0])
		}
		return c.exit(usageError{"ca: " + what})
	}
	if args[0] != "trust" {
		fmt.Fprint(c.stdout, caUsage)
		return 0
	}
	fs := c.flags("ca trust", caUsage)
	policyFile := fs.String("policy", "", "policy `FILE` for the CA keep (TOML; see docs/POLICY.md; required)")
	out := fs.String("out", "-", "write the root PEM to `FILE` (- for stdout)")
	allowSim := fs.Bool("allow-simulated", false, "accept a CA keep on the sim backend (no TEE!)")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on connecting, verifying and fetching")
	// Flags may come before or after HOST:PORT.
	var pos []string
	rest := args[1:]
	for {
		if err := c.parse(fs, rest); err != nil {
			return c.exit(err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *policyFile == "" {
		return c.exit(usageError{"ca trust: --policy FILE is required: the root is trusted only after the CA keep passes a policy pinning it"})
	}
	if len(pos) != 1 {
		return c.exit(usageError{"ca trust: want exactly one HOST:PORT (see 'keep ca trust --help')"})
	}
	addr := pos[0]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return c.exit(usageError{fmt.Sprintf("ca trust: %q is not HOST:PORT", addr)})
	}
	if *timeout <= 0 {
		return c.exit(usageError{"ca trust: --timeout must be positive"})
	}
	v, err := netattest.LoadVerifier(*policyFile, netattest.Overrides{AllowSimulated: *allowSim})
	if err != nil {
		return c.exit(pathErr(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	root, peer, err := fetchTrustedRoot(ctx, addr, v)
	if err != nil {
		return c.exit(fmt.Errorf("ca trust %s: %w", addr, err))
	}
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	if *out == "-" {
		_, err = c.stdout.Write(pemData)
	} else {
		err = writeFileAtomic(*out, pemData)
	}
	if err != nil {
		return c.exit(pathErr(err))
	}
	fp := sha256.Sum256(root.Raw)
	module := "none"
	if h := peer.ModuleHash(); h != nil {
		module = h.String()
	}
	tee := ""
	if ec := peer.Attested.Evidence(); ec != nil {
		tee = string(ec.TEE)
		if ec.Simulated {
			tee += " (SIMULATED)"
		}
	}
	fmt.Fprintf(c.stderr, "keep: CA keep %s verified (tee %s, module %s); root %q, sha256 %x, valid until %s\n",
		addr, tee, module, root.Subject.String(), fp, root.NotAfter.UTC().Format(time.RFC3339))
	return 0
}

// fetchTrustedRoot connects to the CA keep with v (which refuses any keep
// its policy does not accept), fetches GET /root.pem over that connection
// and checks that it is a CA root.
func fetchTrustedRoot(ctx context.Context, addr string, v *netattest.Verifier) (*x509.Certificate, *netattest.Peer, error) {
	tc := v.ClientConfig(nil)
	var peer *netattest.Peer
	verify := tc.VerifyConnection
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := verify(cs); err != nil {
			return err
		}
		p, ok := v.Peer(cs)
		if !ok {
			return errors.New("no verified peer")
		}
		peer = p
		return nil
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/root.pem", nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRootPEM+1))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET /root.pem: %s", resp.Status)
	}
	if len(body) > maxRootPEM {
		return nil, nil, fmt.Errorf("GET /root.pem: larger than %d bytes", maxRootPEM)
	}
	if peer == nil {
		return nil, nil, errors.New("the connection was not verified")
	}
	root, err := parseRoot(body)
	if err != nil {
		return nil, nil, fmt.Errorf("GET /root.pem: %w", err)
	}
	return root, peer, nil
}

// parseRoot accepts exactly one PEM certificate that is a self-signed CA,
// currently valid.
func parseRoot(b []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block; want the root alone")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("the certificate is not a CA certificate")
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return nil, fmt.Errorf("the root is not self-signed: %w", err)
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("the root is not valid now (valid %s to %s)", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// writeFileAtomic writes data to path through a temporary file beside it.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".keep-ca-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
