package runtime

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keepwasm/keep/ca"
	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/netattest"
)

// stewardRequestTimeout bounds one request to the CA.
const stewardRequestTimeout = 30 * time.Second

// StewardRefusal is the CA's refusal of a keep's request: its status and
// reason. A keep does not retry it.
type StewardRefusal struct {
	URL    string
	Status int
	Reason string
}

func (e *StewardRefusal) Error() string {
	return fmt.Sprintf("steward %s refused the keep's certificate request: %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Reason)
}

// stewardClient gets the keep's TLS certificate from its CA and renews
// it; listeners and connects read the current one through get.
type stewardClient struct {
	url    string
	client *http.Client
	att    keeps.Attester
	issue  netattest.IssueOptions
	roots  *x509.CertPool // steward_ca: the issued chain must lead here too
	log    *slog.Logger
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time

	cur atomic.Pointer[tls.Certificate]
}

// newStewardClient builds the client for the config's steward keys.
func (p socketPlan) newStewardClient() (*stewardClient, error) {
	so := p.cfg.StewardOpts
	u, err := url.Parse(p.cfg.Steward)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	var roots *x509.CertPool
	switch {
	case so.CA != "":
		pemData, err := os.ReadFile(p.path(so.CA))
		if err != nil {
			return nil, fmt.Errorf("steward_ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("steward_ca %s: no PEM certificates", so.CA)
		}
		tc.RootCAs = roots
	case so.Policy != "":
		v, err := netattest.LoadVerifier(p.path(so.Policy), netattest.Overrides{})
		if err != nil {
			return nil, fmt.Errorf("steward_policy: %w", err)
		}
		tc = v.ClientConfig(nil)
	}
	names := so.Names
	if len(names) == 0 {
		names = ca.DefaultNames
	}
	opts := netattest.IssueOptions{ModuleDigest: p.digest[:], ConfigDigest: p.cfg.Digest[:]}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			opts.IPAddresses = append(opts.IPAddresses, ip)
		} else {
			opts.DNSNames = append(opts.DNSNames, n)
		}
	}
	if len(opts.DNSNames) > 0 {
		opts.CommonName = opts.DNSNames[0]
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: false, DisableKeepAlives: true}
	return &stewardClient{
		url: p.cfg.Steward, client: &http.Client{Transport: tr, Timeout: stewardRequestTimeout},
		att: p.attester, issue: opts, roots: roots, log: p.log,
		now: time.Now, after: time.After,
	}, nil
}

// fetch asks the CA once: a fresh key, a request with fresh evidence, and
// the chain the CA answers, checked before use.
func (s *stewardClient) fetch(ctx context.Context) (*tls.Certificate, error) {
	der, key, _, err := netattest.NewCertificateRequest(ctx, s.att, s.issue)
	if err != nil {
		return nil, fmt.Errorf("making the certificate request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(der))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ca.MediaTypePKCS10)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, ca.MaxChainSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the CA's answer: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		reason := strings.TrimSpace(string(body))
		if len(reason) > 1024 {
			reason = reason[:1024] + "..."
		}
		return nil, &StewardRefusal{URL: s.url, Status: resp.StatusCode, Reason: reason}
	default:
		return nil, fmt.Errorf("the CA answered %s", resp.Status)
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("the request's key is not ECDSA")
	}
	return s.checkChain(body, ek)
}

// checkChain checks the CA's DER chain (root first, leaf last): the leaf
// certifies this keep's key, chains to the chain's root, and, with
// steward_ca, to one of those roots.
func (s *stewardClient) checkChain(der []byte, key *ecdsa.PrivateKey) (*tls.Certificate, error) {
	chain, err := ca.DecodeChain(der)
	if err != nil {
		return nil, fmt.Errorf("the CA's answer: %w", err)
	}
	leaf := chain[len(chain)-1]
	if pk, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pk.Equal(&key.PublicKey) {
		return nil, errors.New("the CA's leaf certificate is not for this keep's key")
	}
	roots := s.roots
	if roots == nil {
		roots = x509.NewCertPool()
		roots.AddCert(chain[0])
	}
	inter := x509.NewCertPool()
	for _, c := range chain[:len(chain)-1] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: s.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("the CA's chain does not verify: %w", err)
	}
	// Presented leaf first, as TLS wants (RFC 8446, 4.4.2).
	tc := &tls.Certificate{PrivateKey: key, Leaf: leaf}
	for i := len(chain) - 1; i >= 0; i-- {
		tc.Certificate = append(tc.Certificate, chain[i].Raw)
	}
	return tc, nil
}

// start gets the first certificate, retrying with backoff for up to
// timeout while the CA is unreachable or failing. A refusal ends it at
// once. There is no fallback: without a certificate the keep does not
// start.
func (s *stewardClient) start(ctx context.Context, timeout time.Duration) error {
	deadline := s.now().Add(timeout)
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, err := s.fetch(ctx)
		if err == nil {
			s.cur.Store(c)
			s.log.Info("certificate from the steward", "url", s.url, "subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339), "uris", fmt.Sprint(c.Leaf.URIs))
			return nil
		}
		var ref *StewardRefusal
		if errors.As(err, &ref) {
			return err
		}
		left := deadline.Sub(s.now())
		if left <= 0 {
			return fmt.Errorf("steward %s: no certificate after %d attempts in %v: %w", s.url, attempt, timeout, err)
		}
		s.log.Warn("steward unreachable, retrying", "url", s.url, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.after(min(wait, left)):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// renewAt is when to renew c: at two thirds of its remaining lifetime
// from when it was obtained.
func renewAt(obtained time.Time, c *tls.Certificate) time.Time {
	return obtained.Add(c.Leaf.NotAfter.Sub(obtained) * 2 / 3)
}

// renew renews the certificate until ctx ends: at two thirds of its
// lifetime, with a fresh key and evidence. While the CA is down, the
// current certificate stays in use (a warning is logged at each failed
// attempt) until it expires; connections open meanwhile are untouched.
func (s *stewardClient) renew(ctx context.Context) {
	at := renewAt(s.now(), s.cur.Load())
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.after(max(at.Sub(s.now()), 0)):
		}
		c, err := s.fetch(ctx)
		if err == nil {
			s.cur.Store(c)
			s.log.Info("certificate renewed by the steward", "url", s.url, "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
			at = renewAt(s.now(), c)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		old := s.cur.Load().Leaf.NotAfter
		left := old.Sub(s.now())
		if left > 0 {
			s.log.Warn("certificate renewal failed; serving the current certificate until it expires", "url", s.url, "expires", old.UTC().Format(time.RFC3339), "err", err)
		} else {
			s.log.Error("certificate renewal failed and the current certificate has expired", "url", s.url, "expired", old.UTC().Format(time.RFC3339), "err", err)
		}
		at = s.now().Add(min(max(left/6, time.Second), 30*time.Second))
	}
}

func (s *stewardClient) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load(), nil
}

func (s *stewardClient) getClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return s.cur.Load(), nil
}
