// Command https-server is a README recipe: an ordinary Go net/http server
// for GOOS=wasip1 that serves HTTPS from a keep. Keep terminates TLS inside
// the keep with its RA-TLS certificate (Enarx.toml: prot = "tls"), so the
// guest serves plain HTTP on the listener it finds at fd 3.
//
//	GOOS=wasip1 GOARCH=wasm go build -o https-server.wasm ./examples/https-server
//	keep run --config examples/https-server/Enarx.toml https-server.wasm
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	// fd 3 is the config's first [[files]] entry after stdio: the listener.
	ln, err := net.FileListener(os.NewFile(3, "ingest"))
	if err != nil {
		log.Fatalf("fd 3 is not a listener: %v", err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from a keep: %s %s\n", r.Method, r.URL.Path)
	})
	log.Fatal(http.Serve(ln, nil))
}
