// Package wasi is Keep's socket layer over wazero's WASI preview1, and its
// corrections to it.
//
// wazero implements WASI preview1 well, but its sockets only take a
// host:port and call net.Listen themselves, it has no outgoing connections,
// and its poll_oneoff reports non-blocking sockets as always ready (an idle
// Go guest spins). This package registers its own
// "wasi_snapshot_preview1" host module whose functions handle the socket
// fds Keep owns and call wazero's own implementation, with the same module
// and stack, for every other fd. Sockets are fed with any net.Listener or
// net.Conn, so TLS (crypto/tls, in the keep's process) needs no plaintext
// hop.
//
// File descriptor numbers: Keep's socket fds sit at their Enarx.toml
// positions. wazero gives every preopen the next fd number, so the runtime
// preopens an empty placeholder directory at each socket position; wazero
// then never hands those numbers out, and this layer answers for them.
// Accepted connections get numbers from AcceptedFDBase up, far above the
// small numbers wazero allocates (lowest free first) for files the guest
// opens; the two ranges never meet (see docs/RATIONALE.md, "Sockets").
//
// Conformance: where wazero's answer differs from WASI preview1 and
// wasi-testsuite (poll_oneoff, fd_renumber onto a closed fd,
// fd_prestat_dir_name, path_readlink truncation, fd_readdir into a buffer
// shorter than a dirent, path_link with symlink_follow, sock_* on files,
// fd_allocate on directories, rights and sync fdflags), the wrapper
// corrects that case and calls wazero's
// function for the rest (conformance.go, rights.go; docs/RATIONALE.md,
// "WASI conformance").
//
// Readiness: each socket has a goroutine that accepts or reads ahead into a
// bounded buffer and wakes the guest's poll_oneoff, which blocks for real
// until a socket is ready, a clock subscription expires, or the run ends.
// Each connection also has a goroutine that writes the guest's data from a
// bounded write-behind buffer (writebuf.go), so no host call waits on a
// peer; a full buffer is EAGAIN, or a wait that ends with the run. A TCP
// connection the runtime wraps in Pollable (under TLS, if any) is read
// without blocking, so an idle connection holds neither buffer
// (pollconn.go).
//
// It imports wazero, the standard library and metrics (the Sink it
// reports handshakes and connection limits to); it must not import
// runtime, netattest or cmd/keep.
package wasi
