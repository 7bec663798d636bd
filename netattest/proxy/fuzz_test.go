package proxy

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
)

// FuzzHostAllowed feeds arbitrary Host headers to the DNS rebinding guard:
// it never panics, and it allows a Host only when its name is one of the
// proxy's and its port is the one the client connected to.
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "evil.example:8080", "localhost", "[::1]", "[", ":8080", "LOCALHOST.:8080", "keep.test:8080", "127.0.0.1:8080:1"} {
		f.Add(s)
	}
	p := &Proxy{Options: Options{Hosts: []string{"keep.test"}}}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	f.Fuzz(func(t *testing.T, host string) {
		r := (&http.Request{Host: host}).WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, net.Addr(local)))
		ok, why := p.HostAllowed(r)
		if ok == (why != "") {
			t.Fatalf("HostAllowed(%q) = %v, %q", host, ok, why)
		}
		if !ok {
			return
		}
		h, port, err := net.SplitHostPort(host)
		if err != nil || port != "8080" {
			t.Fatalf("allowed Host %q: not NAME:8080", host)
		}
		switch strings.TrimSuffix(strings.ToLower(h), ".") {
		case "localhost", "127.0.0.1", "::1", "keep.test":
		default:
			t.Fatalf("allowed Host %q", host)
		}
	})
}
