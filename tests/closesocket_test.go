package tests

import (
	"os"
	"path/filepath"
	"testing"
)

// A socket fd closed by the guest stays closed: a second fd_close is BADF
// and fd_fdstat_get on it is BADF. Before, the second fd_close reached
// wazero and closed the placeholder that reserves the socket's number
// there (success), freeing the number in both tables at once: the next
// file the guest opened and the next accepted connection could share it.
func TestCloseSocketTwice(t *testing.T) {
	dir := compileWAT(t, "close_socket_twice")
	cfg := filepath.Join(dir, "Enarx.toml")
	if err := os.WriteFile(cfg, []byte(`
[[files]]
kind = "stdin"
[[files]]
kind = "stdout"
[[files]]
kind = "stderr"
[[files]]
kind = "listen"
prot = "tcp"
port = 0
name = "l"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := keepGuarded(t, dir, nil, "run", "--backend", "sim", "--config", cfg, "close_socket_twice.wasm")
	checkNoCrash(t, r)
	if r.code != 80 {
		t.Fatalf("exit %d, want 80 (first close 0, second close BADF, fdstat BADF)\nstderr: %s", r.code, r.stderr)
	}
}
