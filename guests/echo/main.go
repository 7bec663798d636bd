// Command echo is a Keep example workload (GOOS=wasip1): it accepts
// connections on the listener at fd 3 and echoes what each one sends.
// Whether the keep serves it over TCP or TLS is the keep's Enarx.toml's
// business; the guest sees a plain byte stream either way.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo: fd 3 is not a listener:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo: accept:", err)
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}
