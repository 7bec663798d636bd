package tests

import "testing"

// TestWATReaddirSmallBuffer: fd_readdir into a buffer shorter than a
// dirent header fills it with the start of the next entry's header and
// reports it full, as wasmtime does (issue 13); wazero answers INVAL. The
// guest's exit code names the first check that failed
// (testdata/wat/readdir_small.wat).
func TestWATReaddirSmallBuffer(t *testing.T) {
	t.Parallel()
	dir := compileWAT(t, "readdir_small")
	empty := t.TempDir()
	r := keepGuarded(t, dir, nil, "run", "--dir", empty+":/d", "readdir_small.wasm")
	checkNoCrash(t, r)
	if r.code != 0 {
		t.Errorf("readdir_small failed check %d (stdout %q, stderr %q)", r.code, r.stdout, r.stderr)
	}
}
