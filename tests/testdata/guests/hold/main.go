// Command hold is a test guest (GOOS=wasip1): for each connection on the
// listener at fd 3 it writes "ready\n", waits for one byte from the client,
// answers "done <byte>\n" and closes. A test thus holds a request in
// flight for as long as it likes, without sleeps.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "hold: fd 3 is not a listener:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "hold: accept:", err)
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			if _, err := c.Write([]byte("ready\n")); err != nil {
				return
			}
			b := make([]byte, 1)
			if _, err := c.Read(b); err != nil {
				return
			}
			fmt.Fprintf(c, "done %c\n", b[0])
		}()
	}
}
