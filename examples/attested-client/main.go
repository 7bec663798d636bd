// Command attested-client is a README recipe: a Go guest (GOOS=wasip1)
// that talks HTTP to another keep over a connection Keep opened for it.
// Keep dials the peer with TLS, checks the peer's RA-TLS certificate
// against policy.toml before the guest starts (Enarx.toml: prot = "tls",
// policy = ...), and hands the guest the connection at fd 3.
//
//	GOOS=wasip1 GOARCH=wasm go build -o attested-client.wasm ./examples/attested-client
//	keep run --config examples/attested-client/Enarx.toml attested-client.wasm
package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	conn, err := net.FileConn(os.NewFile(3, "server"))
	if err != nil {
		log.Fatalf("fd 3 is not a connection: %v", err)
	}
	defer conn.Close()
	req, _ := http.NewRequest("GET", "http://server/from-a-keep", nil)
	req.Close = true
	if err := req.Write(conn); err != nil {
		log.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s", resp.Status, body)
}
