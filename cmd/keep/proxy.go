package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/keepwasm/keep/netattest"
	"github.com/keepwasm/keep/netattest/proxy"
)

const proxyUsage = `Usage: keep proxy --policy FILE [flags] LISTEN_ADDR KEEP_ADDR

A local attested bridge for clients that cannot verify RA-TLS (browsers,
curl): serves plain TCP on LISTEN_ADDR and forwards each connection to the
keep at KEEP_ADDR over TLS, after checking the keep's RA-TLS certificate
against the policy. A keep the policy refuses gets not a single byte: HTTP
clients get a 502 stating the reason; --tcp clients a closed connection.

By default the proxy speaks HTTP: a reverse proxy that also answers
GET /.well-known/keep-attestation with the verification of the keep's
current certificate (JSON). --tcp bridges raw bytes instead.

--policy is required: the proxy vouches for the keep to its clients, and
only a policy says which keep deserves it (see docs/POLICY.md).
HTTP requests are answered only when their Host header names the proxy
(localhost, 127.0.0.1 or [::1] with its port, or --allow-host names);
others get 421, so a web page cannot reach the keep by DNS rebinding.
(--tcp cannot check this: do not bridge an HTTP keep with --tcp.)
LISTEN_ADDR must be a loopback address unless --public: the client side is
plaintext, outside the attestation.

Flags:
`

func (c *cli) proxy(args []string) int {
	fs := c.flags("proxy", proxyUsage)
	policyFile := fs.String("policy", "", "policy `FILE` (TOML; see docs/POLICY.md; required)")
	allowSim := fs.Bool("allow-simulated", false, "accept evidence from the sim backend (no TEE!)")
	allowDebug := fs.Bool("allow-debug", false, "accept TEEs in debug mode")
	legacy := fs.Bool("legacy", false, "accept legacy raw-quote extensions (Gramine, rats-tls, Intel SGX SDK)")
	allowNet := fs.Bool("allow-network", false, "fetch missing collateral from Intel PCS / AMD KDS")
	var collateral multiFlag
	fs.Var(&collateral, "collateral", "vendor collateral `NAME=FILE` (intel, snp-vcek, snp-ask-ark; repeatable)")
	var hosts multiFlag
	fs.Var(&hosts, "allow-host", "also answer HTTP requests whose Host is `NAME` (with the listening port; repeatable). Without it only localhost, 127.0.0.1, [::1], the listening IP and LISTEN_ADDR's own name are answered; others get 421")
	tcp := fs.Bool("tcp", false, "bridge raw TCP instead of HTTP")
	public := fs.Bool("public", false, "allow a non-loopback LISTEN_ADDR (the client side is plaintext)")
	maxConns := fs.Int("max-conns", proxy.DefaultMaxConns, "serve at most `N` client connections at once")
	timeout := fs.Duration("timeout", proxy.DefaultDialTimeout, "bound on connecting to the keep, handshake and verification included")
	if err := c.parse(fs, args); err != nil {
		return c.exit(err)
	}
	if *policyFile == "" {
		return c.exit(usageError{"proxy: --policy FILE is required: a proxy vouches for the keep to clients that cannot check it, and only a policy says which keep to accept (see docs/POLICY.md)"})
	}
	if fs.NArg() != 2 {
		return c.exit(usageError{"proxy: want LISTEN_ADDR and KEEP_ADDR (see 'keep proxy --help')"})
	}
	listenAddr, keepAddr := fs.Arg(0), fs.Arg(1)
	if _, _, err := net.SplitHostPort(keepAddr); err != nil {
		return c.exit(usageError{fmt.Sprintf("proxy: KEEP_ADDR %q is not HOST:PORT", keepAddr)})
	}
	if *maxConns < 1 || *timeout <= 0 {
		return c.exit(usageError{"proxy: --max-conns and --timeout must be positive"})
	}
	if err := checkLoopback(listenAddr, *public); err != nil {
		return c.exit(err)
	}

	coll, err := collateralFlags(collateral)
	if err != nil {
		return c.exit(err)
	}
	verifier, err := netattest.LoadVerifier(*policyFile, netattest.Overrides{
		AllowSimulated: *allowSim, AllowDebug: *allowDebug, AllowNetwork: *allowNet, Legacy: *legacy, Collateral: coll})
	if err != nil {
		return c.exit(pathErr(err))
	}
	policy := verifier.Policy

	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return c.exit(err)
	}
	p := &proxy.Proxy{
		KeepAddr: keepAddr,
		Verifier: verifier,
		Options:  proxy.Options{DialTimeout: *timeout, MaxConns: *maxConns, Hosts: proxyHosts(listenAddr, hosts)},
		Log:      c.log.With("proxy", ln.Addr().String()),
	}
	mode := "http"
	if *tcp {
		mode = "tcp"
	}
	if policy.AllowSimulated {
		fmt.Fprintf(c.stderr, "keep: warning: the policy accepts simulated evidence: no TEE stands behind such a keep\n")
	}
	fmt.Fprintf(c.stderr, "keep: proxy listening on %s, forwarding to %s over RA-TLS (%s, policy %s)\n", ln.Addr(), keepAddr, mode, *policyFile)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := c.watchStops(ctx, cancel, "")
	stop.started()
	defer stop.finish()
	go func() {
		<-ctx.Done()
		p.Close()
	}()
	// Check the keep now, so that a refusal shows at once in the log
	// (and the verification is cached for the first client).
	go func() {
		var ue *proxy.UnreachableError // refusals are logged by the proxy
		if _, err := p.Attestation(ctx); errors.As(err, &ue) && ctx.Err() == nil {
			c.log.Warn("cannot reach the keep (yet)", "keep", keepAddr, "err", ue.Err)
		}
	}()
	if *tcp {
		err = p.ServeTCP(ln)
	} else {
		err = p.Serve(ln)
	}
	if s := stop.finish(); s != 0 {
		c.log.Info("stopped by signal", "signal", s.String())
		return exitSignal + int(s)
	}
	if errors.Is(err, proxy.ErrClosed) {
		err = nil
	}
	return c.exit(err)
}

// proxyHosts are the Host names the HTTP proxy answers besides the
// loopback names: LISTEN_ADDR's host when it is a name, and --allow-host.
func proxyHosts(listenAddr string, extra []string) []string {
	var hs []string
	if h, _, err := net.SplitHostPort(listenAddr); err == nil && h != "" && net.ParseIP(h) == nil {
		hs = append(hs, h)
	}
	return append(hs, extra...)
}

// checkLoopback refuses a LISTEN_ADDR that is not loopback unless public.
func checkLoopback(addr string, public bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError{fmt.Sprintf("proxy: LISTEN_ADDR %q is not HOST:PORT (e.g. 127.0.0.1:8080)", addr)}
	}
	if public {
		return nil
	}
	loopback := host != ""
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	} else if host != "" && host != "localhost" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		loopback = err == nil && len(ips) > 0
		for _, ip := range ips {
			loopback = loopback && ip.IP.IsLoopback()
		}
	}
	if !loopback {
		return usageError{fmt.Sprintf("proxy: refusing to listen on %q: not a loopback address. The proxy serves plaintext, and whoever can reach it talks to the keep as if attested; listen on 127.0.0.1 or [::1], or pass --public if you mean it", addr)}
	}
	return nil
}
