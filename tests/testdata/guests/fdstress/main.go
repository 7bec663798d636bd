// Command fdstress is a test guest: it accepts N connections on the
// listener at fd 3 and, between accepts, creates a file in the directory
// preopened right after the config's fds (fd FD_COUNT), keeping every
// connection and file open. It tells each client the fd its file got and
// writes to every file and connection at the end, so a collision between
// Keep's socket fds and wazero's file fds would show.
//
// It opens files with path_open directly: wasi-libc and Go find preopened
// directories by scanning fds from 3 and stop at the first socket.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"unsafe"
)

//go:wasmimport wasi_snapshot_preview1 path_open
func pathOpen(dirfd int32, dirflags int32, path unsafe.Pointer, pathLen int32, oflags int32, rightsBase int64, rightsInheriting int64, fdflags int32, result unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 fd_write
func fdWrite(fd int32, iovs unsafe.Pointer, iovsLen int32, result unsafe.Pointer) int32

func create(dirfd int32, name string) (int32, int32) {
	p := []byte(name)
	var fd int32
	errno := pathOpen(dirfd, 0, unsafe.Pointer(&p[0]), int32(len(p)), 1 /* oflags creat */, -1, -1, 0, unsafe.Pointer(&fd))
	return fd, errno
}

func write(fd int32, s string) int32 {
	b := []byte(s)
	iov := [2]uint32{uint32(uintptr(unsafe.Pointer(&b[0]))), uint32(len(b))}
	var n uint32
	return fdWrite(fd, unsafe.Pointer(&iov), 1, unsafe.Pointer(&n))
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	dirfd, _ := strconv.Atoi(os.Getenv("FD_COUNT"))
	ln, err := net.FileListener(os.NewFile(3, "listen"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var conns []net.Conn
	var files []int32
	seen := map[int32]bool{3: true}
	for i := 0; i < n; i++ {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "accept:", err)
			os.Exit(1)
		}
		fd, errno := create(int32(dirfd), fmt.Sprintf("f%d", i))
		if errno != 0 {
			fmt.Fprintf(os.Stderr, "path_open f%d: errno %d\n", i, errno)
			os.Exit(1)
		}
		if seen[fd] {
			fmt.Fprintf(os.Stderr, "fd %d handed out twice\n", fd)
			os.Exit(1)
		}
		seen[fd] = true
		conns, files = append(conns, c), append(files, fd)
		fmt.Fprintf(c, "conn %d file-fd %d\n", i, fd)
	}
	for i := range conns {
		if errno := write(files[i], fmt.Sprintf("hello %d", i)); errno != 0 {
			fmt.Fprintf(os.Stderr, "fd_write file %d: errno %d\n", files[i], errno)
			os.Exit(1)
		}
		fmt.Fprintf(conns[i], "bye %d\n", i)
		conns[i].Close()
	}
	fmt.Printf("ok: %d connections, %d files\n", len(conns), len(files))
}
