// Command whoami is a test guest: for each connection on the listener at
// fd 3 it asks Keep who the verified peer is (keep.peer_identity) and
// writes the answer back: the identity's JSON, or "errno N".
package main

import (
	"fmt"
	"net"
	"os"
	"unsafe"
)

//go:wasmimport keep peer_identity
func peerIdentity(fd int32, buf unsafe.Pointer, bufLen int32, resultLen unsafe.Pointer) int32

func identity(c net.Conn) string {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return "no fd: " + err.Error()
	}
	var out string
	rc.Control(func(fd uintptr) {
		buf := make([]byte, 4096)
		var n uint32
		if errno := peerIdentity(int32(fd), unsafe.Pointer(&buf[0]), int32(len(buf)), unsafe.Pointer(&n)); errno != 0 {
			out = fmt.Sprintf("errno %d", errno)
			return
		}
		out = string(buf[:n])
	})
	return out
}

func main() {
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		fmt.Fprint(c, identity(c))
		c.Close()
	}
}
