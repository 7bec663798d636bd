// Command hello is Keep's smallest example workload (GOOS=wasip1): it
// greets, shows its arguments and environment, and exits with a chosen code.
//
//	keep run hello.wasm [NAME]            # prints "Hello, NAME, from a keep!"
//	HELLO_EXIT=42 → keep run --env HELLO_EXIT=42 hello.wasm  # exits 42
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
)

func main() {
	name := "world"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	fmt.Printf("Hello, %s, from a keep!\n", name)
	fmt.Printf("args: %q\n", os.Args)
	env := os.Environ()
	sort.Strings(env)
	for _, kv := range env {
		fmt.Printf("env: %s\n", kv)
	}
	if s := os.Getenv("HELLO_EXIT"); s != "" {
		code, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hello: HELLO_EXIT=%q is not a number\n", s)
			os.Exit(2)
		}
		os.Exit(code)
	}
}
