// Command http is a Keep example workload (GOOS=wasip1): an ordinary
// net/http server on the listener at fd 3, with a hello page and a small
// JSON endpoint. It uses no Keep-specific calls.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
)

func main() {
	if os.Getenv("HTTP_SET_NONBLOCK") == "1" {
		// wazero hands over its listener in blocking mode; a Go guest must
		// switch it itself there (under Keep it already is non-blocking).
		syscall.SetNonblock(3, true)
	}
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "http: fd 3 is not a listener:", err)
		os.Exit(1)
	}
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
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "http:", err)
		os.Exit(1)
	}
}
