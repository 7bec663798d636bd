// Command fsprobe is a test guest that tries to reach files through the
// directories Keep gives it. Each argument is one step, its fields split
// by "|", and each step prints one line: "<step>: ok [<content>]" or
// "<step>: err <error>". It always exits 0.
//
//	symlink|TARGET|LINK   make a symlink
//	read|PATH             read a file
//	write|PATH|TEXT       create or truncate a file and write TEXT
//	createro|PATH         open PATH with O_RDONLY|O_CREATE
//	truncro|PATH          open PATH with O_RDONLY|O_TRUNC
//	mkdir|PATH            make a directory
//	remove|PATH           remove a file or empty directory
//	rename|FROM|TO        rename
//	loopread|PATH|N       read PATH N times; print how many reads gave
//	                      "inside", "OUTSIDE", another content, or an error
//	loopwrite|PATH|N      create PATH N times (removing it after each)
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	for _, step := range os.Args[1:] {
		f := strings.Split(step, "|")
		arg := func(i int) string {
			if i < len(f) {
				return f[i]
			}
			return ""
		}
		var out string
		var err error
		switch f[0] {
		case "symlink":
			err = os.Symlink(arg(1), arg(2))
		case "read":
			var b []byte
			b, err = os.ReadFile(arg(1))
			out = string(b)
		case "write":
			err = os.WriteFile(arg(1), []byte(arg(2)), 0o644)
		case "createro", "truncro":
			flag := os.O_RDONLY | os.O_CREATE
			if f[0] == "truncro" {
				flag = os.O_RDONLY | os.O_TRUNC
			}
			var file *os.File
			if file, err = os.OpenFile(arg(1), flag, 0o644); err == nil {
				file.Close()
			}
		case "mkdir":
			err = os.Mkdir(arg(1), 0o755)
		case "remove":
			err = os.Remove(arg(1))
		case "rename":
			err = os.Rename(arg(1), arg(2))
		case "loopread":
			n, _ := strconv.Atoi(arg(2))
			counts := map[string]int{}
			for range n {
				b, err := os.ReadFile(arg(1))
				switch {
				case err != nil:
					counts["error"]++
				case string(b) == "inside" || string(b) == "OUTSIDE":
					counts[string(b)]++
				default:
					counts["other"]++
				}
			}
			out = fmt.Sprintf("inside=%d OUTSIDE=%d other=%d error=%d", counts["inside"], counts["OUTSIDE"], counts["other"], counts["error"])
		case "loopwrite":
			n, _ := strconv.Atoi(arg(2))
			created := 0
			for range n {
				if os.WriteFile(arg(1), []byte("x"), 0o644) == nil {
					created++
					os.Remove(arg(1))
				}
			}
			out = fmt.Sprintf("created=%d", created)
		default:
			err = fmt.Errorf("unknown step")
		}
		if err != nil {
			fmt.Printf("%s: err %v\n", step, err)
		} else {
			fmt.Printf("%s: ok %s\n", step, out)
		}
	}
}
