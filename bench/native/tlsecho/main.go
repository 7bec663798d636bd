// Command tlsecho is the native comparator of Keep's bulk benchmark: the
// loop of guests/echo, compiled natively, behind a TLS listener with a
// fresh ECDSA P-384 self-signed certificate (see selfsigned).
//
//	tlsecho -addr 127.0.0.1:8443 [-plain]
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/keepwasm/keep/bench/native/selfsigned"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "listen address")
	plain := flag.Bool("plain", false, "echo over plain TCP instead of TLS")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsecho:", err)
		os.Exit(1)
	}
	if !*plain {
		tc, err := selfsigned.ServerConfig()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tlsecho:", err)
			os.Exit(1)
		}
		ln = tls.NewListener(ln, tc)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tlsecho: accept:", err)
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}
