// Command serial is a test guest (GOOS=wasip1) that serves one connection
// at a time on the listener at fd 3: it writes "ready\n", waits for one
// byte from the client, answers "done <byte>\n" and closes, and only then
// accepts the next connection. The byte 't' makes it trap instead (a load
// outside linear memory, a WebAssembly trap rather than a Go panic). One
// instance held in a request therefore serves nothing else: a keep that
// still answers a new connection runs another instance.
package main

import (
	"fmt"
	"net"
	"os"
	"unsafe"
)

func main() {
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "serial: fd 3 is not a listener:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "serial: accept:", err)
			os.Exit(1)
		}
		serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	if _, err := c.Write([]byte("ready\n")); err != nil {
		return
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil {
		return
	}
	if b[0] == 't' {
		trap()
	}
	fmt.Fprintf(c, "done %c\n", b[0])
}

// far is an address beyond any 32-bit linear memory's end.
var far uintptr = 0xfffffff0

// trap loads from outside linear memory.
func trap() {
	p := (*uint64)(unsafe.Pointer(far))
	fmt.Println(*p)
}
