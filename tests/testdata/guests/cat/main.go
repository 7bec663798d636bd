// Command cat is a test guest (GOOS=wasip1): it prints each file named in
// its arguments, or "cat: ERROR" and exits 1, and then tries to create
// each file named in $CAT_WRITE, printing "wrote NAME" or "cannot write
// NAME".
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	code := 0
	for _, name := range os.Args[1:] {
		b, err := os.ReadFile(name)
		if err != nil {
			fmt.Printf("cat: %v\n", err)
			code = 1
			continue
		}
		os.Stdout.Write(b)
	}
	if w := os.Getenv("CAT_WRITE"); w != "" {
		for _, name := range strings.Split(w, ",") {
			if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
				fmt.Printf("cannot write %s\n", name)
			} else {
				fmt.Printf("wrote %s\n", name)
			}
		}
	}
	os.Exit(code)
}
