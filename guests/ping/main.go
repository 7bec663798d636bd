// Command ping is a Keep example workload (GOOS=wasip1) for keep-to-keep
// connections: it sends each argument (or "ping") over the connected
// socket at fd 3, reads the same number of bytes back, and prints them.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	c, err := net.FileConn(os.NewFile(3, "conn"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ping: fd 3 is not a connection:", err)
		os.Exit(1)
	}
	msgs := os.Args[1:]
	if len(msgs) == 0 {
		msgs = []string{"ping"}
	}
	for _, m := range msgs {
		if _, err := io.WriteString(c, m); err != nil {
			fmt.Fprintln(os.Stderr, "ping: write:", err)
			os.Exit(1)
		}
		buf := make([]byte, len(m))
		if _, err := io.ReadFull(c, buf); err != nil {
			fmt.Fprintln(os.Stderr, "ping: read:", err)
			os.Exit(1)
		}
		fmt.Printf("reply: %s\n", buf)
	}
}
