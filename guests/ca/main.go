// Command ca is Keep's attestation CA as a workload (GOOS=wasip1): it
// serves the CA protocol (docs/CA.md) on the TLS listener at fd 3. Its
// key and root certificate are made inside the keep at start and never
// leave it. Each request's evidence is verified by the keep's own
// verifier under the CA policy the keep's Enarx.toml names ([ca]), through
// the host function keep.verify_csr; this guest issues the leaf.
//
// Environment (set in the CA's Enarx.toml, whose hash the CA keep's own
// RA-TLS certificate carries):
//
//	CA_NAME       the root's common name (default "Keep attestation CA")
//	CA_LEAF_TTL   leaf lifetime, a Go duration (default 24h)
//	CA_ROOT_TTL   root lifetime (default 43800h, five years)
//	CA_NAMES      comma-separated DNS names and IP addresses leaves may
//	              carry (default localhost,127.0.0.1,::1)
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/keepwasm/keep/ca"
)

// check asks the keep's verifier about a DER request.
func check(_ context.Context, der []byte) (*ca.Verdict, error) {
	if len(der) == 0 {
		return nil, errors.New("empty request")
	}
	out := make([]byte, ca.MaxVerdictSize)
	var n uint32
	if errno := verifyCSR(unsafe.Pointer(&der[0]), uint32(len(der)), unsafe.Pointer(&out[0]), uint32(len(out)), unsafe.Pointer(&n)); errno != 0 {
		if errno == 52 {
			return nil, errors.New("keep.verify_csr: the keep is not configured as a CA (no [ca] in its Enarx.toml)")
		}
		return nil, fmt.Errorf("keep.verify_csr: errno %d", errno)
	}
	return ca.ParseVerdict(out[:n])
}

// probe asks keep.verify_csr about an empty request: a keep configured as
// a CA answers with a verdict (400), any other keep with NOSYS.
func probe() error {
	var in [1]byte
	out := make([]byte, ca.MaxVerdictSize)
	var n uint32
	switch errno := verifyCSR(unsafe.Pointer(&in[0]), 0, unsafe.Pointer(&out[0]), uint32(len(out)), unsafe.Pointer(&n)); errno {
	case 0:
		return nil
	case 52:
		return errors.New("this keep offers no keep.verify_csr: its Enarx.toml needs [ca] with policy and policy_hash (docs/CA.md)")
	default:
		return fmt.Errorf("keep.verify_csr: errno %d", errno)
	}
}

func duration(name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		fmt.Fprintf(os.Stderr, "ca: %s=%q is not a positive duration\n", name, s)
		os.Exit(2)
	}
	return d
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := probe(); err != nil {
		fmt.Fprintln(os.Stderr, "ca:", err)
		os.Exit(1)
	}
	name := os.Getenv("CA_NAME")
	if name == "" {
		name = "Keep attestation CA"
	}
	auth, err := ca.NewAuthority(name, duration("CA_ROOT_TTL", ca.DefaultRootTTL), time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ca:", err)
		os.Exit(1)
	}
	auth.LeafTTL = duration("CA_LEAF_TTL", ca.DefaultLeafTTL)
	if auth.LeafTTL < ca.MinLeafTTL {
		fmt.Fprintf(os.Stderr, "ca: CA_LEAF_TTL %v is below %v\n", auth.LeafTTL, ca.MinLeafTTL)
		os.Exit(2)
	}
	if s := os.Getenv("CA_NAMES"); s != "" {
		for _, n := range strings.Split(s, ",") {
			auth.Names = append(auth.Names, strings.ToLower(strings.TrimSpace(n)))
		}
	}
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ca: fd 3 is not a listener:", err)
		os.Exit(1)
	}
	log.Info("CA ready", "root", auth.Root.Subject.String(), "leaf_ttl", auth.LeafTTL.String(), "names", strings.Join(auth.Names, ","))
	srv := &http.Server{Handler: &ca.Server{Authority: auth, Check: check, Log: log}, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "ca:", err)
		os.Exit(1)
	}
}
