// Command https is the native comparator of Keep's HTTP benchmarks: the
// handler of guests/http, compiled natively and served by net/http over
// TLS with a fresh ECDSA P-384 self-signed certificate (see selfsigned).
//
//	https -addr 127.0.0.1:8443 [-plain]
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/keepwasm/keep/bench/native/selfsigned"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "listen address")
	plain := flag.Bool("plain", false, "serve plain HTTP instead of HTTPS")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "https:", err)
		os.Exit(1)
	}
	if !*plain {
		tc, err := selfsigned.ServerConfig()
		if err != nil {
			fmt.Fprintln(os.Stderr, "https:", err)
			os.Exit(1)
		}
		ln = tls.NewListener(ln, tc)
	}
	if err := http.Serve(ln, mux()); err != nil {
		fmt.Fprintln(os.Stderr, "https:", err)
		os.Exit(1)
	}
}

// mux is guests/http's handler, unchanged.
func mux() *http.ServeMux {
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "Hello from a keep!")
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&v); err != nil {
			http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"echo": v, "hits": hits.Load()})
	})
	return mux
}
